"""A named reporter answers a lead's question on their own signal with `/ai-signal reply SIG-12 …`;
nobody else can, and an anonymous signal's reference never opens that path."""

from __future__ import annotations

from handlers import ids
from tests.conftest import ALICE, LEAD
from tests.handlers.listeners.triage.helpers import (
    BOB,
    NOT_A_LEAD,
    acknowledge,
    actions,
    assert_slack_happy,
    command,
    database_text,
    dms_to,
    events,
    file_anonymous,
    file_named,
    leaks,
    open_modal,
    outbox,
    posted,
    settle,
    submit,
    table_counts,
    thread,
)


def ask(app, ref, question):
    view = open_modal(app, LEAD, ids.ASK_ACTION, ref)
    assert submit(app, LEAD, view, {ids.QUESTION_BLOCK: question}) is None
    settle(app)


def not_found(ref: str) -> str:
    return f":warning: I can't find a signal {ref} that you filed under your name."


def test_the_named_reporter_answers_by_reference_and_the_lead_sees_it_in_the_thread(app):
    ref = file_named(app)
    posted(app, ref)
    acknowledge(app, LEAD, ref)
    ask(app, ref, "Which week did precision fall?")

    # The notice tells the reporter how to answer (they are not in the triage channel).
    settle(app)
    notice = [t for t in dms_to(app, ALICE) if "question" in t][-1]
    assert f"/ai-signal reply {ref}" in notice
    assert "answer in the signal's thread" not in notice

    answer = command(app, f"reply {ref.lower()} The week of the 3rd &lt;after the release&gt;")
    assert ref in answer and "thread" in answer
    settle(app)
    assert len(thread(app, ref)) == 3
    reply = thread(app, ref)[-1]
    assert reply.startswith(f":envelope_with_arrow: <@{ALICE.id}> (the reporter) replied:")
    assert "&gt; The week of the 3rd &lt;after the release&gt;" in reply
    [event] = [e for e in events(app, ref) if e.action == "replied"]
    assert event.actor_id == ALICE.id
    assert event.note == "The week of the 3rd <after the release>"
    assert actions(app, ref) == ["acknowledged", "asked", "replied"]

    # A retried command (same trigger id) adds nothing.
    fields = app.sender.command_fields(
        user=ALICE, text=f"reply {ref} once more", channel_id="CGENERAL01"
    )
    for _ in range(2):
        assert app.sender.post_form(fields).status == 200
    settle(app)
    assert actions(app, ref).count("replied") == 2
    assert_slack_happy(app)


def test_someone_else_gets_the_answer_for_a_signal_that_does_not_exist(app):
    ref = file_named(app)
    posted(app, ref)
    counts, calls = table_counts(app), len(app.standin.calls)

    for user in (BOB, LEAD, NOT_A_LEAD):
        assert command(app, f"reply {ref} I was not asked", user=user) == not_found(ref)
    assert command(app, "reply SIG-9999 nobody filed this") == not_found("SIG-9999")
    # The same words as for `status SIG-…` of someone else's signal.
    assert command(app, f"status {ref}", user=BOB) == not_found(ref)

    settle(app)
    assert table_counts(app) == counts
    assert len(app.standin.calls) == calls
    assert thread(app, ref) == []


def test_an_anonymous_signals_reference_never_takes_a_reply(app):
    """Canary: the named path cannot be used on an anonymous signal — not by its reporter, not by
    the person who filed a named signal, not by a lead. Only the code answers."""
    ref, code = file_anonymous(app)
    posted(app, ref)
    posted(app, file_named(app, user=ALICE))
    counts, calls = table_counts(app), len(app.standin.calls)
    rows = len(outbox(app))

    for user in (BOB, ALICE, LEAD):
        for typed in (ref, ref.lower()):
            assert command(app, f"reply {typed} canary-named-path", user=user) == not_found(typed)

    settle(app)
    assert table_counts(app) == counts
    assert len(outbox(app)) == rows
    assert len(app.standin.calls) == calls
    assert thread(app, ref) == []
    assert not leaks({"database": database_text(app)}, ["canary-named-path"])

    # The code still works, and the reply stays without an author.
    assert "the reporter (anonymous)" in command(app, f"reply {code} with the code", user=BOB)
    settle(app)
    assert len(thread(app, ref)) == 1
    assert thread(app, ref)[0].startswith(":envelope_with_arrow: The reporter (anonymous) replied:")
    [event] = [e for e in events(app, ref) if e.action == "replied"]
    assert event.actor_id is None
    assert BOB.id not in database_text(app)
    assert_slack_happy(app)
