"""The daily retention run: erase the free text of signals closed longer than the setting.

Every instance schedules it every hour; the claim in the database (`RetentionService.claim_today`)
lets one run per UTC day, so a day missed while no instance was up is made up at the next start.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.services.retention import RetentionRun, RetentionService

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger("ai_signal.retention")

RETENTION_JOB_ID = "retention"
CHECK_EVERY_SECONDS = 3600


def retention_service(runtime: Runtime) -> RetentionService | None:
    days = runtime.settings.retention_days
    if days is None:
        return None
    return RetentionService(
        sessions=runtime.sessions,
        days=days,
        keep_lessons=runtime.settings.retention_keep_lessons,
        clock=runtime.clock,
    )


def run_retention(runtime: Runtime) -> RetentionRun | None:
    """The day's run, when this instance claims it; None otherwise (or retention is off)."""
    service = retention_service(runtime)
    return None if service is None else service.run_if_due()


def add_retention_job(scheduler: BaseScheduler, runtime: Runtime) -> None:
    """Nothing when AI_SIGNAL_RETENTION_DAYS is unset (text is kept, as it always was)."""
    if runtime.settings.retention_days is None:
        return
    from datetime import UTC, datetime

    scheduler.add_job(
        run_retention,
        IntervalTrigger(seconds=CHECK_EVERY_SECONDS),
        args=[runtime],
        id=RETENTION_JOB_ID,
        name="retention",
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )
