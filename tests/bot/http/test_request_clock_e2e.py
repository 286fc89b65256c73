"""The first request does not wait for auth.test, and a filing is stored only when its receipt
(the only place its follow-up code appears) reaches Slack in time."""

from __future__ import annotations

import threading
import time

from models import Signal
from tests.conftest import DEFAULT_DB_DEADLINE_MS, count_rows, start_app, wait_until
from tests.db_locks import hold_sqlite_lock
from tests.handlers.listeners.triage.helpers import BOB

SLACK_LIMIT = 3.0


def test_first_filing_with_a_slow_auth_test_and_a_busy_database_is_seen_when_stored(
    standin, sqlite_url
):
    app = start_app(standin, sqlite_url, AI_SIGNAL_DB_DEADLINE_MS=DEFAULT_DB_DEADLINE_MS)
    try:
        standin.set_slow("auth.test", 1.5)
        holder = hold_sqlite_lock(sqlite_url)
        # Released after auth.test would have taken 1.5 s and 1.7 s more of a deadline.
        releaser = threading.Timer(3.2, holder.release)
        started = time.monotonic()
        releaser.start()
        reply = app.sender.command(user=BOB, text="anon drift fraud-model: precision fell")
        elapsed = time.monotonic() - started
        releaser.join()
        holder.release()
        assert reply.status == 200
        stored = count_rows(app, Signal)
        if stored:
            # The follow-up code is shown only in this answer: it must have arrived in time.
            assert elapsed < SLACK_LIMIT and "follow-up code" in reply.json()["text"], elapsed
        else:
            assert "follow-up code" not in reply.text
    finally:
        standin.set_slow("auth.test", None)
        app.stop()


def test_the_first_request_does_not_wait_for_auth_test(standin, sqlite_url):
    app = start_app(standin, sqlite_url)
    try:
        standin.set_slow("auth.test", 2.8)
        started = time.monotonic()
        reply = app.sender.command(user=BOB, text="anon drift fraud-model: precision fell")
        elapsed = time.monotonic() - started
        assert reply.status == 200 and "follow-up code" in reply.json()["text"]
        assert elapsed < 2.0, elapsed  # far less than auth.test takes
        assert count_rows(app, Signal) == 1
    finally:
        standin.set_slow("auth.test", None)
        app.stop()


def test_warm_up_learns_the_bots_ids_in_the_background(standin, sqlite_url):
    app = start_app(standin, sqlite_url)
    try:
        app.runtime.warm_up()
        wait_until(lambda: standin.calls_to("auth.test"), what="auth.test after warm-up")
        app.sender.command(user=BOB, text="anon drift fraud-model: precision fell")
        # Learned once: requests do not ask again.
        assert len(standin.calls_to("auth.test", include_errors=True)) == 1
    finally:
        app.stop()
