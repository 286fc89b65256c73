"""A delivery pipeline for the delivery tests: real database, services, sender and worker, the
Slack stand-in over HTTP; the Web API client built as the app builds the outbox's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.jobs.delivery import DeliveryWorker, Pace
from bot.services.delivery import DeliveryService
from bot.services.signals import SignalService
from bot.services.triage import TriageService
from bot.standin import SlackStandIn
from handlers.leads import LeadDirectory
from handlers.sender import OutboxSender
from models import OutboxItem, Signal
from tests.conftest import BOT_TOKEN, TRIAGE

FAST = Pace(rate=100.0, burst=50)


@dataclass
class Pipeline:
    engine: Engine
    sessions: sessionmaker[Session]
    signals: SignalService
    triage: TriageService
    delivery: DeliveryService
    client: WebClient
    sender: OutboxSender
    standin: SlackStandIn
    workers: list[DeliveryWorker]

    def worker(self, *, pace: Pace = FAST, batch: int = 5) -> DeliveryWorker:
        worker = DeliveryWorker(
            delivery=self.delivery, send=self.sender, poll_interval=0.05, batch=batch, pace=pace
        )
        self.workers.append(worker)
        return worker

    def file(self, text: str, *, anonymous: bool = False) -> str:
        return self.signals.file_signal(
            kind="drift", text=text, anonymous=anonymous, reporter_id="UALICE0001"
        ).ref

    def items(self) -> list[OutboxItem]:
        with self.sessions() as session:
            return list(session.scalars(select(OutboxItem)))

    def signal(self, ref: str) -> Signal:
        with self.sessions() as session:
            return session.scalars(select(Signal).where(Signal.ref == ref)).one()

    def posts(self) -> list[dict]:
        return [m for m in self.standin.messages(TRIAGE) if m["thread_ts"] is None]


def make_pipeline(standin: SlackStandIn, url: str, *, timeout: float = 1.0) -> Pipeline:
    standin.add_user("UALICE0001", name="alice.w")  # the named reporter gets private notes
    db.upgrade(url)
    engine = db.create_db_engine(url)
    sessions = db.create_session_factory(engine)
    signals = SignalService(
        sessions=sessions, code_key=b"k", triage_channel=TRIAGE, anon_delay=(0, 0)
    )
    triage = TriageService(
        sessions=sessions, code_key=b"k", triage_channel=TRIAGE, anon_delay=(0, 0)
    )
    # As create_web_client(settings, retries=False) builds it, with a short timeout.
    client = WebClient(token=BOT_TOKEN, base_url=standin.url, timeout=timeout, retry_handlers=[])
    sender = OutboxSender(client=client, leads=LeadDirectory(client=client, leads=(), group=None))
    return Pipeline(
        engine=engine,
        sessions=sessions,
        signals=signals,
        triage=triage,
        delivery=DeliveryService(sessions=sessions),
        client=client,
        sender=sender,
        standin=standin,
        workers=[],
    )


@contextmanager
def pipeline_on(standin: SlackStandIn, url: str) -> Iterator[Pipeline]:
    """A pipeline on the database at `url`; its workers stopped and its engine closed after."""
    built = make_pipeline(standin, url)
    try:
        yield built
    finally:
        for worker in built.workers:
            worker.stop()
        built.engine.dispose()


@pytest.fixture
def pipeline(standin: SlackStandIn, database_url: str) -> Iterator[Pipeline]:
    with pipeline_on(standin, database_url) as built:
        yield built
