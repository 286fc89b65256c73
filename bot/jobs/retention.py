"""The daily retention run: erase the free text of signals closed longer than the setting.

Every instance schedules it every hour; the claim in the database (`RetentionService.claim_today`)
lets one run per UTC day, so a day missed while no instance was up is made up at the next start.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.services.retention import RetentionRun, RetentionService

logger = logging.getLogger("ai_signal.retention")

RETENTION_JOB_ID = "retention"
CHECK_EVERY_SECONDS = 3600


def run_retention(service: RetentionService | None) -> RetentionRun | None:
    """The day's run, when this instance claims it; None otherwise (or retention is off)."""
    return None if service is None else service.run_if_due()


def add_retention_job(scheduler: BaseScheduler, service: RetentionService | None) -> None:
    """Nothing when AI_SIGNAL_RETENTION_DAYS is unset (text is kept, as it always was)."""
    if service is None:
        return
    from datetime import UTC, datetime

    scheduler.add_job(
        run_retention,
        IntervalTrigger(seconds=CHECK_EVERY_SECONDS),
        args=[service],
        id=RETENTION_JOB_ID,
        name="retention",
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )
