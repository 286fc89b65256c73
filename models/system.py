"""An AI system on record: what it is for, how success is defined, where it stands, and the
other names people use for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, new_id


class System(Base):
    __tablename__ = "systems"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # The canonical name, as leads wrote it; `signals.system` holds exactly this.
    name: Mapped[str] = mapped_column(String(200))
    # The name normalised (case and spacing folded): unique, what lookups compare.
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    decision: Mapped[str | None] = mapped_column(Text)
    success: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(16))
    data_sources: Mapped[str | None] = mapped_column(Text)
    constraints: Mapped[str | None] = mapped_column(Text)
    ethics: Mapped[str | None] = mapped_column(Text)
    doc_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SystemAlias(Base):
    __tablename__ = "system_aliases"
    __table_args__ = (Index("ix_system_aliases_system_id", "system_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    system_id: Mapped[str] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(200))
    # Normalised like `System.name_key`; an alias is never another system's name (the service
    # checks), so a key names at most one system.
    alias_key: Mapped[str] = mapped_column(String(200), unique=True)
