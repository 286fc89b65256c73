"""Replays of an anonymous reporter's `reply` and timing of replay guards."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select

from models import EventAction, SeenRequest, SignalEvent
from tests.conftest import ALICE, TRIAGE


def _code(reply_text: str) -> str:
    return reply_text.split("`")[1]


def test_replayed_reply_is_recorded_once(running_app):
    sender = running_app.sender
    filed = sender.command(user=ALICE, text="anon edge chatbot loops on empty carts")
    code = _code(filed.json()["text"])
    running_app.settle()
    running_app.standin.wait_for("chat.postMessage")

    fields = sender.command_fields(
        user=ALICE, text=f"reply {code} it happens on mobile only", channel_id="CGENERAL01"
    )
    body = urlencode(fields).encode()
    first = sender.post(body, content_type="application/x-www-form-urlencoded")
    replay = sender.post(body, content_type="application/x-www-form-urlencoded")
    assert first.status == replay.status == 200
    assert "added to" in first.json()["text"]

    running_app.settle()
    running_app.standin.wait_for("chat.postMessage", count=2)
    with running_app.runtime.sessions() as session:
        replies = session.scalars(
            select(SignalEvent).where(SignalEvent.action == EventAction.REPLIED.value)
        ).all()
    assert len(replies) == 1 and replies[0].actor_id is None
    threads = [m for m in running_app.standin.messages(TRIAGE) if m.get("thread_ts")]
    assert len(threads) == 1


def test_replay_guards_store_only_the_hour(running_app):
    running_app.sender.command(user=ALICE, text="anon drift churn-model recall dropped")
    with running_app.runtime.sessions() as session:
        stamps = session.scalars(select(SeenRequest.seen_at)).all()
    assert stamps
    assert all(s.minute == 0 and s.second == 0 and s.microsecond == 0 for s in stamps)
