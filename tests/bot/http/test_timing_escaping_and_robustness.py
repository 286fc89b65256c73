"""Timing leaks, escaping of echoed errors, and robustness: health counts, echoed errors, Slack down at start, a late failure report."""

from __future__ import annotations

import json
import urllib.request

from bot import db
from bot.services.delivery import DeliveryService
from bot.services.signals import SignalService
from models import OutboxItem
from tests.conftest import ALICE, start_app


def _health(app) -> dict:
    with urllib.request.urlopen(f"{app.url}/healthz", timeout=5) as response:
        return json.loads(response.read())


def test_health_and_lead_counts_do_not_show_an_anonymous_filing(standin, database_url):
    app = start_app(standin, database_url, AI_SIGNAL_ANON_DELAY="600-900")
    try:
        before = _health(app)
        reply = app.sender.command(user=ALICE, text="anon bias scoring skews older applicants")
        assert "anonymously" in reply.json()["text"]
        assert (
            _health(app)
            == before
            == {
                "status": "ok",
                "database": "ok",
                "outbox": {"due": 0, "failed": 0, "oldest_due_seconds": 0},
                "slack": {"mode": "http", "api": "unknown"},
                "scheduler": {"last_run": None, "jobs": {}},
            }
        )
        overview = app.runtime.services.queue.overview(lead_id="ULEAD00001")
        assert overview.counts.total == 0 and not overview.page.lines
    finally:
        app.stop()


def test_echoed_error_text_cannot_forge_a_link(running_app):
    # Slack entity-escapes what was typed: the person typed "<http://evil|click>" as the kind.
    reply = running_app.sender.command(user=ALICE, text="anon &lt;http://evil|click&gt; stuff")
    text = reply.json()["text"]
    assert "I don't know the kind" in text
    assert "<http" not in text and "&lt;http://evil|click&gt;" in text


def test_slack_down_at_start_costs_one_auth_test_not_one_per_request(standin, sqlite_url):
    app = start_app(standin, sqlite_url)
    try:
        standin.set_down(True)
        for n in range(3):
            reply = app.sender.command(user=ALICE, text=f"drift model {n} drifted")
            assert reply.status == 200 and "filed" in reply.json()["text"]
        assert len(standin.calls_to("auth.test", include_errors=True)) == 1
    finally:
        standin.set_down(False)
        app.stop()


def test_a_late_failure_report_does_not_undo_a_sent_post(sqlite_url):
    db.upgrade(sqlite_url)
    sessions = db.create_session_factory(db.create_db_engine(sqlite_url))
    SignalService(
        sessions=sessions, code_key=b"k", triage_channel="CTRIAGE001", anon_delay=(0, 0)
    ).file_signal(kind="drift", text="x", anonymous=False, reporter_id="U1")
    delivery = DeliveryService(sessions=sessions)
    (task,) = delivery.claim_due()
    delivery.mark_sent(item_id=task.item_id, channel="CTRIAGE001", ts="1.2")
    delivery.mark_failed(item_id=task.item_id, error="channel_not_found")
    with sessions() as session:
        assert session.get(OutboxItem, task.item_id).state == "sent"
    assert delivery.requeue_failed() == 0
