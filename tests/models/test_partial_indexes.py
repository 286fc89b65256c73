"""Migration 0014: the history indexes hold only the signals whose leading column is set, and
the reads of resolved signals still find them.

A filing writes no entry into an index led by a column it leaves empty (bench/wrk_load.py
measures what that saves); a query may read such a partial index only when its conditions
name the column (`resolved_rows()` for resolved signals), which the SQLite plans show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event, text

from bot import db
from bot.services.lessons import LessonsService
from bot.services.records import LessonQuery
from bot.services.signals import SignalService
from bot.services.triage import TriageService
from models import Signal


def _migration_0014():
    from alembic.script import ScriptDirectory

    from bot.db import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision("0014").module


# index name -> the column that must be set, as the migration has them
PARTIAL = {name: required for name, _, required in _migration_0014()._INDEXES}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.create_db_engine(database_url)
    yield engine
    engine.dispose()


def _index_definitions(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            )
        else:
            rows = connection.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'signals'")
            )
        return {name: " ".join(sql.split()) for name, sql in rows}


def test_the_history_indexes_hold_only_rows_with_their_column_set(engine):
    definitions = _index_definitions(engine)
    for name, required in PARTIAL.items():
        assert name in definitions, name
        where = definitions[name].split(" WHERE ", 1)
        assert len(where) == 2, f"{name} is not partial: {definitions[name]}"
        assert where[1].strip("() ").lower() == f"{required} is not null", definitions[name]


def test_the_models_declare_the_same_conditions():
    """The model's indexes (all but migration 0009's expression index) match the migration."""
    declared = {index.name: index for index in Signal.__table__.indexes}
    for name, required in PARTIAL.items():
        if name == "ix_signals_lessons_system":
            assert name not in declared
            continue
        for dialect in ("sqlite", "postgresql"):
            where = declared[name].dialect_options[dialect]["where"]
            assert str(where) == f"{required} IS NOT NULL", (name, dialect)


def test_a_filing_writes_no_entry_into_them(engine, database_url):
    sessions = db.create_session_factory(engine)
    signals = SignalService(
        sessions=sessions, code_key=b"k" * 32, triage_channel="C1", anon_delay=(0, 0)
    )
    signals.file_signal(kind="drift", text="named", anonymous=False, reporter_id="U1")
    signals.file_signal(kind="bias", text="anonymous", anonymous=True, reporter_id="U2")
    with engine.connect() as connection:
        for name, required in PARTIAL.items():
            if engine.dialect.name == "sqlite":
                # An index with an entry per row would answer a count of every row.
                entries = connection.execute(
                    text(
                        f"SELECT count(*) FROM signals INDEXED BY {name} WHERE {required} IS NOT NULL"
                    )
                ).scalar_one()
            else:
                entries = connection.execute(
                    text(f"SELECT count(*) FROM signals WHERE {required} IS NOT NULL")
                ).scalar_one()
            expected = 1 if required == "reporter_id" else 0
            assert entries == expected, name


@contextmanager
def _selects(engine: Engine) -> Iterator[list[tuple[str, object]]]:
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _plans(engine: Engine, call: Callable[[], object]) -> list[str]:
    with _selects(engine) as seen:
        call()
    assert seen, "the call read nothing"
    with engine.connect() as connection:
        return [
            " ".join(
                row[-1]
                for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            )
            for statement, params in seen
        ]


@pytest.mark.parametrize(
    ("read", "index"),
    [
        ("newest lessons", "ix_signals_lessons_newest"),
        ("lessons of a pattern", "ix_signals_lessons_pattern"),
        ("a system's playbook", "ix_signals_lessons_system"),
        ("lessons found by words", "ix_signals_review_resolved"),
    ],
)
def test_reads_of_resolved_signals_use_the_partial_indexes(read, index, sqlite_url):
    db.upgrade(sqlite_url)
    engine = db.create_db_engine(sqlite_url)
    sessions = db.create_session_factory(engine)
    lessons = LessonsService(sessions=sessions)
    triage = TriageService(
        sessions=sessions, code_key=b"k" * 32, triage_channel="C1", anon_delay=(0, 0)
    )
    calls = {
        "newest lessons": lambda: lessons.search(query=LessonQuery()),
        "lessons of a pattern": lambda: lessons.search(query=LessonQuery(pattern="data-optimism")),
        "a system's playbook": lambda: lessons.playbook("fraud-model"),
        "lessons found by words": lambda: triage.lessons(words=["labels"]),
    }
    try:
        plans = _plans(engine, calls[read])
    finally:
        engine.dispose()
    assert any(index in plan for plan in plans), plans
