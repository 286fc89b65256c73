"""Small pieces of process-independent state: counters, a generated key, replay guards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Counter(Base):
    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Secret(Base):
    """Keys generated on first start when the operator did not configure one."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class SeenRequest(Base):
    """Keyed hashes of request ids (view ids, trigger ids, event ids) already handled.

    Deliberately unrelated to any signal and purged after a short while: it only stops a Slack
    retry, a double click or a replayed request from doing the same thing twice.
    """

    __tablename__ = "seen_requests"
    __table_args__ = (Index("ix_seen_requests_seen_at", "seen_at"), {"sqlite_with_rowid": False})

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
