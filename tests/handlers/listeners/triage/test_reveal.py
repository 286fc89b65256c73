"""`/ai-signal reveal CODE`: an anonymous reporter puts their name to their signal, after a
private confirmation. One way only: a named signal never becomes anonymous again."""

from __future__ import annotations

import json

from bot.services import codes
from bot.services.export import ExportService
from bot.services.signals import GENERIC_CODE_ANSWER
from bot.services.triage import REVEAL_LAPSED, REVEAL_TTL
from handlers import ids
from handlers.formatting import escape
from tests.conftest import ALICE, LEAD, MovableClock
from tests.handlers.listeners.triage.helpers import (
    BOB,
    acknowledge,
    actions,
    assert_slack_happy,
    command,
    dms_to,
    events,
    field_text,
    file_anonymous,
    open_modal,
    outbox,
    parent,
    posted,
    settle,
    signal,
    submit,
    table_counts,
    thread,
    updates_of,
)

LAPSED = escape(REVEAL_LAPSED)  # as the answer shows it (mrkdwn)


def ask_to_reveal(app, code: str, user=BOB) -> dict:
    """Run `/ai-signal reveal <code>`; return the confirmation modal Slack stored."""
    before = len(app.standin.calls_to("views.open"))
    reply = app.sender.command(user=user, text=f"reveal {code}")
    assert reply.status == 200, reply.text
    assert not reply.body  # the answer is the modal, nothing else
    [opened] = app.standin.wait_for("views.open", before + 1)[before:]
    view = opened.response["view"]
    assert view["callback_id"] == ids.REVEAL_MODAL
    return view


def confirm(app, view: dict, user=BOB) -> dict:
    answer = submit(app, user, view, {})
    assert answer["response_action"] == "update", answer
    return answer["view"]


def text_of(view: dict) -> str:
    return json.dumps(view, ensure_ascii=False)


def test_reveal_end_to_end(app):
    ref, code = file_anonymous(app, "bias loan-model rejects older applicants")
    posted(app, ref)
    acknowledge(app, LEAD, ref)
    question = open_modal(app, LEAD, ids.ASK_ACTION, ref)
    submit(app, LEAD, question, {ids.QUESTION_BLOCK: "Which week did it start?"})
    command(app, f"reply {code} Week 12, after the retrain", user=BOB)
    settle(app)
    assert "Anonymous" in field_text(parent(app, ref))
    before = table_counts(app)
    history = actions(app, ref)

    # 1. The private confirmation says what becomes visible to whom; nothing changes yet.
    view = ask_to_reveal(app, code)
    shown = text_of(view)
    for says in (
        ref,
        "triage channel",
        "shows you as the reporter",
        "replied anonymously",
        "private notes",
        f"/ai-signal status {ref}",
        "follow-up code",
        "cannot be undone",
        "Stay anonymous",
    ):
        assert says in shown, says
    assert BOB.id not in shown and code not in shown and codes.normalize_code(code) not in shown
    assert table_counts(app) == before
    row = signal(app, ref)
    assert row.anonymous is True and row.reporter_id is None and row.followup_hash

    # 2. Confirmed: the signal is Bob's, by name, from now on.
    done = text_of(confirm(app, view))
    assert ref in done and "show you as the reporter" in done
    row = signal(app, ref)
    assert row.anonymous is False and row.reporter_id == BOB.id
    assert row.followup_hash is None  # the code is retired; the signal is named now
    assert (row.created_at.minute, row.created_at.second) == (0, 0)  # the coarse stamp stays
    assert row.ref == ref  # the random reference stays
    assert actions(app, ref) == [*history, "revealed"]
    revealed = [e for e in events(app, ref) if e.action == "revealed"]
    assert [e.actor_id for e in revealed] == [BOB.id]

    # 3. The triage post and its thread show the reporter.
    settle(app)
    assert f"*Reporter*\n<@{BOB.id}>" in field_text(parent(app, ref))
    assert any(f"<@{BOB.id}>" in json.dumps(u.params) for u in updates_of(app, ref))
    last = thread(app, ref)[-1]
    assert "chose to put their name to this signal" in last and f"<@{BOB.id}>" in last

    # 4. Named for `status` and for notices; the old code gets the generic answer.
    assert ref in command(app, f"status {ref}", user=BOB)
    assert GENERIC_CODE_ANSWER in command(app, f"status {code}", user=BOB)
    assert "I can't find" in command(app, f"status {ref}", user=ALICE)
    resolve = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    submit(
        app,
        LEAD,
        resolve,
        {ids.DONE_BLOCK: "Retrained with age balance", ids.PATTERN_BLOCK: "none"},
    )
    settle(app)
    assert any(ref in dm and "resolved" in dm for dm in dms_to(app, BOB))
    assert "Thank you to the reporter." in thread(app, ref)[-1]  # no longer "(anonymous)"

    # 5. The export says the reporter acted, and still names nobody.
    export = list(ExportService(sessions=app.runtime.sessions).signals())
    [exported] = [s for s in export if s["ref"] == ref]
    assert exported["anonymous"] is False
    [event] = [e for e in exported["history"] if e["action"] == "revealed"]
    assert event["by"] == "reporter"
    assert BOB.id not in json.dumps(export, default=str)

    # 6. Once only: confirming again, or asking again with the old code, changes nothing.
    again = text_of(confirm(app, view))
    assert "already shows your name" in again
    reply = app.sender.command(user=BOB, text=f"reveal {code}").json()
    assert GENERIC_CODE_ANSWER in reply["text"] and reply["response_type"] == "ephemeral"
    assert actions(app, ref).count("revealed") == 1
    settle(app)
    assert [t for t in thread(app, ref) if "chose to put their name" in t] == [last]
    assert_slack_happy(app)


def test_reveal_before_the_post_goes_out(launcher):
    """Revealed while still inside the anonymous delay: the post goes out named, once."""
    clock = MovableClock()
    app = launcher(clock=clock, AI_SIGNAL_ANON_DELAY="3000-3600")
    ref, code = file_anonymous(app, "drift churn-model recall fell")
    confirm(app, ask_to_reveal(app, code))
    assert signal(app, ref).triage_ts is None  # still waiting for its release time
    pending = sorted(item.purpose for item in outbox(app))
    assert pending == ["parent_update", "thread_reply", "triage_post"]

    clock.advance(3700)
    posted(app, ref)
    assert f"*Reporter*\n<@{BOB.id}>" in field_text(parent(app, ref))
    [reply] = thread(app, ref)
    assert "chose to put their name to this signal" in reply
    triage_posts = [
        c for c in app.standin.calls_to("chat.postMessage") if not c.params.get("thread_ts")
    ]
    assert len(triage_posts) == 1
    assert_slack_happy(app)


def test_wrong_code_reveals_nothing(app):
    ref, _code = file_anonymous(app)
    posted(app, ref)
    before = table_counts(app)
    opened = len(app.standin.calls_to("views.open"))
    answers = {
        command(app, f"reveal {wrong}", user=BOB) for wrong in (codes.new_code(), "NOPE", "SIG-1")
    }
    assert len(answers) == 1 and GENERIC_CODE_ANSWER in answers.pop()
    assert "Use `/ai-signal reveal &lt;code&gt;`" in command(app, "reveal", user=BOB)
    assert len(app.standin.calls_to("views.open")) == opened  # no confirmation offered
    assert table_counts(app) == before
    assert signal(app, ref).anonymous is True
    assert_slack_happy(app)


def test_a_confirmation_only_works_for_the_reporter_and_lapses(launcher):
    clock = MovableClock()
    app = launcher(clock=clock)
    ref, code = file_anonymous(app)
    posted(app, ref)
    view = ask_to_reveal(app, code)

    # Someone else submitting the reporter's confirmation (a forged or replayed request).
    assert LAPSED in text_of(confirm(app, view, user=ALICE))
    # A token that was tampered with.
    forged = {**view, "private_metadata": view["private_metadata"][:-4] + "0000"}
    assert LAPSED in text_of(confirm(app, forged))
    # Too late.
    clock.advance(REVEAL_TTL.total_seconds() + 60)
    assert LAPSED in text_of(confirm(app, view))
    row = signal(app, ref)
    assert row.anonymous is True and row.reporter_id is None
    assert "revealed" not in actions(app, ref)

    # A fresh confirmation works.
    confirm(app, ask_to_reveal(app, code))
    assert signal(app, ref).reporter_id == BOB.id
    settle(app)
    assert f"<@{BOB.id}>" in field_text(parent(app, ref))
    assert_slack_happy(app)
