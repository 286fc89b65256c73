"""Alembic migrations: up, down, up again on SQLite and PostgreSQL; models match the schema."""

from __future__ import annotations

import warnings

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot import db
from models import Base
from models.search import include_name


def _tables(url: str) -> set[str]:
    engine = db.create_db_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _diffs(url: str) -> list:
    engine = db.create_db_engine(url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            # SQLite's reflection skips, with this warning, the index on lower(system), one of
            # the search objects no model declares and the comparison leaves out anyway.
            warnings.filterwarnings(
                "ignore", "Skipped unsupported reflection of expression-based index"
            )
            context = MigrationContext.configure(connection, opts={"include_name": include_name})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database_url):
    config = db.alembic_config(empty_database_url)
    model_tables = set(Base.metadata.tables)

    db.upgrade(empty_database_url)
    assert model_tables <= _tables(empty_database_url)

    command.downgrade(config, "base")
    assert _tables(empty_database_url) - {"alembic_version"} == set()

    db.upgrade(empty_database_url)
    assert model_tables <= _tables(empty_database_url)
    db.upgrade(empty_database_url)  # idempotent


def test_models_match_migrated_schema(empty_database_url):
    db.upgrade(empty_database_url)
    assert _diffs(empty_database_url) == []


def test_every_revision_steps_down_and_up(empty_database_url):
    """Each migration's downgrade undoes exactly its upgrade (one step at a time)."""
    from alembic.script import ScriptDirectory

    config = db.alembic_config(empty_database_url)
    revisions = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions()]
    db.upgrade(empty_database_url)
    for _ in revisions:
        command.downgrade(config, "-1")
    assert _tables(empty_database_url) - {"alembic_version"} == set()
    for _ in revisions:
        command.upgrade(config, "+1")
    assert _diffs(empty_database_url) == []


def test_upgrade_at_head_is_a_no_op_and_one_revision_behind_is_upgraded(empty_database_url):
    """`db.upgrade` skips Alembic when the schema is at head, and only then."""
    url = empty_database_url
    assert db.schema_revisions(url) == frozenset()
    db.upgrade(url)
    assert db.at_head(url)
    command.downgrade(db.alembic_config(url), "-1")
    assert not db.at_head(url)
    db.upgrade(url)
    assert db.at_head(url) and _diffs(url) == []
