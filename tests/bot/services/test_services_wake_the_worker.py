"""A service that queues a Slack post wakes the delivery worker itself, after its commit: the
worker it wakes finds the post at once (a wake before the commit would find nothing and sleep)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.services.signals import SignalService
from bot.services.triage import TriageService
from models import OutboxItem, Signal
from tests.conftest import migrated_sessions

TRIAGE = "CTRIAGE001"


@pytest.fixture
def sessions(sqlite_url):
    with migrated_sessions(sqlite_url) as sessions:
        yield sessions


class Worker:
    """Stands for the delivery worker: on each wake it counts what another session can see."""

    def __init__(self, sessions) -> None:
        self._sessions = sessions
        self.seen: list[int] = []

    def wake(self) -> None:
        with self._sessions() as session:
            self.seen.append(session.scalar(select(func.count()).select_from(OutboxItem)))


def test_filing_and_lead_actions_wake_the_worker_after_their_commit(sessions):
    worker = Worker(sessions)
    common = {
        "sessions": sessions,
        "code_key": b"k",
        "triage_channel": TRIAGE,
        "anon_delay": (0, 0),
        "wake": worker.wake,
    }
    signals, triage = SignalService(**common), TriageService(**common)

    filed = signals.file_signal(kind="drift", text="scores fell", anonymous=False, reporter_id="U1")
    assert worker.seen == [1]  # the triage post, committed before the wake

    with sessions.begin() as session:  # as the worker records the post
        signal = session.scalar(select(Signal).where(Signal.ref == filed.ref))
        signal.triage_ts, signal.triage_channel, signal.posted_at = "1.0", TRIAGE, signal.created_at
    result = triage.acknowledge(ref=filed.ref, lead_id="ULEAD00001")
    assert result.changed and len(worker.seen) == 2 and worker.seen[1] > 1

    again = triage.acknowledge(ref=filed.ref, lead_id="ULEAD00001")
    assert not again.changed and len(worker.seen) == 2  # nothing queued, nobody woken


def test_reminders_wake_the_worker_only_when_one_was_queued(sessions):
    worker = Worker(sessions)
    triage = TriageService(
        sessions=sessions,
        code_key=b"k",
        triage_channel=TRIAGE,
        anon_delay=(0, 0),
        wake=worker.wake,
    )
    assert triage.claim_reminders(every=timedelta(hours=1)) == []
    assert worker.seen == []
