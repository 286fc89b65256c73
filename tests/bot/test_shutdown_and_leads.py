"""Graceful stop hands unsent outbox items back; a failing lead-group lookup is not hammered."""

from __future__ import annotations

import threading

from slack_sdk import WebClient
from sqlalchemy import select

from bot import db
from bot.jobs.delivery import DeliveryWorker
from bot.services.delivery import DeliveryService
from bot.services.signals import SignalService
from handlers.leads import LeadDirectory
from models import OutboxItem


def _services(url: str) -> tuple[SignalService, DeliveryService]:
    db.upgrade(url)
    sessions = db.create_session_factory(db.create_db_engine(url))
    signals = SignalService(
        sessions=sessions, code_key=b"k", triage_channel="CTRIAGE001", anon_delay=(0, 0)
    )
    return signals, DeliveryService(sessions=sessions)


def _file(signals: SignalService, count: int) -> None:
    for n in range(count):
        signals.file_signal(kind="drift", text=f"drift {n}", anonymous=False, reporter_id="U1")


def test_released_items_can_be_claimed_again_at_once(database_url):
    signals, delivery = _services(database_url)
    _file(signals, 3)
    claimed = delivery.claim_due(limit=10)
    assert len(claimed) == 3 and delivery.claim_due(limit=10) == []
    delivery.release(item_ids=[t.item_id for t in claimed])
    again = delivery.claim_due(limit=10)
    assert sorted(t.item_id for t in again) == sorted(t.item_id for t in claimed)
    assert all(t.attempts == 1 for t in again)  # the released claim did not count as a try


def test_stopping_mid_batch_hands_back_the_rest(sqlite_url):
    signals, delivery = _services(sqlite_url)
    _file(signals, 5)
    sent: list[str] = []
    worker: DeliveryWorker

    def send_then_stop(task):  # the worker's Slack-side dependency, here a recorder
        sent.append(task.item_id)
        threading.Thread(target=worker.stop).start()
        worker._stop.wait(2)  # let stop() take effect before the next item
        return None

    worker = DeliveryWorker(delivery=delivery, send=send_then_stop, poll_interval=0.05)
    worker.run_once()
    assert len(sent) == 1
    with delivery._sessions() as session:
        rows = session.scalars(select(OutboxItem)).all()
    unsent = [r for r in rows if r.id not in sent]
    assert len(unsent) == 4
    assert all(r.claimed_until is None and r.state == "pending" for r in unsent)


def test_failed_group_lookup_is_not_repeated_on_every_check(standin):
    standin.add_usergroup("SLEADS0001", users=["ULEAD00009"])
    standin.fail_next("usergroups.users.list", status=500, times=1)
    client = WebClient(token="xoxb-standin", base_url=standin.url)
    leads = LeadDirectory(client=client, leads=(), group="SLEADS0001")
    assert not leads.is_lead("ULEAD00009")  # Slack failed: only the static list counts
    assert not leads.is_lead("ULEAD00009")
    tried = standin.calls_to("usergroups.users.list", include_errors=True)
    assert len(tried) == 1
