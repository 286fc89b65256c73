"""Canary test: an anonymous filing and reply refused because the database was busy leave no
trace of the reporter (the rolled-back transaction, the error path and its log included)."""

from __future__ import annotations

import pytest

from bot.services.signals import NOT_FILED
from tests.conftest import start_app
from tests.db_locks import hold_sqlite_lock
from tests.privacy.canaries import Canaries, assert_no_leaks, file_anonymous, triage_post


@pytest.fixture
def app(standin, sqlite_url):
    running = start_app(standin, sqlite_url)
    yield running
    running.stop()


def test_refused_anonymous_requests_leave_no_trace(app, sqlite_url):
    canaries = Canaries(
        events_url=f"{app.url}/slack/events", standin=app.standin, read_log=app.log.getvalue
    )
    ref, code, _ = file_anonymous(canaries)
    triage_post(canaries, ref)
    holder = hold_sqlite_lock(sqlite_url)
    try:
        refused = canaries.command("anon bias loan-model rejects older applicants")
        assert NOT_FILED in refused.json()["text"]
        reply = canaries.command(f"reply {code} it started in March")
        assert "database was busy" in reply.json()["text"]
    finally:
        holder.release()
    assert_no_leaks(canaries.all_leaks(sqlite_url))
