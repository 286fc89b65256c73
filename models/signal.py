"""A concern raised with /ai-signal."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ColumnElement, Index, Integer, String, Text, and_, text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, new_id


class SignalStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    DECLINED = "declined"
    # The reporter took it back before a lead acknowledged it; its free text is erased.
    WITHDRAWN = "withdrawn"
    # Closed as the same concern as `duplicate_of`; the reporter follows that signal.
    DUPLICATE = "duplicate"


# The rows the lead queue reads: open and posted (an unposted anonymous signal is not counted or
# listed before its delayed release). Written as literals, so that both databases see that a
# query carrying the same condition may use the partial indexes below.
OPEN_POSTED = "status IN ('new', 'acknowledged', 'investigating') AND posted_at IS NOT NULL"

# A signal with a review answer (migration 0011); the review report's query carries the same
# condition (bot/services/review.py reviewed()) so that it may read the partial index.
REVIEWED = (
    "review_decision IS NOT NULL OR review_success IS NOT NULL"
    " OR review_constraint IS NOT NULL OR review_missed_signal IS NOT NULL"
)


def _open_index(name: str, *columns: str) -> Index:
    """A partial index over the open, posted signals only: it holds the queue, not the history."""
    where = text(OPEN_POSTED)
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


def _set_index(name: str, *columns: str, set_: str) -> Index:
    """An index over the signals whose column `set_` is not NULL (migration 0014). A new
    signal leaves these columns empty: it writes no entry into such an index, where every
    entry would have gone to a random place among the NULLs (ordered by the random id). Every
    query that reads one asks for a value of `set_` (an equality, a range, or, for resolved
    signals, `resolved_rows()`), which lets both databases use it."""
    where = text(f"{set_} IS NOT NULL")
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


QUEUE_INDEXES = (
    # Every filter column, in page order: a page with any filter reads this index only.
    _open_index(
        "ix_signals_queue_page",
        "posted_at",
        "id",
        "status",
        "kind",
        "system",
        "owner_id",
        "anonymous",
        "respond_by",
    ),
    _open_index("ix_signals_queue_status", "status", "posted_at", "id"),
    _open_index("ix_signals_queue_kind", "kind", "posted_at", "id", "status"),
    _open_index("ix_signals_queue_system", "system", "posted_at", "id", "status"),
    _open_index("ix_signals_queue_owner", "owner_id", "posted_at", "id", "status"),
    _open_index("ix_signals_queue_due", "respond_by", "posted_at", "id", "status"),
    # The counts per status, kind and system: one covering scan of the open signals.
    _open_index("ix_signals_queue_counts", "status", "kind", "system", "posted_at"),
)


class Signal(Base):
    __tablename__ = "signals"
    # WITHOUT ROWID: SQLite stores rows in (random) primary-key order, not filing order.
    __table_args__ = (
        Index("ix_signals_created_at", "created_at"),
        Index("ix_signals_status_created_at", "status", "created_at"),
        # Migration 0014: an index led by a column a new signal leaves empty, or read only for
        # resolved signals, holds only the rows where that column is set (_set_index).
        _set_index("ix_signals_reporter_id", "reporter_id", set_="reporter_id"),
        _set_index("ix_signals_resolved_at", "resolved_at", set_="resolved_at"),
        _set_index("ix_signals_posted_at", "posted_at", set_="posted_at"),
        # The digest (migration 0003): each of its queries is answered from one index, most of
        # them without reading the table (covering).
        Index("ix_signals_created_at_kind_system", "created_at", "kind", "system"),
        _set_index(
            "ix_signals_resolved_at_status_pattern",
            "resolved_at",
            "status",
            "pattern",
            set_="resolved_at",
        ),
        Index("ix_signals_status_queue", "status", "created_at", "updated_at", "posted_at"),
        _set_index(
            "ix_signals_posted_at_response",
            "posted_at",
            "anonymous",
            "acknowledged_at",
            set_="posted_at",
        ),
        # Systems on record (migration 0007): a rename, merge or new alias rewrites by name.
        Index("ix_signals_system", "system"),
        # Migration 0008: the digest's escalation count and its overdue signals.
        _set_index("ix_signals_escalated_at", "escalated_at", set_="escalated_at"),
        _set_index("ix_signals_respond_by_status", "respond_by", "status", set_="respond_by"),
        # The duplicates that follow a primary's outcome (migration 0009).
        _set_index("ix_signals_duplicate_of", "duplicate_of", set_="duplicate_of"),
        # The lessons library's newest lessons, key lessons first, alone or by pattern (the
        # system's index is an expression index, in migrations 0009 and 0014 only).
        _set_index(
            "ix_signals_lessons_newest", "status", "key_lesson", "resolved_at", set_="resolved_at"
        ),
        _set_index(
            "ix_signals_lessons_pattern",
            "pattern",
            "status",
            "key_lesson",
            "resolved_at",
            set_="resolved_at",
        ),
        # The review-board report (migration 0011): its grouped queries over a period read
        # one of these alone (covering), by filing time or (resolved signals) resolution time.
        Index(
            "ix_signals_review_filed",
            "created_at",
            "posted_at",
            "anonymous",
            "acknowledged_at",
            "kind",
            "system",
            "status",
        ),
        _set_index(
            "ix_signals_review_resolved",
            "status",
            "resolved_at",
            "system",
            "pattern",
            "key_lesson",
            set_="resolved_at",
        ),
        # Its review answers: the few signals with any (migration 0011).
        Index(
            "ix_signals_reviewed",
            "status",
            "resolved_at",
            sqlite_where=text(REVIEWED),
            postgresql_where=text(REVIEWED),
        ),
        # The lead queue (migration 0010): pages oldest first, each filter answered from an
        # index in page order, and the counts from one covering index; all over open signals.
        *QUEUE_INDEXES,
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    system: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    impact: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean)
    # NULL whenever `anonymous` is true: nothing in this table points at an anonymous reporter.
    reporter_id: Mapped[str | None] = mapped_column(String(32))
    # Keyed hash of the anonymous reporter's follow-up code; the code itself is never stored.
    followup_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=SignalStatus.NEW.value)
    # Coarse (hour) for anonymous signals so the row does not date the moment of filing.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the triage post went out (public in Slack anyway); response times count from here.
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    triage_channel: Mapped[str | None] = mapped_column(String(32))
    triage_ts: Mapped[str | None] = mapped_column(String(32))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # Triage (leads only; leads may be named, reporters of anonymous signals never)
    owner_id: Mapped[str | None] = mapped_column(String(32))
    confirmed_impact: Mapped[str | None] = mapped_column(String(16))
    next_step: Mapped[str | None] = mapped_column(Text)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # Blameless review, filled when resolved
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_done: Mapped[str | None] = mapped_column(Text)
    failed_assumption: Mapped[str | None] = mapped_column(Text)
    pattern: Mapped[str | None] = mapped_column(String(32))
    lesson: Mapped[str | None] = mapped_column(Text)
    # Reminders for signals nobody acknowledged
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Working the queue: the "respond by" date set when triaging, an external tracker link
    # (shown only; no tracker is called), and when the unanswered signal was escalated (once).
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tracker_url: Mapped[str | None] = mapped_column(String(500))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Learning: the primary signal this one duplicates, a lead's "key lesson" mark, and the
    # leadership questions of the review (all optional; never "who").
    duplicate_of: Mapped[str | None] = mapped_column(String(32))
    key_lesson: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    review_decision: Mapped[str | None] = mapped_column(Text)
    review_success: Mapped[str | None] = mapped_column(Text)
    review_constraint: Mapped[str | None] = mapped_column(Text)
    review_missed_signal: Mapped[str | None] = mapped_column(Text)


def resolved_rows() -> ColumnElement[bool]:
    """The resolved signals, in the words the partial indexes over them use (`resolved_at IS
    NOT NULL`, migration 0014): every resolved signal has its resolution time, and a query
    that names the column may read those indexes."""
    return and_(Signal.status == SignalStatus.RESOLVED.value, Signal.resolved_at.is_not(None))
