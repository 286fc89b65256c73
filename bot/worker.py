"""The delivery worker: posts what the outbox holds, honouring Slack's rate limits.

Runs on one daemon thread per process. Several processes may run against one database; the
outbox lease makes sure each item is in one worker's hands at a time.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError

from bot.services.delivery import MAX_BACKOFF, DeliveryService, DeliveryTask

logger = logging.getLogger("ai_signal.delivery")

# Errors that will not go away by themselves: keep the item, report it, stop trying.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "restricted_action",
        "thread_not_found",
        "message_not_found",
        "cant_update_message",
        "user_not_found",
        "cannot_dm_bot",
    }
)

# After an idle round, how long a wake-up waits for others to join it; longer while a channel
# is paused after a 429.
WAKE_SETTLE_SECONDS = 0.02
PAUSED_SETTLE_SECONDS = 0.25

# Makes the Slack call an item stands for; returns where it landed (or None: nothing to send).
Sender = Callable[[DeliveryTask], Any]


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … seconds, capped at five minutes, with jitter so instances don't stampede."""
    base = min(2 ** max(attempts - 1, 0), 300)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


class DeliveryWorker:
    def __init__(
        self,
        *,
        delivery: DeliveryService,
        send: Sender,
        poll_interval: float = 1.0,
        batch: int = 5,
        settle: float = WAKE_SETTLE_SECONDS,
    ) -> None:
        self._delivery = delivery
        self._send = send
        self._poll_interval = poll_interval
        self._batch = batch
        self._settle = settle
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # After a 429 the whole channel waits, not only the message that got it.
        self._channel_paused_until: dict[str, float] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ai-signal-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                logger.exception("delivery round failed; retrying shortly")
                worked = 0
            if not worked:
                self._idle()

    def _idle(self) -> None:
        """Wait for the next round after one that found nothing to send."""
        resume = self._next_resume()
        timeout = self._poll_interval if resume is None else min(self._poll_interval, resume)
        if self._wake.wait(timeout):
            # Every filing and lead action wakes the worker: let a burst of wake-ups settle into
            # one round instead of one database query each. While Slack holds a channel back,
            # most wake-ups are more items for that channel, which a round can only read past:
            # settle longer then, but still come round for the other channels.
            self._stop.wait(self._settle if resume is None else PAUSED_SETTLE_SECONDS)
        self._wake.clear()

    def _next_resume(self) -> float | None:
        """Seconds until the first paused channel may be posted to again; None if none is."""
        now = time.monotonic()
        waits = [until - now for until in self._channel_paused_until.values() if until > now]
        return min(waits) if waits else None

    def run_once(self) -> int:
        """Deliver what is due now; return how many items were handled."""
        now = time.monotonic()
        paused = frozenset(c for c, until in self._channel_paused_until.items() if until > now)
        tasks = self._delivery.claim_due(limit=self._batch, skip_channels=paused)
        for index, task in enumerate(tasks):
            if self._stop.is_set():
                # Shutting down: hand the rest back at once, so the next start (or another
                # instance) sends them without waiting for the lease to run out.
                self._delivery.release(item_ids=[t.item_id for t in tasks[index:]])
                break
            wait = self._channel_paused_until.get(task.channel, 0) - time.monotonic()
            if wait > 0:
                self._delivery.mark_retry(
                    item_id=task.item_id, delay=timedelta(seconds=wait), error="ratelimited"
                )
                continue
            self._deliver(task)
        return len(tasks)

    def _deliver(self, task: DeliveryTask) -> None:
        try:
            sent = self._send(task)
        except SlackApiError as error:
            self._handle_slack_error(task, error)
            return
        except (URLError, OSError, TimeoutError) as error:
            due = self._delivery.mark_retry(
                item_id=task.item_id, delay=backoff(task.attempts), error=f"connection: {error}"
            )
            logger.warning(
                "%s: Slack unreachable (%s); retry at %s",
                task.signal.ref,
                type(error).__name__,
                due,
            )
            return
        self._delivery.mark_sent(
            item_id=task.item_id,
            channel=sent.channel if sent else task.channel,
            ts=sent.ts if sent else "",
        )
        logger.info("%s: %s delivered", task.signal.ref, task.purpose)

    def _handle_slack_error(self, task: DeliveryTask, error: SlackApiError) -> None:
        response = error.response
        status = response.status_code
        code = response.get("error") if isinstance(response.data, dict) else None
        if status == 429 or code == "ratelimited":
            retry_after = retry_after_seconds(response.headers)
            self._channel_paused_until[task.channel] = time.monotonic() + retry_after
            self._delivery.mark_retry(
                item_id=task.item_id, delay=timedelta(seconds=retry_after), error="ratelimited"
            )
            logger.info(
                "%s: rate limited; waiting %ss as Slack asked", task.signal.ref, retry_after
            )
        elif status >= 500 or code not in PERMANENT_ERRORS:
            due = self._delivery.mark_retry(
                item_id=task.item_id, delay=backoff(task.attempts), error=f"{status} {code}"
            )
            logger.warning(
                "%s: Slack answered %s %s; retry at %s", task.signal.ref, status, code, due
            )
        else:
            self._delivery.mark_failed(item_id=task.item_id, error=str(code))
            logger.error(
                "%s: Slack refused the post to %s with %r. It is kept and will be retried on the "
                "next start; fix the cause (invite the app, check the channel id).",
                task.signal.ref,
                task.channel,
                code,
            )


def retry_after_seconds(headers: dict[str, Any]) -> float:
    """Seconds to hold a channel after a 429: Slack's Retry-After, at least 1 s, 30 s when it is
    missing or unreadable, and never longer than the outbox's longest wait (15 minutes)."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return min(max(float(value), 1.0), MAX_BACKOFF.total_seconds())
            except (TypeError, ValueError):
                break
    return 30.0
