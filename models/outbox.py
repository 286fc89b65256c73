"""Slack posts waiting to be delivered; written in the same transaction as what they announce."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, new_id


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused for good by Slack; kept, logged, retried on the next start


class OutboxPurpose(StrEnum):
    TRIAGE_POST = "triage_post"  # the parent post in the triage channel
    THREAD_REPLY = "thread_reply"  # an event of the signal's history, as a reply in its thread
    PARENT_UPDATE = "parent_update"  # chat.update of the parent post to the current state
    REPORTER_NOTICE = "reporter_notice"  # a chat.postMessage to a named reporter (their DM)
    OWNER_NOTICE = "owner_notice"  # a chat.postMessage to the member who now owns the signal
    ESCALATION = "escalation"  # the one post raising an unanswered signal to the escalation target


class OutboxItem(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_due_at", "state", "due_at"),
        # Per channel: the claim reads only channels Slack is not holding back, so a backlog
        # behind a paused channel is not read past in every round.
        Index("ix_outbox_state_channel_due_at", "state", "channel", "due_at"),
        # A signal's own items: "is a parent update already pending?" on every lead action
        # reads the whole outbox without it.
        Index("ix_outbox_signal_id_purpose_state", "signal_id", "purpose", "state"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    signal_id: Mapped[str] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"))
    event_id: Mapped[str | None] = mapped_column(ForeignKey("signal_events.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING.value)
    # Earliest moment to try: the anonymous release time, then back-off after failures.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A worker holds the item until this moment; another instance may take it over afterwards.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set (and committed) just before a Slack call, cleared when Slack's answer says the post
    # was not made: still set on a claimed item means an earlier attempt may have reached Slack
    # (the process died, or the answer was lost), so the channel is searched before a resend.
    # Wall-clock time, as it is compared with Slack's message timestamps.
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChannelBudget(Base):
    """Per Slack channel, shared by every worker thread and instance: the next send slot of the
    pacing (about one message a second, short bursts) and how long Slack holds it back."""

    __tablename__ = "channel_budget"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Theoretical arrival time of the next message (GCRA): a send may go when this is at most
    # the burst allowance ahead of now; each send moves it one interval on.
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # After a 429 (Retry-After) or a send whose outcome is unknown: nothing goes to the channel
    # before this moment, so its items keep their order.
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
