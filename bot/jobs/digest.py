"""The digest jobs: the scheduled post, the catch-up, and `ai-signal digest send`.

The sending itself (claim, gather, link, post, record — once per channel and period) is
`handlers.digest_sender.DigestSender`, built once by the runtime.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.services.digest import SendResult, SendStatus

__all__ = ["SendResult", "SendStatus", "catch_up_digest", "run_digest", "send_digest"]

logger = logging.getLogger("ai_signal.digest")


class DigestSender(Protocol):
    """What the jobs need of the digest sender (`handlers.digest_sender.DigestSender`)."""

    def send(self, *, force: bool = False, manual: bool = False) -> SendResult: ...

    def catch_up(self) -> SendResult: ...


# -- the jobs (the scheduler and `ai-signal digest send` call these with the runtime's sender) -----


def run_digest(sender: DigestSender) -> SendResult:
    """The scheduled job: post this period's digest (once, whichever instance gets there)."""
    result = sender.send()
    if result.status is SendStatus.ALREADY_SENT:
        logger.info("digest for %s was already sent", result.period.start.isoformat())
    return result


def catch_up_digest(sender: DigestSender) -> SendResult:
    """At start and every few minutes: a missed or failed digest is posted (once)."""
    return sender.catch_up()


def send_digest(sender: DigestSender, *, force: bool = False) -> SendResult:
    """Post the current period's digest now, as `ai-signal digest send` does (and the demo).

    The period is taken from the sender's clock: a clock just past the next fire time makes the
    digest cover the week in progress. A failed claim is retried at once, not at its retry time.
    """
    return sender.send(force=force, manual=True)
