"""The review-board report's roll-up tables (migration 0013): counts per UTC day, kept by
triggers on `signals` in the transaction of every change (see the migration for each table).

Core tables, read with grouped SELECTs only; nothing in the application writes them. No column
names a person and no time is finer than the day: `system` is the signal's system trimmed ('' and
`has_system` false when it names none), `pattern` is '' when a resolved signal has none, `hours`
and `minutes` are the wait from the triage post to the acknowledgement.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from models.base import Base

# The failed assumptions' unique key: the text on SQLite, its md5 on PostgreSQL (an index entry
# there has a size limit), so the migration creates it per database and the model comparison
# leaves it alone.
ROLLUP_SCHEMA_NAMES = frozenset({"uq_review_assumptions_key"})


def _system() -> list[Column]:
    return [
        Column("system", String(200), nullable=False),
        Column("has_system", Boolean, nullable=False),
    ]


def _table(name: str, *columns: Column, key: tuple[str, ...] | None = None, **kw: object) -> Table:
    extra: list[object] = [Column("signals", Integer, nullable=False)]
    if key is not None:
        extra.append(PrimaryKeyConstraint(*key, name=f"pk_{name}"))
        kw["sqlite_with_rowid"] = False
    return Table(name, Base.metadata, *columns, *extra, **kw)  # type: ignore[arg-type]


# Posted signals by filing day, kind, system and status.
review_filed = _table(
    "review_filed",
    Column("day", Date, nullable=False),
    Column("kind", String(20), nullable=False),
    *_system(),
    Column("status", String(16), nullable=False),
    key=("day", "kind", "system", "has_system", "status"),
)
# Posted signals by filing day, system, anonymity and whole hours waited for an acknowledgement
# (`acknowledged` false, `hours` 0: not acknowledged).
review_waits = _table(
    "review_waits",
    Column("day", Date, nullable=False),
    *_system(),
    Column("anonymous", Boolean, nullable=False),
    Column("acknowledged", Boolean, nullable=False),
    Column("hours", Integer, nullable=False),
    key=("day", "system", "has_system", "anonymous", "acknowledged", "hours"),
)
# The acknowledged ones by the minute, ordered by anonymity and hour first: a quantile reads
# the one hour it falls in.
review_wait_minutes = _table(
    "review_wait_minutes",
    Column("anonymous", Boolean, nullable=False),
    Column("hours", Integer, nullable=False),
    Column("day", Date, nullable=False),
    *_system(),
    Column("minutes", Integer, nullable=False),
    key=("anonymous", "hours", "day", "system", "has_system", "minutes"),
)
# Resolved signals by resolution day, system and pattern.
review_resolved = _table(
    "review_resolved",
    Column("day", Date, nullable=False),
    *_system(),
    Column("pattern", String(32), nullable=False),
    key=("day", "system", "has_system", "pattern"),
)
# Resolved signals by resolution day, system and failed assumption (trimmed, never blank).
review_assumptions = _table(
    "review_assumptions",
    Column("day", Date, nullable=False),
    *_system(),
    Column("assumption", Text, nullable=False),
    Index("ix_review_assumptions_day", "day"),
)

ROLLUP_TABLES = (
    review_filed,
    review_waits,
    review_wait_minutes,
    review_resolved,
    review_assumptions,
)
