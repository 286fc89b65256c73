"""The transactions and reads of requests someone waits for: bounded by a deadline, so the
answer still reaches Slack in time when the database is slow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from bot.db import DeadlineExceeded, connection_unit, read_unit, unit_of_work
from bot.services.errors import DatabaseBusy


@contextmanager
def request_transaction(
    sessions: sessionmaker[Session], *, deadline_ms: int | None, busy: str
) -> Iterator[Session]:
    """The transaction of a request someone waits for: committed within `deadline_ms` or rolled
    back, then `DatabaseBusy(busy)` is raised, so the answer still reaches Slack in time."""
    try:
        with unit_of_work(sessions, deadline_ms=deadline_ms) as session:
            yield session
    except DeadlineExceeded:
        raise DatabaseBusy(busy) from None


@contextmanager
def request_connection(
    sessions: sessionmaker[Session], *, deadline_ms: int | None, busy: str
) -> Iterator[Connection]:
    """`request_transaction` on a Core connection (`bot.db.connection_unit`): for the hot
    paths whose statements are all Core."""
    try:
        with connection_unit(sessions, deadline_ms=deadline_ms) as connection:
            yield connection
    except DeadlineExceeded:
        raise DatabaseBusy(busy) from None


NOT_ANSWERED_BUSY = "The database was busy — please try again in a moment."


@contextmanager
def request_read(
    sessions: sessionmaker[Session], *, deadline_ms: int | None, busy: str = NOT_ANSWERED_BUSY
) -> Iterator[Session]:
    """The reads of a request someone waits for (a look-up, a form to open): they give up at
    `deadline_ms` with `DatabaseBusy(busy)`, so the answer still reaches Slack in time."""
    try:
        with read_unit(sessions, deadline_ms=deadline_ms) as session:
            yield session
    except DeadlineExceeded:
        raise DatabaseBusy(busy) from None
