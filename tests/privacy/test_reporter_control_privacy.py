"""Canary tests for the paths that work an anonymous signal later: the escalation of a signal
nobody acknowledged, the reporter's withdrawal and their corrections. The reporter's identifiers
are planted in what "Slack" sends; none may reach the database, the log or any Slack call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.jobs.reminders import send_reminders
from bot.standin import SlackStandIn
from tests.conftest import LEAD, TRIAGE, MovableClock, RunningApp, start_app
from tests.handlers.listeners.triage.helpers import actions, settle
from tests.privacy.canaries import (
    Canaries,
    assert_no_leaks,
    database_dump,
    file_anonymous,
    find_in,
    sqlite_files,
    triage_post,
)

ESCALATION = "CESCALATE1"
HOUR = 3600


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def app(standin: SlackStandIn, database_url: str, clock: MovableClock) -> Iterator[RunningApp]:
    standin.add_channel(ESCALATION, name="ai-escalations", is_member=True)
    running = start_app(
        standin,
        database_url,
        clock=clock,
        AI_SIGNAL_LEADS=LEAD.id,
        AI_SIGNAL_ACK_REMINDER_HOURS="1",
        AI_SIGNAL_ESCALATION_CHANNEL=ESCALATION,
        AI_SIGNAL_ESCALATION_GROUP="SESCGROUP1",
    )
    yield running
    running.stop()


@pytest.fixture
def canaries(app: RunningApp) -> Canaries:
    return Canaries(
        events_url=app.sender.url,
        transport=app.sender.transport,
        standin=app.standin,
        read_log=app.log.getvalue,
        settle=app.settle,
    )


def test_escalating_an_anonymous_signal_reveals_nobody(app, canaries, clock, database_url):
    ref, _code, _reply = file_anonymous(canaries)
    triage_post(canaries, ref)
    settle(app)
    every = timedelta(hours=1)
    for _ in range(4):
        clock.advance(HOUR + 1)
        send_reminders(app.runtime.services.triage, every=every, escalate_to=ESCALATION)
    settle(app)
    assert actions(app, ref) == ["reminded"] * 3 + ["escalated"]
    [post] = [m["text"] for m in app.standin.messages(ESCALATION)]
    assert ref in post and "<!subteam^SESCGROUP1>" in post
    assert "precision fell" not in post  # no text of the signal
    assert_no_leaks(canaries.all_leaks(database_url))


def test_withdrawing_and_correcting_an_anonymous_signal_reveal_nobody(app, canaries, database_url):
    ref, code, _reply = file_anonymous(canaries, "anon drift fraud-model: precision fell 0.78")
    triage_post(canaries, ref)
    reply = canaries.command(f"reply {code} correction: it fell to qzx-seventy-one, not 0.78")
    assert reply.status == 200 and "added to" in reply.json()["text"], reply.text
    settle(app)
    status = canaries.command(f"status {code}").json()["text"]
    assert "correction: it fell to qzx-seventy-one" in status
    reply = canaries.command(f"withdraw {code}")
    assert reply.status == 200 and "is withdrawn" in reply.json()["text"], reply.text
    settle(app)
    assert actions(app, ref) == ["replied", "withdrawn"]
    texts = [m["text"] for m in app.standin.messages(TRIAGE)]
    assert any("withdrawn by the reporter" in t for t in texts)
    assert_no_leaks(canaries.all_leaks(database_url))
    # What the reporter wrote is gone from every table, and from SQLite's files byte for byte.
    stored = database_dump(database_url)
    stored += "".join(p.read_bytes().decode("latin-1") for p in sqlite_files(database_url))
    # The canaries are words, not digits: a number such as 0.71 also turns up in stored timestamps.
    assert_no_leaks(find_in(stored, ["precision fell", "qzx-seventy-one"], "database"))
