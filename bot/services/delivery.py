"""The outbox: Slack posts stored with what they announce, handed out to workers with a lease.

A worker claims due items, posts them, then records the outcome. The lease lets several
instances share one database: an item is held by one worker at a time, and an item whose worker
died becomes claimable again when its lease runs out. Before each send the worker marks the
attempt (`begin_attempt`), so an item claimed with an unfinished attempt is known to be possibly
in Slack already. `channel_budget` holds, per channel and for every instance, the pacing slots
(`reserve_send`) and the pause after a 429 or an unanswered send (`hold`); a claim skips paused
channels without reading their items.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, text, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.clock import Clock, utc_now
from bot.services.lessons import related_signals
from bot.services.records import DeliveryTask, detail_of, summarize_event
from models import (
    ChannelBudget,
    OutboxItem,
    OutboxPurpose,
    OutboxState,
    Signal,
    SignalEvent,
    System,
)

# How long a claim holds an item before another instance may take it over; renewed when a send
# starts. Longer than Slack's slowest answer (the client times out after 10 s), so no instance
# takes over an item still being sent. AI_SIGNAL_OUTBOX_LEASE_SECONDS sets it.
LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=15)
_OUTBOX = OutboxItem.__table__
_SIGNALS = Signal.__table__
# The posts that show related earlier signals under the new one.
_WITH_SEEN_BEFORE = frozenset({OutboxPurpose.TRIAGE_POST.value, OutboxPurpose.PARENT_UPDATE.value})
# More channels than this with pending items: one query over all of them (not one per channel).
MAX_CHANNEL_QUERIES = 32

# The channels that have pending items, one index seek each (a "loose index scan" on
# ix_outbox_state_channel_due_at): a backlog of any size behind a channel costs one seek.
_PENDING_CHANNELS = text(
    """
    WITH RECURSIVE ch(channel) AS (
        SELECT MIN(channel) FROM outbox WHERE state = 'pending'
        UNION ALL
        SELECT (SELECT MIN(o.channel) FROM outbox o
                WHERE o.state = 'pending' AND o.channel > ch.channel)
        FROM ch WHERE ch.channel IS NOT NULL
    )
    SELECT channel FROM ch WHERE channel IS NOT NULL
    """
)


_WHEN = OutboxItem.__table__.c.due_at.type  # how the outbox stores a moment
_EARLIER = aliased(OutboxItem)
_EARLIER_REPLY = select(_EARLIER.id).where(
    _EARLIER.signal_id == OutboxItem.signal_id,
    _EARLIER.purpose == OutboxPurpose.THREAD_REPLY.value,
    _EARLIER.state == OutboxState.PENDING.value,
    _EARLIER.due_at < OutboxItem.due_at,
)


def wall_now() -> datetime:
    """Slack's time, for pacing, pauses and attempt marks: the real clock, never the injected
    one (a test or demo clock moved forward must not starve or flood a channel)."""
    return utc_now()


class DeliveryService:
    def __init__(
        self, *, sessions: sessionmaker[Session], clock: Clock = utc_now, lease: timedelta = LEASE
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._lease = lease

    def claim_due(
        self, *, limit: int = 20, skip_channels: frozenset[str] = frozenset()
    ) -> list[DeliveryTask]:
        """Take up to `limit` due items, oldest first, from channels that are not held back
        (paused in `channel_budget`, or in `skip_channels`)."""
        now = self._clock()
        posted = select(Signal.id).where(
            Signal.id == OutboxItem.signal_id, Signal.triage_ts.is_not(None)
        )
        claimable = and_(
            OutboxItem.state == OutboxState.PENDING.value,
            OutboxItem.due_at <= now,
            or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now),
            # Thread replies and updates wait until the parent post exists.
            or_(OutboxItem.purpose == OutboxPurpose.TRIAGE_POST.value, posted.exists()),
            # A thread's replies go in their order: one waits while an earlier one of the same
            # thread is pending, also when that one is held by another worker's lease (it may
            # have died mid-send: its reply is looked up or sent once the lease runs out).
            or_(OutboxItem.purpose != OutboxPurpose.THREAD_REPLY.value, ~_EARLIER_REPLY.exists()),
        )
        with self._sessions.begin() as session:
            candidates = self._candidates(session, claimable, skip_channels, limit)
            if not candidates:
                return []
            taken = self._take(session, claimable, candidates, now)
            if not taken:
                return []
            return self._tasks(session, taken, candidates)

    def _candidates(
        self, session: Session, claimable: Any, skip_channels: frozenset[str], limit: int
    ) -> list[str]:
        """Ids of due items, oldest first, from channels that are not held back."""
        held = set(skip_channels) | set(
            session.scalars(
                select(ChannelBudget.channel).where(ChannelBudget.paused_until > wall_now())
            )
        )
        if held:
            return self._candidates_around(session, claimable, held, limit)
        # PostgreSQL: rows another instance is claiming right now are skipped, not waited for,
        # so two workers take two different batches (SQLite ignores FOR UPDATE; its writers
        # take turns anyway).
        query = (
            select(OutboxItem.id)
            .where(claimable)
            .order_by(OutboxItem.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(session.scalars(query).all())

    def _take(
        self, session: Session, claimable: Any, candidates: list[str], now: datetime
    ) -> list[Any]:
        """One conditional UPDATE takes what is still claimable; another instance may have taken
        some of the candidates in the meantime, and RETURNING says which are ours."""
        free = (
            select(OutboxItem.id)
            .where(OutboxItem.id.in_(candidates), claimable)
            .with_for_update(skip_locked=True)
            .correlate(None)
        )
        return list(
            session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id.in_(free.scalar_subquery()))
                .values(claimed_until=now + self._lease, attempts=_OUTBOX.c.attempts + 1)
                .returning(
                    _OUTBOX.c.id,
                    _OUTBOX.c.signal_id,
                    _OUTBOX.c.event_id,
                    _OUTBOX.c.purpose,
                    _OUTBOX.c.channel,
                    _OUTBOX.c.attempts,
                    _OUTBOX.c.attempt_started_at,
                )
            ).all()
        )

    @staticmethod
    def _tasks(session: Session, taken: list[Any], candidates: list[str]) -> list[DeliveryTask]:
        """The taken rows as tasks, with their signals and events (one query each), in the
        candidates' order; a triage post (or its update) also with its "seen before", a
        duplicate with its primary."""
        signals = {
            s.id: s
            for s in session.scalars(
                select(Signal).where(Signal.id.in_({row.signal_id for row in taken}))
            )
        }
        event_ids = {row.event_id for row in taken if row.event_id}
        events = (
            {
                e.id: e
                for e in session.scalars(select(SignalEvent).where(SignalEvent.id.in_(event_ids)))
            }
            if event_ids
            else {}
        )
        names = {s.system for s in signals.values() if s.system}
        on_record = (
            set(session.scalars(select(System.name).where(System.name.in_(names))))
            if names
            else set()
        )
        primary_ids = {s.duplicate_of for s in signals.values() if s.duplicate_of}
        primaries = (
            {s.id: s for s in session.scalars(select(Signal).where(Signal.id.in_(primary_ids)))}
            if primary_ids
            else {}
        )
        order = {item_id: index for index, item_id in enumerate(candidates)}
        return [
            DeliveryTask(
                item_id=row.id,
                purpose=row.purpose,
                channel=row.channel,
                attempts=row.attempts,
                detail=detail_of(
                    (signal := signals[row.signal_id]),
                    system_on_record=_on_record(signal, on_record),
                    primary=primaries.get(signal.duplicate_of or ""),
                ),
                event=summarize_event(e) if (e := events.get(row.event_id)) else None,
                unsure_since=row.attempt_started_at,
                related=tuple(related_signals(session, signal))
                if row.purpose in _WITH_SEEN_BEFORE
                else (),
            )
            for row in sorted(taken, key=lambda row: order[row.id])
        ]

    @staticmethod
    def _candidates_around(
        session: Session, claimable: Any, held: set[str], limit: int
    ) -> list[str]:
        """Due items of the channels that are not held, without reading the held backlog: the
        channels with pending items (one seek each), then each free channel's oldest items."""
        channels = [c for c in session.scalars(_PENDING_CHANNELS) if c not in held]
        if not channels:
            return []
        if len(channels) > MAX_CHANNEL_QUERIES:
            query = (
                select(OutboxItem.id)
                .where(claimable, OutboxItem.channel.not_in(held))
                .order_by(OutboxItem.due_at)
                .limit(limit)
            )
            return list(session.scalars(query))
        per_channel = [
            select(OutboxItem.id, OutboxItem.due_at)
            .where(OutboxItem.channel == channel, claimable)
            .order_by(OutboxItem.due_at)
            .limit(limit)
            .subquery()
            for channel in channels
        ]
        merged = union_all(*(select(sub.c.id, sub.c.due_at) for sub in per_channel)).subquery()
        query = select(merged.c.id).order_by(merged.c.due_at).limit(limit)
        return list(session.scalars(query))

    # -- attempts --------------------------------------------------------------------------

    def begin_attempt(self, *, item_id: str, attempts: int) -> bool:
        """Committed before the Slack call: from now on the post may be in Slack. Renews the
        lease. False when the claim is no longer ours (it ran out and another worker claimed the
        item: `attempts`, counted up by every claim, is the fence): do not send."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(_OUTBOX)
                .where(
                    _OUTBOX.c.id == item_id,
                    _OUTBOX.c.attempts == attempts,
                    _OUTBOX.c.state == OutboxState.PENDING.value,
                )
                .values(attempt_started_at=wall_now(), claimed_until=self._clock() + self._lease)
            )
            return result.rowcount == 1

    def clear_attempt(self, *, item_id: str) -> None:
        """The earlier attempt is known not to have reached Slack (its history says so)."""
        with self._sessions.begin() as session:
            session.execute(
                update(_OUTBOX).where(_OUTBOX.c.id == item_id).values(attempt_started_at=None)
            )

    def hold(
        self, *, item_id: str, channel: str, delay: timedelta, error: str, sent: bool | None
    ) -> datetime:
        """Slack held the channel back (429) or the outcome of a send is unknown (`sent=None`):
        pause the whole channel for `delay` and give the item back with its place in the queue
        (its due time unchanged), so the channel's items keep their order. `sent=False`: the
        post was certainly not made."""
        until = wall_now() + min(delay, MAX_BACKOFF)
        values: dict[str, Any] = {"claimed_until": None, "last_error": error[:500]}
        if sent is False:
            values["attempt_started_at"] = None
        with self._sessions.begin() as session:
            session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == item_id, _OUTBOX.c.state == OutboxState.PENDING.value)
                .values(**values)
            )
            budget = self._budget_row(session, channel)
            if budget.paused_until is None or budget.paused_until < until:
                budget.paused_until = until
        return until

    # -- pacing ----------------------------------------------------------------------------

    def reserve_send(
        self, *, channel: str, interval: float, burst: int, max_wait: float
    ) -> tuple[bool, float]:
        """A send slot for `channel` (GCRA: one per `interval` s, bursts of `burst`), shared by
        every thread and instance through `channel_budget`. Returns (reserved, seconds to wait):
        reserved only when the slot is at most `max_wait` s away."""
        now = wall_now()
        step = timedelta(seconds=interval)
        with self._sessions.begin() as session:
            budget = self._budget_row(session, channel)
            if budget.paused_until is not None and budget.paused_until > now:
                return False, (budget.paused_until - now).total_seconds()
            tat = max(budget.next_send_at or now, now)
            slot = max(now, tat - step * (burst - 1))
            wait = (slot - now).total_seconds()
            if wait > max_wait:
                return False, wait
            budget.next_send_at = tat + step
            return True, wait

    @staticmethod
    def _budget_row(session: Session, channel: str) -> ChannelBudget:
        """The channel's row, locked for this transaction (created on first use)."""
        query = select(ChannelBudget).where(ChannelBudget.channel == channel).with_for_update()
        budget = session.scalar(query)
        if budget is not None:
            return budget
        try:
            with session.begin_nested():
                session.add(ChannelBudget(channel=channel))
        except IntegrityError:
            pass  # another instance created it first
        return session.scalars(query).one()

    def mark_sent(self, *, item_id: str, channel: str, ts: str) -> None:
        now = self._clock()
        with self._sessions.begin() as session:
            row = session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == item_id)
                .values(
                    state=OutboxState.SENT.value, sent_at=now, claimed_until=None, last_error=None
                )
                .returning(_OUTBOX.c.signal_id, _OUTBOX.c.purpose)
            ).one_or_none()
            if row is not None and row.purpose == OutboxPurpose.TRIAGE_POST.value:
                session.execute(
                    update(_SIGNALS)
                    .where(_SIGNALS.c.id == row.signal_id, _SIGNALS.c.triage_ts.is_(None))
                    .values(triage_channel=channel, triage_ts=ts, posted_at=now)
                )

    def mark_retry(self, *, item_id: str, delay: timedelta, error: str) -> datetime:
        """Try the item again after `delay` (it was not posted). A thread reply keeps its place
        (its due time) and is held until then by its claim instead, so that the replies of its
        thread queued after it, before the failure or after, still wait for it (`claim_due`);
        any other item is simply due again later."""
        due = self._clock() + min(delay, MAX_BACKOFF)
        reply = OutboxItem.purpose == OutboxPurpose.THREAD_REPLY.value
        with self._sessions.begin() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.state == OutboxState.PENDING.value)
                .values(
                    due_at=case((reply, OutboxItem.due_at), else_=literal(due, _WHEN)),
                    claimed_until=case((reply, literal(due, _WHEN)), else_=None),
                    last_error=error[:500],
                    attempt_started_at=None,
                )
            )
        return due

    def release(self, *, item_ids: list[str]) -> None:
        """Give back claimed items that were not tried (the claim's attempt is not counted)."""
        if not item_ids:
            return
        with self._sessions.begin() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id.in_(item_ids), OutboxItem.state == OutboxState.PENDING.value)
                .values(claimed_until=None, attempts=OutboxItem.attempts - 1)
            )

    def mark_failed(self, *, item_id: str, error: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.state == OutboxState.PENDING.value)
                .values(
                    state=OutboxState.FAILED.value,
                    claimed_until=None,
                    last_error=error[:500],
                    attempt_started_at=None,
                )
            )

    def requeue_failed(self) -> int:
        """Give items Slack refused for good another chance (called at start, after a fix)."""
        now = self._clock()
        with self._sessions.begin() as session:
            return session.execute(
                update(OutboxItem)
                .where(OutboxItem.state == OutboxState.FAILED.value)
                .values(state=OutboxState.PENDING.value, due_at=now, attempts=0)
            ).rowcount

    def counts(self) -> dict[str, int]:
        with self._sessions() as session:
            rows = session.execute(
                select(OutboxItem.state, func.count()).group_by(OutboxItem.state)
            ).all()
        return {state: count for state, count in rows}

    def health(self) -> dict[str, int]:
        """For /healthz: posts due now but not yet sent, and posts Slack refused for good.

        Anonymous posts still inside their release delay are deliberately left out: a public
        counter that rose when one was filed would date the filing to the second.
        """
        now = self._clock()
        with self._sessions() as session:
            due = session.scalar(
                select(func.count()).where(
                    OutboxItem.state == OutboxState.PENDING.value, OutboxItem.due_at <= now
                )
            )
            failed = session.scalar(
                select(func.count()).where(OutboxItem.state == OutboxState.FAILED.value)
            )
        return {"due": due or 0, "failed": failed or 0}


def _on_record(signal: Signal, names: set[str]) -> bool:
    """Whether the system the signal names is on record (True when it names none)."""
    return signal.system is None or signal.system in names
