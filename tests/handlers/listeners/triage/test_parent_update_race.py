"""PostgreSQL: a change made while a worker is taking the signal's pending parent update still
gets a parent update of its own (the worker renders the signal as it was when it took it)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from bot import db
from bot.clock import utc_now
from bot.services.delivery import DeliveryService
from bot.services.signals import SignalService
from bot.services.triage import TriageService
from models import OutboxItem, OutboxPurpose, OutboxState
from tests.conftest import wait_until

LEAD_ID = "ULEAD00001"
REPORTER_ID = "UBOB000002"


@pytest.fixture
def services(postgres_url):
    db.upgrade(postgres_url)
    engine = db.create_db_engine(postgres_url)
    sessions = db.create_session_factory(engine)
    signals = SignalService(
        sessions=sessions, code_key=b"k", triage_channel="CTRIAGE001", anon_delay=(0, 0)
    )
    triage = TriageService(
        sessions=sessions, code_key=b"k", triage_channel="CTRIAGE001", anon_delay=(0, 0)
    )
    delivery = DeliveryService(sessions=sessions)
    yield signals, triage, delivery, sessions
    engine.dispose()


def parent_updates(sessions, signal_id: str) -> list[OutboxItem]:
    with sessions() as session:
        return session.scalars(
            select(OutboxItem).where(
                OutboxItem.signal_id == signal_id,
                OutboxItem.purpose == OutboxPurpose.PARENT_UPDATE.value,
                OutboxItem.state == OutboxState.PENDING.value,
            )
        ).all()


def lock_waiters(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
    finally:
        engine.dispose()


@pytest.mark.parametrize("change", ["reveal", "ask"])
def test_a_change_while_a_worker_claims_the_pending_update_queues_another(
    services, postgres_url, change
):
    signals, triage, delivery, sessions = services
    filed = signals.file_signal(
        kind="drift", text="precision fell", anonymous=True, reporter_id=None
    )
    (post,) = delivery.claim_due()
    delivery.mark_sent(item_id=post.item_id, channel="CTRIAGE001", ts="1.2")
    triage.acknowledge(ref=filed.ref, lead_id=LEAD_ID)
    with sessions() as session:
        signal_id = session.scalar(
            select(OutboxItem.signal_id).where(OutboxItem.id == post.item_id)
        )
    (pending,) = parent_updates(sessions, signal_id)
    offer = triage.offer_reveal(code=filed.code, user_id=REPORTER_ID)

    # A worker's claim of that update, not committed yet (as in DeliveryService.claim_due).
    engine = create_engine(postgres_url)
    worker = engine.connect()
    claim = worker.begin()
    worker.execute(
        select(OutboxItem.id).where(OutboxItem.id == pending.id).with_for_update(skip_locked=True)
    )
    worker.execute(
        update(OutboxItem)
        .where(OutboxItem.id == pending.id)
        .values(claimed_until=utc_now() + timedelta(seconds=60))
    )

    results: list[object] = []

    def perform() -> None:
        if change == "reveal":
            results.append(triage.reveal(token=offer.token, user_id=REPORTER_ID))
        else:
            results.append(triage.ask(ref=filed.ref, lead_id=LEAD_ID, question="Since when?"))

    thread = threading.Thread(target=perform)
    thread.start()
    try:
        wait_until(
            lambda: results or lock_waiters(postgres_url) > 0, what="the change to run or wait"
        )
    finally:
        claim.commit()
        worker.close()
        engine.dispose()
    thread.join(10)
    assert results and results[0].changed
    unclaimed = [p for p in parent_updates(sessions, signal_id) if p.claimed_until is None]
    assert len(unclaimed) == 1  # sent after the worker's one, it shows the change
