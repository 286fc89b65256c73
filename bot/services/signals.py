"""Filing and looking up signals. Plain Python: nothing here knows about Slack."""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.db import DEFAULT_DEADLINE_MS, insert_ignoring_duplicates
from bot.services import codes
from bot.services.errors import EmptyText, NotFound, TextTooLong, UnknownKind
from bot.services.outbox import no_worker, outbox_item, queue_posts
from bot.services.records import FiledSignal, SignalSummary, summarize
from bot.services.release import ReleaseSchedule
from bot.services.replay import ReplayGuard
from bot.services.systems import canonical_system
from bot.services.transactions import request_connection, request_read
from bot.services.vocabulary import kinds_sentence, parse_kind, to_the_hour
from models import Counter, OutboxPurpose, Signal
from models.base import new_id

MAX_TEXT = 3000
MAX_IMPACT = 1000
MAX_SYSTEM = 200
_ANON_REF_FIRST = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ANON_REF_REST = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_REF_COUNTER = "signal_ref"
_SIGNALS = Signal.__table__
# Built once: filing runs on every ack, and a prebuilt statement keeps its cache key.
_INSERT_SIGNAL = insert(_SIGNALS)
_COUNTERS = Counter.__table__
_INCREMENT_REF = (
    update(_COUNTERS)
    .where(_COUNTERS.c.name == _REF_COUNTER)
    .values(value=_COUNTERS.c.value + 1)
    .returning(_COUNTERS.c.value)
)


NOT_FILED = "Not filed — the database was busy; please try again."


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
        guard: ReplayGuard | None = None,
        wake: Callable[[], None] = no_worker,
    ) -> None:
        """`deadline_ms` bounds each request's transaction (None: no bound); `wake` is called
        after a commit that queued a post, so the delivery worker looks at once."""
        self._sessions = sessions
        self.deadline_ms = deadline_ms
        self._code_key = code_key
        self._triage_channel = triage_channel
        self._release = ReleaseSchedule(anon_delay, rng=rng)
        self._clock = clock
        self._guard = guard or ReplayGuard(
            sessions=sessions, key=code_key, clock=clock, deadline_ms=deadline_ms
        )
        self._wake = wake

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
        # A Core connection, not an ORM session: every statement below is Core, and filing is
        # the hot path of every ack.
        with request_connection(
            self._sessions, deadline_ms=self.deadline_ms, busy=NOT_FILED
        ) as session:
            if request_key is not None and not self._guard.record_request(
                session, request_key, now
            ):
                return FiledSignal(ref="", anonymous=anonymous, code=None, duplicate=True)
            if system is not None:
                system = canonical_system(session, system)
            if anonymous:
                ref = self._anonymous_ref(session)
                stamp = to_the_hour(now)
                release_at = self._release.time(now)
            else:
                ref = f"SIG-{self._next_number(session)}"
                stamp = now
                release_at = now
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
        self._wake()
        return FiledSignal(
            ref=ref, anonymous=anonymous, code=code, release_at=release_at, system=system
        )

    def _next_number(self, session: Connection) -> int:
        value = session.execute(_INCREMENT_REF).scalar_one_or_none()
        if value is None:
            created = session.execute(
                insert_ignoring_duplicates(session, _COUNTERS), {"name": _REF_COUNTER, "value": 1}
            ).first()
            # No row: a concurrent first filing created the counter (PostgreSQL); count on.
            value = 1 if created is not None else session.execute(_INCREMENT_REF).scalar_one()
        return value

    def _anonymous_ref(self, session: Connection) -> str:
        # Random, not sequential: a sequence would place the filing between its neighbours.
        while True:
            ref = (
                "SIG-"
                + secrets.choice(_ANON_REF_FIRST)
                + "".join(secrets.choice(_ANON_REF_REST) for _ in range(5))
            )
            if session.scalar(select(Signal.id).where(Signal.ref == ref)) is None:
                return ref

    def first_time(self, request_key: str) -> bool:
        """Record a request id (e.g. an event_id); False when it was seen in the last minutes."""
        return self._guard.first_time(request_key)

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
