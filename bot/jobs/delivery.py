"""The delivery worker: posts what the outbox holds, paced to Slack's rate limits, once.

Runs on one daemon thread per process. Several processes may run against one database; the
outbox lease makes sure each item is in one worker's hands at a time, and `channel_budget`
paces every channel across them (one post a second, short bursts) and holds a channel that
Slack answered 429 (Retry-After) or whose last send went unanswered.

Exactly once: chat.postMessage has no idempotency key. Every post carries its outbox item's
random id in its message metadata, and the item records that an attempt started before the
call. An item claimed with an unfinished attempt (the process died, the answer timed out or
the connection broke after sending, Slack answered 5xx) is first looked for in the channel's
history; found, it is recorded as sent and not posted again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from bot.services.delivery import DeliveryService, DeliveryTask
from bot.services.errors import SendFailure, SendRefused
from models import OutboxPurpose

logger = logging.getLogger("ai_signal.delivery")

# After an idle round, how long a wake-up waits for others to join it; longer while a channel
# is paused after a 429.
WAKE_SETTLE_SECONDS = 0.02
PAUSED_SETTLE_SECONDS = 0.25

# Makes the Slack call an item stands for; returns where it landed (or None: nothing to send).
Sender = Callable[[DeliveryTask], Any]


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … seconds, the base capped at five minutes, then ±20 % jitter (so up to six
    minutes) so that instances don't stampede."""
    base = min(2 ** max(attempts - 1, 0), 300)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


# Posts (chat.postMessage) count against Slack's per-channel limit and are paced; an update of
# the parent post does not post a new message.
PACED = frozenset(
    {
        OutboxPurpose.TRIAGE_POST.value,
        OutboxPurpose.THREAD_REPLY.value,
        OutboxPurpose.REPORTER_NOTICE.value,
        OutboxPurpose.OWNER_NOTICE.value,
        OutboxPurpose.ESCALATION.value,
    }
)
# Posts looked for in the channel's history before a resend whose earlier attempt may have
# reached Slack. Not the parent update: a repeated chat.update writes the same state onto the
# same message, harmless. Not the private note to a named reporter: it lives in a DM the app
# does not read (no im:history scope); a repeat there is the lesser harm than a lost note.
CHECKED = frozenset(
    {
        OutboxPurpose.TRIAGE_POST.value,
        OutboxPurpose.THREAD_REPLY.value,
        OutboxPurpose.ESCALATION.value,
    }
)


@dataclass(frozen=True)
class Pace:
    """Slack's documented chat.postMessage limit: about one message per second per channel,
    short bursts tolerated. `max_wait`: a worker waits for a slot at most this long, otherwise
    it gives the item back and serves other channels meanwhile."""

    rate: float = 1.0
    burst: int = 3
    max_wait: float = 2.0


SLACK_PACE = Pace()


class DeliveryWorker:
    def __init__(
        self,
        *,
        delivery: DeliveryService,
        send: Sender,
        poll_interval: float = 1.0,
        batch: int = 5,
        settle: float = WAKE_SETTLE_SECONDS,
        pace: Pace = SLACK_PACE,
    ) -> None:
        self._delivery = delivery
        self._send = send
        self._poll_interval = poll_interval
        self._batch = batch
        self._settle = settle
        self.pace = pace
        self._wake = threading.Event()
        self._stop = threading.Event()
        # One round at a time per worker: the loop's and drain()'s (thread order within a worker)
        self._rounds = threading.Lock()
        self._thread: threading.Thread | None = None
        # This worker's hint of when a channel is worth claiming from again (the shared truth
        # is the channel's row in channel_budget: its pause and next send slot).
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
                with self._rounds:
                    worked = self.run_once()
            except Exception:
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
            # most wake-ups are more items for that channel: settle longer then, but still come
            # round for the other channels.
            self._stop.wait(self._settle if resume is None else PAUSED_SETTLE_SECONDS)
        self._wake.clear()

    def _next_resume(self) -> float | None:
        """Seconds until the first held channel may be posted to again; None if none is."""
        now = time.monotonic()
        waits = [until - now for until in self._channel_paused_until.values() if until > now]
        return min(waits) if waits else None

    def _hold_locally(self, channel: str, seconds: float) -> None:
        self._channel_paused_until[channel] = time.monotonic() + max(seconds, 0.0)

    def drain(self, *, max_rounds: int = 1000) -> int:
        """Deliver in the calling thread, round after round, until a round finds nothing due;
        return how many items were sent or settled.

        For tests and tools that want delivery finished before they look, without a background
        thread to poll: after `drain()` returns, nothing that was due is still pending, unless
        another worker holds its lease or its channel is held back. Its rounds take turns with
        the background loop's (a round in progress is finished first), so one worker still
        delivers one round at a time.
        """
        total = 0
        for _ in range(max_rounds):
            with self._rounds:
                worked = self.run_once()
            if not worked:
                return total
            total += worked
        raise RuntimeError(f"the outbox was still busy after {max_rounds} rounds")

    def run_once(self) -> int:
        """Deliver what is due now; return how many items were sent or settled."""
        now = time.monotonic()
        held = {c for c, until in self._channel_paused_until.items() if until > now}
        tasks = self._delivery.claim_due(limit=self._batch, skip_channels=frozenset(held))
        worked = 0
        for index, task in enumerate(tasks):
            if self._stop.is_set():
                # Shutting down: hand the rest back at once, so the next start (or another
                # instance) sends them without waiting for the lease to run out.
                self._delivery.release(item_ids=[t.item_id for t in tasks[index:]])
                break
            if task.channel in held:
                # The channel was held back during this batch: its later items keep their
                # place in the queue (thread order) and wait with it.
                self._delivery.release(item_ids=[task.item_id])
                continue
            if self._deliver(task):
                worked += 1
            else:
                held.add(task.channel)
        return worked

    def _deliver(self, task: DeliveryTask) -> bool:
        """Send one item; False when its channel is held back and the item was given back."""
        if task.unsure_since is not None:
            if task.purpose in CHECKED:
                checked = self._look_up(task)
                if checked is None:
                    return False
                if checked:
                    return True
            self._delivery.clear_attempt(item_id=task.item_id)
        if task.purpose in PACED and not self._wait_for_slot(task):
            return False
        if not self._delivery.begin_attempt(item_id=task.item_id, attempts=task.attempts):
            logger.warning(
                "%s: %s was taken over by another worker before it was sent; left to it",
                task.signal.ref,
                task.purpose,
            )
            return True
        try:
            sent = self._send(task)
        except SendRefused as refused:
            return self._handle_refusal(task, refused.failure)
        except URLError as error:
            # urllib wraps what fails while connecting and sending: Slack has not got it.
            self._hold(task, backoff(task.attempts), f"connection: {error}", sent=False)
            return False
        except (OSError, TimeoutError, HTTPException) as error:
            # Sent, and then the answer timed out or the connection broke: Slack may have it.
            self._hold(task, backoff(task.attempts), f"no answer: {type(error).__name__}", None)
            return False
        self._delivery.mark_sent(
            item_id=task.item_id,
            channel=sent.channel if sent else task.channel,
            ts=sent.ts if sent else "",
        )
        logger.info("%s: %s delivered", task.signal.ref, task.purpose)
        return True

    def _look_up(self, task: DeliveryTask) -> bool | None:
        """Is the item already in Slack from an earlier attempt? True: recorded as sent now;
        False: not there, send it; None: could not look, the channel waits and tries again."""
        find = getattr(self._send, "find", None)
        if find is None:
            return False
        try:
            found = find(task)
        except SendRefused as refused:
            code = refused.failure.code
            if code in ("missing_scope", "not_allowed_token_type"):
                logger.warning(
                    "%s: cannot read the channel's history (%s) to check an unanswered post; "
                    "sending it again. Reinstall the app with the history scopes of manifest.yml.",
                    task.signal.ref,
                    code,
                )
                return False
            self._hold(task, backoff(task.attempts), f"history: {code}", None)
            return None
        except (OSError, TimeoutError, HTTPException) as error:
            self._hold(task, backoff(task.attempts), f"history: {type(error).__name__}", None)
            return None
        if found is None:
            return False
        self._delivery.mark_sent(item_id=task.item_id, channel=found.channel, ts=found.ts)
        logger.info(
            "%s: %s was already in Slack from an earlier attempt; not sent again",
            task.signal.ref,
            task.purpose,
        )
        return True

    def _wait_for_slot(self, task: DeliveryTask) -> bool:
        pace = self.pace
        reserved, wait = self._delivery.reserve_send(
            channel=task.channel,
            interval=1.0 / pace.rate,
            burst=pace.burst,
            max_wait=pace.max_wait,
        )
        if not reserved:
            self._delivery.release(item_ids=[task.item_id])
            self._hold_locally(task.channel, wait)
            return False
        if wait > 0 and self._stop.wait(wait):
            self._delivery.release(item_ids=[task.item_id])
            return False
        return True

    def _hold(self, task: DeliveryTask, delay: timedelta, error: str, sent: bool | None) -> None:
        until = self._delivery.hold(
            item_id=task.item_id, channel=task.channel, delay=delay, error=error, sent=sent
        )
        self._hold_locally(task.channel, delay.total_seconds())
        outcome = "not sent" if sent is False else "outcome unknown, checked before a resend"
        logger.warning(
            "%s: %s to %s failed (%s; %s); the channel waits until %s",
            task.signal.ref,
            task.purpose,
            task.channel,
            error,
            outcome,
            until,
        )

    def _handle_refusal(self, task: DeliveryTask, failure: SendFailure) -> bool:
        status, code = failure.status, failure.code
        if failure.retry_after is not None:
            retry_after = failure.retry_after
            self._delivery.hold(
                item_id=task.item_id,
                channel=task.channel,
                delay=timedelta(seconds=retry_after),
                error="ratelimited",
                sent=False,
            )
            self._hold_locally(task.channel, retry_after)
            logger.info(
                "%s: rate limited; waiting %ss as Slack asked", task.signal.ref, retry_after
            )
            return False
        if status == 503:
            # Unavailable: Slack did not take the request in.
            self._hold(task, backoff(task.attempts), f"{status} {code}", sent=False)
            return False
        if status >= 500:
            # Slack failed on its side: the message may or may not have been stored.
            self._hold(task, backoff(task.attempts), f"{status} {code}", sent=None)
            return False
        if not failure.permanent:
            due = self._delivery.mark_retry(
                item_id=task.item_id, delay=backoff(task.attempts), error=f"{status} {code}"
            )
            logger.warning(
                "%s: Slack answered %s %s; retry at %s", task.signal.ref, status, code, due
            )
            return True
        self._delivery.mark_failed(item_id=task.item_id, error=str(code))
        logger.error(
            "%s: Slack refused the post to %s with %r. It is kept and will be retried on the "
            "next start; fix the cause (invite the app, check the channel id).",
            task.signal.ref,
            task.channel,
            code,
        )
        return True
