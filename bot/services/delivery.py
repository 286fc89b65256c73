"""The outbox: Slack posts stored with what they announce, handed out to workers with a lease.

A worker claims due items, posts them, then records the outcome. The lease lets several
instances share one database: an item is held by one worker at a time, and an item whose worker
died becomes claimable again when its lease runs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.services.signals import SignalSummary
from bot.services.triage import EventSummary, SignalDetail, detail_of, summarize_event
from models import OutboxItem, OutboxPurpose, OutboxState, Signal, SignalEvent

# Long enough for a whole batch to be sent one by one even when Slack answers slowly (the client
# times out after 10 s), so another instance never takes over an item still being sent.
LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(minutes=15)
_OUTBOX = OutboxItem.__table__
_SIGNALS = Signal.__table__


@dataclass(frozen=True, kw_only=True)
class DeliveryTask:
    item_id: str
    purpose: str
    channel: str
    attempts: int
    detail: SignalDetail
    event: EventSummary | None = None

    @property
    def signal(self) -> SignalSummary:
        return self.detail.signal


class DeliveryService:
    def __init__(self, *, sessions: sessionmaker[Session], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    def claim_due(
        self, *, limit: int = 20, skip_channels: frozenset[str] = frozenset()
    ) -> list[DeliveryTask]:
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
        )
        with self._sessions.begin() as session:
            query = select(OutboxItem.id).where(claimable)
            if skip_channels:
                query = query.where(OutboxItem.channel.not_in(skip_channels))
            # PostgreSQL: rows another instance is claiming right now are skipped, not waited
            # for, so two workers take two different batches (SQLite ignores FOR UPDATE; its
            # writers take turns anyway).
            query = query.order_by(OutboxItem.due_at).limit(limit).with_for_update(skip_locked=True)
            candidates = session.scalars(query).all()
            if not candidates:
                return []
            # One conditional UPDATE takes what is still claimable; another instance may have
            # taken some of the candidates in the meantime, and RETURNING says which are ours.
            taken = session.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id.in_(candidates), claimable)
                .values(claimed_until=now + LEASE, attempts=_OUTBOX.c.attempts + 1)
                .returning(
                    _OUTBOX.c.id,
                    _OUTBOX.c.signal_id,
                    _OUTBOX.c.event_id,
                    _OUTBOX.c.purpose,
                    _OUTBOX.c.channel,
                    _OUTBOX.c.attempts,
                )
            ).all()
            if not taken:
                return []
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
                    for e in session.scalars(
                        select(SignalEvent).where(SignalEvent.id.in_(event_ids))
                    )
                }
                if event_ids
                else {}
            )
            order = {item_id: index for index, item_id in enumerate(candidates)}
            return [
                DeliveryTask(
                    item_id=row.id,
                    purpose=row.purpose,
                    channel=row.channel,
                    attempts=row.attempts,
                    detail=detail_of(signals[row.signal_id]),
                    event=summarize_event(e) if (e := events.get(row.event_id)) else None,
                )
                for row in sorted(taken, key=lambda row: order[row.id])
            ]

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
        due = self._clock() + min(delay, MAX_BACKOFF)
        with self._sessions.begin() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.state == OutboxState.PENDING.value)
                .values(due_at=due, claimed_until=None, last_error=error[:500])
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
                .values(state=OutboxState.FAILED.value, claimed_until=None, last_error=error[:500])
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
