"""Filing and looking up signals. Plain Python: nothing here knows about Slack."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.db import (
    DEFAULT_DEADLINE_MS,
    DeadlineExceeded,
    insert_ignoring_duplicates,
    read_unit,
    unit_of_work,
)
from bot.services import codes
from bot.services.errors import DatabaseBusy, EmptyText, NotFound, TextTooLong, UnknownKind
from bot.services.kinds import kinds_sentence, parse_kind
from models import (
    Counter,
    OutboxItem,
    OutboxPurpose,
    SeenRequest,
    Signal,
)
from models.base import new_id

MAX_TEXT = 3000
MAX_IMPACT = 1000
MAX_SYSTEM = 200
# Kept for at least an hour (Slack's replay window is 5 minutes). The stored time is the hour
# only, so a row cannot date the anonymous signal written in the same transaction.
SEEN_REQUEST_TTL = timedelta(hours=1)
PURGE_EVERY = timedelta(minutes=5)
_ANON_REF_FIRST = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ANON_REF_REST = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_REF_COUNTER = "signal_ref"
_SIGNALS = Signal.__table__
_OUTBOX = OutboxItem.__table__
# Built once: filing runs on every ack, and a prebuilt statement keeps its cache key.
_INSERT_SIGNAL = insert(_SIGNALS)
_INSERT_OUTBOX = insert(_OUTBOX)
_COUNTERS = Counter.__table__
_INCREMENT_REF = (
    update(_COUNTERS)
    .where(_COUNTERS.c.name == _REF_COUNTER)
    .values(value=_COUNTERS.c.value + 1)
    .returning(_COUNTERS.c.value)
)


def outbox_item(
    *,
    signal_id: str,
    purpose: OutboxPurpose,
    channel: str,
    due_at: datetime,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One pending Slack post, as a row for `queue_posts` (id, state and attempts come from the
    model's defaults)."""
    return {
        "signal_id": signal_id,
        "event_id": event_id,
        "purpose": purpose.value,
        "channel": channel,
        "due_at": due_at,
    }


NOT_FILED = "Not filed — the database was busy; please try again."


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


def queue_posts(session: Session, *items: dict[str, Any]) -> None:
    """Add posts to the outbox inside the caller's transaction (one Core INSERT)."""
    session.execute(_INSERT_OUTBOX, list(items))


@dataclass(frozen=True, kw_only=True)
class FiledSignal:
    ref: str
    anonymous: bool
    code: str | None  # the follow-up code, anonymous only; this is the one time it exists
    duplicate: bool = False  # the same request was already handled: nothing new was filed
    release_at: datetime | None = None  # when the triage post goes out
    system: str | None = None  # the system the signal names, as stored (shown in the receipt)


@dataclass(frozen=True, kw_only=True)
class SignalSummary:
    ref: str
    kind: str
    system: str | None
    text: str
    impact: str | None
    anonymous: bool
    reporter_id: str | None
    status: str
    created_at: datetime
    posted: bool


def summarize(signal: Signal) -> SignalSummary:
    return SignalSummary(
        ref=signal.ref,
        kind=signal.kind,
        system=signal.system,
        text=signal.text,
        impact=signal.impact,
        anonymous=signal.anonymous,
        reporter_id=signal.reporter_id,
        status=signal.status,
        created_at=signal.created_at,
        posted=signal.triage_ts is not None,
    )


# The one-line command's system: `fraud-model: text` (one word ending in ':'),
# `system:fraud-model text` or `system: fraud-model text`, as the first word(s) after the kind.
# The word must start with a letter or digit and hold no other ':' so that "precision fell: see
# dashboard", ":warning: …" or a URL stays text. Words that usually open a sentence ("Note:",
# "FYI:", "Re:") are text too in the `name:` form; `system:note` still names a system "note".
_SYSTEM_WORD = re.compile(r"^(?P<name>[^\W_][^\s:]*):$")
_SYSTEM_PREFIX = re.compile(r"^system:(?P<name>\S*)$", re.IGNORECASE)
SENTENCE_OPENERS = frozenset(
    {
        "note",
        "re",
        "fyi",
        "update",
        "edit",
        "ps",
        "todo",
        "question",
        "context",
        "background",
        "summary",
        "tl;dr",
        "tldr",
    }
)


def split_system(text: str) -> tuple[str | None, str]:
    """(system, the rest) of what follows the kind in `/ai-signal <kind> …`.

    `fraud-model: precision fell`, `system:fraud-model precision fell` and `system: fraud-model
    precision fell` name the system `fraud-model`; anything else (no such first word, a name over
    MAX_SYSTEM characters in the `name:` form, a sentence opener such as `Note:` in that form, an
    empty `system:`) names none and leaves the text as typed.
    """
    text = text.strip()
    first, rest = (text.split(maxsplit=1) + ["", ""])[:2]
    prefixed = _SYSTEM_PREFIX.match(first)
    if prefixed:
        name = prefixed.group("name").rstrip(":")
        if not name:  # `system: fraud-model …`: the name is the next word
            name, rest = (rest.split(maxsplit=1) + ["", ""])[:2]
            name = name.rstrip(":")
        if name:
            return name, rest.strip()
        return None, text
    word = _SYSTEM_WORD.match(first)
    if (
        word
        and len(word.group("name")) <= MAX_SYSTEM
        and word.group("name").casefold() not in SENTENCE_OPENERS
    ):
        return word.group("name"), rest.strip()
    return None, text


_UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` as the database can store it, otherwise exactly as sent.

    NUL characters are removed (PostgreSQL refuses them in text) and unpaired UTF-16 surrogates,
    which a JSON payload can carry but UTF-8 cannot encode, become U+FFFD. Applied to every field
    a person types before it is checked and stored.
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _UNPAIRED_SURROGATE.sub("\ufffd", text)


def clean_fields(
    *, kind: str, text: str, system: str | None = None, impact: str | None = None
) -> tuple[str, str, str | None, str | None]:
    """Validate what a reporter typed; raise a ServiceError with a friendly sentence."""
    canonical = parse_kind(kind)
    if canonical is None:
        raise UnknownKind(
            f"I don't know the kind “{kind.strip()[:40]}”. Use one of: {kinds_sentence()}."
        )
    text = storable(text or "").strip()
    if not text:
        raise EmptyText("Please say what you observed — the signal text is empty.")
    if len(text) > MAX_TEXT:
        raise TextTooLong(
            f"That is {len(text):,} characters; the limit is {MAX_TEXT:,}. "
            "Please shorten it (a link to details works well)."
        )
    system = storable(system or "").strip() or None
    if system is not None and len(system) > MAX_SYSTEM:
        raise TextTooLong(f"The system name is limited to {MAX_SYSTEM} characters.", field="system")
    impact = storable(impact or "").strip() or None
    if impact is not None and len(impact) > MAX_IMPACT:
        raise TextTooLong(f"The impact is limited to {MAX_IMPACT:,} characters.", field="impact")
    return canonical, text, system, impact


class SignalService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        code_key: bytes,
        triage_channel: str,
        anon_delay: tuple[int, int],
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        deadline_ms: int | None = DEFAULT_DEADLINE_MS,
    ) -> None:
        """`deadline_ms` bounds each request's transaction (None: no bound)."""
        self._sessions = sessions
        self.deadline_ms = deadline_ms
        self._code_key = code_key
        self._triage_channel = triage_channel
        self._anon_delay = anon_delay
        self._clock = clock
        self._rng = rng or random.SystemRandom()
        self._purged_at: datetime | None = None

    # -- filing ---------------------------------------------------------------------------

    def file_signal(
        self,
        *,
        kind: str,
        text: str,
        system: str | None = None,
        impact: str | None = None,
        anonymous: bool,
        reporter_id: str | None,
        request_key: str | None = None,
    ) -> FiledSignal:
        """Store a signal and its pending triage post in one transaction.

        `reporter_id` is ignored (never stored) when `anonymous` is true. `request_key` is an id
        Slack gives the request (view id, trigger id): a second call with the same key files
        nothing and answers `duplicate=True`.
        """
        kind, text, system, impact = clean_fields(
            kind=kind, text=text, system=system, impact=impact
        )
        now = self._clock()
        code = codes.new_code() if anonymous else None
        with request_transaction(
            self._sessions, deadline_ms=self.deadline_ms, busy=NOT_FILED
        ) as session:
            if request_key is not None and not self.record_request(session, request_key, now):
                return FiledSignal(ref="", anonymous=anonymous, code=None, duplicate=True)
            if anonymous:
                ref = self._anonymous_ref(session)
                stamp = now.replace(minute=0, second=0, microsecond=0)
                release_at = self.release_time(now)
            else:
                ref = f"SIG-{self._next_number(session)}"
                stamp = now
                release_at = now
            # Core inserts, not the ORM unit of work: filing is the hot path of every ack.
            signal_id = new_id()
            session.execute(
                _INSERT_SIGNAL,
                {
                    "id": signal_id,
                    "ref": ref,
                    "kind": kind,
                    "system": system,
                    "text": text,
                    "impact": impact,
                    "anonymous": anonymous,
                    "reporter_id": None if anonymous else reporter_id,
                    "followup_hash": codes.hash_code(code, key=self._code_key) if code else None,
                    "created_at": stamp,
                    "updated_at": stamp,
                },  # status and reminders_sent: the model's defaults
            )
            queue_posts(
                session,
                outbox_item(
                    signal_id=signal_id,
                    purpose=OutboxPurpose.TRIAGE_POST,
                    channel=self._triage_channel,
                    due_at=release_at,
                ),
            )
        return FiledSignal(
            ref=ref, anonymous=anonymous, code=code, release_at=release_at, system=system
        )

    def release_time(self, now: datetime) -> datetime:
        """When an anonymous post filed `now` goes out: a random delay, rounded up to a minute."""
        low, high = self._anon_delay
        if high <= 0:
            return now
        delay = self._rng.uniform(low, high)
        release = now + timedelta(seconds=delay)
        # Release on whole minutes, so signals filed close together go out as one batch.
        if release.second or release.microsecond:
            release = release.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return release

    def _next_number(self, session: Session) -> int:
        value = session.execute(_INCREMENT_REF).scalar_one_or_none()
        if value is None:
            created = session.execute(
                insert_ignoring_duplicates(session, _COUNTERS), {"name": _REF_COUNTER, "value": 1}
            ).first()
            # No row: a concurrent first filing created the counter (PostgreSQL); count on.
            value = 1 if created is not None else session.execute(_INCREMENT_REF).scalar_one()
        return value

    def _anonymous_ref(self, session: Session) -> str:
        # Random, not sequential: a sequence would place the filing between its neighbours.
        while True:
            ref = (
                "SIG-"
                + secrets.choice(_ANON_REF_FIRST)
                + "".join(secrets.choice(_ANON_REF_REST) for _ in range(5))
            )
            if session.scalar(select(Signal.id).where(Signal.ref == ref)) is None:
                return ref

    def record_request(self, session: Session, request_key: str, now: datetime) -> bool:
        """Inside a caller's transaction: False when this request id was already handled."""
        key = hmac.new(self._code_key, request_key.encode(), hashlib.sha256).hexdigest()
        hour = now.replace(minute=0, second=0, microsecond=0)
        if self._purged_at is None or now - self._purged_at > PURGE_EVERY:
            self._purged_at = now
            session.execute(
                delete(SeenRequest).where(SeenRequest.seen_at < hour - SEEN_REQUEST_TTL)
            )
        guard = insert_ignoring_duplicates(session, SeenRequest.__table__)
        return session.execute(guard, {"key": key, "seen_at": hour}).first() is not None

    def first_time(self, request_key: str) -> bool:
        """Record a request id (e.g. an event_id); False when it was seen in the last minutes."""
        with request_transaction(
            self._sessions, deadline_ms=self.deadline_ms, busy="The database was busy."
        ) as session:
            return self.record_request(session, request_key, self._clock())

    # -- looking up -------------------------------------------------------------------------

    def own_signal(self, *, ref: str, user_id: str) -> SignalSummary:
        """A named signal filed by `user_id`; NotFound for anything else (including anonymous)."""
        with request_read(self._sessions, deadline_ms=self.deadline_ms) as session:
            signal = session.scalar(select(Signal).where(Signal.ref == ref.strip().upper()))
            if not is_own_named(signal, user_id):
                raise NotFound(not_own_signal_answer(ref))
            return summarize(signal)

    def recent_own_signals(self, *, user_id: str, limit: int = 10) -> list[SignalSummary]:
        with self._sessions() as session:
            rows = session.scalars(
                select(Signal)
                .where(Signal.reporter_id == user_id, Signal.anonymous.is_(False))
                .order_by(Signal.created_at.desc())
                .limit(limit)
            )
            return [summarize(s) for s in rows]


def is_own_named(signal: Signal | None, user_id: str) -> bool:
    """Whether `signal` was filed under the name of `user_id`. Never true for an anonymous one:
    it stores no reporter, and its reference is not a key to it (only its code is)."""
    return (
        signal is not None
        and not signal.anonymous
        and signal.reporter_id is not None
        and bool(user_id)
        and signal.reporter_id == user_id
    )


def not_own_signal_answer(ref: str) -> str:
    """One answer for a reference that does not exist, is someone else's or is anonymous: it
    must not tell them apart."""
    return f"I can't find a signal {ref.strip()[:20]} that you filed under your name."


GENERIC_CODE_ANSWER = (
    "That follow-up code doesn't match a signal. Check it was copied in full; "
    "codes are shown once, when the signal is filed."
)
