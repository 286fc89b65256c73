"""`/ai-signal lessons [words]`: resolved signals' lessons and failed assumptions, newest first,
filtered by all the words; private; friendly when there are none."""

from __future__ import annotations

from handlers import ids
from tests.conftest import LEAD
from tests.handlers.listeners.triage.helpers import (
    BOB,
    assert_slack_happy,
    command,
    file_named,
    open_modal,
    posted,
    settle,
    submit,
)


def resolve(app, ref, **answers):
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    assert (
        submit(app, LEAD, view, {ids.DONE_BLOCK: "done", ids.PATTERN_BLOCK: "none", **answers})
        is None
    )
    settle(app)


def test_lessons_newest_first_and_filtered_by_all_words(app):
    assert command(app, "lessons") == "No lessons recorded yet."

    fraud = file_named(app, "drift fraud-model precision fell")
    loans = file_named(app, "bias loan approvals skew by age", user=BOB)
    declined = file_named(app, "data labels look stale")
    bare = file_named(app, "edge-case parser crashes")
    for ref in (fraud, loans, declined, bare):
        posted(app, ref)
    resolve(
        app,
        fraud,
        **{
            ids.ASSUMPTION_BLOCK: "Last year's fraud looks like this year's",
            ids.PATTERN_BLOCK: "data-optimism",
            ids.LESSON_BLOCK: "Monitor precision weekly <!channel>",
        },
    )
    resolve(
        app,
        loans,
        **{
            ids.ASSUMPTION_BLOCK: "Age is not hidden in other features",
            ids.PATTERN_BLOCK: "problem-misidentification",
            ids.LESSON_BLOCK: "Audit proxy features before launch",
        },
    )
    resolve(app, bare)  # nothing learned: not listed
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, declined)
    submit(app, LEAD, view, {ids.STATUS_BLOCK: "declined", ids.REASON_BLOCK: "fresh labels"})
    settle(app)

    everything = command(app, "lessons", user=BOB)
    assert everything.startswith("*Lessons from resolved signals*")
    assert everything.index(loans) < everything.index(fraud)  # newest first
    assert declined not in everything and bare not in everything
    assert "Assumption that failed: Last year's fraud looks like this year's" in everything
    assert "Pattern: Data optimism" in everything
    assert "Lesson: Monitor precision weekly &lt;!channel&gt;" in everything
    assert "<!channel>" not in everything

    weekly = command(app, "lessons MONITOR weekly")
    assert fraud in weekly and loans not in weekly
    assert "matching “MONITOR weekly”" in weekly
    assert loans in command(app, "lessons proxy age") and fraud not in command(
        app, "lessons proxy age"
    )
    assert fraud in command(app, "lessons data-optimism")  # the pattern counts
    assert loans in command(app, "lessons bias")  # and the kind

    # Every word must match: one word from each lesson finds neither.
    assert (
        command(app, "lessons monitor proxy") == "No lessons recorded yet matching “monitor proxy”."
    )
    assert command(app, "lessons nothing-like-this") == (
        "No lessons recorded yet matching “nothing-like-this”."
    )
    assert app.standin.calls_to("chat.postEphemeral", include_errors=True) == []  # ack text only
    assert_slack_happy(app)
