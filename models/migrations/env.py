"""Alembic environment: reads the app's own database URL and model metadata.

The one module under models/ that imports the application (its engine factory, URL and upgrade
lock): it is the entry point Alembic runs, wiring rather than storage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection, text

from bot.config import database_url_from_env
from bot.db import MIGRATION_LOCK_KEY, WRITE_OPTION, create_db_engine
from models import Base
from models.search import include_name

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or database_url_from_env()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Several instances may start (and upgrade) at once: one migrates, the others wait for it
    and then find the schema at head. The lock is held on the connection Alembic migrates with."""
    engine = create_db_engine(_url())
    try:
        with engine.connect() as connection:
            with _one_upgrade_at_a_time(connection):
                context.configure(
                    connection=connection,
                    target_metadata=target_metadata,
                    include_name=include_name,
                    render_as_batch=True,
                    # On SQLite too: the whole upgrade is one write transaction (below).
                    transactional_ddl=True,
                )
                with context.begin_transaction():
                    context.run_migrations()
    finally:
        engine.dispose()


@contextmanager
def _one_upgrade_at_a_time(connection: Connection) -> Iterator[None]:
    if connection.dialect.name == "postgresql":
        # A session-level advisory lock: it outlives the transactions Alembic runs on this
        # connection and goes away with the connection if the process dies.
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            if connection.in_transaction():
                connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
    else:
        # SQLite: the migration transaction begins with BEGIN IMMEDIATE (bot/db.py), so it holds
        # the write lock from before it reads alembic_version; another process waits for it (busy
        # timeout) instead of racing it to CREATE TABLE with a stale view of the schema.
        connection.execution_options(**{WRITE_OPTION: True})
        yield


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
