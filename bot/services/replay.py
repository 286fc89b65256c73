"""The replay guard: a request Slack sends twice (a retry, a double submit) is handled once.

Each request id is stored only as a keyed hash, with the hour it was seen (not the minute), so a
row cannot date the anonymous signal written in the same transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.db import DEFAULT_DEADLINE_MS, insert_ignoring_duplicates
from bot.services.keyed import keyed_hash
from bot.services.transactions import request_transaction
from bot.services.vocabulary import to_the_hour
from models import SeenRequest

# Kept for at least an hour (Slack's replay window is 5 minutes).
SEEN_REQUEST_TTL = timedelta(hours=1)
PURGE_EVERY = timedelta(minutes=5)


class ReplayGuard:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        key: bytes,
        clock: Clock = utc_now,
        deadline_ms: int | None = DEFAULT_DEADLINE_MS,
    ) -> None:
        self._sessions = sessions
        self._key = key
        self._clock = clock
        self._deadline_ms = deadline_ms
        self._purged_at: datetime | None = None

    def record_request(
        self, session: Session | Connection, request_key: str, now: datetime
    ) -> bool:
        """Inside a caller's transaction: False when this request id was already handled."""
        key = keyed_hash(self._key, request_key)
        hour = to_the_hour(now)
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
            self._sessions, deadline_ms=self._deadline_ms, busy="The database was busy."
        ) as session:
            return self.record_request(session, request_key, self._clock())
