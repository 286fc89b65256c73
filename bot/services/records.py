"""What the services hand out: plain, frozen records of signals, their history and the posts
the delivery worker sends. Nothing here reads the database or knows about Slack."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from models import Signal, SignalEvent


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


@dataclass(frozen=True, kw_only=True)
class RevealOffer:
    """What `/ai-signal reveal <code>` asks the reporter to confirm. Nothing is stored for it:
    `token` carries the signal id, an expiry and a MAC over them, the asker's user id and the
    code's hash, so only that person can confirm, only while the code is live."""

    ref: str
    token: str
    posted: bool  # the triage post is out already (the name appears there at once)
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class EventSummary:
    action: str
    actor_id: str | None
    note: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class SignalDetail:
    signal: SignalSummary
    owner_id: str | None
    confirmed_impact: str | None
    next_step: str | None
    decline_reason: str | None
    resolution_done: str | None
    failed_assumption: str | None
    pattern: str | None
    lesson: str | None
    acknowledged_at: datetime | None
    posted_at: datetime | None
    resolved_at: datetime | None
    triage_channel: str | None = None
    triage_ts: str | None = None
    respond_by: datetime | None = None  # the due date set when triaging (the end of that day)
    tracker_url: str | None = None  # an external tracker link a lead attached (shown only)
    escalated_at: datetime | None = None
    withdrawn: bool = False  # the reporter took it back; its free text is erased
    events: tuple[EventSummary, ...] = ()
    # The leadership questions of the review (optional; never "who").
    review_decision: str | None = None
    review_success: str | None = None
    review_constraint: str | None = None
    review_missed_signal: str | None = None
    # False when the signal names a system that is not on record (leads may register or merge
    # it); True when it is on record or names none.
    system_on_record: bool = True
    key_lesson: bool = False
    # A duplicate's primary: what its reporter follows (its outcome, never its text or reporter).
    primary: SignalDetail | None = None

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        if self.acknowledged_at and self.posted_at:
            return max(self.acknowledged_at - self.posted_at, timedelta(0))
        return None


@dataclass(frozen=True, kw_only=True)
class ActionResult:
    ref: str
    changed: bool
    detail: SignalDetail  # the signal as the action left it, without its history (events=())
    duplicate: bool = False  # the same request (view id) was already handled


@dataclass(frozen=True, kw_only=True)
class Lesson:
    ref: str
    kind: str
    system: str | None
    failed_assumption: str | None
    pattern: str | None
    lesson: str | None
    resolved_at: datetime | None
    done: str | None = None
    key: bool = False  # a lead marked it a key lesson: it leads the answers and the playbook
    triage_channel: str | None = None
    triage_ts: str | None = None


@dataclass(frozen=True, kw_only=True)
class LessonQuery:
    """What `/ai-signal lessons` asks: words (all must match) and the filters."""

    words: tuple[str, ...] = ()
    system: str | None = None
    pattern: str | None = None
    since: date | None = None

    @property
    def empty(self) -> bool:
        return not (self.words or self.system or self.pattern or self.since)


@dataclass(frozen=True, kw_only=True)
class LessonsPage:
    query: LessonQuery
    lessons: list[Lesson]
    page: int  # from 0
    more: bool  # a further page exists


@dataclass(frozen=True, kw_only=True)
class Related:
    """An earlier signal shown under a new triage post ("seen before"): what it was about and
    what was learned, never who raised it or its words."""

    ref: str
    kind: str
    system: str | None
    status: str
    lesson: str | None  # resolved signals only
    key: bool
    triage_channel: str
    triage_ts: str
    same_system: bool


@dataclass(frozen=True, kw_only=True)
class KeyLessonResult:
    ref: str
    key: bool  # the mark as it is now


@dataclass(frozen=True, kw_only=True)
class QueueFilter:
    """Which open signals a lead's queue shows; None / False: no condition."""

    status: str | None = None
    kind: str | None = None
    system: str | None = None
    owner: str | None = None  # a Slack user id, or "none" for signals nobody owns
    older_than_days: int | None = None  # posted at least this many days ago
    identity: str | None = None  # "anonymous" or "named"
    overdue: bool = False  # its respond-by date has passed

    def words(self) -> str:
        """The filter as the command's words (`status:new kind:drift …`): how it travels in a
        button's value or a view's private_metadata, and how it is shown."""
        parts = [
            f"status:{self.status}" if self.status else "",
            f"kind:{self.kind}" if self.kind else "",
            f"system:{self.system}" if self.system else "",
            "owner:none" if self.owner == "none" else f"owner:@{self.owner}" if self.owner else "",
            f"older:{self.older_than_days}d" if self.older_than_days is not None else "",
            self.identity or "",
            "overdue" if self.overdue else "",
        ]
        return " ".join(part for part in parts if part)


@dataclass(frozen=True, kw_only=True)
class QueueCursor:
    """A position in the queue (its order: posted_at, then id): keyset paging."""

    posted_at: datetime
    id: str


@dataclass(frozen=True, kw_only=True)
class QueueLine:
    """One open signal as the queue lists it: what a lead needs to pick it up, and nothing of
    who reported it."""

    ref: str
    kind: str
    system: str | None
    text: str
    status: str
    anonymous: bool
    posted_at: datetime
    owner_id: str | None
    respond_by: datetime | None
    tracker_url: str | None
    triage_channel: str | None
    triage_ts: str | None
    overdue: bool
    cursor: QueueCursor


@dataclass(frozen=True, kw_only=True)
class QueuePage:
    filters: QueueFilter
    lines: tuple[QueueLine, ...]
    as_of: datetime  # ages and "overdue" are counted to this moment
    # Where this page started (re-read after an acknowledgement): after `after`, or before
    # `before` (a Previous page), or from the start when both are None.
    after: QueueCursor | None = None
    before: QueueCursor | None = None
    has_previous: bool = False
    has_next: bool = False


@dataclass(frozen=True, kw_only=True)
class QueueCounts:
    """Open, posted signals by status, kind and system (systems most frequent first), and how
    many of them the viewing lead owns."""

    by_status: dict[str, int]
    by_kind: dict[str, int]
    by_system: dict[str, int]
    assigned_to_you: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True, kw_only=True)
class QueueOverview:
    """The leads' Home: the counts, one page of the queue, and the first signals the viewing
    lead owns."""

    counts: QueueCounts
    page: QueuePage
    assigned: QueuePage


@dataclass(frozen=True, kw_only=True)
class BulkAcknowledgement:
    acknowledged: tuple[str, ...]  # refs acknowledged now (a thread reply and update each)
    skipped: tuple[tuple[str, str], ...]  # (ref, its status): acknowledged or closed already
    unknown: tuple[str, ...]  # refs that match no signal
    busy: tuple[str, ...] = ()  # the database was busy: not acknowledged, may be tried again


def detail_of(
    signal: Signal,
    events: list[SignalEvent] | None = None,
    *,
    system_on_record: bool = True,
    primary: Signal | None = None,
) -> SignalDetail:
    return SignalDetail(
        signal=summarize(signal),
        owner_id=signal.owner_id,
        confirmed_impact=signal.confirmed_impact,
        next_step=signal.next_step,
        decline_reason=signal.decline_reason,
        resolution_done=signal.resolution_done,
        failed_assumption=signal.failed_assumption,
        pattern=signal.pattern,
        lesson=signal.lesson,
        acknowledged_at=signal.acknowledged_at,
        posted_at=signal.posted_at,
        resolved_at=signal.resolved_at,
        triage_channel=signal.triage_channel,
        triage_ts=signal.triage_ts,
        respond_by=signal.respond_by,
        tracker_url=signal.tracker_url,
        escalated_at=signal.escalated_at,
        withdrawn=signal.status == "withdrawn",
        events=tuple(summarize_event(e) for e in events or ()),
        review_decision=signal.review_decision,
        review_success=signal.review_success,
        review_constraint=signal.review_constraint,
        review_missed_signal=signal.review_missed_signal,
        system_on_record=system_on_record,
        key_lesson=bool(signal.key_lesson),
        primary=detail_of(primary) if primary is not None else None,
    )


def summarize_event(event: SignalEvent) -> EventSummary:
    return EventSummary(
        action=event.action, actor_id=event.actor_id, note=event.note, created_at=event.created_at
    )


@dataclass(frozen=True, kw_only=True)
class DeliveryTask:
    item_id: str
    purpose: str
    channel: str
    attempts: int
    detail: SignalDetail
    event: EventSummary | None = None
    # An earlier attempt started then and its outcome is unknown: look before sending again.
    unsure_since: datetime | None = None
    # The triage post's "seen before": related earlier signals (triage posts and updates only).
    related: tuple[Related, ...] = ()

    @property
    def signal(self) -> SignalSummary:
        return self.detail.signal


@dataclass(frozen=True, kw_only=True)
class SystemRecord:
    """An AI system on record, as leads described it."""

    id: str
    name: str
    aliases: tuple[str, ...]
    decision: str | None
    success: str | None
    stage: str
    data_sources: str | None
    constraints: str | None
    ethics: str | None
    doc_url: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class ReviewAnswers:
    """The review of one resolved signal: the failed assumption and the leadership questions."""

    ref: str
    resolved_on: str  # the day only (YYYY-MM-DD)
    failed_assumption: str | None
    decision: str | None
    success: str | None
    constraint: str | None
    missed_signal: str | None


@dataclass(frozen=True, kw_only=True)
class SystemLesson:
    ref: str
    lesson: str
    resolved_on: str  # the day only (YYYY-MM-DD)
    key: bool = False  # a key lesson: the system's playbook, shown first


@dataclass(frozen=True, kw_only=True)
class SystemCard:
    """What everyone may see of a system: its record and what its signals taught. Counts only,
    no reporter and no filing time: nothing on it narrows down who raised a signal."""

    record: SystemRecord
    open_by_kind: tuple[tuple[str, int], ...]
    patterns: tuple[tuple[str, int], ...]
    lessons: tuple[SystemLesson, ...]
    last_review: ReviewAnswers | None


@dataclass(frozen=True, kw_only=True)
class SystemSaved:
    record: SystemRecord
    created: bool
    rewritten: int  # signals whose system now reads as the record's name
