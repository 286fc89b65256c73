"""The scheduler inside `ai-signal run`: the weekly digest, its catch-up, the reminders.

One `BackgroundScheduler` per process, created at start (never at import), in UTC with explicit
job defaults. Triggers carry their own timezone: the digest fires on AI_SIGNAL_DIGEST_SCHEDULE in
AI_SIGNAL_TIMEZONE, DST changes included. Coordination between instances happens in the database
(the digest claim, the reminder claim), not here: every instance schedules every job.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.jobs.digest import DigestSender, catch_up_digest, run_digest
from bot.jobs.reminders import add_reminder_job

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.runtime import Runtime

DIGEST_JOB_ID = "digest"
DIGEST_CATCH_UP_JOB_ID = "digest-catch-up"
# A run that could not start on time (a busy or suspended process) still runs within this grace.
MISFIRE_GRACE = timedelta(hours=6)
# How often an instance checks for a digest that is owed (missed or failed) and posts it.
CATCH_UP_EVERY = timedelta(minutes=5)


def create_scheduler() -> BackgroundScheduler:
    return BackgroundScheduler(
        timezone=UTC,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
        },
    )


def digest_trigger(settings: Settings) -> CronTrigger:
    return CronTrigger.from_crontab(settings.digest_schedule, timezone=settings.tzinfo)


def add_digest_job(
    scheduler: BaseScheduler,
    sender: DigestSender,
    *,
    trigger: CronTrigger,
    catch_up_every: timedelta = CATCH_UP_EVERY,
    catch_up_now: bool = True,
) -> None:
    """The digest on its cron schedule, and the catch-up: at once, then every few minutes.

    The catch-up posts a digest owed for the current period — missed while no instance was up,
    or refused by Slack earlier — and nothing otherwise (the claim makes both jobs safe to run
    on every instance at the same minute).
    """
    scheduler.add_job(
        run_digest,
        trigger,
        args=[sender],
        id=DIGEST_JOB_ID,
        name="weekly digest",
        replace_existing=True,
    )
    extra = {"next_run_time": datetime.now(UTC)} if catch_up_now else {}
    scheduler.add_job(
        catch_up_digest,
        IntervalTrigger(seconds=max(int(catch_up_every.total_seconds()), 1)),
        args=[sender],
        id=DIGEST_CATCH_UP_JOB_ID,
        name="digest catch-up and retry",
        replace_existing=True,
        **extra,
    )


def start_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """Create, fill and start the process's scheduler (`ai-signal run`, both connection modes)."""
    scheduler = create_scheduler()
    add_digest_job(scheduler, runtime.digest, trigger=digest_trigger(runtime.settings))
    add_reminder_job(
        scheduler,
        runtime.services.triage,
        every=timedelta(hours=runtime.settings.ack_reminder_hours),
        escalate_to=runtime.settings.escalation_target,
    )
    from bot.jobs.retention import add_retention_job

    add_retention_job(scheduler, runtime.retention)
    if runtime.monitor is not None:
        runtime.monitor.watch_scheduler(scheduler)  # /healthz and /metrics: the last runs
    scheduler.start()
    return scheduler
