"""A request's deadline counts from its arrival, not from the start of its transaction; the
pooled connection forgets a request's short SQLite busy timeout."""

from __future__ import annotations

import threading
import time

import pytest
from slack_bolt import BoltRequest
from slack_bolt.authorization import AuthorizeResult
from sqlalchemy import select, text

from bot import db
from bot.app import _ContextExecutor, _RequestClockApp
from models import Secret
from tests.conftest import migrated_sessions
from tests.db_locks import hold_sqlite_lock


@pytest.fixture
def sessions(sqlite_url):
    with migrated_sessions(sqlite_url) as sessions:
        yield sessions


def test_time_spent_before_the_transaction_counts_against_the_deadline(sqlite_url, sessions):
    holder = hold_sqlite_lock(sqlite_url)
    releaser = threading.Timer(0.8, holder.release)
    releaser.start()
    try:
        # The request arrived 1.5 s ago: 0.5 s are left, the lock goes 0.8 s from now.
        with db.request_arrived(time.monotonic() - 1.5):
            with pytest.raises(db.DeadlineExceeded):
                with db.unit_of_work(sessions, deadline_ms=2000) as session:
                    session.add(Secret(name="late", value="x"))
    finally:
        releaser.join()
        holder.release()
    with sessions() as session:
        assert session.scalar(select(Secret.name).where(Secret.name == "late")) is None


def test_a_request_already_past_its_deadline_stores_nothing(sessions):
    with db.request_arrived(time.monotonic() - 3.0):
        with pytest.raises(db.DeadlineExceeded):
            with db.unit_of_work(sessions, deadline_ms=2000) as session:
                session.add(Secret(name="late", value="x"))
    with sessions() as session:
        assert session.scalar(select(Secret.name).where(Secret.name == "late")) is None


def test_a_fresh_request_gets_its_whole_deadline(sessions):
    with db.request_arrived(time.monotonic()):
        with db.unit_of_work(sessions, deadline_ms=2000) as session:
            session.add(Secret(name="in-time", value="x"))
    with sessions() as session:
        assert session.scalar(select(Secret.name).where(Secret.name == "in-time")) == "in-time"


def test_the_listener_thread_sees_when_the_request_arrived():
    executor = _ContextExecutor(max_workers=1)
    app = _RequestClockApp(
        signing_secret="s",
        request_verification_enabled=False,
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=executor,
        authorize=lambda **_: AuthorizeResult(
            enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_user_id="UBOT"
        ),
        ignoring_self_events_enabled=False,
    )
    seen: list[float | None] = []
    done = threading.Event()

    @app.command("/ai-signal")
    def on_command(ack):
        seen.append(db._REQUEST_ARRIVED.get())
        ack()
        done.set()

    before = time.monotonic()
    app.dispatch(BoltRequest(body="command=%2Fai-signal&text=x&team_id=T1&user_id=U1"))
    assert done.wait(5)
    assert seen[0] is not None and before <= seen[0] <= time.monotonic()
    # Nothing of the request stays behind: not on the dispatching thread, nor on the
    # listener's thread for whatever it runs next.
    assert db._REQUEST_ARRIVED.get() is None
    assert executor.submit(db._REQUEST_ARRIVED.get).result(5) is None
    executor.shutdown()


def test_a_requests_short_busy_timeout_does_not_stay_on_the_connection(sessions):
    with db.unit_of_work(sessions, deadline_ms=150) as session:
        session.add(Secret(name="quick", value="x"))
    # The pool hands the same connection to the next reader and the next background writer.
    with sessions() as session:
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    with sessions.begin() as session:
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == db.SQLITE_BUSY_TIMEOUT_MS
