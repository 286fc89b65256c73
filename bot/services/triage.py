"""What leads do with a signal, and what reporters see of it. No Slack in here.

Every action is recorded as a `SignalEvent` and, in the same transaction, queued for Slack in the
outbox: a reply in the signal's thread, an update of the parent post, and for named reporters a
private notice. State checks make each action idempotent: a second Acknowledge, a Slack retry or a
double click changes nothing.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.db import DEFAULT_DEADLINE_MS, empty_sqlite_wal
from bot.services import codes
from bot.services.errors import EmptyText, NotFound, ServiceError, TextTooLong
from bot.services.keyed import keyed_hash, keyed_mac, same
from bot.services.outbox import no_worker, outbox_item, pending_parent_update, queue_posts
from bot.services.records import (
    ActionResult,
    Lesson,
    RevealOffer,
    SignalDetail,
    detail_of,
)
from bot.services.release import ReleaseSchedule
from bot.services.replay import ReplayGuard
from bot.services.signals import GENERIC_CODE_ANSWER, is_own_named, not_own_signal_answer, storable
from bot.services.transactions import request_connection, request_read, request_transaction
from bot.services.vocabulary import (
    CLOSED_STATUSES,
    IMPACTS,
    OPEN_STATUSES,
    PATTERNS,
    to_the_hour,
)
from models import EventAction, OutboxPurpose, Signal, SignalEvent, resolved_rows
from models import SignalStatus as S
from models.base import new_id

logger = logging.getLogger("ai_signal.triage")

MAX_NOTE = 2000
# What stays of a withdrawn signal's text (the column is never NULL).
WITHDRAWN_TEXT = "(erased: withdrawn by the reporter)"
MAX_REMINDERS = 3
# How long the private confirmation of `/ai-signal reveal` stays valid.
REVEAL_TTL = timedelta(minutes=30)
REVEAL_LAPSED = (
    "That confirmation is no longer valid, so nothing changed and the signal stays anonymous. "
    "Run `/ai-signal reveal <code>` again if you still want to put your name to it."
)
NOTHING_CHANGED_BUSY = "Nothing changed — the database was busy; please try again."
REPLY_NOT_ADDED = "Your reply was not added — the database was busy; please try again."
# The review's optional leadership questions (about the system and the decision, never "who").
REVIEW_QUESTIONS = {
    "decision": "The decision",
    "success": "How success was defined",
    "constraint": "The underestimated constraint",
    "missed_signal": "The missed signal",
}


class NotAllowed(ServiceError):
    """The action does not fit the signal's current state (e.g. already acknowledged)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotOwner(ServiceError):
    """Someone who is neither a lead nor the signal's owner tried to act on it."""


NOT_OWNER = "Only leads can do that — or the owner a lead gave this signal to — so nothing changed."


def _check_lead_or_owner(signal: Signal, user_id: str, *, lead: bool) -> None:
    if not lead and (not signal.owner_id or signal.owner_id != user_id):
        raise NotOwner(NOT_OWNER)


MAX_TRACKER_URL = 500
# Characters that would end or re-label a Slack link (`<url|text>`), besides whitespace.
_LINK_BREAKERS = frozenset("<>|\"'`")


def tracker_url(value: str | None) -> str | None:
    """A checked tracker link: https only, at most 500 characters, no spaces; None for empty."""
    url = (value or "").strip()
    if not url:
        return None
    problem = None
    if len(url) > MAX_TRACKER_URL:
        problem = f"The link is limited to {MAX_TRACKER_URL} characters."
    elif any(c.isspace() for c in url) or any(c in _LINK_BREAKERS for c in url):
        problem = "The link may not contain spaces, quotes or < > |."
    else:
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname:
            problem = "Use an https:// link to the tracker (Jira, Linear, GitHub …)."
    if problem:
        raise NotAllowed(problem, field="tracker")
    return url


def _check_not_withdrawn(signal: Signal) -> None:
    if signal.status == S.WITHDRAWN.value:
        raise NotAllowed(f"{signal.ref} was withdrawn, so nothing was added.")


class TooManyAttempts(ServiceError):
    pass


class RevealLapsed(ServiceError):
    """A reveal confirmation that expired, was altered or was made for someone else."""


def _text(
    value: str | None, *, field: str, required: bool = False, label: str = "This"
) -> str | None:
    value = storable(value or "").strip() or None
    if value is None and required:
        error = EmptyText(f"{label} is required.")
        error.field = field
        raise error
    if value is not None and len(value) > MAX_NOTE:
        raise TextTooLong(f"{label} is limited to {MAX_NOTE:,} characters.", field=field)
    return value


class _WrongCodeThrottle:
    """Slows down guessing of follow-up codes, per requester, without recording who guessed.

    A requester is known only by an HMAC of their Slack user id under a random key made when the
    process starts: it is kept in memory only (never logged, never stored), means nothing after a
    restart, and its entry goes away once the window has passed. One person's flood of wrong
    codes never refuses another person's code. The codes carry 160 bits, so this is against
    enumeration noise, not brute force.
    """

    def __init__(
        self,
        *,
        limit: int = 20,
        window: float = 60.0,
        max_requesters: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._max = max_requesters
        self._key = os.urandom(32)
        # requester key -> times of their recent wrong codes; oldest activity first.
        self._failures: OrderedDict[bytes, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, requester_id: str | None) -> bytes:
        return keyed_mac(self._key, requester_id or "")

    def _expire(self, now: float) -> None:
        while self._failures:
            oldest = next(iter(self._failures))
            times = self._failures[oldest]
            if times and times[-1] >= now - self._window and len(self._failures) <= self._max:
                return
            del self._failures[oldest]

    def tracked(self) -> int:
        """How many requesters are remembered right now."""
        with self._lock:
            return len(self._failures)

    def check(self, requester: bytes) -> None:
        with self._lock:
            now = self._clock()
            self._expire(now)
            times = self._failures.get(requester)
            if times is None:
                return
            while times and times[0] < now - self._window:
                times.popleft()
            if len(times) >= self._limit:
                raise TooManyAttempts(
                    "Too many follow-up codes were tried from your account just now. Please wait a minute."
                )

    def failed(self, requester: bytes) -> None:
        with self._lock:
            now = self._clock()
            times = self._failures.pop(requester, None) or deque(maxlen=self._limit)
            times.append(now)
            self._failures[requester] = times  # now the most recently active
            self._expire(now)


class TriageService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        code_key: bytes,
        triage_channel: str,
        anon_delay: tuple[int, int],
        clock: Clock = utc_now,
        wrong_code_limit: int = 20,
        rng: random.Random | None = None,
        deadline_ms: int | None = DEFAULT_DEADLINE_MS,
        guard: ReplayGuard | None = None,
        wake: Callable[[], None] = no_worker,
    ) -> None:
        """`anon_delay` delays anonymous replies as it delays anonymous signals; `wake` is
        called after a commit that queued a post, so the delivery worker looks at once."""
        self._sessions = sessions
        self._deadline_ms = deadline_ms
        self._code_key = code_key
        self._triage_channel = triage_channel
        self._clock = clock
        self._throttle = _WrongCodeThrottle(limit=wrong_code_limit)
        self._release = ReleaseSchedule(anon_delay, rng=rng)
        self._guard = guard or ReplayGuard(
            sessions=sessions, key=code_key, clock=clock, deadline_ms=deadline_ms
        )
        self._wake = wake

    # -- reading ---------------------------------------------------------------------------

    def detail(self, *, ref: str) -> SignalDetail:
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            signal = self._by_ref(session, ref)
            return detail_of(
                signal, self._events(session, signal.id), primary=_primary_of(session, signal)
            )

    def own_signal(self, *, ref: str, user_id: str) -> SignalDetail:
        """A named reporter's own signal with its history (the leads' questions, their answers
        and corrections); the one NotFound answer for anything else, anonymous signals too."""
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            signal = session.scalar(select(Signal).where(Signal.ref == ref.strip().upper()))
            if signal is None or not is_own_named(signal, user_id):
                raise NotFound(not_own_signal_answer(ref))
            return detail_of(signal, self._events(session, signal.id))

    def reporter_view(self, *, code: str, requester_id: str | None) -> SignalDetail:
        """What an anonymous reporter may read with their code: status, questions, resolution.

        `requester_id` (the Slack user id) is turned at once into the throttle's in-memory key
        and is never kept."""
        requester = self._throttle.key(requester_id)
        del requester_id
        self._throttle.check(requester)
        digest = codes.hash_code(code, key=self._code_key)
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            signal = session.scalar(select(Signal).where(Signal.followup_hash == digest))
            if signal is None:
                self._throttle.failed(requester)
                raise NotFound(GENERIC_CODE_ANSWER)
            return detail_of(
                signal, self._events(session, signal.id), primary=_primary_of(session, signal)
            )

    def lessons(self, *, words: list[str], limit: int = 10) -> list[Lesson]:
        query = select(Signal).where(
            resolved_rows(),
            or_(Signal.lesson.is_not(None), Signal.failed_assumption.is_not(None)),
        )
        for word in words[:8]:
            like = f"%{word.lower()}%"
            query = query.where(
                or_(
                    func.lower(func.coalesce(Signal.lesson, "")).like(like),
                    func.lower(func.coalesce(Signal.failed_assumption, "")).like(like),
                    func.lower(func.coalesce(Signal.system, "")).like(like),
                    func.lower(Signal.kind).like(like),
                    func.lower(func.coalesce(Signal.pattern, "")).like(like),
                )
            )
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            rows = session.scalars(query.order_by(Signal.resolved_at.desc()).limit(limit)).all()
            return [
                Lesson(
                    ref=s.ref,
                    kind=s.kind,
                    system=s.system,
                    failed_assumption=s.failed_assumption,
                    pattern=s.pattern,
                    lesson=s.lesson,
                    resolved_at=s.resolved_at,
                )
                for s in rows
            ]

    # -- lead actions ----------------------------------------------------------------------

    def acknowledge(self, *, ref: str, lead_id: str) -> ActionResult:
        return self._act(
            ref=ref,
            lead_id=lead_id,
            action=EventAction.ACKNOWLEDGED,
            allowed=(S.NEW.value,),
            apply=lambda signal, now, _: self._apply_acknowledge(signal, now),
            core=True,
        )

    def triage(
        self,
        *,
        ref: str,
        lead_id: str,
        status: str,
        impact: str | None,
        owner_id: str | None,
        note: str | None,
        reason: str | None,
        respond_by: str | None = None,
        request_key: str | None = None,
    ) -> ActionResult:
        """The owner may be any member (not only a lead): they may then ask and resolve too.
        `respond_by` is a date (`YYYY-MM-DD`, today or later): due at the end of that day, UTC.
        A new owner other than the lead who triages is told privately, once."""
        if status not in (S.INVESTIGATING.value, S.DECLINED.value):
            raise NotAllowed("Choose investigating or declined.", field="status")
        if impact is not None and impact not in IMPACTS:
            raise NotAllowed("Choose one of the impact levels.", field="impact")
        due = self._due_date(respond_by)
        note = _text(note, field="note", label="The next step")
        reason = _text(
            reason, field="reason", label="A reason", required=status == S.DECLINED.value
        )
        action = EventAction.DECLINED if status == S.DECLINED.value else EventAction.TRIAGED

        def apply(signal: Signal, now: datetime, session: Session) -> str | None:
            self._apply_acknowledge(signal, now)
            signal.status = status
            signal.confirmed_impact = impact or signal.confirmed_impact
            signal.owner_id = owner_id or signal.owner_id
            signal.respond_by = due or signal.respond_by
            signal.next_step = note or signal.next_step
            if status == S.DECLINED.value:
                signal.decline_reason = reason
                signal.resolved_at = now
            return reason if status == S.DECLINED.value else note

        def new_owner(signal: Signal) -> str | None:
            # Told once: only when the owner changes, never the lead who names themself.
            if owner_id and owner_id != signal.owner_id and owner_id != lead_id:
                return owner_id
            return None

        return self._act(
            ref=ref,
            lead_id=lead_id,
            action=action,
            allowed=OPEN_STATUSES,
            apply=apply,
            request_key=request_key,
            notify=new_owner,
        )

    def _due_date(self, value: str | None) -> datetime | None:
        if not value:
            return None
        try:
            day = date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise NotAllowed("Choose a date to respond by.", field="respond_by") from None
        if day < self._clock().date():
            raise NotAllowed("Choose today or a later date to respond by.", field="respond_by")
        return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)

    def may_act(self, *, ref: str, user_id: str, lead: bool) -> SignalDetail:
        """The signal, for a lead or for its owner (who may ask and resolve); NotOwner else."""
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            signal = self._by_ref(session, ref)
            _check_lead_or_owner(signal, user_id, lead=lead)
            return detail_of(signal)

    def ask(
        self,
        *,
        ref: str,
        lead_id: str,
        question: str,
        request_key: str | None = None,
        lead: bool = True,
    ) -> ActionResult:
        """`lead_id` asks: a lead, or (`lead=False`) the signal's owner; NotOwner else."""
        question = _text(question, field="question", label="The question", required=True)

        def apply(signal: Signal, now: datetime, session: Session) -> str | None:
            return question

        return self._act(
            ref=ref,
            lead_id=lead_id,
            action=EventAction.ASKED,
            allowed=OPEN_STATUSES,
            apply=apply,
            request_key=request_key,
            lead=lead,
        )

    def resolve(
        self,
        *,
        ref: str,
        lead_id: str,
        done: str,
        assumption: str | None,
        pattern: str,
        lesson: str | None,
        review: dict[str, str | None] | None = None,
        request_key: str | None = None,
        lead: bool = True,
    ) -> ActionResult:
        """By a lead, or (`lead=False`) by the signal's owner; NotOwner else.

        `review` holds the optional leadership questions, by field: `decision` (what the
        system was meant to support), `success` (how success was defined), `constraint` (the
        one underestimated), `missed_signal` (an earlier signal missed or ignored)."""
        done = _text(done, field="done", label="What was done", required=True)
        assumption = _text(assumption, field="assumption", label="The failed assumption")
        lesson = _text(lesson, field="lesson", label="The lesson")
        answers = {
            field: _text((review or {}).get(field), field=field, label=label)
            for field, label in REVIEW_QUESTIONS.items()
        }
        if pattern not in PATTERNS:
            raise NotAllowed("Choose the systemic pattern (or none / one-off).", field="pattern")

        def apply(signal: Signal, now: datetime, session: Session) -> str | None:
            self._apply_acknowledge(signal, now)
            signal.status = S.RESOLVED.value
            signal.resolved_at = now
            signal.resolution_done = done
            signal.failed_assumption = assumption
            signal.pattern = pattern
            signal.lesson = lesson
            signal.review_decision = answers["decision"]
            signal.review_success = answers["success"]
            signal.review_constraint = answers["constraint"]
            signal.review_missed_signal = answers["missed_signal"]
            return done

        return self._act(
            ref=ref,
            lead_id=lead_id,
            action=EventAction.RESOLVED,
            allowed=OPEN_STATUSES,
            apply=apply,
            request_key=request_key,
            lead=lead,
        )

    def attach_tracker(
        self, *, ref: str, lead_id: str, url: str | None, request_key: str | None = None
    ) -> ActionResult:
        """A lead links the signal to an external tracker (Jira, Linear, GitHub …): any https
        URL, shown on the post and exported; no tracker is called. Empty removes the link."""
        link = tracker_url(url)

        def apply(signal: Signal, now: datetime, session: Session) -> str | None:
            signal.tracker_url = link
            return link

        return self._act(
            ref=ref,
            lead_id=lead_id,
            action=EventAction.LINKED,
            allowed=(*OPEN_STATUSES, *CLOSED_STATUSES),
            apply=apply,
            request_key=request_key,
        )

    def reopen(self, *, ref: str, lead_id: str) -> ActionResult:
        def apply(signal: Signal, now: datetime, session: Session) -> str | None:
            signal.status = S.INVESTIGATING.value if signal.acknowledged_at else S.NEW.value
            signal.resolved_at = None
            signal.duplicate_of = None
            return None

        return self._act(
            ref=ref,
            lead_id=lead_id,
            action=EventAction.REOPENED,
            allowed=(*CLOSED_STATUSES, S.DUPLICATE.value),
            apply=apply,
        )

    def mark_duplicate(
        self, *, ref: str, lead_id: str, primary_ref: str, request_key: str | None = None
    ) -> ActionResult:
        """Close `ref` as the same concern as `primary_ref` (an earlier signal, not itself, not
        one that leads back to it). Its reporter is thanked and follows the primary's outcome:
        a named one by private notes (now and when the primary closes), an anonymous one with
        `status <code>`. It still counts as raised."""
        wanted = (primary_ref or "").strip().upper()
        if not _REF.match(wanted):
            raise NotAllowed("Give the earlier signal's reference, e.g. SIG-12.", field="primary")

        def apply(signal: Signal, now: datetime, session: Session) -> str | None:
            primary = _primary_for(session, signal, wanted)
            self._apply_acknowledge(signal, now)
            signal.status = S.DUPLICATE.value
            signal.duplicate_of = primary.id
            signal.resolved_at = now
            # Its own duplicates follow the new primary too (no chains to walk later).
            session.execute(
                update(Signal)
                .where(Signal.duplicate_of == signal.id)
                .values(duplicate_of=primary.id)
            )
            return primary.ref

        return self._act(
            ref=ref,
            lead_id=lead_id,
            action=EventAction.DUPLICATE,
            allowed=OPEN_STATUSES,
            apply=apply,
            request_key=request_key,
        )

    # -- the reporter's side ---------------------------------------------------------------

    def reply_anonymously(
        self,
        *,
        code: str,
        text: str,
        requester_id: str | None,
        release_at: datetime | None = None,
        request_key: str | None = None,
    ) -> str:
        """An anonymous reporter answers in the thread; returns the ref. Nothing of them is kept:
        `requester_id` only becomes the throttle's in-memory key, as in `reporter_view`."""
        requester = self._throttle.key(requester_id)
        del requester_id
        text = _text(text, field="text", label="Your reply", required=True)
        self._throttle.check(requester)
        digest = codes.hash_code(code, key=self._code_key)
        with request_transaction(
            self._sessions, deadline_ms=self._deadline_ms, busy=REPLY_NOT_ADDED
        ) as session:
            signal = session.scalar(
                select(Signal).where(Signal.followup_hash == digest).with_for_update()
            )
            if signal is None:
                self._throttle.failed(requester)
                raise NotFound(GENERIC_CODE_ANSWER)
            now = self._clock()  # after the lock: see _ORDERED
            _check_not_withdrawn(signal)
            if request_key is not None and not self._guard.record_request(
                session, request_key, now
            ):
                return signal.ref  # a replayed command: the answer is in the thread already
            event_id = _record_event(
                session,
                signal_id=signal.id,
                action=EventAction.REPLIED,
                actor_id=None,
                note=text,
                # Coarse time, but never before the question it answers.
                created_at=self._coarse_after_history(session, signal.id, now),
            )
            queue_posts(
                session,
                self._outbox_row(
                    signal,
                    OutboxPurpose.THREAD_REPLY,
                    event_id=event_id,
                    due=release_at or self._release.time(now),
                ),
            )
            ref = signal.ref
        self._wake()
        return ref

    def reply_as_reporter(
        self, *, ref: str, user_id: str, text: str, request_key: str | None = None
    ) -> str:
        """A named reporter answers on their own signal, by its reference; returns the ref.

        Only the person who filed it under their name may: for anyone else, for a reference that
        does not exist and for every anonymous signal the answer is the same NotFound (an
        anonymous signal is answered with its code, never its reference).
        """
        text = _text(text, field="text", label="Your reply", required=True)
        with request_transaction(
            self._sessions, deadline_ms=self._deadline_ms, busy=REPLY_NOT_ADDED
        ) as session:
            signal = session.scalar(
                select(Signal).where(Signal.ref == ref.strip().upper()).with_for_update()
            )
            if signal is None or not is_own_named(signal, user_id):
                raise NotFound(not_own_signal_answer(ref))
            now = self._clock()  # after the lock: see _ORDERED
            _check_not_withdrawn(signal)
            if request_key is not None and not self._guard.record_request(
                session, request_key, now
            ):
                return signal.ref  # a replayed command: the answer is in the thread already
            event_id = _record_event(
                session,
                signal_id=signal.id,
                action=EventAction.REPLIED,
                actor_id=user_id,
                note=text,
                created_at=now,
            )
            queue_posts(
                session,
                self._outbox_row(signal, OutboxPurpose.THREAD_REPLY, event_id=event_id, due=now),
            )
            ref = signal.ref
        self._wake()
        return ref

    def withdraw_named(self, *, ref: str, user_id: str) -> ActionResult:
        """A named reporter takes back their own signal, by its reference, until a lead
        acknowledges it. Anyone else, any other reference and every anonymous signal get the
        one NotFound answer (an anonymous signal is withdrawn with its code). A repeat (or
        Slack's retry of the command) changes nothing: `changed` is False."""
        with request_transaction(
            self._sessions, deadline_ms=self._deadline_ms, busy=NOTHING_CHANGED_BUSY
        ) as session:
            signal = session.scalar(
                select(Signal).where(Signal.ref == ref.strip().upper()).with_for_update()
            )
            if signal is None or not is_own_named(signal, user_id):
                raise NotFound(not_own_signal_answer(ref))
            now = self._clock()  # after the lock: see _ORDERED
            result = self._withdraw(session, signal, actor_id=user_id, at=now, due=now)
        return self._erased(result)

    def withdraw_anonymously(self, *, code: str, requester_id: str | None) -> ActionResult:
        """An anonymous reporter takes back their signal with its code, until a lead acknowledges
        it. As for their replies: `requester_id` only becomes the throttle's in-memory key, the
        history's time is coarse and the thread hears of it after the anonymous delay."""
        requester = self._throttle.key(requester_id)
        del requester_id
        self._throttle.check(requester)
        digest = codes.hash_code(code, key=self._code_key)
        with request_transaction(
            self._sessions, deadline_ms=self._deadline_ms, busy=NOTHING_CHANGED_BUSY
        ) as session:
            signal = session.scalar(
                select(Signal).where(Signal.followup_hash == digest).with_for_update()
            )
            if signal is None:
                self._throttle.failed(requester)
                raise NotFound(GENERIC_CODE_ANSWER)
            now = self._clock()  # after the lock: see _ORDERED
            at = self._coarse_after_history(session, signal.id, now)
            due = self._release.time(now)
            result = self._withdraw(session, signal, actor_id=None, at=at, due=due)
        return self._erased(result)

    def _withdraw(
        self,
        session: Session,
        signal: Signal,
        *,
        actor_id: str | None,
        at: datetime,
        due: datetime,
    ) -> ActionResult:
        """Withdraw `signal` and erase what the reporter wrote (its text, impact and replies):
        overwritten in place, so SQLite's secure_delete zeroes the old bytes."""
        if signal.status == S.WITHDRAWN.value:
            return ActionResult(ref=signal.ref, changed=False, detail=detail_of(signal))
        if signal.status != S.NEW.value or signal.acknowledged_at is not None:
            raise NotAllowed(
                f"{signal.ref} was already acknowledged by a lead, so it can no longer be "
                "withdrawn; nothing changed. You can still add a correction with "
                "`/ai-signal reply …`."
            )
        signal.status = S.WITHDRAWN.value
        signal.text = WITHDRAWN_TEXT
        signal.impact = None
        signal.resolved_at = at
        signal.updated_at = at
        session.execute(
            update(SignalEvent)
            .where(
                SignalEvent.signal_id == signal.id,
                SignalEvent.action == EventAction.REPLIED.value,
            )
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
        self._announce(
            session, signal, action=EventAction.WITHDRAWN, actor_id=actor_id, at=at, due=due
        )
        return ActionResult(ref=signal.ref, changed=True, detail=detail_of(signal))

    def _erased(self, result: ActionResult) -> ActionResult:
        """After the withdrawal's commit: no copy of the erased text stays in SQLite's WAL."""
        if result.changed:
            if not empty_sqlite_wal(self._sessions.kw["bind"]):
                logger.warning("withdrawal: the WAL could not be emptied yet (a reader was busy)")
            self._wake()
        return result

    @staticmethod
    def _coarse_after_history(session: Session, signal_id: str, now: datetime) -> datetime:
        """Coarse (to the hour) time for an anonymous reporter's step, never before the last
        event of the signal's history."""
        latest = session.scalar(
            select(func.max(SignalEvent.created_at)).where(SignalEvent.signal_id == signal_id)
        )
        coarse = to_the_hour(now)
        return max(coarse, latest + timedelta(microseconds=1)) if latest else coarse

    def offer_reveal(self, *, code: str, user_id: str) -> RevealOffer:
        """Step one of putting a name to an anonymous signal: check the code, store nothing.

        `user_id` only goes into the token's MAC; a wrong code gets the one generic answer.
        """
        requester = self._throttle.key(user_id)
        self._throttle.check(requester)
        digest = codes.hash_code(code, key=self._code_key)
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            signal = session.scalar(select(Signal).where(Signal.followup_hash == digest))
            if signal is None:
                self._throttle.failed(requester)
                raise NotFound(GENERIC_CODE_ANSWER)
            expires_at = (self._clock() + REVEAL_TTL).replace(microsecond=0)
            token = self._reveal_token(
                signal_id=signal.id, digest=digest, user_id=user_id, expires=expires_at
            )
            return RevealOffer(
                ref=signal.ref,
                token=token,
                posted=signal.triage_ts is not None,
                expires_at=expires_at,
            )

    def reveal(self, *, token: str, user_id: str) -> ActionResult:
        """Step two, confirmed by the reporter: the signal becomes theirs by name, for good.

        The reporter's id is stored, the follow-up code stops working (the signal is named now:
        `status SIG-…` shows it), the history records the reveal, and the thread reply and the
        update of the parent post are queued. A second confirmation changes nothing.
        """
        signal_id, _, expires_text = token.partition(".")
        expires_text = expires_text.partition(".")[0]
        try:
            expires_at = datetime.fromtimestamp(int(expires_text), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise RevealLapsed(REVEAL_LAPSED) from None
        with request_transaction(
            self._sessions, deadline_ms=self._deadline_ms, busy=NOTHING_CHANGED_BUSY
        ) as session:
            signal = session.scalar(
                select(Signal).where(Signal.id == signal_id[:32]).with_for_update()
            )
            now = self._clock()  # after the lock: see _ORDERED
            if signal is not None and not signal.anonymous and signal.reporter_id == user_id:
                return ActionResult(ref=signal.ref, changed=False, detail=detail_of(signal))
            if signal is None or not signal.anonymous or not signal.followup_hash:
                raise RevealLapsed(REVEAL_LAPSED)
            expected = self._reveal_token(
                signal_id=signal.id,
                digest=signal.followup_hash,
                user_id=user_id,
                expires=expires_at,
            )
            if not same(expected, token) or now > expires_at:
                raise RevealLapsed(REVEAL_LAPSED)
            signal.anonymous = False
            signal.reporter_id = user_id
            signal.followup_hash = None
            signal.updated_at = now
            # The parent update also before the post is out: a worker may be sending it right
            # now, rendered anonymous.
            self._announce(
                session, signal, action=EventAction.REVEALED, actor_id=user_id, at=now, due=now
            )
            result = ActionResult(ref=signal.ref, changed=True, detail=detail_of(signal))
        self._wake()
        return result

    def _reveal_token(self, *, signal_id: str, digest: str, user_id: str, expires: datetime) -> str:
        stamp = str(int(expires.timestamp()))
        message = "\0".join(("reveal", signal_id, stamp, user_id, digest)).encode()
        mac = keyed_hash(self._code_key, message)
        return f"{signal_id}.{stamp}.{mac}"

    # -- reminders -------------------------------------------------------------------------

    def claim_reminders(self, *, every: timedelta, limit: int = 50) -> list[str]:
        """Record a reminder for each signal unacknowledged for `every`; at most 3, `every` apart.

        The conditional update makes this safe with several instances: each reminder is claimed
        by exactly one of them.
        """
        now = self._clock()
        cutoff = now - every
        due = and_(
            Signal.status == S.NEW.value,
            Signal.posted_at.is_not(None),
            Signal.posted_at <= cutoff,
            Signal.reminders_sent < MAX_REMINDERS,
            or_(Signal.last_reminded_at.is_(None), Signal.last_reminded_at <= cutoff),
        )
        refs: list[str] = []
        with self._sessions.begin() as session:
            candidates = session.execute(
                select(Signal.id, Signal.reminders_sent).where(due).limit(limit)
            ).all()
            for signal_id, sent in candidates:
                taken = session.execute(
                    update(Signal)
                    .where(Signal.id == signal_id, Signal.reminders_sent == sent, due)
                    .values(reminders_sent=sent + 1, last_reminded_at=now)
                ).rowcount
                if not taken:
                    continue
                signal = session.get(Signal, signal_id)
                event_id = _record_event(
                    session,
                    signal_id=signal_id,
                    action=EventAction.REMINDED,
                    actor_id=None,
                    note=str(sent + 1),
                    created_at=now,
                )
                queue_posts(
                    session,
                    self._outbox_row(
                        signal, OutboxPurpose.THREAD_REPLY, event_id=event_id, due=now
                    ),
                )
                refs.append(signal.ref)
        if refs:
            self._wake()
        return refs

    def claim_escalations(self, *, every: timedelta, channel: str, limit: int = 50) -> list[str]:
        """Raise, once, each signal still unacknowledged `every` after its last reminder (the
        last of MAX_REMINDERS): one post to `channel`. `escalated_at` is claimed by a
        conditional update, so with several instances, a retry or a restart it happens once."""
        now = self._clock()
        due = and_(
            Signal.status == S.NEW.value,
            Signal.posted_at.is_not(None),
            Signal.reminders_sent >= MAX_REMINDERS,
            Signal.last_reminded_at <= now - every,
            Signal.escalated_at.is_(None),
        )
        refs: list[str] = []
        with self._sessions.begin() as session:
            candidates = session.scalars(select(Signal.id).where(due).limit(limit)).all()
            for signal_id in candidates:
                taken = session.execute(
                    update(Signal).where(Signal.id == signal_id, due).values(escalated_at=now)
                ).rowcount
                if not taken:
                    continue
                signal = session.get(Signal, signal_id)
                event_id = _record_event(
                    session,
                    signal_id=signal_id,
                    action=EventAction.ESCALATED,
                    actor_id=None,
                    note=None,
                    created_at=now,
                )
                queue_posts(
                    session,
                    self._outbox_row(
                        signal,
                        OutboxPurpose.ESCALATION,
                        event_id=event_id,
                        due=now,
                        channel=channel,
                    ),
                )
                refs.append(signal.ref)
        if refs:
            self._wake()
        return refs

    # -- internals -------------------------------------------------------------------------

    def _by_ref(self, session: Session, ref: str, *, lock: bool = False) -> Signal:
        query = select(Signal).where(Signal.ref == ref.strip().upper())
        if lock:
            # Row lock (PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes writers): two
            # concurrent clicks must not both see the old status and both record the action.
            query = query.with_for_update()
        signal = session.scalar(query)
        if signal is None:
            raise NotFound(f"There is no signal {ref.strip()[:20]}.")
        return signal

    def _events(self, session: Session, signal_id: str) -> list[SignalEvent]:
        return list(
            session.scalars(
                select(SignalEvent)
                .where(SignalEvent.signal_id == signal_id)
                .order_by(SignalEvent.created_at)
            )
        )

    @staticmethod
    def _apply_acknowledge(signal: Signal, now: datetime) -> str | None:
        if signal.acknowledged_at is None:
            signal.acknowledged_at = now
        if signal.status == S.NEW.value:
            signal.status = S.ACKNOWLEDGED.value
        return None

    def _act(
        self,
        *,
        ref: str,
        lead_id: str,
        action: EventAction,
        allowed: tuple[str, ...],
        apply: Callable[[Signal, datetime, Session], str | None],
        request_key: str | None = None,
        lead: bool = True,
        notify: Callable[[Signal], str | None] | None = None,
        core: bool = False,
    ) -> ActionResult:
        """`apply(signal, now, session)` changes the signal's columns (a plain row, written back
        with one UPDATE) and may read or write other rows in the same transaction.
        `lead=False`: the actor is no lead, so they must own the signal. `notify` names, before
        `apply`, a member to tell privately about the action (a new owner). `core=True`: the
        action's statements are all Core (no duplicate to look up, no followers to notify), so
        the transaction runs on a Core connection, without the ORM session."""
        transaction = request_connection if core else request_transaction
        with transaction(
            self._sessions, deadline_ms=self._deadline_ms, busy=NOTHING_CHANGED_BUSY
        ) as session:
            signal, stored = _locked_signal(session, ref)
            now = self._clock()  # after the lock: see _ORDERED
            _check_lead_or_owner(signal, lead_id, lead=lead)
            if request_key is not None and not self._guard.record_request(
                session, request_key, now
            ):
                return ActionResult(
                    ref=signal.ref, changed=False, detail=detail_of(signal), duplicate=True
                )
            if signal.status not in allowed:
                return ActionResult(ref=signal.ref, changed=False, detail=detail_of(signal))
            told = notify(signal) if notify is not None else None
            note = apply(signal, now, session)
            signal.updated_at = now
            _write_changes(session, signal, stored)
            event_id = _record_event(
                session,
                signal_id=signal.id,
                action=action,
                actor_id=lead_id,
                note=note,
                created_at=now,
            )
            rows = self._thread_and_parent_rows(session, signal, event_id=event_id, due=now)
            if not signal.anonymous and signal.reporter_id and action in _NOTIFY_REPORTER:
                rows.append(
                    self._outbox_row(
                        signal,
                        OutboxPurpose.REPORTER_NOTICE,
                        event_id=event_id,
                        due=now,
                        channel=signal.reporter_id,
                    )
                )
            if told:
                rows.append(
                    self._outbox_row(
                        signal, OutboxPurpose.OWNER_NOTICE, event_id=event_id, due=now, channel=told
                    )
                )
            if action in (EventAction.RESOLVED, EventAction.DECLINED):
                rows += self._followers_notices(session, signal, event_id=event_id, due=now)
            queue_posts(session, *rows)
            result = ActionResult(
                ref=signal.ref,
                changed=True,
                detail=detail_of(signal, primary=_primary_of(session, signal)),
            )
        self._wake()
        return result

    def _followers_notices(
        self, session: Session, signal: Signal, *, event_id: str, due: datetime
    ) -> list[dict[str, Any]]:
        """A private note with the outcome to each named reporter of a duplicate of `signal`
        (anonymous ones read it with their code)."""
        followers = session.scalars(
            select(Signal).where(
                Signal.duplicate_of == signal.id,
                Signal.status == S.DUPLICATE.value,
                Signal.anonymous.is_(False),
                Signal.reporter_id.is_not(None),
            )
        )
        return [
            self._outbox_row(
                f, OutboxPurpose.REPORTER_NOTICE, event_id=event_id, due=due, channel=f.reporter_id
            )
            for f in followers
        ]

    def _announce(
        self,
        session: Session,
        signal: Signal,
        *,
        action: EventAction,
        actor_id: str | None,
        at: datetime,
        due: datetime,
    ) -> None:
        """Record a note-less event and queue its thread reply and the parent's update."""
        event_id = _record_event(
            session, signal_id=signal.id, action=action, actor_id=actor_id, note=None, created_at=at
        )
        queue_posts(
            session, *self._thread_and_parent_rows(session, signal, event_id=event_id, due=due)
        )

    def _thread_and_parent_rows(
        self, session: Session, signal: Signal, *, event_id: str, due: datetime
    ) -> list[dict[str, Any]]:
        """The thread reply for an event, and an update of the parent post unless one is pending
        (one is enough: it renders the signal as it is when it is sent)."""
        rows = [self._outbox_row(signal, OutboxPurpose.THREAD_REPLY, event_id=event_id, due=due)]
        if not self._parent_update_pending(session, signal.id):
            rows.append(
                self._outbox_row(signal, OutboxPurpose.PARENT_UPDATE, event_id=None, due=due)
            )
        return rows

    def _outbox_row(
        self,
        signal: Signal,
        purpose: OutboxPurpose,
        *,
        event_id: str | None,
        due: datetime,
        channel: str | None = None,
    ) -> dict[str, Any]:
        return outbox_item(
            signal_id=signal.id,
            purpose=purpose,
            channel=channel or signal.triage_channel or self._triage_channel,
            due_at=due,
            event_id=event_id,
        )

    @staticmethod
    def _parent_update_pending(session: Session, signal_id: str) -> bool:
        """Whether an unclaimed parent update is queued that will show this change.

        Locked (FOR UPDATE): on PostgreSQL a worker may be claiming it right now (FOR UPDATE
        SKIP LOCKED, not committed yet); a plain SELECT would still see it unclaimed and the
        change would get no update of its own. The lock waits for that claim and then sees
        the row as claimed; a worker that comes later skips the row until this change is
        committed. SQLite ignores FOR UPDATE; its writers take turns anyway."""
        return session.execute(_PENDING_PARENT_UPDATE, {"signal_id": signal_id}).first() is not None


def _record_event(
    session: Session,
    *,
    signal_id: str,
    action: EventAction,
    actor_id: str | None,
    note: str | None,
    created_at: datetime,
) -> str:
    """Add a line to a signal's history (a Core insert: lead actions are on the ack's heels)."""
    event_id = new_id()
    session.execute(
        _INSERT_EVENT,
        {
            "id": event_id,
            "signal_id": signal_id,
            "action": action.value,
            "actor_id": actor_id,
            "note": note,
            "created_at": created_at,
        },
    )
    return event_id


class SignalRow(SimpleNamespace):
    """A signal's columns as plain attributes, named as on `Signal`: what a lead action reads,
    changes and has written back (`_write_changes`), without an ORM object (building one costs
    more than the statement that reads the row)."""


# _ORDERED: every step that adds to a signal's history and thread holds the signal's row lock
# (SQLite: the database's write lock) and reads the clock after taking it. So the steps of one
# signal commit in the order of their times: a reporter's answer (stamped just after the last
# step it can see) never lands before a lead's question still being written by another
# instance, and the thread replies, queued at those times, are posted in the same order.
def _locked_signal(session: Session, ref: str) -> tuple[SignalRow, dict[str, Any]]:
    """The signal `ref`, row-locked as in `_by_ref(lock=True)`, read with one Core statement; and
    its columns as stored, for `_write_changes`."""
    row = session.execute(_SELECT_FOR_UPDATE, {"ref": ref.strip().upper()}).first()
    if row is None:
        raise NotFound(f"There is no signal {ref.strip()[:20]}.")
    stored = dict(row._mapping)
    return SignalRow(**stored), stored


def _write_changes(session: Session, signal: SignalRow, stored: dict[str, Any]) -> None:
    """One Core UPDATE of the columns an action changed on a signal read by `_locked_signal`."""
    changed = {
        name: value
        for name, value in ((name, getattr(signal, name)) for name in stored)
        if value != stored[name]
    }
    if changed:
        session.execute(_UPDATE_SIGNAL, {"signal_id": signal.id, **changed})


# Built once: lead actions run right after their ack.
_INSERT_EVENT = insert(SignalEvent.__table__)
_SIGNALS = Signal.__table__
_SELECT_FOR_UPDATE = select(_SIGNALS).where(_SIGNALS.c.ref == bindparam("ref")).with_for_update()
_UPDATE_SIGNAL = update(_SIGNALS).where(_SIGNALS.c.id == bindparam("signal_id"))
_PENDING_PARENT_UPDATE = pending_parent_update(bindparam("signal_id")).with_for_update()

_NOTIFY_REPORTER = frozenset(
    {
        EventAction.ACKNOWLEDGED,
        EventAction.ASKED,
        EventAction.RESOLVED,
        EventAction.DECLINED,
        EventAction.DUPLICATE,
    }
)
_REF = re.compile(r"^SIG-[A-Z0-9]{1,10}$")
MAX_CHAIN = 50


def _primary_of(session: Session, signal: Signal) -> Signal | None:
    """The primary a duplicate follows (None for any other signal)."""
    if signal.status != S.DUPLICATE.value or not signal.duplicate_of:
        return None
    return session.get(Signal, signal.duplicate_of)


def _primary_for(session: Session, signal: Signal, primary_ref: str) -> Signal:
    """The signal `signal` may be marked a duplicate of: `primary_ref` itself, or the primary it
    duplicates in turn (the chain's end). Refused: unknown, itself, a loop, a withdrawn one."""
    primary = session.scalar(select(Signal).where(Signal.ref == primary_ref))
    if primary is None or (primary.anonymous and primary.triage_ts is None):
        # An anonymous signal still waiting for its release is not known to leads yet.
        raise NotAllowed(f"There is no signal {primary_ref[:20]}.", field="primary")
    for _ in range(MAX_CHAIN):
        if primary.id == signal.id:
            raise NotAllowed(
                f"{signal.ref} cannot be a duplicate of itself"
                + (f" (through {primary_ref})." if primary_ref != signal.ref else "."),
                field="primary",
            )
        if primary.status != S.DUPLICATE.value or not primary.duplicate_of:
            break
        following = session.get(Signal, primary.duplicate_of)
        if following is None:
            break
        primary = following
    else:
        raise NotAllowed("Those signals form a loop of duplicates.", field="primary")
    if primary.status == S.WITHDRAWN.value:
        raise NotAllowed(f"{primary.ref} was withdrawn; choose another.", field="primary")
    return primary
