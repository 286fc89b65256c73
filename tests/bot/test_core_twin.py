"""`connection_unit` runs on the engine's Core twin (`bot.db.core_twin`), which has no
connection events: it must still do what the engine's events do for every other unit of work
(the writer lock on SQLite, the deadline's timeouts on PostgreSQL, the health monitor's error
count) and go away with the engine."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, insert, select, text

from bot import db
from models import Secret
from tests.conftest import migrated_sessions


@pytest.fixture
def sessions(database_url):
    with migrated_sessions(database_url) as sessions:
        yield sessions


def _secrets(sessions) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(Secret.name)))


def test_its_statements_run_without_per_statement_events(sessions):
    engine = sessions.kw["bind"]
    assert engine._has_events  # the engine's begin, commit, rollback and handle_error
    with db.connection_unit(sessions, deadline_ms=2000) as connection:
        assert connection.engine is db.core_twin(engine)
        assert not connection.engine._has_events
        connection.execute(insert(Secret.__table__), {"name": "core", "value": "x"})
    assert _secrets(sessions) == ["core"]


def test_a_failed_unit_keeps_nothing_and_frees_the_writer(sessions):
    with pytest.raises(RuntimeError):
        with db.connection_unit(sessions, deadline_ms=2000) as connection:
            connection.execute(insert(Secret.__table__), {"name": "lost", "value": "x"})
            raise RuntimeError("the service refused half-way")

    # The next writers, of either kind and on another thread, get in at once.
    def write() -> None:
        with db.unit_of_work(sessions, deadline_ms=500) as session:
            session.add(Secret(name="orm", value="x"))
        with db.connection_unit(sessions, deadline_ms=500) as connection:
            connection.execute(insert(Secret.__table__), {"name": "core", "value": "x"})

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(10)
    assert _secrets(sessions) == ["core", "orm"]


def test_it_waits_for_a_writer_of_the_engine_no_longer_than_its_deadline(sessions):
    """The ORM writer and the Core unit take turns on one lock (SQLite) or on the row lock
    (PostgreSQL, where the deadline's lock_timeout ends the wait): a unit that cannot get in
    within its deadline keeps nothing."""
    holding = threading.Event()
    release = threading.Event()
    with sessions.begin() as session:
        session.add(Secret(name="shared", value="0"))

    def hold() -> None:
        with db.unit_of_work(sessions, deadline_ms=None) as session:
            session.execute(text("UPDATE secrets SET value = '1' WHERE name = 'shared'"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        with pytest.raises(db.DeadlineExceeded):
            with db.connection_unit(sessions, deadline_ms=300) as connection:
                connection.execute(text("UPDATE secrets SET value = '2' WHERE name = 'shared'"))
        waited = time.monotonic() - started
        assert 0.2 <= waited < 5, waited
    finally:
        release.set()
        holder.join(10)
    with sessions() as session:
        assert session.scalar(select(Secret.value).where(Secret.name == "shared")) == "1"


def test_its_database_errors_reach_the_error_count(sessions):
    engine = sessions.kw["bind"]
    seen: list[object] = []
    db.on_database_error(engine, seen.append)
    with pytest.raises(Exception, match="no_such_table"):
        with db.connection_unit(sessions, deadline_ms=2000) as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
    assert len(seen) == 1
    with pytest.raises(Exception, match="no_such_table"):
        with sessions() as session:
            session.execute(text("SELECT * FROM no_such_table"))
    assert len(seen) == 2


def test_it_is_disposed_of_with_the_engine(database_url):
    db.upgrade(database_url)
    engine = db.create_db_engine(database_url)
    sessions = db.create_session_factory(engine)
    with db.connection_unit(sessions, deadline_ms=2000) as connection:
        connection.execute(select(func.count()).select_from(Secret))
    twin = db.core_twin(engine)
    assert twin.pool.checkedin() == 1
    engine.dispose()
    assert twin.pool.checkedin() == 0
