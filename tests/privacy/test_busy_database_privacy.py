"""Canary test: an anonymous filing and reply refused because the database was busy leave no
trace of the reporter (the rolled-back transaction, the error path and its log included)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from bot.services.signals import NOT_FILED
from bot.services.transactions import NOT_ANSWERED_BUSY
from tests.conftest import DEFAULT_DB_DEADLINE_MS, start_app
from tests.db_locks import hold_sqlite_lock
from tests.privacy.canaries import Canaries, assert_no_leaks, file_anonymous, triage_post


@pytest.fixture
def app(standin, sqlite_url):
    running = start_app(standin, sqlite_url, AI_SIGNAL_DB_DEADLINE_MS=DEFAULT_DB_DEADLINE_MS)
    yield running
    running.stop()


def test_refused_anonymous_requests_leave_no_trace(app, sqlite_url):
    canaries = Canaries(
        events_url=app.sender.url,
        transport=app.sender.transport,
        standin=app.standin,
        read_log=app.log.getvalue,
        settle=app.settle,
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


@pytest.fixture
def postgres_app(standin, postgres_url):
    running = start_app(standin, postgres_url, AI_SIGNAL_DB_DEADLINE_MS=DEFAULT_DB_DEADLINE_MS)
    yield running
    running.stop()


def test_look_ups_refused_behind_a_lock_leave_no_trace(postgres_app):
    app = postgres_app
    canaries = Canaries(
        events_url=app.sender.url,
        transport=app.sender.transport,
        standin=app.standin,
        read_log=app.log.getvalue,
        settle=app.settle,
    )
    ref, code, _ = file_anonymous(canaries)
    triage_post(canaries, ref)
    engine = create_engine(app.runtime.settings.database_url)
    connection = engine.connect()
    transaction = connection.begin()
    connection.execute(text("LOCK TABLE signals IN ACCESS EXCLUSIVE MODE"))
    try:
        for words in (f"status {code}", f"reveal {code}"):
            assert NOT_ANSWERED_BUSY in canaries.command(words).json()["text"]
    finally:
        transaction.rollback()
        connection.close()
        engine.dispose()
    assert_no_leaks(canaries.all_leaks(app.runtime.settings.database_url))
