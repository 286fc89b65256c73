"""Canary: the named reporter's reply path (`/ai-signal reply SIG-… text`) is closed to anonymous
signals. Their reporter typing the reference gets the not-yours answer, nothing is stored, and
nothing of them reaches the database, the log or Slack — answering still works with the code only.
"""

from __future__ import annotations

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from models import SignalEvent
from tests.privacy.canaries import (
    assert_no_leaks,
    file_anonymous,
    triage_post,
)


def replies(database_url: str) -> list[SignalEvent]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(SignalEvent).where(SignalEvent.action == "replied")))
    finally:
        engine.dispose()


def test_an_anonymous_reference_does_not_open_the_named_reply(running_app, canaries, database_url):
    ref, code, _ = file_anonymous(canaries, "anon bias loan-model: declines older applicants")
    triage_post(canaries, ref)
    calls = len(running_app.standin.calls)

    for typed in (ref, ref.lower(), f" {ref} "):
        reply = canaries.command(f"reply {typed} by reference, canary")
        assert reply.status == 200
        assert reply.json()["text"] == (
            f":warning: I can't find a signal {typed.strip()} that you filed under your name."
        )
    assert replies(database_url) == []
    assert len(running_app.standin.calls) == calls

    answered = canaries.command(f"reply {code} with the code")
    assert "the reporter (anonymous)" in answered.json()["text"]
    running_app.settle()
    [event] = replies(database_url)
    assert event.actor_id is None and event.note == "with the code"
    assert_no_leaks(canaries.all_leaks(database_url))
