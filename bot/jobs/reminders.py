"""The acknowledgement reminder job: a nudge in the thread of signals nobody acknowledged."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger("ai_signal.reminders")

REMINDER_JOB_ID = "ack-reminders"
CHECK_EVERY = timedelta(minutes=10)


def send_reminders(runtime: Runtime) -> list[str]:
    """Claim due reminders (each exactly once across instances) and let the worker post them."""
    every = timedelta(hours=runtime.settings.ack_reminder_hours)
    refs = runtime.services.triage.claim_reminders(every=every)
    if refs:
        logger.info("reminders queued for %s", ", ".join(refs))
    return refs


def add_reminder_job(scheduler: BaseScheduler, runtime: Runtime) -> None:
    interval = min(CHECK_EVERY, timedelta(hours=runtime.settings.ack_reminder_hours) / 4)
    scheduler.add_job(
        send_reminders,
        IntervalTrigger(seconds=max(int(interval.total_seconds()), 30)),
        args=[runtime],
        id=REMINDER_JOB_ID,
        name="acknowledgement reminders",
        replace_existing=True,
    )
