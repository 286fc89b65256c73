"""The review-board report: what a period's signals teach, by kind, pattern and system. No Slack.

The counts (kinds, systems, statuses, patterns, failed assumptions, time to acknowledge) are
added up in the database from the roll-up tables of migration 0013, counts per day kept by
triggers on `signals` (bot/services/review_counts.py); the few signals a report quotes (key
lessons, review answers) are read from `signals` through indexes. Python only adds up the
grouped cells of a pass into the figures it gives. Nothing in a report names a person: the
queries never read `reporter_id`, `owner_id`, `followup_hash` or an event's actor, and free
text (failed assumptions, lessons, review answers) has Slack user ids replaced.

Privacy: a system × kind (or system × pattern) cell holding fewer than `min_bucket` signals is
merged into "other", so a small breakdown cannot point at the one person who raised it.

Counting: signals *filed* in the period give the kinds, the systems, the statuses and the time
to acknowledge; signals *resolved* in the period give the patterns, the failed assumptions, the
key lessons and the review answers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from bot.clock import Clock, utc_now
from bot.services.errors import ServiceError
from bot.services.redaction import redact_user_ids
from bot.services.review_counts import (
    RECURRING_MIN,
    AckTimes,
    Cells,
    Counts,
    FiledRows,
    RollupCounts,
    Scope,
    system_key,
)
from bot.services.vocabulary import KINDS, PATTERNS
from bot.services.vocabulary import system_key as record_key
from models import Signal, System, resolved_rows
from models import SignalStatus as S

OTHER = "other"
DEFAULT_MIN_BUCKET = 3
LIST_LIMIT = 10
ANSWERS_PER_QUESTION = 5
SYSTEMS_LIMIT = 30  # systems whose review answers a report lists (the most resolved first)
BREAKDOWN_SYSTEMS = 20  # systems named in the system x kind breakdown; the rest are "other"
WEEKLY_UP_TO_DAYS = 16 * 7  # longer periods are shown per month
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)

REVIEW_QUESTIONS = {
    "decision": "What decision was the system meant to support?",
    "success": "How was success defined?",
    "constraint": "Which constraint was underestimated?",
    "missed_signal": "Which earlier signal was missed or ignored?",
}
_QUESTION_COLUMNS = {
    "decision": Signal.review_decision,
    "success": Signal.review_success,
    "constraint": Signal.review_constraint,
    "missed_signal": Signal.review_missed_signal,
}
NOT_ON_RECORD = "not on record"


class BadPeriod(ServiceError):
    """A period that cannot be reported: an unreadable date, or a start after the end."""


# -- the period ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReviewPeriod:
    """The days [first, last], both included, in UTC."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise BadPeriod(
                f"The period starts after it ends ({self.first.isoformat()} > "
                f"{self.last.isoformat()})."
            )

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), UTC)

    @property
    def grain(self) -> str:
        return "week" if (self.last - self.first).days < WEEKLY_UP_TO_DAYS else "month"

    @property
    def label(self) -> str:
        quarter = quarter_of(self.first)
        if quarter is not None and quarter == self:
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        return f"{self.first.isoformat()} to {self.last.isoformat()}"

    def bucket(self, day: date) -> date:
        """The first day of the week (Monday) or month that `day` falls in."""
        if self.grain == "week":
            return day - timedelta(days=day.weekday())
        return day.replace(day=1)

    def bounds(self) -> list[datetime]:
        """Where each bucket after the first starts (UTC midnight): len(buckets()) - 1 bounds."""
        return [datetime.combine(day, datetime.min.time(), UTC) for day in self.buckets()[1:]]

    def buckets(self) -> list[date]:
        found: list[date] = []
        day = self.first
        while day <= self.last:
            start = self.bucket(day)
            if not found or found[-1] != start:
                found.append(start)
            day += timedelta(days=1)
        return found


def quarter_of(day: date) -> ReviewPeriod | None:
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if first != day:
        return None
    after = date(first.year + (first.month + 2) // 12, (first.month + 2) % 12 + 1, 1)
    return ReviewPeriod(first=first, last=after - timedelta(days=1))


def parse_quarter(text: str) -> ReviewPeriod:
    """`2026-Q4` -> 2026-10-01 .. 2026-12-31."""
    match = _QUARTER.match(text.strip())
    if match is None:
        raise BadPeriod(f"Name a quarter like 2026-Q4, not {text.strip()[:20]!r}.")
    year, quarter = int(match.group(1)), int(match.group(2))
    period = quarter_of(date(year, 3 * quarter - 2, 1))
    assert period is not None
    return period


def current_quarter(now: datetime) -> ReviewPeriod:
    day = now.astimezone(UTC).date()
    period = quarter_of(date(day.year, 3 * ((day.month - 1) // 3) + 1, 1))
    assert period is not None
    return period


def parse_day(text: str, *, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadPeriod(f"--{what} must be a date as YYYY-MM-DD, not {text[:20]!r}.") from None


# -- what a report holds -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SystemReview:
    system: str
    stage: str  # from the system's record; NOT_ON_RECORD until systems are on record
    resolved: int
    answers: dict[str, tuple[str, ...]]  # question key -> distinct answers, newest first


@dataclass(frozen=True, kw_only=True)
class ReviewReport:
    period: ReviewPeriod
    system: str | None
    generated_at: datetime
    min_bucket: int
    total: int
    buckets: tuple[date, ...]
    kinds_over_time: dict[str, tuple[int, ...]]  # kind -> count per bucket
    patterns_over_time: dict[str, tuple[int, ...]]  # pattern -> resolved per bucket
    system_kinds: dict[str, dict[str, int]]  # system (or "other") -> kind -> count
    recurring_patterns: tuple[tuple[str, str, int], ...]  # (system, pattern, count)
    recurring_assumptions: tuple[tuple[str, int], ...]
    ack_named: AckTimes
    ack_anonymous: AckTimes
    statuses: dict[str, int]
    key_lessons: dict[str, tuple[tuple[str, str, str], ...]]  # pattern -> (ref, system, lesson)
    systems: tuple[SystemReview, ...]
    merged_cells: int = 0  # breakdown cells merged into "other" (fewer than min_bucket)
    notes: tuple[str, ...] = field(default=())

    def share(self, status: str) -> float | None:
        return self.statuses.get(status, 0) / self.total if self.total else None

    @property
    def kind_totals(self) -> dict[str, int]:
        return {kind: sum(counts) for kind, counts in self.kinds_over_time.items()}


# -- helpers the queries share ---------------------------------------------------------------


def system_stages(session: Session, names: Sequence[str]) -> dict[str, str]:
    """Each system's stage (idea, pilot, production, retired) from its record, by the name the
    report shows (compared as the systems service does: case and spacing folded); NOT_ON_RECORD
    for a name nobody registered."""
    keys = {record_key(name): name for name in names}
    stages = dict.fromkeys(names, NOT_ON_RECORD)
    if keys:
        rows = session.execute(
            select(System.name_key, System.stage).where(System.name_key.in_(list(keys)))
        )
        for key, stage in rows:
            stages[keys[key]] = stage
    return stages


def merge_small_cells(
    cells: dict[tuple[str, str], int], min_bucket: int
) -> tuple[dict[tuple[str, str], int], int]:
    """(row, column) -> count with every cell under `min_bucket` merged into row "other" — and
    a merged "other" cell still under it into ("other", "other"). Returns the cells and how many
    were merged. Totals per column stay as they were, except what the second step pools."""
    merged: dict[tuple[str, str], int] = defaultdict(int)
    moved = 0
    for (row, column), count in cells.items():
        if count < min_bucket and row != OTHER:
            merged[(OTHER, column)] += count
            moved += 1
        else:
            merged[(row, column)] += count
    for (row, column), count in list(merged.items()):
        if row == OTHER and column != OTHER and count < min_bucket:
            del merged[(row, column)]
            merged[(OTHER, OTHER)] += count
    return dict(merged), moved


def fold_rest(cells: dict[tuple[str, str], int], keep: int) -> dict[tuple[str, str], int]:
    """Only the `keep` systems with the most signals keep rows of their own; the rest add up
    under "other" (a chart of 500 systems says nothing)."""
    totals: dict[str, int] = defaultdict(int)
    for (row, _), count in cells.items():
        totals[row] += count
    kept = set(sorted(totals, key=lambda r: (-totals[r], r))[:keep])
    folded: dict[tuple[str, str], int] = defaultdict(int)
    for (row, column), count in cells.items():
        folded[(row if row in kept else OTHER, column)] += count
    return dict(folded)


# -- the service -------------------------------------------------------------------------------


class ReviewService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        min_bucket: int = DEFAULT_MIN_BUCKET,
        clock: Clock = utc_now,
        channel: str | None = None,
        counts: Counts | None = None,
    ) -> None:
        self._sessions = sessions
        self._min_bucket = min_bucket
        self._clock = clock
        # The roll-up of migration 0013; SignalCounts (the signals themselves) gives the same.
        self._counts: Counts = counts if counts is not None else RollupCounts()
        self.channel = channel  # where a report asked for from Slack is shared (triage)

    def quarter(self, text: str = "") -> ReviewPeriod:
        """`2026-Q4`, or the quarter in progress when `text` is empty (BadPeriod otherwise)."""
        return parse_quarter(text) if text.strip() else current_quarter(self._clock())

    def report(self, *, period: ReviewPeriod, system: str | None = None) -> ReviewReport:
        """The period's report (for one system when `system` is given). Read-only."""
        scope = Scope(
            first=period.first,
            last=period.last,
            start=period.start,
            end=period.end,
            bounds=tuple(period.buckets()[1:]),
            system=system,
        )
        with self._sessions() as session:
            resolved = _Scope(period, system, Signal.resolved_at)
            kinds_over_time, cells, statuses = _filed(
                self._counts.filed(session, scope), len(period.buckets())
            )
            cells_resolved = self._counts.resolved_cells(session, scope)
            patterns_over_time = _patterns_over_time(cells_resolved, len(period.buckets()))
            recurring = _recurring_patterns(cells_resolved)
            assumptions = tuple(
                (redact_user_ids(text), count)
                for text, count in self._counts.assumptions(session, scope, limit=LIST_LIMIT)
            )
            named, anonymous = self._counts.waits(session, scope)
            lessons = self._key_lessons(session, resolved)
            systems = self._system_reviews(session, resolved, _resolved_systems(cells_resolved))
        if system is not None:
            # One system's kinds are that system's system × kind cells: small ones merge too.
            kinds_over_time = self._merge_small_rows(kinds_over_time)
        merged, moved = merge_small_cells(fold_rest(cells, BREAKDOWN_SYSTEMS), self._min_bucket)
        system_kinds: dict[str, dict[str, int]] = defaultdict(dict)
        for (name, kind), count in sorted(merged.items()):
            system_kinds[name][kind] = count
        small_patterns = [r for r in recurring if r[2] < self._min_bucket]
        return ReviewReport(
            period=period,
            system=system,
            generated_at=self._clock(),
            min_bucket=self._min_bucket,
            total=sum(statuses.values()),
            buckets=tuple(period.buckets()),
            kinds_over_time=kinds_over_time,
            patterns_over_time=patterns_over_time,
            system_kinds=dict(system_kinds),
            recurring_patterns=tuple(r for r in recurring if r[2] >= self._min_bucket),
            recurring_assumptions=assumptions,
            ack_named=named,
            ack_anonymous=anonymous,
            statuses=statuses,
            key_lessons=lessons,
            systems=systems,
            merged_cells=moved + len(small_patterns),
        )

    def _merge_small_rows(self, rows: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        kept: dict[str, tuple[int, ...]] = {}
        pooled: list[int] | None = None
        for name, counts in rows.items():
            if sum(counts) < self._min_bucket and name != OTHER:
                pooled = [a + b for a, b in zip(pooled or [0] * len(counts), counts, strict=True)]
            else:
                kept[name] = counts
        if pooled is not None:
            previous = kept.get(OTHER, (0,) * len(pooled))
            kept[OTHER] = tuple(a + b for a, b in zip(previous, pooled, strict=True))
        return kept

    # -- the queries ---------------------------------------------------------------------

    @staticmethod
    def _key_lessons(
        session: Session, scope: _Scope
    ) -> dict[str, tuple[tuple[str, str, str], ...]]:
        rows = session.execute(
            select(Signal.pattern, Signal.ref, Signal.system, Signal.lesson)
            .where(
                scope.where,
                resolved_rows(),
                Signal.key_lesson.is_(True),
                Signal.lesson.is_not(None),
            )
            .order_by(Signal.pattern, Signal.resolved_at.desc(), Signal.ref)
            .limit(LIST_LIMIT * len(PATTERNS))
        ).all()
        found: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for pattern, ref, system, lesson in rows:
            items = found[str(pattern or "none")]
            if len(items) < LIST_LIMIT:
                items.append((ref, (system or "").strip(), redact_user_ids(lesson)))
        return {pattern: tuple(items) for pattern, items in found.items()}

    def _system_reviews(
        self, session: Session, scope: _Scope, counts: list[tuple[str, str, int]]
    ) -> tuple[SystemReview, ...]:
        """`counts`: (key, name, resolved) of the systems listed, the most resolved first."""
        base = and_(scope.where, resolved_rows(), Signal.system.is_not(None))
        names = {str(k): str(name) for k, name, _ in counts}
        answers = _answers(session, base, names)
        stages = system_stages(session, list(names.values()))
        return tuple(
            SystemReview(
                system=names[k],
                stage=stages[names[k]],
                resolved=int(resolved),
                answers={
                    q: tuple(redact_user_ids(a) for a in answers[k].get(q, ()))
                    for q in _QUESTION_COLUMNS
                },
            )
            for k, _, resolved in counts
        )


def _filed(
    rows: FiledRows, width: int
) -> tuple[dict[str, tuple[int, ...]], dict[tuple[str, str], int], dict[str, int]]:
    """The period's filed signals, grouped by kind, system, status and week (or month): the
    kinds over time and the system x kind cells (trends: no duplicates), and the statuses
    (all)."""
    over_time: dict[str, list[int]] = defaultdict(lambda: [0] * width)
    cells: dict[tuple[str, str], int] = defaultdict(int)
    names: dict[str, str] = {}
    statuses: dict[str, int] = defaultdict(int)
    for kind, system, name, status, index, count in rows:
        statuses[status] += count
        if status == S.DUPLICATE.value:
            continue
        over_time[kind][index] += count
        if system:  # None, or blank once trimmed: no system named
            shown = names.setdefault(str(system), str(name))
            names[str(system)] = min(shown, str(name))
            cells[(str(system), kind)] += count
    order = sorted(over_time, key=lambda k: (-sum(over_time[k]), k))
    return (
        {kind: tuple(over_time[kind]) for kind in order},
        {(names[system], kind): count for (system, kind), count in cells.items()},
        dict(statuses),
    )


def _patterns_over_time(cells: Cells, width: int) -> dict[str, tuple[int, ...]]:
    """Pattern -> resolved signals per week or month, the biggest first."""
    found: dict[str, list[int]] = defaultdict(lambda: [0] * width)
    for _, _, pattern, index, count in cells:
        if pattern is not None:
            found[pattern][index] += count
    order = sorted(found, key=lambda n: (-sum(found[n]), n))
    return {name: tuple(found[name]) for name in order}


def _by_system(cells: Cells, *, patterns: bool) -> dict[tuple[str, str | None], list[Any]]:
    """(key, pattern or None) -> [name, count] over the named systems' cells."""
    found: dict[tuple[str, str | None], list[Any]] = {}
    for key, name, pattern, _, count in cells:
        if key is None or name is None:
            continue
        entry = found.setdefault((key, pattern if patterns else None), [name, 0])
        entry[0] = min(entry[0], name)
        entry[1] += count
    return found


def _recurring_patterns(cells: Cells) -> list[tuple[str, str, int]]:
    """(system, pattern, resolved) seen at least RECURRING_MIN times, the most first."""
    found = _by_system([c for c in cells if c[2] is not None and c[2] != "none"], patterns=True)
    rows = [
        (key, pattern, name, count)
        for (key, pattern), (name, count) in found.items()
        if count >= RECURRING_MIN
    ]
    rows.sort(key=lambda r: (-r[3], r[0], r[1]))
    return [(name, str(pattern), count) for _, pattern, name, count in rows]


def _resolved_systems(cells: Cells) -> list[tuple[str, str, int]]:
    """(key, name, resolved) of the SYSTEMS_LIMIT systems with the most resolved signals."""
    found = _by_system([c for c in cells if c[0] != ""], patterns=False)
    rows = [(key, name, count) for (key, _), (name, count) in found.items()]
    rows.sort(key=lambda r: (-r[2], r[0]))
    return rows[:SYSTEMS_LIMIT]


def _answers(
    session: Session, base: ColumnElement[bool], names: dict[str, str]
) -> dict[str, dict[str, list[str]]]:
    """Each listed system's distinct review answers per question, the most recently resolved
    first: one pass over the reviewed signals (the partial index ix_signals_reviewed holds
    them), each answer's latest resolution taken per system and question here."""
    key = system_key()
    trimmed = [func.trim(column) for column in _QUESTION_COLUMNS.values()]
    rows = session.execute(
        select(key, *trimmed, func.max(Signal.resolved_at))
        .where(base, reviewed())
        .group_by(key, *trimmed)
    ).all()
    latest: dict[tuple[str, str, str], Any] = {}
    for row in rows:
        name, texts, when = str(row[0]), row[1:-1], row[-1]
        if name not in names:
            continue
        for question, text in zip(_QUESTION_COLUMNS, texts, strict=True):
            if text is None or text == "":
                continue
            found = latest.get((name, question, text))
            if found is None or when > found:
                latest[(name, question, text)] = when
    by_system: dict[tuple[str, str], list[tuple[Any, str]]] = defaultdict(list)
    for name, question, text in sorted(latest):  # as the database groups: by system, answer
        by_system[(name, question)].append((latest[(name, question, text)], text))
    answers: dict[str, dict[str, list[str]]] = {k: {} for k in names}
    for (name, question), found in by_system.items():
        found.sort(key=lambda item: item[0], reverse=True)
        answers[name][question] = [t for _, t in found[:ANSWERS_PER_QUESTION]]
    return answers


def reviewed() -> ColumnElement[bool]:
    """A signal with any review answer: the condition of the partial index ix_signals_reviewed
    (models/signal.py REVIEWED), written the same way so that the database may use it."""
    return or_(*(column.is_not(None) for column in _QUESTION_COLUMNS.values()))


@dataclass(frozen=True)
class _Scope:
    period: ReviewPeriod
    system: str | None
    column: Any  # the column that places a signal in the period; the key lessons and review
    # answers are read through ix_signals_lessons_newest and ix_signals_reviewed

    @property
    def moment(self) -> Any:
        return self.column

    @property
    def where(self) -> ColumnElement[bool]:
        condition = and_(self.moment >= self.period.start, self.moment < self.period.end)
        if self.column is Signal.created_at:
            # Posted signals only: an anonymous one inside its release delay stays out of sight
            # (a resolved or declined one was posted: leads acted on its triage post).
            condition = and_(condition, Signal.posted_at.is_not(None))
        if self.system is not None:
            condition = and_(condition, system_key() == self.system.strip().lower())
        return condition

    @property
    def trend(self) -> ColumnElement[bool]:
        """What trends count: a duplicate counts once, through the signal it duplicates."""
        return and_(self.where, Signal.status != S.DUPLICATE.value)


def kind_label(kind: str) -> str:
    return KINDS.get(kind, kind)


def pattern_label(pattern: str) -> str:
    return PATTERNS.get(pattern, pattern)
