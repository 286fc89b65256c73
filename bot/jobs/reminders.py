"""The acknowledgement reminder job: a nudge in the thread of signals nobody acknowledged."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.services.triage import TriageService

logger = logging.getLogger("ai_signal.reminders")

REMINDER_JOB_ID = "ack-reminders"
CHECK_EVERY = timedelta(minutes=10)


def send_reminders(
    triage: TriageService, *, every: timedelta, escalate_to: str | None = None
) -> list[str]:
    """Claim the reminders due for signals unacknowledged for `every` (each exactly once across
    instances), and with `escalate_to` (a channel id) the escalations of signals whose last
    reminder went unanswered for another `every`; the triage service wakes the worker that
    posts them. Returns the refs reminded, then those escalated."""
    refs = triage.claim_reminders(every=every)
    if refs:
        logger.info("reminders queued for %s", ", ".join(refs))
    escalated = triage.claim_escalations(every=every, channel=escalate_to) if escalate_to else []
    if escalated:
        logger.info("escalations queued for %s", ", ".join(escalated))
    return refs + escalated


def add_reminder_job(
    scheduler: BaseScheduler,
    triage: TriageService,
    *,
    every: timedelta,
    escalate_to: str | None = None,
) -> None:
    interval = min(CHECK_EVERY, every / 4)
    scheduler.add_job(
        send_reminders,
        IntervalTrigger(seconds=max(int(interval.total_seconds()), 30)),
        args=[triage],
        kwargs={"every": every, "escalate_to": escalate_to},
        id=REMINDER_JOB_ID,
        name="acknowledgement reminders",
        replace_existing=True,
    )
