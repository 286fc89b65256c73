"""A reporter adds a correction to their own signal, unasked: named with `/ai-signal reply SIG-12 …`,
anonymous with `/ai-signal reply <code> …`. It lands in the signal's thread and shows in
`/ai-signal status` for that reporter. Signed requests, SQLite and PostgreSQL."""

from __future__ import annotations

from handlers import ids
from tests.conftest import ALICE, BOB, LEAD
from tests.handlers.listeners.triage.helpers import (
    assert_slack_happy,
    command,
    file_anonymous,
    file_named,
    open_modal,
    posted,
    settle,
    submit,
    thread,
)


def test_a_named_reporter_corrects_their_signal_and_sees_it_in_status(app):
    ref = file_named(app, "drift fraud-model: precision fell to 0.78")
    posted(app, ref)
    assert "Thanks" in command(app, f"reply {ref} correction: it fell to 0.71, not 0.78")
    settle(app)
    assert len(thread(app, ref)) == 1
    view = open_modal(app, LEAD, ids.ASK_ACTION, ref)
    assert submit(app, LEAD, view, {ids.QUESTION_BLOCK: "Since which release?"}) is None
    settle(app)
    assert "correction: it fell to 0.71" in thread(app, ref)[0]
    assert thread(app, ref)[0].startswith(f":envelope_with_arrow: <@{ALICE.id}> (the reporter)")

    status = command(app, f"status {ref}")
    assert "*You added:* correction: it fell to 0.71, not 0.78" in status
    assert "*A lead asked:* Since which release?" in status
    assert f"/ai-signal reply {ref}" in status and f"/ai-signal withdraw {ref}" in status
    # Someone else's status of it says nothing about the signal or its corrections.
    assert "0.71" not in command(app, f"status {ref}", user=BOB)
    assert_slack_happy(app)


def test_an_anonymous_reporter_corrects_their_signal_with_the_code(app):
    ref, code = file_anonymous(app, "bias loan-model: rejects applicants over 60")
    posted(app, ref)
    assert "Thanks" in command(app, f"reply {code} correction: over 65, not 60", user=BOB)
    settle(app)
    assert len(thread(app, ref)) == 1
    assert "The reporter (anonymous) replied" in thread(app, ref)[0]
    status = command(app, f"status {code}", user=BOB)
    assert "*You replied:* correction: over 65, not 60" in status
    assert_slack_happy(app)
