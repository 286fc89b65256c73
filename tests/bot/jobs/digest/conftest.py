"""Helpers for the digest tests: a clock the test sets, signals written straight to the database,
and digest services/senders wired to a database and the Slack stand-in."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.services.digest import DigestService
from bot.standin import SlackStandIn
from handlers.digest_sender import DigestSender
from models import Signal, SignalEvent
from tests.conftest import BOT_TOKEN, DIGEST, TRIAGE

# A Monday an hour after the default schedule (0 9 * * mon, UTC) fired: the period is
# [Mon 23 Feb 09:00, Mon 2 Mar 09:00) and the one before starts Mon 16 Feb 09:00.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PERIOD_START = datetime(2026, 2, 23, 9, 0, tzinfo=UTC)
PERIOD_END = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PREVIOUS_START = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)

# People who must never appear in a digest or an export.
REPORTER = "UALICE0001"
LEAD = "ULEAD00001"
OTHER = "UBOB000002"
PEOPLE = (REPORTER, LEAD, OTHER, "alice.w", "lead.person")


class FixedClock:
    """A clock the test sets and moves: `clock.now = …`, `clock.advance(minutes=5)`."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


_refs = itertools.count(1000)


def add_signal(sessions: sessionmaker[Session], **fields: Any) -> Signal:
    """Insert one signal as the services would have left it. Unset times default sensibly."""
    created = fields.pop("created_at", NOW - timedelta(days=3))
    anonymous = fields.pop("anonymous", False)
    values: dict[str, Any] = {
        "ref": f"SIG-{next(_refs)}",
        "kind": "drift",
        "system": "fraud-model",
        "text": f"observation mentioning <@{OTHER}> and {REPORTER}",
        "impact": f"impact noted by {REPORTER}",
        "anonymous": anonymous,
        "reporter_id": None if anonymous else REPORTER,
        "status": "new",
        "created_at": created,
        "updated_at": created,
    }
    values.update(fields)
    if values.get("posted_at") is None and "posted_at" not in fields:
        values["posted_at"] = created + timedelta(minutes=10)
    with sessions.begin() as session:
        signal = Signal(**values)
        session.add(signal)
    return signal


def add_event(
    sessions: sessionmaker[Session],
    signal: Signal,
    action: str,
    *,
    at: datetime,
    actor_id: str | None = LEAD,
    note: str | None = None,
) -> None:
    with sessions.begin() as session:
        session.add(
            SignalEvent(
                signal_id=signal.id, action=action, actor_id=actor_id, note=note, created_at=at
            )
        )


@dataclass
class Database:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]


def open_database(url: str, *, migrate: bool = True) -> Database:
    if migrate:
        db.upgrade(url)
    engine = db.create_db_engine(url)
    return Database(url=url, engine=engine, sessions=db.create_session_factory(engine))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database: SQLite, and PostgreSQL when reachable."""
    database = open_database(database_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def sqlite_database(sqlite_url: str) -> Iterator[Database]:
    database = open_database(sqlite_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def make_service(
    sessions: sessionmaker[Session],
    clock: FixedClock,
    *,
    schedule: str = "0 9 * * mon",
    timezone: str = "UTC",
    reminder_hours: float = 48,
) -> DigestService:
    return DigestService(
        sessions=sessions,
        schedule=schedule,
        timezone=timezone,
        reminder_hours=reminder_hours,
        clock=clock,
    )


def make_sender(service: DigestService, standin: SlackStandIn) -> DigestSender:
    return DigestSender(
        digest=service,
        client=WebClient(token=BOT_TOKEN, base_url=standin.url, timeout=5),
        channel=DIGEST,
        triage_channel=TRIAGE,
    )


def digest_posts(standin: SlackStandIn) -> list[dict[str, Any]]:
    """The digest messages in the digest channel (not the chart shared after each one)."""
    return [m for m in standin.messages(DIGEST) if not m.get("files")]


def chart_shares(standin: SlackStandIn) -> list[dict[str, Any]]:
    """The digest charts shared in the digest channel (file-share messages)."""
    return [m for m in standin.messages(DIGEST) if m.get("files")]
