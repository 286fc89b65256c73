"""The history of a signal: every lead action and every reporter reply, in order."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, new_id


class EventAction(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    TRIAGED = "triaged"
    DECLINED = "declined"
    ASKED = "asked"
    REPLIED = "replied"  # the reporter answered; actor_id stays NULL when anonymous
    RESOLVED = "resolved"
    REOPENED = "reopened"
    REMINDED = "reminded"
    # An anonymous reporter chose to put their name to the signal (actor_id: the reporter).
    REVEALED = "revealed"
    # The last reminder went unanswered: raised once to the escalation channel or group.
    ESCALATED = "escalated"
    # A lead attached (note: the URL) or removed (note: NULL) an external tracker link.
    LINKED = "linked"
    # The reporter withdrew the signal before a lead acknowledged it; its free text is erased.
    # actor_id: the named reporter, NULL for an anonymous one.
    WITHDRAWN = "withdrawn"
    # A lead closed the signal as the same concern as another (note: the primary's reference).
    DUPLICATE = "duplicate"


class SignalEvent(Base):
    __tablename__ = "signal_events"
    __table_args__ = (
        Index("ix_signal_events_signal_id_created_at", "signal_id", "created_at"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    signal_id: Mapped[str] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    # The lead who acted (the reporter for "revealed"); NULL for an anonymous reporter's reply
    # and for the app's reminders.
    actor_id: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
