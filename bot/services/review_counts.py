"""Where the review-board report's counts come from. No Slack.

`RollupCounts` (what the report uses) adds up the roll-up tables of migration 0013, counts per
UTC day kept by triggers on `signals` (models/review.py): a quarter over a million signals is a
few hundred thousand small rows instead of every signal of the period. `SignalCounts` groups the
signals themselves, as the report did before the roll-up; it gives the same figures (a property
test holds the two together) and stays as the reference the roll-up is checked against.

Both give, for a period and optionally one system (compared case- and space-blind):

- `filed`: (kind, system key, shown name, status, bucket, count) of the posted signals filed in
  the period; the key is falsy for a signal that names no system;
- `waits`: the time to acknowledge of those signals, named and anonymous;
- `resolved_cells`: (system key, shown name, pattern, bucket, count) of the resolved signals
  resolved in the period; key and name are None for a signal that names no system;
- `assumptions`: the failed assumptions seen at least twice, the most first (at most
  `limit`), as they were written (trimmed) with their count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Integer, Table, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import Signal, resolved_rows, review_assumptions, review_filed, review_resolved
from models import SignalStatus as S
from models import review_wait_minutes as minutes_table
from models import review_waits as waits_table

RECURRING_MIN = 2

# (system key, name, pattern, bucket index, count) of the resolved signals.
Cells = list[tuple[str | None, str | None, str | None, int, int]]
FiledRows = list[tuple[str, str | None, str | None, str, int, int]]


@dataclass(frozen=True, kw_only=True)
class AckTimes:
    """Time from the triage post to the acknowledgement, for signals filed in the period."""

    posted: int
    acknowledged: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class Scope:
    """The days [first, last] of a report (UTC), its bucket bounds (the first day of each week
    or month after the first) and the one system it is about, if any."""

    first: date
    last: date
    start: datetime
    end: datetime  # exclusive: midnight after `last`
    bounds: tuple[date, ...]
    system: str | None

    @property
    def system_match(self) -> str | None:
        return None if self.system is None else self.system.strip().lower()


class Counts(Protocol):
    def filed(self, session: Session, scope: Scope) -> FiledRows: ...

    def waits(self, session: Session, scope: Scope) -> tuple[AckTimes, AckTimes]: ...

    def resolved_cells(self, session: Session, scope: Scope) -> Cells: ...

    def assumptions(
        self, session: Session, scope: Scope, *, limit: int
    ) -> list[tuple[str, int]]: ...


# -- helpers ---------------------------------------------------------------------------------


def bucket_of(column: Any, bounds: Sequence[Any]) -> ColumnElement[Any]:
    """The index of the week or month `column` falls in: a few comparisons per row, cheaper
    than a date function on every backend."""
    if not bounds:
        return literal(0)
    return case(*((column < bound, index) for index, bound in enumerate(bounds)), else_=len(bounds))


def minutes_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[Any]:
    # Migration 0013 computes the roll-up's minutes with this same SQL: keep the two alike.
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", later - earlier) / 60), Integer)
    return cast((func.julianday(later) - func.julianday(earlier)) * 1440, Integer)


def system_key(column: Any = Signal.system) -> ColumnElement[Any]:
    """Systems compare case- and space-blind ("Fraud-Model " is fraud-model)."""
    return func.lower(func.trim(column))


def rank_of(total: int, q: float) -> int:
    """The nearest rank of the q-quantile among `total` values: ceil(q * total), at least 1."""
    return max(1, -(-int(q * total * 1000) // 1000))


def quantile(histogram: dict[int, int], q: float) -> timedelta | None:
    """The q-quantile (nearest rank) of minute values given as {minutes: count}."""
    total = sum(histogram.values())
    if not total:
        return None
    found = _at_rank(histogram, rank_of(total, q))
    return timedelta(minutes=max(found[0], 0))


def _at_rank(histogram: dict[int, int], rank: int) -> tuple[int, int]:
    """The value at `rank` (from 1) of the sorted values, and its rank among its own."""
    seen = 0
    for value in sorted(histogram):
        if seen + histogram[value] >= rank:
            return value, rank - seen
        seen += histogram[value]
    raise ValueError("rank beyond the histogram")  # pragma: no cover - callers stay within


def _ack_times(posted: int, histogram: dict[int, int]) -> AckTimes:
    return AckTimes(
        posted=posted,
        acknowledged=sum(histogram.values()),
        median=quantile(histogram, 0.5),
        p90=quantile(histogram, 0.9),
    )


# -- from the signals --------------------------------------------------------------------------


class SignalCounts:
    """Every figure grouped from `signals` (the covering indexes of migration 0011)."""

    @staticmethod
    def _where(scope: Scope, column: Any) -> ColumnElement[bool]:
        condition = and_(column >= scope.start, column < scope.end)
        if column is Signal.created_at:
            # Posted signals only: an anonymous one inside its release delay stays out of sight
            # (a resolved or declined one was posted: leads acted on its triage post).
            condition = and_(condition, Signal.posted_at.is_not(None))
        if scope.system_match is not None:
            condition = and_(condition, system_key() == scope.system_match)
        return condition

    def filed(self, session: Session, scope: Scope) -> FiledRows:
        bounds = [_midnight(day) for day in scope.bounds]
        bucket = bucket_of(Signal.created_at, bounds).label("bucket")
        key = system_key()
        rows = session.execute(
            select(
                Signal.kind,
                key,
                func.min(func.trim(Signal.system)),
                Signal.status,
                bucket,
                func.count(),
            )
            .where(self._where(scope, Signal.created_at))
            .group_by(Signal.kind, key, Signal.status, bucket)
        ).all()
        return [(str(k), s, n, str(st), int(b), int(c)) for k, s, n, st, b, c in rows]

    def waits(self, session: Session, scope: Scope) -> tuple[AckTimes, AckTimes]:
        dialect = session.get_bind().dialect.name
        minutes = minutes_between(Signal.acknowledged_at, Signal.posted_at, dialect)
        minutes = minutes.label("minutes")
        rows = session.execute(
            select(Signal.anonymous, minutes, func.count())
            .where(self._where(scope, Signal.created_at), Signal.posted_at.is_not(None))
            .group_by(Signal.anonymous, minutes)
        ).all()
        histograms: dict[bool, dict[int, int]] = {False: {}, True: {}}
        posted = {False: 0, True: 0}
        for anonymous, waited, count in rows:
            posted[bool(anonymous)] += int(count)
            if waited is not None:
                histograms[bool(anonymous)][int(waited)] = int(count)
        return (
            _ack_times(posted[False], histograms[False]),
            _ack_times(posted[True], histograms[True]),
        )

    def resolved_cells(self, session: Session, scope: Scope) -> Cells:
        key = system_key()
        bounds = [_midnight(day) for day in scope.bounds]
        bucket = bucket_of(Signal.resolved_at, bounds).label("bucket")
        rows = session.execute(
            select(key, func.min(func.trim(Signal.system)), Signal.pattern, bucket, func.count())
            .where(self._where(scope, Signal.resolved_at), Signal.status == S.RESOLVED.value)
            .group_by(key, Signal.pattern, bucket)
        ).all()
        return [
            (
                None if k is None else str(k),
                None if name is None else str(name),
                None if pattern is None else str(pattern),
                int(index),
                int(count),
            )
            for k, name, pattern, index, count in rows
        ]

    def assumptions(self, session: Session, scope: Scope, *, limit: int) -> list[tuple[str, int]]:
        key = func.lower(func.trim(Signal.failed_assumption))
        rows = session.execute(
            select(func.min(func.trim(Signal.failed_assumption)), func.count())
            .where(
                self._where(scope, Signal.resolved_at),
                resolved_rows(),
                Signal.failed_assumption.is_not(None),
                func.trim(Signal.failed_assumption) != "",
            )
            .group_by(key)
            .having(func.count() >= RECURRING_MIN)
            .order_by(func.count().desc(), key)
            .limit(limit)
        ).all()
        return [(str(text), int(count)) for text, count in rows]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


# -- from the roll-up ------------------------------------------------------------------------


class RollupCounts:
    """Every figure added up from the roll-up tables (models/review.py): the same groups as
    `SignalCounts`, over counts per day. The time to acknowledge is read in two steps: the
    hours first (review_waits), then the minutes of only the hour each quantile falls in
    (review_wait_minutes), which gives the very minute the full histogram would."""

    @staticmethod
    def _where(table: Table, scope: Scope) -> ColumnElement[bool]:
        condition = and_(table.c.day >= scope.first, table.c.day <= scope.last)
        if scope.system_match is not None:
            condition = and_(
                condition,
                table.c.has_system.is_(True),
                func.lower(table.c.system) == scope.system_match,
            )
        return condition

    def filed(self, session: Session, scope: Scope) -> FiledRows:
        t = review_filed
        key = func.lower(t.c.system)
        bucket = bucket_of(t.c.day, scope.bounds).label("bucket")
        rows = session.execute(
            select(t.c.kind, key, func.min(t.c.system), t.c.status, bucket, func.sum(t.c.signals))
            .where(self._where(t, scope))
            .group_by(t.c.kind, key, t.c.status, bucket)
        ).all()
        return [(str(k), s, n, str(st), int(b), int(c)) for k, s, n, st, b, c in rows]

    def waits(self, session: Session, scope: Scope) -> tuple[AckTimes, AckTimes]:
        t = waits_table
        rows = session.execute(
            select(t.c.anonymous, t.c.acknowledged, t.c.hours, func.sum(t.c.signals))
            .where(self._where(t, scope))
            .group_by(t.c.anonymous, t.c.acknowledged, t.c.hours)
        ).all()
        posted = {False: 0, True: 0}
        hours: dict[bool, dict[int, int]] = {False: {}, True: {}}
        for anonymous, acknowledged, hour, count in rows:
            posted[bool(anonymous)] += int(count)
            if acknowledged:
                hours[bool(anonymous)][int(hour)] = int(count)
        return (
            self._times(session, scope, False, posted[False], hours[False]),
            self._times(session, scope, True, posted[True], hours[True]),
        )

    def _times(
        self, session: Session, scope: Scope, anonymous: bool, posted: int, hours: dict[int, int]
    ) -> AckTimes:
        total = sum(hours.values())
        found: list[timedelta | None] = []
        for q in (0.5, 0.9):
            if not total:
                found.append(None)
                continue
            hour, rank = _at_rank(hours, rank_of(total, q))
            minute, _ = _at_rank(self._minutes(session, scope, anonymous, hour), rank)
            found.append(timedelta(minutes=max(minute, 0)))
        return AckTimes(posted=posted, acknowledged=total, median=found[0], p90=found[1])

    def _minutes(
        self, session: Session, scope: Scope, anonymous: bool, hour: int
    ) -> dict[int, int]:
        t = minutes_table
        rows = session.execute(
            select(t.c.minutes, func.sum(t.c.signals))
            .where(t.c.anonymous.is_(anonymous), t.c.hours == hour, self._where(t, scope))
            .group_by(t.c.minutes)
        ).all()
        return {int(minute): int(count) for minute, count in rows}

    def resolved_cells(self, session: Session, scope: Scope) -> Cells:
        t = review_resolved
        key = func.lower(t.c.system)
        bucket = bucket_of(t.c.day, scope.bounds).label("bucket")
        rows = session.execute(
            select(
                case((t.c.has_system, key)),
                case((t.c.has_system, func.min(t.c.system))),
                t.c.pattern,
                bucket,
                func.sum(t.c.signals),
            )
            .where(self._where(t, scope))
            .group_by(t.c.has_system, key, t.c.pattern, bucket)
        ).all()
        return [
            (
                None if k is None else str(k),
                None if name is None else str(name),
                str(pattern) or None,  # '' in the roll-up: resolved without a pattern
                int(index),
                int(count),
            )
            for k, name, pattern, index, count in rows
        ]

    def assumptions(self, session: Session, scope: Scope, *, limit: int) -> list[tuple[str, int]]:
        t = review_assumptions
        key = func.lower(t.c.assumption)
        total = func.sum(t.c.signals)
        rows = session.execute(
            select(func.min(t.c.assumption), total)
            .where(self._where(t, scope))
            .group_by(key)
            .having(total >= RECURRING_MIN)
            .order_by(total.desc(), key)
            .limit(limit)
        ).all()
        return [(str(text), int(count)) for text, count in rows]
