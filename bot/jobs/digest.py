"""The digest jobs: the scheduled post, the catch-up, and `ai-signal digest send`.

The sending itself (claim, gather, link, post, record — once per channel and period) is
`handlers.digest_sender.DigestSender`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.services.digest import DigestService
from handlers.digest_sender import DigestSender, SendResult, SendStatus

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.runtime import Runtime

__all__ = ["DigestSender", "SendResult", "SendStatus", "catch_up_digest", "run_digest"]

logger = logging.getLogger("ai_signal.digest")


# -- wiring for the scheduler and the command line --------------------------------------------


def digest_service(settings: Settings, sessions: Any, clock: Any) -> DigestService:
    return DigestService(
        sessions=sessions,
        schedule=settings.digest_schedule,
        timezone=settings.timezone,
        reminder_hours=settings.ack_reminder_hours,
        clock=clock,
    )


def sender_for(runtime: Runtime) -> DigestSender:
    settings = runtime.settings
    return DigestSender(
        digest=digest_service(settings, runtime.sessions, runtime.clock),
        client=runtime.outbox_client or runtime.client,
        channel=settings.digest_channel,
        triage_channel=settings.triage_channel,
    )


def run_digest(runtime: Runtime) -> SendResult:
    """The scheduled job: post this period's digest (once, whichever instance gets there)."""
    result = sender_for(runtime).send()
    if result.status is SendStatus.ALREADY_SENT:
        logger.info("digest for %s was already sent", result.period.start.isoformat())
    return result


def catch_up_digest(runtime: Runtime) -> SendResult:
    """At start and every few minutes: a missed or failed digest is posted (once)."""
    return sender_for(runtime).catch_up()


def send_digest(runtime: Runtime, *, force: bool = False) -> SendResult:
    """Post the current period's digest now, as `ai-signal digest send` does (used by the demo).

    The period is taken from `runtime.clock`: a clock just past the next fire time makes the
    digest cover the week in progress.
    """
    return sender_for(runtime).send(force=force, manual=True)
