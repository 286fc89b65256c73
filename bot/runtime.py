"""Wiring: settings -> engine, services, Slack client, Bolt app, delivery worker."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.app import BotAuthorization, create_app
from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.health import Monitor
from bot.jobs.delivery import SLACK_PACE, DeliveryWorker, Pace
from bot.services import Services
from bot.services.delivery import DeliveryService
from bot.services.signals import SignalService
from bot.services.triage import TriageService
from handlers.client import create_web_client
from handlers.crowd import CrowdGauge
from handlers.leads import LeadDirectory
from handlers.sender import OutboxSender
from models import Secret

logger = logging.getLogger("ai_signal")

CODE_KEY_NAME = "followup_code_key"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    services: Services
    client: WebClient
    app: App
    worker: DeliveryWorker
    leads: LeadDirectory
    crowd: CrowdGauge
    outbox_client: WebClient | None = None  # no slack_sdk retries: the outbox retries itself
    clock: Clock = utc_now  # what scheduled jobs (the digest) take as "now"
    authorization: BotAuthorization | None = None
    monitor: Monitor | None = None  # /healthz and /metrics (bot.health)

    def warm_up(self) -> None:
        """Learn what request paths must not wait for (the team's size, the bot's ids from
        auth.test, the latter in the background), once at start."""
        if self.authorization is not None:
            self.authorization.learn_in_background()
        self.crowd.small_crowd()

    def stop(self) -> None:
        self.worker.stop()
        self.engine.dispose()


def code_key(settings: Settings, sessions: sessionmaker[Session]) -> bytes:
    """AI_SIGNAL_CODE_KEY when set; otherwise a key generated once and kept in the database."""
    if settings.code_key:
        return settings.code_key.encode()
    with sessions() as session:
        value = session.scalar(select(Secret.value).where(Secret.name == CODE_KEY_NAME))
    if value is None:
        try:
            with sessions.begin() as session:
                session.add(Secret(name=CODE_KEY_NAME, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another instance created it first
        with sessions() as session:
            value = session.scalar(select(Secret.value).where(Secret.name == CODE_KEY_NAME))
    return value.encode()


def build_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    client: WebClient | None = None,
    migrate: bool = True,
    poll_interval: float = 1.0,
    pace: Pace = SLACK_PACE,
) -> Runtime:
    if migrate:
        db.upgrade(settings.database_url)
    engine = db.create_db_engine(settings.database_url)
    sessions = db.create_session_factory(engine)
    # The outbox's (and the digest's) own client: no slack_sdk retries under the outbox's.
    outbox_client = client or create_web_client(settings, retries=False)
    client = client or create_web_client(settings)
    delivery = DeliveryService(
        sessions=sessions, clock=clock, lease=timedelta(seconds=settings.outbox_lease_seconds)
    )
    leads = LeadDirectory(client=client, leads=settings.leads, group=settings.lead_group)
    worker = DeliveryWorker(
        delivery=delivery,
        send=OutboxSender(client=outbox_client, leads=leads),
        poll_interval=poll_interval,
        pace=pace,
    )
    key = code_key(settings, sessions)
    signals = SignalService(
        sessions=sessions,
        code_key=key,
        triage_channel=settings.triage_channel,
        anon_delay=settings.anon_delay,
        clock=clock,
        deadline_ms=settings.db_deadline_ms,
    )
    services = Services(
        signals=signals,
        delivery=delivery,
        triage=TriageService(
            sessions=sessions,
            signals=signals,
            code_key=key,
            triage_channel=settings.triage_channel,
            clock=clock,
        ),
        wake_delivery=worker.wake,
    )
    crowd = CrowdGauge(
        client=client, channel=settings.digest_channel, threshold=settings.small_crowd
    )
    authorization = BotAuthorization(client)
    app = create_app(
        settings=settings,
        services=services,
        client=client,
        leads=leads,
        crowd=crowd,
        authorization=authorization,
    )
    monitor = Monitor(engine=engine, sessions=sessions, delivery=delivery, clock=clock)
    monitor.watch_outbox_client(outbox_client)
    monitor.attach(app)
    return Runtime(
        monitor=monitor,
        settings=settings,
        engine=engine,
        sessions=sessions,
        services=services,
        client=client,
        outbox_client=outbox_client,
        app=app,
        worker=worker,
        leads=leads,
        crowd=crowd,
        clock=clock,
        authorization=authorization,
    )
