"""Seen before: each new triage post shows up to three related earlier signals or lessons (the
same system, or lessons with similar words), linked to their threads, naming no reporter and
quoting none of their words."""

from __future__ import annotations

from typing import Any

from handlers import ids
from tests.conftest import LEAD, TRIAGE
from tests.handlers.listeners.triage.helpers import (
    assert_slack_happy,
    file_anonymous,
    file_named,
    open_modal,
    parent,
    posted,
    settle,
    signal,
    submit,
)


def seen_before(message: dict[str, Any]) -> str | None:
    for block in message["blocks"]:
        if block.get("block_id") == ids.SEEN_BEFORE_BLOCK:
            return block["text"]["text"]
    return None


def link_to(app, ref: str) -> str:
    row = signal(app, ref)
    return f"https://standin.slack.test/archives/{TRIAGE}/p{row.triage_ts.replace('.', '')}|{ref}"


def resolve(app, ref: str, lesson: str) -> None:
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    answers = {ids.DONE_BLOCK: "Retrained", ids.PATTERN_BLOCK: "data-optimism"}
    assert submit(app, LEAD, view, {**answers, ids.LESSON_BLOCK: lesson}) is None
    settle(app)


def test_new_posts_show_related_earlier_signals_with_links(app):
    first = file_named(app, "drift system:fraud-model precision fell after the holidays")
    posted(app, first)
    assert seen_before(parent(app, first)) is None  # nothing earlier
    resolve(app, first, "Monitor precision weekly during seasonal peaks")
    secret_words = "only the canary reporter would say zebra-umbrella"
    anon, _code = file_anonymous(app, f"drift system:fraud-model {secret_words}")
    posted(app, anon)
    elsewhere = file_named(app, "edge-case system:loan-model approvals vanish on holidays")
    posted(app, elsewhere)

    # The same system: the resolved lesson first (its words match), then the anonymous one.
    new = file_named(app, "drift system:Fraud-Model precision fell again this month")
    posted(app, new)
    text = seen_before(parent(app, new))
    assert text is not None and text.startswith("*Seen before*")
    assert f"<{link_to(app, first)}>" in text and f"<{link_to(app, anon)}>" in text
    assert text.index(first) < text.index(anon)
    assert "Lesson: Monitor precision weekly during seasonal peaks" in text
    assert elsewhere not in text  # another system and no lesson: not related
    # Never who raised them, nor their words.
    assert "zebra" not in text and "Anonymous" not in text and "<@" not in text

    # Another system, similar words: the lesson still shows (by the search's ranking).
    other = file_named(app, "drift system:churn-model precision weekly looks off")
    posted(app, other)
    text = seen_before(parent(app, other))
    assert text is not None and first in text and new not in text

    # At most three, and the post keeps them when it is updated.
    for n in range(3):
        posted(app, file_named(app, f"bias system:fraud-model another concern {n}"))
    latest = file_named(app, "bias system:fraud-model precision again")
    posted(app, latest)
    text = seen_before(parent(app, latest))
    assert text is not None and text.count("• ") == 3
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, latest)
    submit(app, LEAD, view, {ids.STATUS_BLOCK: "investigating"})
    settle(app)
    assert parent(app, latest)["updated"] >= 1
    assert seen_before(parent(app, latest)) == text
    assert_slack_happy(app)
