"""roll-up tables for the review-board report, kept by triggers on signals

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 19:00:00

The report used to group every signal of the period (a quarter of a million-row table took
8 s on PostgreSQL and 24 s on SQLite). It now adds up counts kept per UTC day:

- review_filed: posted signals by filing day, kind, system and status;
- review_waits: posted signals by filing day, system, named or anonymous, and the whole hours
  from the triage post to the acknowledgement (or not acknowledged yet);
- review_wait_minutes: the same acknowledged signals by the minute, read only for the hour in
  which a median or 90th percentile falls (ordered by that hour first);
- review_resolved: resolved signals by resolution day, system and pattern;
- review_assumptions: resolved signals by resolution day, system and failed assumption.

The tables are kept by triggers on `signals` in the transaction of every change, whatever
wrote it (filing, triage, release, withdrawal, a system merge's bulk UPDATE, retention), and
a count that reaches zero is deleted, so an erased failed assumption leaves no row behind.
Every key is computed by the database with the expressions the report used to group by (the
same trim, the same minutes), so the figures are the same. No column names a person, and no
time is kept finer than the day (the wait is a duration).

On PostgreSQL one trigger function keeps all five; when a change moves a signal from one count
to another it takes the two rows' locks in key order, so two single-signal transactions cannot
deadlock on them. A failed assumption is keyed by its md5 there (an index entry has a size
limit); SQLite keys the text itself. `signals` is not rewritten (its FTS5 triggers stay).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_WATCHED = (
    "created_at, posted_at, acknowledged_at, kind, system, status, anonymous, resolved_at,"
    " pattern, failed_assumption"
)


def _day(column: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    return f"date({column})"


def _minutes(r: str, dialect: str) -> str:
    # As bot/services/review.py computed it per signal: the figures must not move.
    if dialect == "postgresql":
        return (
            f"CAST(floor(EXTRACT(epoch FROM {r}.acknowledged_at - {r}.posted_at) / 60) AS INTEGER)"
        )
    return f"CAST((julianday({r}.acknowledged_at) - julianday({r}.posted_at)) * 1440 AS INTEGER)"


class _Rollup:
    """A roll-up table: its key columns, the key expressions and the condition for a signal to
    be counted at all (both as functions of a row alias and the dialect), and the PostgreSQL
    conflict target when it is not the key columns. (A plain class: Alembic loads this module
    outside sys.modules, where a dataclass cannot be built.)"""

    def __init__(self, table, columns, key, condition, conflict=None):  # type: ignore[no-untyped-def]
        self.table, self.columns, self.key = table, columns, key
        self.condition, self.conflict = condition, conflict

    def keys(self, r: str, dialect: str) -> list[str]:
        return self.key(r, dialect)  # type: ignore[operator]

    def counted(self, r: str, dialect: str) -> str:
        return self.condition(r, dialect)  # type: ignore[operator]

    def target(self, dialect: str) -> str:
        if dialect == "postgresql" and self.conflict is not None:
            return ", ".join(self.conflict)
        return ", ".join(self.columns)

    def match(self, r: str, dialect: str) -> str:
        parts = [f"{c} = {k}" for c, k in zip(self.columns, self.keys(r, dialect), strict=True)]
        if dialect == "postgresql" and self.conflict is not None:
            parts.append(f"md5(assumption) = md5({self.keys(r, dialect)[-1]})")
        return " AND ".join(parts)


def _system(r: str) -> list[str]:
    return [f"coalesce(trim({r}.system), '')", f"({r}.system IS NOT NULL)"]


def _posted(r: str, dialect: str) -> str:
    return f"{r}.posted_at IS NOT NULL AND {r}.created_at IS NOT NULL"


def _acknowledged(r: str, dialect: str) -> str:
    return f"{_posted(r, dialect)} AND {r}.acknowledged_at IS NOT NULL"


def _resolved(r: str, dialect: str) -> str:
    return f"{r}.status = 'resolved' AND {r}.resolved_at IS NOT NULL"


def _assumed(r: str, dialect: str) -> str:
    return (
        f"{_resolved(r, dialect)} AND {r}.failed_assumption IS NOT NULL"
        f" AND trim({r}.failed_assumption) <> ''"
    )


def _hours(r: str, dialect: str) -> str:
    return f"coalesce({_minutes(r, dialect)} / 60, 0)"


ROLLUPS = (
    _Rollup(
        "review_filed",
        ("day", "kind", "system", "has_system", "status"),
        lambda r, d: [_day(f"{r}.created_at", d), f"{r}.kind", *_system(r), f"{r}.status"],
        _posted,
    ),
    _Rollup(
        "review_waits",
        ("day", "system", "has_system", "anonymous", "acknowledged", "hours"),
        lambda r, d: [
            _day(f"{r}.created_at", d),
            *_system(r),
            f"{r}.anonymous",
            f"({r}.acknowledged_at IS NOT NULL)",
            _hours(r, d),
        ],
        _posted,
    ),
    _Rollup(
        "review_wait_minutes",
        ("anonymous", "hours", "day", "system", "has_system", "minutes"),
        lambda r, d: [
            f"{r}.anonymous",
            _hours(r, d),
            _day(f"{r}.created_at", d),
            *_system(r),
            _minutes(r, d),
        ],
        _acknowledged,
    ),
    _Rollup(
        "review_resolved",
        ("day", "system", "has_system", "pattern"),
        lambda r, d: [_day(f"{r}.resolved_at", d), *_system(r), f"coalesce({r}.pattern, '')"],
        _resolved,
    ),
    _Rollup(
        "review_assumptions",
        ("day", "system", "has_system", "assumption"),
        lambda r, d: [_day(f"{r}.resolved_at", d), *_system(r), f"trim({r}.failed_assumption)"],
        _assumed,
        conflict=("day", "system", "has_system", "md5(assumption)"),
    ),
)
ASSUMPTIONS_KEY = "uq_review_assumptions_key"  # created here only (per dialect), see models


def _day_column() -> sa.Column:
    return sa.Column("day", sa.Date(), nullable=False)


def _system_columns() -> list[sa.Column]:
    return [
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("has_system", sa.Boolean(), nullable=False),
    ]


def _flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False)


def _number(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False)


def _counts(name: str, *columns: sa.Column, key: tuple[str, ...] | None) -> None:
    """A roll-up table: its key columns and `signals`, clustered by `key` on SQLite."""
    if key is None:
        op.create_table(name, *columns, _number("signals"))
        return
    op.create_table(
        name,
        *columns,
        _number("signals"),
        sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"),
        sqlite_with_rowid=False,
    )


def _create_tables() -> None:
    for rollup in ROLLUPS[:4]:
        made = {
            "day": _day_column,
            "kind": lambda: sa.Column("kind", sa.String(20), nullable=False),
            "status": lambda: sa.Column("status", sa.String(16), nullable=False),
            "pattern": lambda: sa.Column("pattern", sa.String(32), nullable=False),
            "anonymous": lambda: _flag("anonymous"),
            "acknowledged": lambda: _flag("acknowledged"),
            "hours": lambda: _number("hours"),
            "minutes": lambda: _number("minutes"),
        }
        columns = []
        for name in rollup.columns:
            if name == "system":
                columns += _system_columns()
            elif name != "has_system":
                columns.append(made[name]())
        _counts(rollup.table, *columns, key=rollup.columns)
    _counts(
        "review_assumptions",
        _day_column(),
        *_system_columns(),
        sa.Column("assumption", sa.Text(), nullable=False),
        key=None,
    )
    op.create_index("ix_review_assumptions_day", "review_assumptions", ["day"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE UNIQUE INDEX {ASSUMPTIONS_KEY} ON review_assumptions"
            " (day, system, has_system, md5(assumption))"
        )
    else:
        op.create_index(
            ASSUMPTIONS_KEY,
            "review_assumptions",
            ["day", "system", "has_system", "assumption"],
            unique=True,
        )


def _add(rollup: _Rollup, r: str, dialect: str, *, where: str = "") -> str:
    columns = ", ".join(rollup.columns)
    values = ", ".join(rollup.keys(r, dialect))
    source = f"SELECT {values}, 1 WHERE {where}" if where else f"VALUES ({values}, 1)"
    return (
        f"INSERT INTO {rollup.table} ({columns}, signals) {source}"
        f" ON CONFLICT ({rollup.target(dialect)})"
        f" DO UPDATE SET signals = {rollup.table}.signals + 1;"
    )


def _remove(rollup: _Rollup, r: str, dialect: str, *, where: str = "") -> str:
    match = rollup.match(r, dialect) + (f" AND {where}" if where else "")
    return (
        f"UPDATE {rollup.table} SET signals = signals - 1 WHERE {match};"
        f" DELETE FROM {rollup.table} WHERE {match} AND signals <= 0;"
    )


def _changed(rollup: _Rollup, dialect: str) -> str:
    """Whether an update moves a signal in or out of `rollup`, or to another of its counts."""
    pairs = [(rollup.counted("OLD", dialect), rollup.counted("NEW", dialect))]
    pairs += list(zip(rollup.keys("OLD", dialect), rollup.keys("NEW", dialect), strict=True))
    return " OR ".join(f"({old}) IS NOT ({new})" for old, new in pairs)


def _sqlite_up() -> list[str]:
    statements = []
    for rollup in ROLLUPS:
        name, old, new = rollup.table, "OLD", "NEW"
        add = _add(rollup, new, "sqlite", where=rollup.counted(new, "sqlite"))
        remove = _remove(rollup, old, "sqlite", where=rollup.counted(old, "sqlite"))
        statements += [
            f"CREATE TRIGGER {name}_insert AFTER INSERT ON signals BEGIN {add} END",
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON signals BEGIN {remove} END",
            f"""CREATE TRIGGER {name}_update AFTER UPDATE OF {_WATCHED} ON signals
                WHEN {_changed(rollup, "sqlite")} BEGIN {remove} {add} END""",
        ]
    return statements


def _pg_block(rollup: _Rollup) -> str:
    d = "postgresql"
    old_key = ", ".join(rollup.keys("OLD", d))
    new_key = ", ".join(rollup.keys("NEW", d))
    add, remove = _add(rollup, "NEW", d), _remove(rollup, "OLD", d)
    return f"""
        was := false; still := false;
        IF TG_OP <> 'INSERT' THEN was := coalesce({rollup.counted("OLD", d)}, false); END IF;
        IF TG_OP <> 'DELETE' THEN still := coalesce({rollup.counted("NEW", d)}, false); END IF;
        IF was AND still AND ROW({old_key}) IS NOT DISTINCT FROM ROW({new_key}) THEN
            was := false; still := false;
        END IF;
        IF was AND still AND ROW({old_key}) > ROW({new_key}) THEN
            {add} {remove}
        ELSE
            IF was THEN {remove} END IF;
            IF still THEN {add} END IF;
        END IF;"""


def _pg_up() -> list[str]:
    body = "".join(_pg_block(rollup) for rollup in ROLLUPS)
    return [
        f"""CREATE FUNCTION review_rollup_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            was boolean;
            still boolean;
        BEGIN {body}
            RETURN NULL;
        END $$""",
        f"""CREATE TRIGGER review_rollup_sync
            AFTER INSERT OR DELETE OR UPDATE OF {_WATCHED} ON signals
            FOR EACH ROW EXECUTE FUNCTION review_rollup_sync()""",
    ]


def _backfill(rollup: _Rollup, dialect: str) -> str:
    keys = rollup.keys("s", dialect)
    positions = ", ".join(str(n + 1) for n in range(len(keys)))
    return (
        f"INSERT INTO {rollup.table} ({', '.join(rollup.columns)}, signals)"
        f" SELECT {', '.join(keys)}, count(*) FROM signals s"
        f" WHERE {rollup.counted('s', dialect)} GROUP BY {positions}"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_tables()
    for statement in _pg_up() if dialect == "postgresql" else _sqlite_up():
        op.execute(statement)
    for rollup in ROLLUPS:
        op.execute(_backfill(rollup, dialect))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS review_rollup_sync ON signals")
        op.execute("DROP FUNCTION IF EXISTS review_rollup_sync()")
    else:
        for rollup in ROLLUPS:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {rollup.table}_{event}")
    for rollup in reversed(ROLLUPS):
        op.drop_table(rollup.table)
