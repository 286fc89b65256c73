"""Wiring: settings -> engine, services, Slack client, Bolt app, delivery worker."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
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
from bot.services.digest import DigestService
from bot.services.lessons import LessonsService
from bot.services.queue import QueueService
from bot.services.replay import ReplayGuard
from bot.services.retention import RetentionService
from bot.services.review import ReviewService
from bot.services.signals import SignalService
from bot.services.systems import SystemService
from bot.services.triage import TriageService
from handlers.client import count_calls, create_web_client
from handlers.crowd import CrowdGauge
from handlers.digest_sender import DigestSender
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
    digest: DigestSender  # the one digest sender: the scheduled jobs and the demo use it
    outbox_client: WebClient | None = None  # no slack_sdk retries: the outbox retries itself
    clock: Clock = utc_now  # what scheduled jobs (the digest) take as "now"
    authorization: BotAuthorization | None = None
    monitor: Monitor | None = None  # /healthz and /metrics (bot.health)
    retention: RetentionService | None = None  # None: AI_SIGNAL_RETENTION_DAYS is unset

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


def digest_service(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock
) -> DigestService:
    return DigestService(
        sessions=sessions,
        schedule=settings.digest_schedule,
        timezone=settings.timezone,
        reminder_hours=settings.ack_reminder_hours,
        clock=clock,
    )


def digest_sender(
    settings: Settings, sessions: sessionmaker[Session], *, clock: Clock, client: WebClient
) -> DigestSender:
    """The digest's sender, as the runtime and `ai-signal digest send` build it. `client` is
    one without slack_sdk retries: the claim retries a failed post itself."""
    return DigestSender(
        digest=digest_service(settings, sessions, clock),
        client=client,
        channel=settings.digest_channel,
        triage_channel=settings.triage_channel,
        chart=settings.digest_chart,
        min_bucket=settings.min_bucket,
    )


def retention_service(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock
) -> RetentionService | None:
    if settings.retention_days is None:
        return None
    return RetentionService(
        sessions=sessions,
        days=settings.retention_days,
        keep_lessons=settings.retention_keep_lessons,
        clock=clock,
    )


def _services(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    delivery: DeliveryService,
    clock: Clock,
    wake: Callable[[], None],
) -> Services:
    """The domain services, side by side; `wake` tells the delivery worker a post was queued."""
    key = code_key(settings, sessions)
    guard = ReplayGuard(
        sessions=sessions, key=key, clock=clock, deadline_ms=settings.db_deadline_ms
    )
    common = {
        "sessions": sessions,
        "code_key": key,
        "triage_channel": settings.triage_channel,
        "anon_delay": settings.anon_delay,
        "clock": clock,
        "deadline_ms": settings.db_deadline_ms,
        "guard": guard,
        "wake": wake,
    }
    triage = TriageService(**common)
    return Services(
        signals=SignalService(**common),
        delivery=delivery,
        triage=triage,
        systems=SystemService(
            sessions=sessions,
            triage_channel=settings.triage_channel,
            clock=clock,
            deadline_ms=settings.db_deadline_ms,
            wake=wake,
        ),
        lessons=LessonsService(sessions=sessions, clock=clock, deadline_ms=settings.db_deadline_ms),
        queue=QueueService(
            sessions=sessions, triage=triage, clock=clock, deadline_ms=settings.db_deadline_ms
        ),
        review=ReviewService(
            sessions=sessions,
            min_bucket=settings.min_bucket,
            clock=clock,
            channel=settings.triage_channel,
        ),
    )


def build_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    client: WebClient | None = None,
    migrate: bool = True,
    poll_interval: float = 1.0,
    pace: Pace | None = None,
) -> Runtime:
    """`pace`: Slack's, at AI_SIGNAL_CHANNEL_POSTS_PER_SECOND, unless a test gives its own."""
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
        send=OutboxSender(
            client=outbox_client, leads=leads, escalation_group=settings.escalation_group
        ),
        poll_interval=poll_interval,
        pace=pace or replace(SLACK_PACE, rate=settings.channel_posts_per_second),
    )
    services = _services(settings, sessions, delivery=delivery, clock=clock, wake=worker.wake)
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
    count_calls(outbox_client, monitor)
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
        digest=digest_sender(settings, sessions, clock=clock, client=outbox_client),
        clock=clock,
        authorization=authorization,
        retention=retention_service(settings, sessions, clock),
    )
