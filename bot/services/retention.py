"""Retention: the free text of signals closed longer than AI_SIGNAL_RETENTION_DAYS is erased.

What stays is what the digest and the lessons search need and nobody can be recognised by:
kind, system, status, pattern, dates and (unless the operator says otherwise) the lesson and the
failed assumption. What goes is everything people wrote about the case: the observation, the
impact, the lead's next step, decline reason and resolution, and every note of its history
(questions, replies). The rows are overwritten in place (UPDATE), so SQLite (`secure_delete`, see
`bot.db`) zeroes the old bytes; the WAL is checkpointed afterwards so no frame keeps them. On
PostgreSQL the old row versions stay in the table files until VACUUM reuses the space (see
PRIVACY.md).

The run is claimed once per UTC day across instances: a conditional update of one counter row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.db import empty_sqlite_wal, insert_ignoring_duplicates
from models import Counter, EventAction, Signal, SignalEvent, SignalStatus

logger = logging.getLogger("ai_signal.retention")

ERASED_TEXT = "(erased: retention period over)"
CLAIM_NAME = "retention_day"
CLOSED = (
    SignalStatus.RESOLVED.value,
    SignalStatus.DECLINED.value,
    SignalStatus.DUPLICATE.value,
)
BATCH = 500


@dataclass(frozen=True)
class RetentionRun:
    signals: int  # signals whose text was erased in this run
    notes: int  # history notes erased


class RetentionService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        days: int,
        keep_lessons: bool = True,
        clock: Clock = utc_now,
    ) -> None:
        self._sessions = sessions
        self._days = days
        self._keep_lessons = keep_lessons
        self._clock = clock

    def claim_today(self) -> bool:
        """True for exactly one caller per UTC day, whichever instance it runs in."""
        today = self._clock().date().toordinal()
        with self._sessions.begin() as session:
            session.execute(
                insert_ignoring_duplicates(session, Counter.__table__).values(
                    name=CLAIM_NAME, value=0
                )
            )
        with self._sessions.begin() as session:
            taken = session.execute(
                update(Counter)
                .where(Counter.name == CLAIM_NAME, Counter.value < today)
                .values(value=today)
            ).rowcount
        return bool(taken)

    def run_if_due(self) -> RetentionRun | None:
        """Erase what is due, once a day across instances; None when the day was claimed already."""
        if not self.claim_today():
            return None
        return self.erase()

    def erase(self) -> RetentionRun:
        """Erase the free text of every signal closed before now minus the retention period."""
        cutoff = self._clock() - timedelta(days=self._days)
        signals = notes = 0
        while True:
            done, erased_notes = self._erase_batch(cutoff)
            signals += done
            notes += erased_notes
            if done < BATCH:
                break
        if signals:
            self._flush_files()
            logger.info(
                "retention: erased the text of %d closed signal(s) and %d note(s)", signals, notes
            )
        return RetentionRun(signals=signals, notes=notes)

    def _due(self, cutoff: datetime):  # type: ignore[no-untyped-def]
        still_there = [
            Signal.text != ERASED_TEXT,
            Signal.impact.is_not(None),
            Signal.next_step.is_not(None),
            Signal.decline_reason.is_not(None),
            Signal.resolution_done.is_not(None),
        ]
        if not self._keep_lessons:
            still_there += [Signal.lesson.is_not(None), Signal.failed_assumption.is_not(None)]
        return and_(
            Signal.status.in_(CLOSED),
            Signal.resolved_at.is_not(None),
            Signal.resolved_at < cutoff,
            or_(*still_there),
        )

    def _erase_batch(self, cutoff: datetime) -> tuple[int, int]:
        values: dict[str, object] = {
            "text": ERASED_TEXT,
            "impact": None,
            "next_step": None,
            "decline_reason": None,
            "resolution_done": None,
        }
        if not self._keep_lessons:
            values |= {"lesson": None, "failed_assumption": None}
        with self._sessions.begin() as session:
            ids = list(session.scalars(select(Signal.id).where(self._due(cutoff)).limit(BATCH)))
            if not ids:
                return 0, 0
            # The status is checked again: a signal reopened meanwhile keeps its text.
            session.execute(
                update(Signal)
                .where(Signal.id.in_(ids), self._due(cutoff))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            notes = session.execute(
                update(SignalEvent)
                .where(
                    SignalEvent.signal_id.in_(ids),
                    SignalEvent.note.is_not(None),
                    # A reminder's note is its number, not text anybody wrote.
                    SignalEvent.action != EventAction.REMINDED.value,
                )
                .values(note=None)
                .execution_options(synchronize_session=False)
            ).rowcount
        return len(ids), notes or 0

    def _flush_files(self) -> None:
        """SQLite: copy the WAL into the database file and empty it, so no old frame keeps the
        erased text (the pages themselves were zeroed by secure_delete), after merging the lessons
        index's segments so no old one keeps an erased word."""
        engine = self._sessions.kw["bind"]
        if engine.dialect.name == "sqlite":
            # The lessons index (migration 0009) drops an erased text from its table at once,
            # but its older index segments keep the words until they are merged: merge them now.
            with engine.begin() as connection:
                connection.exec_driver_sql(
                    "INSERT INTO lessons_fts(lessons_fts) VALUES ('optimize')"
                )
        if not empty_sqlite_wal(engine):
            logger.warning(
                "retention: the WAL could not be emptied (a reader was busy); it is on the next run"
            )
