"""The weekly digest: the period it covers, the figures in it, and the claim that sends it once.

Plain Python, no Slack. `DigestService.gather` reads aggregate figures for a period — systems,
kinds, patterns, references and durations, never a person: nothing it returns carries a reporter,
a lead or an owner. `DigestService.claim` is the exactly-once rule: a `DigestRun` row, unique per
(channel, period_start, attempt), is taken in the database before anything is posted, so several
instances, a restart at the scheduled minute or a manual send post one digest per period.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import and_, exists, func, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.services.redaction import redact_user_ids
from bot.services.vocabulary import CLOSED_STATUSES, KINDS, OPEN_STATUSES, STALLED_STATUSES
from models import DigestRun, Signal
from models import DigestRunState as RunState
from models import SignalStatus as S

__all__ = [
    "AttentionItem",
    "ClaimOutcome",
    "DigestClaim",
    "DigestData",
    "DigestService",
    "KindCount",
    "Period",
    "ResolvedItem",
    "ResponseHealth",
    "SystemCount",
    "anonymous_waited_longer",
    "period_at",
    "period_in_progress",
    "redact_user_ids",  # the digest renderer redacts free text with it
]

NEEDS_ATTENTION_LIMIT = 5
RESOLVED_LIMIT = 8
RECURRING_MIN_SIGNALS = 2
RECURRING_LIMIT = 10
# How long a sender holds a claim before another may assume it died and take over.
CLAIM_LEASE = timedelta(minutes=5)


# -- the period ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Period:
    """[start, end): between the previous and the latest fire time of the schedule (UTC)."""

    start: datetime
    end: datetime
    previous_start: datetime  # the period before is [previous_start, start)
    timezone: str
    # True for the period still running (a preview): its end is the next fire time, in the future.
    in_progress: bool = False

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def noun(self) -> str:
        """'week' for a weekly schedule (DST changes included), 'day' for a daily one."""
        hours = self.length.total_seconds() / 3600
        if 166 <= hours <= 170:
            return "week"
        if 22 <= hours <= 26:
            return "day"
        return "period"

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone))


def _fire_times(trigger: CronTrigger, now: datetime, count: int) -> list[datetime]:
    """The last `count` fire times at or before `now`, oldest first."""
    lookback = timedelta(hours=1)
    while lookback <= timedelta(days=3 * 366):
        moment = trigger.get_next_fire_time(None, now - lookback)
        times: list[datetime] = []
        while moment is not None and moment <= now:
            times.append(moment)
            moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
        if len(times) >= count:
            return times[-count:]
        lookback *= 2
    raise ValueError("the digest schedule fires less than once every 3 years")


def period_at(schedule: str, timezone: str, now: datetime) -> Period:
    """The period whose digest is due at `now`: it ends at the latest fire time <= now."""
    tz = ZoneInfo(timezone)
    trigger = CronTrigger.from_crontab(schedule, timezone=tz)
    before, start, end = _fire_times(trigger, now.astimezone(tz), 3)
    return Period(
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        previous_start=before.astimezone(UTC),
        timezone=timezone,
    )


def period_in_progress(schedule: str, timezone: str, now: datetime) -> Period:
    """The period running at `now`: from the latest fire time <= now to the next one, whose
    digest is not due yet (what `ai-signal digest preview` shows)."""
    tz = ZoneInfo(timezone)
    trigger = CronTrigger.from_crontab(schedule, timezone=tz)
    before, start = _fire_times(trigger, now.astimezone(tz), 2)
    end = trigger.get_next_fire_time(start, start + timedelta(seconds=1))
    if end is None:
        raise ValueError("the digest schedule does not fire again")
    return Period(
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        previous_start=before.astimezone(UTC),
        timezone=timezone,
        in_progress=True,
    )


# -- what the digest says ----------------------------------------------------------------------


# What one attempt to post a period's digest came to (the sender in handlers/ returns it).
class SendStatus(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "in_progress"  # another sender holds the claim right now
    RETRY_LATER = "retry_later"  # an earlier post failed; its retry time has not come
    FAILED = "failed"  # this post failed; the claim is kept and retried later
    NOT_DUE = "not_due"  # catch-up: nothing to catch up


@dataclass(frozen=True, kw_only=True)
class SendResult:
    status: SendStatus
    period: Period
    channel: str
    ts: str | None = None
    attempt: int = 0
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class KindCount:
    kind: str
    count: int
    previous: int

    @property
    def label(self) -> str:
        return KINDS.get(self.kind, self.kind)


@dataclass(frozen=True, kw_only=True)
class AttentionItem:
    ref: str
    kind: str
    system: str | None
    status: str
    age: timedelta
    stalled: bool  # acknowledged/investigating but untouched for the reminder window
    triage_channel: str | None
    triage_ts: str | None
    overdue: bool = False  # still open after the "respond by" day a lead set


@dataclass(frozen=True, kw_only=True)
class ResolvedItem:
    ref: str
    kind: str
    system: str | None
    failed_assumption: str | None
    pattern: str | None
    lesson: str | None


@dataclass(frozen=True, kw_only=True)
class SystemCount:
    system: str
    count: int


@dataclass(frozen=True, kw_only=True)
class ResponseHealth:
    """Signals posted to triage in the period, for one kind of reporter (named or anonymous)."""

    posted: int  # posted in the period
    acknowledged: int
    median: timedelta | None  # median time from triage post to acknowledgement
    eligible: int  # acknowledged, or waited at least the reminder window
    within_window: int  # acknowledged within the reminder window

    @property
    def share_within(self) -> float | None:
        return self.within_window / self.eligible if self.eligible else None


# When the digest may say "anonymous signals waited longer than named ones": only on samples big
# enough to mean something, only for a material gap, and never when anonymous signals did as well
# or better on either measure that has enough signals (an equal median or an equal share counts as
# "as well").
COMPARE_MIN_ACKNOWLEDGED = 5  # acknowledged signals in each group (the medians' samples)
COMPARE_MIN_JUDGED = 5  # judged signals in each group (the on-time shares' samples)
MATERIAL_MEDIAN_GAP = timedelta(hours=1)  # and at least MATERIAL_MEDIAN_RATIO times the named one
MATERIAL_MEDIAN_RATIO = 1.5
MATERIAL_SHARE_GAP = 0.2  # 20 percentage points fewer acknowledged within the reminder window


def anonymous_waited_longer(named: ResponseHealth, anonymous: ResponseHealth) -> bool:
    """Whether anonymous signals materially waited longer for an acknowledgement than named ones.

    Two measures: the median time to acknowledge (compared when each group has at least
    COMPARE_MIN_ACKNOWLEDGED acknowledged signals) and the share acknowledged within the
    reminder window (when each has at least COMPARE_MIN_JUDGED judged signals). True when one
    comparable measure is materially worse for anonymous signals — a median longer by at least
    MATERIAL_MEDIAN_GAP and MATERIAL_MEDIAN_RATIO times, or a share lower by MATERIAL_SHARE_GAP —
    and on no comparable measure did they do as well or better (a median no longer, a share no
    lower). A measure without enough signals counts neither way. Too few signals on both: False,
    nothing is claimed.
    """
    worse = as_good = False
    if (
        named.acknowledged >= COMPARE_MIN_ACKNOWLEDGED
        and anonymous.acknowledged >= COMPARE_MIN_ACKNOWLEDGED
        and named.median is not None
        and anonymous.median is not None
    ):
        gap = anonymous.median - named.median
        worse |= (
            gap >= MATERIAL_MEDIAN_GAP and anonymous.median >= named.median * MATERIAL_MEDIAN_RATIO
        )
        as_good |= gap <= timedelta(0)
    named_share, anonymous_share = named.share_within, anonymous.share_within
    if (
        named.eligible >= COMPARE_MIN_JUDGED
        and anonymous.eligible >= COMPARE_MIN_JUDGED
        and named_share is not None
        and anonymous_share is not None
    ):
        worse |= named_share - anonymous_share >= MATERIAL_SHARE_GAP
        as_good |= anonymous_share >= named_share
    return worse and not as_good


@dataclass(frozen=True, kw_only=True)
class DigestData:
    period: Period
    now: datetime
    reminder_hours: float
    new_total: int  # raised: duplicates included
    previous_total: int
    new_by_kind: tuple[KindCount, ...]
    open_counts: dict[str, int]  # new, acknowledged, investigating (all signals, now)
    resolved_count: int  # resolved in the period
    declined_count: int  # declined in the period
    needs_attention: tuple[AttentionItem, ...]
    needs_attention_total: int
    resolved: tuple[ResolvedItem, ...]
    recurring: tuple[SystemCount, ...]
    recurring_total: int
    patterns: tuple[tuple[str, int], ...]  # (pattern, count) across the period's resolutions
    named: ResponseHealth
    anonymous: ResponseHealth
    withdrawn_count: int = 0  # withdrawn by their reporters in the period
    escalated_count: int = 0  # raised to the escalation channel or group in the period

    # Of new_total, those closed as duplicates of an earlier signal: the kinds' trend
    # (new_by_kind) counts each concern once and leaves them out.
    new_duplicates: int = 0

    @property
    def empty(self) -> bool:
        return self.new_total == 0

    @property
    def anonymous_waited_longer(self) -> bool:
        return anonymous_waited_longer(self.named, self.anonymous)


CHART_WEEKS = 8


@dataclass(frozen=True, kw_only=True)
class WeeklyKinds:
    """The digest chart's data: period starts (oldest first), kind -> count per period."""

    starts: tuple[datetime, ...]
    series: dict[str, tuple[int, ...]]

    @property
    def total(self) -> int:
        return sum(sum(counts) for counts in self.series.values())


# -- the claim ---------------------------------------------------------------------------------


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # go ahead and post
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "in_progress"  # another sender holds a live claim
    RETRY_LATER = "retry_later"  # an earlier post failed; its retry time has not come yet


@dataclass(frozen=True, kw_only=True)
class DigestClaim:
    outcome: ClaimOutcome
    period: Period
    channel: str
    run_id: str | None = None
    attempt: int = 0
    ts: str | None = None  # where the digest landed, when already sent
    last_error: str | None = None


class DigestService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        schedule: str,
        timezone: str,
        reminder_hours: float,
        clock: Clock = utc_now,
    ) -> None:
        self._sessions = sessions
        self._schedule = schedule
        self._timezone = timezone
        self._reminder = timedelta(hours=reminder_hours)
        self._reminder_hours = reminder_hours
        self._clock = clock

    def current_period(self, *, now: datetime | None = None) -> Period:
        """The period that just ended: the one the scheduled digest sends."""
        return period_at(self._schedule, self._timezone, now or self._clock())

    def period_in_progress(self, *, now: datetime | None = None) -> Period:
        """The period still running: the one a preview shows."""
        return period_in_progress(self._schedule, self._timezone, now or self._clock())

    # -- gathering -------------------------------------------------------------------------

    def gather(self, *, period: Period | None = None, now: datetime | None = None) -> DigestData:
        """Everything the digest shows. Read-only; every query is served by an index."""
        now = now or self._clock()
        period = period or self.current_period(now=now)
        with self._sessions() as session:
            # Raised: every posted signal, duplicates included (they are counted and thanked).
            raised = self._kinds(session, period.start, period.end)
            raised_before = self._kinds(session, period.previous_start, period.start)
            # Trends count a concern once: a duplicate is left out of the kinds' trend.
            current = _minus(raised, self._duplicates(session, period.start, period.end))
            previous = _minus(
                raised_before, self._duplicates(session, period.previous_start, period.start)
            )
            by_kind = tuple(
                KindCount(kind=kind, count=current.get(kind, 0), previous=previous.get(kind, 0))
                for kind in sorted(
                    set(current) | set(previous),
                    key=lambda k: (-current.get(k, 0), -previous.get(k, 0), k),
                )
            )
            open_counts = dict.fromkeys(OPEN_STATUSES, 0)
            open_counts.update(
                session.execute(
                    select(Signal.status, func.count())
                    .where(Signal.status.in_(OPEN_STATUSES), Signal.posted_at.is_not(None))
                    .group_by(Signal.status)
                ).all()
            )
            closed = dict(
                session.execute(
                    select(Signal.status, func.count())
                    .where(
                        Signal.resolved_at >= period.start,
                        Signal.resolved_at < period.end,
                        Signal.status.in_((*CLOSED_STATUSES, S.WITHDRAWN.value)),
                    )
                    .group_by(Signal.status)
                ).all()
            )
            attention, attention_total = self._needs_attention(session, now)
            resolved = self._resolved(session, period)
            recurring, recurring_total = self._recurring(session, period)
            patterns = tuple(
                session.execute(
                    select(Signal.pattern, func.count().label("n"))
                    .where(
                        Signal.resolved_at >= period.start,
                        Signal.resolved_at < period.end,
                        Signal.status == S.RESOLVED.value,
                        Signal.pattern.is_not(None),
                    )
                    .group_by(Signal.pattern)
                    .order_by(func.count().desc(), Signal.pattern)
                ).all()
            )
            named, anonymous = self._health(session, period, now)
            escalated = session.scalar(
                select(func.count()).where(
                    Signal.escalated_at >= period.start, Signal.escalated_at < period.end
                )
            )
        return DigestData(
            period=period,
            now=now,
            reminder_hours=self._reminder_hours,
            new_total=sum(raised.values()),
            previous_total=sum(raised_before.values()),
            new_duplicates=sum(raised.values()) - sum(current.values()),
            new_by_kind=by_kind,
            open_counts=open_counts,
            resolved_count=closed.get(S.RESOLVED.value, 0),
            declined_count=closed.get(S.DECLINED.value, 0),
            needs_attention=attention,
            needs_attention_total=attention_total,
            resolved=resolved,
            recurring=recurring,
            recurring_total=recurring_total,
            patterns=tuple((str(p), int(n)) for p, n in patterns),
            named=named,
            anonymous=anonymous,
            withdrawn_count=closed.get(S.WITHDRAWN.value, 0),
            escalated_count=escalated or 0,
        )

    @staticmethod
    def _duplicates(session: Session, start: datetime, end: datetime) -> dict[str, int]:
        """Posted duplicates by kind (few: read through the index on status, created_at)."""
        return dict(
            session.execute(
                select(Signal.kind, func.count())
                .where(
                    Signal.status == S.DUPLICATE.value,
                    Signal.created_at >= start,
                    Signal.created_at < end,
                    Signal.posted_at.is_not(None),
                )
                .group_by(Signal.kind)
            ).all()
        )

    def weekly_kinds(
        self, *, period: Period, weeks: int = CHART_WEEKS, min_bucket: int = 1
    ) -> WeeklyKinds:
        """Signals by kind in `period` and the `weeks - 1` periods before it (oldest first),
        for the digest's chart. A kind with fewer than `min_bucket` signals over all of them is
        merged into "other"."""
        starts = [period.start - period.length * back for back in range(weeks - 1, -1, -1)]
        with self._sessions() as session:
            counts = [self._kinds(session, start, start + period.length) for start in starts]
        totals: dict[str, int] = {}
        for week in counts:
            for kind, count in week.items():
                totals[kind] = totals.get(kind, 0) + count
        small = {k for k, n in totals.items() if n < min_bucket and k != "other"}
        series: dict[str, list[int]] = {}
        for kind in sorted(totals, key=lambda k: (-totals[k], k)):
            name = "other" if kind in small else kind
            row = series.setdefault(name, [0] * weeks)
            for index, week in enumerate(counts):
                row[index] += week.get(kind, 0)
        return WeeklyKinds(starts=tuple(starts), series={k: tuple(v) for k, v in series.items()})

    @staticmethod
    def _kinds(session: Session, start: datetime, end: datetime) -> dict[str, int]:
        return dict(
            session.execute(
                select(Signal.kind, func.count())
                # Posted signals only: an anonymous one still inside its release delay stays
                # out of sight until it is in the triage channel.
                .where(
                    Signal.created_at >= start,
                    Signal.created_at < end,
                    Signal.posted_at.is_not(None),
                )
                .group_by(Signal.kind)
            ).all()
        )

    def _needs_attention(
        self, session: Session, now: datetime
    ) -> tuple[tuple[AttentionItem, ...], int]:
        cutoff = now - self._reminder
        # Unacknowledged: every new signal already in the triage channel (an anonymous one still
        # waiting for its delayed release is not shown before the leads have seen it).
        unacknowledged = and_(Signal.status == S.NEW.value, Signal.posted_at.is_not(None))
        stalled = and_(Signal.status.in_(STALLED_STATUSES), Signal.updated_at < cutoff)
        columns = (
            Signal.ref,
            Signal.kind,
            Signal.system,
            Signal.status,
            Signal.created_at,
            Signal.triage_channel,
            Signal.triage_ts,
            Signal.respond_by,
        )
        rows = []
        # One query per status, each read in created_at order from the index on (status,
        # created_at, updated_at, posted_at) and stopped after a handful.
        per_status = [unacknowledged] + [
            and_(Signal.status == status, Signal.updated_at < cutoff) for status in STALLED_STATUSES
        ]
        for condition in per_status:
            rows += session.execute(
                select(*columns)
                .where(condition)
                .order_by(Signal.created_at)
                .limit(NEEDS_ATTENTION_LIMIT)
            ).all()
        # Overdue: still open after the "respond by" day a lead set (and not listed already).
        overdue = and_(
            Signal.status.in_(OPEN_STATUSES),
            Signal.posted_at.is_not(None),
            Signal.respond_by < now,
        )
        late = session.execute(
            select(*columns)
            .where(overdue, not_(or_(unacknowledged, stalled)))
            .order_by(Signal.respond_by)
            .limit(NEEDS_ATTENTION_LIMIT)
        ).all()
        late_refs = {r.ref for r in late}
        rows += late
        rows.sort(key=lambda r: (r.created_at, r.ref))
        items = tuple(
            AttentionItem(
                ref=r.ref,
                kind=r.kind,
                system=r.system,
                status=r.status,
                age=max(now - r.created_at, timedelta(0)),
                stalled=r.status != S.NEW.value and r.ref not in late_refs,
                triage_channel=r.triage_channel,
                triage_ts=r.triage_ts,
                overdue=r.respond_by is not None and r.respond_by < now,
            )
            for r in rows[:NEEDS_ATTENTION_LIMIT]
        )
        total = session.scalar(select(func.count()).where(unacknowledged)) or 0
        total += session.scalar(select(func.count()).where(stalled)) or 0
        total += (
            session.scalar(select(func.count()).where(overdue, not_(or_(unacknowledged, stalled))))
            or 0
        )
        return items, total

    @staticmethod
    def _resolved(session: Session, period: Period) -> tuple[ResolvedItem, ...]:
        rows = session.execute(
            select(
                Signal.ref,
                Signal.kind,
                Signal.system,
                Signal.failed_assumption,
                Signal.pattern,
                Signal.lesson,
            )
            .where(
                Signal.resolved_at >= period.start,
                Signal.resolved_at < period.end,
                Signal.status == S.RESOLVED.value,
            )
            .order_by(Signal.resolved_at, Signal.ref)
            .limit(RESOLVED_LIMIT)
        ).all()
        return tuple(
            ResolvedItem(
                ref=r.ref,
                kind=r.kind,
                system=r.system,
                failed_assumption=r.failed_assumption,
                pattern=r.pattern,
                lesson=r.lesson,
            )
            for r in rows
        )

    @staticmethod
    def _recurring(session: Session, period: Period) -> tuple[tuple[SystemCount, ...], int]:
        # Systems are typed by people: "Fraud-Model" and "fraud-model " are one system.
        key = func.lower(func.trim(Signal.system))
        grouped = (
            select(func.min(Signal.system).label("system"), func.count().label("n"))
            .where(
                Signal.created_at >= period.start,
                Signal.created_at < period.end,
                Signal.system.is_not(None),
            )
            .group_by(key)
            .having(func.count() >= RECURRING_MIN_SIGNALS)
        )
        rows = session.execute(grouped.order_by(func.count().desc(), key)).all()
        top = tuple(SystemCount(system=r.system.strip(), count=r.n) for r in rows[:RECURRING_LIMIT])
        return top, len(rows)

    def _health(
        self, session: Session, period: Period, now: datetime
    ) -> tuple[ResponseHealth, ResponseHealth]:
        rows = session.execute(
            select(Signal.anonymous, Signal.posted_at, Signal.acknowledged_at).where(
                Signal.posted_at >= period.start, Signal.posted_at < period.end
            )
        ).all()
        # (time to acknowledge or None, posted_at) per signal, named and anonymous apart
        waits: dict[bool, list[tuple[timedelta | None, datetime]]] = {False: [], True: []}
        for anonymous, posted_at, acknowledged_at in rows:
            waited = (
                max(acknowledged_at - posted_at, timedelta(0))
                if acknowledged_at is not None
                else None
            )
            waits[bool(anonymous)].append((waited, posted_at))

        def health(items: list[tuple[timedelta | None, datetime]]) -> ResponseHealth:
            durations = [waited for waited, _ in items if waited is not None]
            # Judged: acknowledged, or unacknowledged for the whole window. A signal posted
            # an hour ago has not had its chance yet.
            judged = [w for w, posted in items if w is not None or now - posted >= self._reminder]
            return ResponseHealth(
                posted=len(items),
                acknowledged=len(durations),
                median=statistics.median(durations) if durations else None,
                eligible=len(judged),
                within_window=sum(1 for w in judged if w is not None and w <= self._reminder),
            )

        return health(waits[False]), health(waits[True])

    # -- exactly once ----------------------------------------------------------------------

    def claim(
        self,
        *,
        channel: str,
        period: Period,
        force: bool = False,
        take_failed: bool = False,
        lease: timedelta = CLAIM_LEASE,
    ) -> DigestClaim:
        """Take the right to post `period`'s digest to `channel`, before posting it.

        Without `force`: attempt 0, once per period. A claim whose post failed can be taken again
        once its retry time has come (at once with `take_failed`, for a manual send); a claim
        whose sender died can be taken when its lease has run out. With `force`: a new attempt
        (the highest so far + 1), a deliberate second digest for the period.
        """
        for _ in range(5):
            try:
                if force:
                    return self._claim_forced(channel=channel, period=period, lease=lease)
                return self._claim_once(
                    channel=channel, period=period, take_failed=take_failed, lease=lease
                )
            except IntegrityError:
                continue  # another sender inserted the same row first: look again
        raise RuntimeError("could not claim the digest: the database keeps refusing the row")

    def _claim_once(
        self, *, channel: str, period: Period, take_failed: bool, lease: timedelta
    ) -> DigestClaim:
        now = self._clock()
        with self._sessions.begin() as session:
            sent = session.execute(
                select(DigestRun.attempt, DigestRun.ts)
                .where(
                    DigestRun.channel == channel,
                    DigestRun.period_start == period.start,
                    DigestRun.state == RunState.SENT.value,
                )
                .order_by(DigestRun.attempt)
                .limit(1)
            ).first()
            if sent is not None:
                return DigestClaim(
                    outcome=ClaimOutcome.ALREADY_SENT,
                    period=period,
                    channel=channel,
                    attempt=sent.attempt,
                    ts=sent.ts,
                )
            run = session.scalar(
                select(DigestRun)
                .where(
                    DigestRun.channel == channel,
                    DigestRun.period_start == period.start,
                    DigestRun.attempt == 0,
                )
                .with_for_update()
            )
            if run is None:
                run = DigestRun(
                    channel=channel,
                    period_start=period.start,
                    period_end=period.end,
                    attempt=0,
                    state=RunState.CLAIMED.value,
                    claimed_at=now,
                    claimed_until=now + lease,
                )
                session.add(run)
                session.flush()  # IntegrityError here: a concurrent sender was first
                return self._claimed(run, period)
            return self._take_over(run, period, now, take_failed=take_failed, lease=lease)

    def _take_over(
        self, run: DigestRun, period: Period, now: datetime, *, take_failed: bool, lease: timedelta
    ) -> DigestClaim:
        """Inside the transaction that locked `run` (FOR UPDATE; SQLite: BEGIN IMMEDIATE)."""
        if run.state == RunState.SENT.value:  # sent between our first look and the lock
            return DigestClaim(
                outcome=ClaimOutcome.ALREADY_SENT,
                period=period,
                channel=run.channel,
                attempt=run.attempt,
                ts=run.ts,
            )
        failed = run.last_error is not None
        free = run.claimed_until is None or run.claimed_until <= now
        if not free and not (failed and take_failed):
            outcome = ClaimOutcome.RETRY_LATER if failed else ClaimOutcome.IN_PROGRESS
            return DigestClaim(
                outcome=outcome,
                period=period,
                channel=run.channel,
                run_id=run.id,
                attempt=run.attempt,
                last_error=run.last_error,
            )
        run.claimed_at = now
        run.claimed_until = now + lease
        run.last_error = None
        return self._claimed(run, period)

    def _claim_forced(self, *, channel: str, period: Period, lease: timedelta) -> DigestClaim:
        now = self._clock()
        with self._sessions.begin() as session:
            highest = session.scalar(
                select(func.max(DigestRun.attempt)).where(
                    DigestRun.channel == channel, DigestRun.period_start == period.start
                )
            )
            run = DigestRun(
                channel=channel,
                period_start=period.start,
                period_end=period.end,
                attempt=0 if highest is None else highest + 1,
                state=RunState.CLAIMED.value,
                claimed_at=now,
                claimed_until=now + lease,
            )
            session.add(run)
            session.flush()
            return self._claimed(run, period)

    @staticmethod
    def _claimed(run: DigestRun, period: Period) -> DigestClaim:
        return DigestClaim(
            outcome=ClaimOutcome.CLAIMED,
            period=period,
            channel=run.channel,
            run_id=run.id,
            attempt=run.attempt,
        )

    def mark_sent(self, *, run_id: str, ts: str) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            session.execute(
                update(DigestRun)
                .where(DigestRun.id == run_id)
                .values(
                    state=RunState.SENT.value,
                    ts=ts,
                    sent_at=now,
                    claimed_until=None,
                    last_error=None,
                )
            )

    def mark_failed(self, *, run_id: str, error: str, retry_in: timedelta) -> datetime:
        """The post failed (Slack said no, or could not be reached): retry from `retry_in`."""
        retry_at = self._clock() + retry_in
        with self._sessions.begin() as session:
            session.execute(
                update(DigestRun)
                .where(DigestRun.id == run_id, DigestRun.state == RunState.CLAIMED.value)
                .values(claimed_until=retry_at, last_error=error[:500])
            )
        return retry_at

    def catch_up_due(self, *, channel: str, period: Period) -> bool:
        """Should an instance that starts now (or retries) post `period`'s digest?

        Yes when it was not sent yet and the app was in use before the period's digest was due:
        an earlier digest run exists for the channel, or a signal was filed before the period
        ended. A brand-new installation does not post a digest for the week before it existed.
        """
        with self._sessions() as session:
            sent = session.scalar(
                select(
                    exists().where(
                        DigestRun.channel == channel,
                        DigestRun.period_start == period.start,
                        DigestRun.state == RunState.SENT.value,
                    )
                )
            )
            if sent:
                return False
            in_use = session.scalar(
                select(
                    or_(
                        exists().where(DigestRun.channel == channel),
                        exists().where(Signal.created_at < period.end),
                    )
                )
            )
            return bool(in_use)


def _minus(counts: dict[str, int], less: dict[str, int]) -> dict[str, int]:
    """`counts` less `less`, per key; keys that reach 0 go."""
    result = {key: count - less.get(key, 0) for key, count in counts.items()}
    return {key: count for key, count in result.items() if count > 0}
