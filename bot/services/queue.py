"""The leads' queue: open signals, oldest first, filtered and paged; the counts per status, kind
and system; acknowledging several at once. No Slack in here.

Every read runs over the open, posted signals only, and each query is shaped to the partial
indexes of migration 0010 (models/signal.py: OPEN_POSTED, QUEUE_INDEXES): a page walks an index
in page order from its keyset position and stops after one page, the counts read one covering
index of the open signals. Neither grows with the closed history, so a million stored signals
read as fast as a thousand with the same queue.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, literal_column, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.db import DEFAULT_DEADLINE_MS
from bot.services.errors import DatabaseBusy, NotFound, ServiceError
from bot.services.records import (
    BulkAcknowledgement,
    QueueCounts,
    QueueCursor,
    QueueFilter,
    QueueLine,
    QueueOverview,
    QueuePage,
)
from bot.services.transactions import request_read
from bot.services.triage import TriageService
from bot.services.vocabulary import OPEN_STATUSES, parse_kind
from models import Signal
from models import SignalStatus as S

PAGE_SIZE = 10  # one checkbox group holds at most ten options: a page is what one group selects
MAX_BULK = 25
MAX_SYSTEMS = 25  # systems listed in the counts (the most frequent; the rest are "others")

# The same condition as the partial indexes, as literals (a bound parameter would hide from the
# planners that the index applies).
_OPEN = Signal.status.in_([literal_column(f"'{status}'") for status in OPEN_STATUSES])
_OPEN_POSTED = and_(_OPEN, Signal.posted_at.is_not(None))

ACCEPTED_FORMS = (
    "`status:new`, `status:acknowledged` or `status:investigating`; `kind:drift` (or another "
    "kind); `system:fraud-model`; `owner:me`, `owner:@person` or `owner:none`; `older:7d` "
    "(days) or `older:2w` (weeks); `anonymous` or `named`; `overdue`"
)
_STATUS_WORDS = {
    "new": S.NEW.value,
    "acknowledged": S.ACKNOWLEDGED.value,
    "ack": S.ACKNOWLEDGED.value,
    "investigating": S.INVESTIGATING.value,
}
_AGE = re.compile(r"^(\d{1,4})([dw])$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_USER_ID = re.compile(r"^@?([UW][A-Z0-9]{2,20})$")


class BadFilter(ServiceError):
    """A queue filter the service cannot read; the sentence lists every accepted form."""


def _bad(word: str, why: str) -> BadFilter:
    shown = word[:40].replace("`", "'")
    return BadFilter(
        f"I can't use `{shown}` as a queue filter ({why}), so the queue isn't shown. "
        f"Use any of: {ACCEPTED_FORMS}. E.g. `/ai-signal queue status:new older:7d`."
    )


def _parse_one(word: str, value: str, *, me: str, found: dict[str, Any]) -> None:
    if word == "status":
        if value not in _STATUS_WORDS:
            raise _bad(f"{word}:{value}", "the queue holds new, acknowledged and investigating")
        found["status"] = _STATUS_WORDS[value]
    elif word == "kind":
        kind = parse_kind(value)
        if kind is None:
            raise _bad(f"{word}:{value}", "not a kind of signal")
        found["kind"] = kind
    elif word == "system":
        if not value or len(value) > 200:
            raise _bad(f"{word}:{value}", "name the system")
        found["system"] = value
    elif word == "owner":
        user = _USER_ID.match(value.upper() if value.startswith("@") else value)
        if value.lower() in ("me", "none"):
            found["owner"] = me if value.lower() == "me" else "none"
        elif user:
            found["owner"] = user.group(1)
        else:
            raise _bad(f"{word}:{value}", "mention the person, so Slack sends who they are")
    elif word == "older":
        age = _AGE.match(value.lower())
        if age is None:
            raise _bad(f"{word}:{value}", "an age in days or weeks")
        found["older_than_days"] = int(age.group(1)) * (7 if age.group(2) == "w" else 1)
    else:
        raise _bad(f"{word}:{value}", "not a filter")


def parse_filters(words: Iterable[str], *, me: str) -> QueueFilter:
    """The filter the command's words ask for (`me` is the asking lead's user id); a word it
    cannot read raises BadFilter with every accepted form. Later words win over earlier ones."""
    found: dict[str, Any] = {}
    for raw in words:
        word = raw.strip()
        lowered = word.lower()
        if not word:
            continue
        if lowered in ("anonymous", "anon", "named"):
            found["identity"] = "named" if lowered == "named" else "anonymous"
        elif lowered == "overdue":
            found["overdue"] = True
        elif ":" in word:
            key, _, value = word.partition(":")
            key, value = key.lower(), value.strip()
            # System names are kept as typed; user ids are upper case; the rest is words.
            _parse_one(
                key, value if key in ("system", "owner") else value.lower(), me=me, found=found
            )
        else:
            raise _bad(word, "not a filter")
    return QueueFilter(**found)


def filter_fields(filters: QueueFilter) -> dict[str, Any]:
    """The filter's conditions that are set, as plain values (a button's value carries them)."""
    default = QueueFilter()
    return {
        name: getattr(filters, name)
        for name in QueueFilter.__dataclass_fields__
        if getattr(filters, name) != getattr(default, name)
    }


def filter_from_fields(fields: Any) -> QueueFilter | None:
    """`filter_fields` read back; None when any value is not one the queue accepts."""
    if not isinstance(fields, dict) or not set(fields) <= set(QueueFilter.__dataclass_fields__):
        return None
    checks = {
        "status": lambda v: v in OPEN_STATUSES,
        "kind": lambda v: parse_kind(v) == v,
        "system": lambda v: isinstance(v, str) and 0 < len(v) <= 200,
        "owner": lambda v: v == "none" or bool(_USER_ID.match(v if isinstance(v, str) else "")),
        "older_than_days": lambda v: type(v) is int and 0 <= v <= 70_000,
        "identity": lambda v: v in ("anonymous", "named"),
        "overdue": lambda v: v is True,
    }
    if not all(checks[name](value) for name, value in fields.items()):
        return None
    return QueueFilter(**fields)


def encode_cursor(cursor: QueueCursor) -> str:
    """A cursor as text for a button's value: microseconds since the epoch, then the id."""
    micros = (cursor.posted_at - _EPOCH) // timedelta(microseconds=1)  # exact, not a float
    return f"{micros}.{cursor.id}"


def decode_cursor(text: str) -> QueueCursor | None:
    micros, _, signal_id = text.partition(".")
    if not micros.isdigit() or not re.fullmatch(r"[0-9a-f]{1,32}", signal_id):
        return None
    if len(micros) > 18:
        return None
    return QueueCursor(posted_at=_EPOCH + timedelta(microseconds=int(micros)), id=signal_id)


class QueueService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        triage: TriageService,
        clock: Clock = utc_now,
        deadline_ms: int | None = DEFAULT_DEADLINE_MS,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._sessions = sessions
        self._triage = triage
        self._clock = clock
        self._deadline_ms = deadline_ms
        self._page_size = page_size

    # -- reading ---------------------------------------------------------------------------

    def page(
        self,
        *,
        filters: QueueFilter,
        after: QueueCursor | None = None,
        before: QueueCursor | None = None,
    ) -> QueuePage:
        """One page of the open signals that match, oldest first: the first page, the one
        after `after` (Next) or the one before `before` (Previous)."""
        now = self._clock()
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            return self._page(session, filters=filters, after=after, before=before, now=now)

    def counts(self, *, lead_id: str) -> QueueCounts:
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            return self._counts(session, lead_id=lead_id)

    def overview(
        self,
        *,
        lead_id: str,
        filters: QueueFilter | None = None,
        after: QueueCursor | None = None,
        before: QueueCursor | None = None,
    ) -> QueueOverview:
        """The leads' Home: the counts and a page of the queue (`after` / `before` as `page`)."""
        now = self._clock()
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            return QueueOverview(
                counts=self._counts(session, lead_id=lead_id),
                page=self._page(
                    session, filters=filters or QueueFilter(), now=now, after=after, before=before
                ),
                assigned=self._page(session, filters=QueueFilter(owner=lead_id), now=now),
            )

    # -- acting ----------------------------------------------------------------------------

    def acknowledge_many(self, *, refs: Iterable[str], lead_id: str) -> BulkAcknowledgement:
        """Acknowledge each signal as its own button would: the same service call, one unit of
        work per signal (each queues its own thread reply and parent update and wakes the
        worker after its commit). One signal that fails or is busy does not undo the others'
        acknowledgements; ones already acknowledged or closed are skipped and reported."""
        done: list[str] = []
        skipped: list[tuple[str, str]] = []
        unknown: list[str] = []
        busy: list[str] = []
        wanted = list(dict.fromkeys(ref.strip().upper() for ref in refs if ref.strip()))
        if len(wanted) > MAX_BULK:
            raise BadFilter(f"Select at most {MAX_BULK} signals at once; nothing changed.")
        for ref in wanted:
            try:
                result = self._triage.acknowledge(ref=ref, lead_id=lead_id)
            except NotFound:
                unknown.append(ref)
                continue
            except DatabaseBusy:
                busy.append(ref)
                continue
            if result.changed:
                done.append(result.ref)
            else:
                skipped.append((result.ref, result.detail.signal.status))
        return BulkAcknowledgement(
            acknowledged=tuple(done),
            skipped=tuple(skipped),
            unknown=tuple(unknown),
            busy=tuple(busy),
        )

    # -- internals -------------------------------------------------------------------------

    def _page(
        self,
        session: Session,
        *,
        filters: QueueFilter,
        now: datetime,
        after: QueueCursor | None = None,
        before: QueueCursor | None = None,
    ) -> QueuePage:
        """One index walk from the keyset position, one page plus one row (is there more that
        way?), then the page's rows by primary key. The other way there is more whenever the
        page was reached by paging; a Previous page that came back empty (everything before it
        was closed meanwhile) is the first page instead."""
        key = tuple_(Signal.posted_at, Signal.id)
        query = select(Signal.id).where(*_filtered(filters, now))
        if before is not None:
            query = query.where(key < tuple_(before.posted_at, before.id))
            query = query.order_by(Signal.posted_at.desc(), Signal.id.desc())
        else:
            if after is not None:
                query = query.where(key > tuple_(after.posted_at, after.id))
            query = query.order_by(Signal.posted_at, Signal.id)
        ids = list(session.scalars(query.limit(self._page_size + 1)))
        if before is not None and not ids:
            return self._page(session, filters=filters, now=now)
        more = len(ids) > self._page_size
        ids = ids[: self._page_size]
        rows = {}
        if ids:
            rows = {row.id: row for row in session.execute(_LINE.where(Signal.id.in_(ids)))}
        lines = [_line(rows[i], now) for i in ids if i in rows]
        if before is not None:
            lines.reverse()
        return QueuePage(
            filters=filters,
            lines=tuple(lines),
            as_of=now,
            after=after,
            before=before,
            has_previous=more if before is not None else after is not None,
            has_next=more if before is None else True,
        )

    @staticmethod
    def _counts(session: Session, *, lead_id: str) -> QueueCounts:
        rows = session.execute(
            select(Signal.status, Signal.kind, Signal.system, func.count())
            .where(_OPEN_POSTED)
            .group_by(Signal.status, Signal.kind, Signal.system)
        ).all()
        by_status: Counter[str] = Counter({status: 0 for status in OPEN_STATUSES})
        by_kind: Counter[str] = Counter()
        by_system: Counter[str] = Counter()
        for status, kind, system, count in rows:
            by_status[status] += count
            by_kind[kind] += count
            by_system[system or ""] += count
        assigned = session.scalar(
            select(func.count()).select_from(Signal).where(_OPEN_POSTED, Signal.owner_id == lead_id)
        )
        systems = dict(
            sorted(by_system.items(), key=lambda item: (-item[1], item[0]))[:MAX_SYSTEMS]
        )
        return QueueCounts(
            by_status=dict(by_status),
            by_kind=dict(by_kind.most_common()),
            by_system=systems,
            assigned_to_you=assigned or 0,
        )


def _filtered(filters: QueueFilter, now: datetime) -> list:
    where = [_OPEN, Signal.posted_at.is_not(None)]
    if filters.status:
        where.append(Signal.status == filters.status)
    if filters.kind:
        where.append(Signal.kind == filters.kind)
    if filters.system:
        where.append(Signal.system == filters.system)
    if filters.owner == "none":
        where.append(Signal.owner_id.is_(None))
    elif filters.owner:
        where.append(Signal.owner_id == filters.owner)
    if filters.older_than_days is not None:
        where.append(Signal.posted_at <= now - timedelta(days=filters.older_than_days))
    if filters.identity:
        where.append(Signal.anonymous.is_(filters.identity == "anonymous"))
    if filters.overdue:
        where.append(Signal.respond_by.is_not(None))
        where.append(Signal.respond_by < now)
    return where


_LINE: Select = select(
    Signal.id,
    Signal.ref,
    Signal.kind,
    Signal.system,
    Signal.text,
    Signal.status,
    Signal.anonymous,
    Signal.posted_at,
    Signal.owner_id,
    Signal.respond_by,
    Signal.tracker_url,
    Signal.triage_channel,
    Signal.triage_ts,
)


def _line(row, now: datetime) -> QueueLine:
    return QueueLine(
        ref=row.ref,
        kind=row.kind,
        system=row.system,
        text=row.text,
        status=row.status,
        anonymous=row.anonymous,
        posted_at=row.posted_at,
        owner_id=row.owner_id,
        respond_by=row.respond_by,
        tracker_url=row.tracker_url,
        triage_channel=row.triage_channel,
        triage_ts=row.triage_ts,
        overdue=row.respond_by is not None and row.respond_by < now,
        cursor=QueueCursor(posted_at=row.posted_at, id=row.id),
    )
