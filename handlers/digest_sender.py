"""Sending the digest to Slack: claim, gather, link, post, record — once per channel and period.

The claim is taken in the database before anything is posted (see `DigestService.claim`). A post
Slack refuses or cannot receive leaves the claim in place with the error and a retry time; the
catch-up job takes it again later and posts it once. A post that succeeded records its ts, so a
second sender — another instance, a restart at the scheduled minute, `ai-signal digest send` —
posts nothing.

chat.postMessage has no idempotency key: if the process dies after Slack accepted the post and
before the ts is recorded (or the answer is lost), the claim's lease runs out and another sender
takes it. So the post carries the run's random id in its metadata (`ai_signal_digest`), and
before posting, the sender looks for that tag in the digest channel's recent history; found,
the digest is recorded as sent with that ts and not posted again.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services.digest import (
    ClaimOutcome,
    DigestClaim,
    DigestData,
    DigestService,
    Period,
    SendResult,
    SendStatus,
)
from handlers.blocks.digest import (
    CHART_TITLE,
    build_digest_chart,
    build_digest_chart_alt,
    build_digest_message,
)
from handlers.sender import find_tagged
from handlers.slack_errors import classify
from handlers.uploads import UploadFailed, upload_file

logger = logging.getLogger("ai_signal.digest")

DIGEST_EVENT_TYPE = "ai_signal_digest"
RETRY_DELAY = timedelta(minutes=1)
PERMANENT_RETRY_DELAY = timedelta(hours=1)  # e.g. the app was removed from the channel
MAX_RETRY_AFTER = timedelta(minutes=30)


class DigestSender:
    def __init__(
        self,
        *,
        digest: DigestService,
        client: WebClient,
        channel: str,
        triage_channel: str,
        chart: bool = False,
        min_bucket: int = 1,
    ) -> None:
        """`chart`: after each digest, upload its chart (AI_SIGNAL_DIGEST_CHART, on unless
        switched off; the runtime passes the setting)."""
        self._digest = digest
        self._client = client
        self._channel = channel
        self._triage_channel = triage_channel
        self._chart = chart
        self._min_bucket = min_bucket

    def send(self, *, force: bool = False, manual: bool = False) -> SendResult:
        """Post the current period's digest unless it was already posted (or `force`).

        `manual` (the command line) retries a failed claim at once instead of at its retry time.
        """
        period = self._digest.current_period()
        claim = self._digest.claim(
            channel=self._channel, period=period, force=force, take_failed=manual
        )
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return self._not_claimed(claim, period)
        assert claim.run_id is not None
        earlier = self._already_posted(claim.run_id)
        if earlier is not None:
            self._record_sent(claim.run_id, earlier)
            logger.info(
                "digest for %s was already in %s from an earlier attempt (ts %s); not posted again",
                period.start.isoformat(),
                self._channel,
                earlier,
            )
            return SendResult(
                status=SendStatus.SENT,
                period=period,
                channel=self._channel,
                ts=earlier,
                attempt=claim.attempt,
            )
        return self._post(claim.run_id, claim.attempt, period)

    def _not_claimed(self, claim: DigestClaim, period: Period) -> SendResult:
        status = {
            ClaimOutcome.ALREADY_SENT: SendStatus.ALREADY_SENT,
            ClaimOutcome.IN_PROGRESS: SendStatus.IN_PROGRESS,
            ClaimOutcome.RETRY_LATER: SendStatus.RETRY_LATER,
        }[claim.outcome]
        return SendResult(
            status=status,
            period=period,
            channel=self._channel,
            ts=claim.ts,
            attempt=claim.attempt,
            error=claim.last_error,
        )

    def _post(self, run_id: str, attempt: int, period: Period) -> SendResult:
        try:
            data = self._digest.gather(period=period)
            message = build_digest_message(data, links=self._links(data))
            response = self._client.chat_postMessage(
                channel=self._channel,
                text=message["text"],
                blocks=message["blocks"],
                unfurl_links=False,
                unfurl_media=False,
                metadata=digest_tag(run_id),
            )
        except SlackApiError as error:
            return self._failed(run_id, attempt, period, *_classify(error))
        except (URLError, OSError, TimeoutError) as error:
            return self._failed(
                run_id, attempt, period, f"connection: {type(error).__name__}", None
            )
        except Exception as error:
            # Anything else (a database hiccup while gathering): keep the claim retryable.
            self._failed(run_id, attempt, period, type(error).__name__, None)
            raise
        ts = str(response.get("ts") or "")
        self._record_sent(run_id, ts)
        logger.info(
            "digest for %s sent to %s (attempt %d, ts %s)",
            period.start.isoformat(),
            self._channel,
            attempt,
            ts,
        )
        if self._chart:
            self._send_chart(period)
        return SendResult(
            status=SendStatus.SENT, period=period, channel=self._channel, ts=ts, attempt=attempt
        )

    def _send_chart(self, period: Period) -> None:
        """The chart of signals by kind over eight weeks, after the digest (which is recorded
        as sent already): whatever goes wrong here, the text digest stands on its own."""
        try:
            weekly = self._digest.weekly_kinds(period=period, min_bucket=self._min_bucket)
            upload_file(
                self._client,
                channel=self._channel,
                content=build_digest_chart(weekly),
                filename="ai-signal-digest-chart.png",
                title=CHART_TITLE,
                alt_txt=build_digest_chart_alt(weekly),
            )
        except UploadFailed as error:
            logger.warning("the digest's chart was not posted (%s); the digest stands", error)
        except Exception as error:
            logger.warning(
                "the digest's chart was not drawn (%s); the digest stands", type(error).__name__
            )

    def _already_posted(self, run_id: str) -> str | None:
        """The ts of this run's digest if an earlier attempt posted it (its tag is in the
        channel's newest messages). Cannot look: post anyway, the claim is the main guard."""
        try:
            return find_tagged(
                self._client.conversations_history,
                tag=digest_tag(run_id),
                channel=self._channel,
                since=None,
            )
        except (SlackApiError, URLError, OSError, TimeoutError) as error:
            logger.warning(
                "could not read %s's history to check for an earlier digest post (%s)",
                self._channel,
                type(error).__name__,
            )
            return None

    def catch_up(self) -> SendResult:
        """At start and every few minutes: post the current period's digest if it is owed —
        missed because no instance was up, or failed earlier and due for a retry."""
        period = self._digest.current_period()
        if not self._digest.catch_up_due(channel=self._channel, period=period):
            return SendResult(status=SendStatus.NOT_DUE, period=period, channel=self._channel)
        return self.send()

    def _links(self, data: DigestData) -> dict[str, str]:
        """Permalinks to the triage threads of the signals that need attention."""
        links: dict[str, str] = {}
        for item in data.needs_attention:
            if not item.triage_ts:
                continue
            try:
                response = self._client.chat_getPermalink(
                    channel=item.triage_channel or self._triage_channel,
                    message_ts=item.triage_ts,
                )
            except (SlackApiError, URLError, OSError, TimeoutError) as error:
                logger.info("no permalink for %s (%s)", item.ref, type(error).__name__)
                continue
            permalink = response.get("permalink")
            if isinstance(permalink, str):
                links[item.ref] = permalink
        return links

    def _failed(
        self,
        run_id: str,
        attempt: int,
        period: Period,
        error: str,
        retry_in: timedelta | None,
    ) -> SendResult:
        retry_at = self._digest.mark_failed(
            run_id=run_id, error=error, retry_in=retry_in or RETRY_DELAY
        )
        logger.warning(
            "digest for %s to %s failed (%s); kept and retried from %s",
            period.start.isoformat(),
            self._channel,
            error,
            retry_at.isoformat(),
        )
        return SendResult(
            status=SendStatus.FAILED,
            period=period,
            channel=self._channel,
            attempt=attempt,
            error=error,
            retry_at=retry_at,
        )

    def _record_sent(self, run_id: str, ts: str) -> None:
        # Slack has the digest: try hard to write that down, or a later retry would post again.
        for attempt in range(3):
            try:
                self._digest.mark_sent(run_id=run_id, ts=ts)
                return
            except Exception:
                if attempt == 2:
                    raise
                time.sleep(0.5 * (attempt + 1))


def digest_tag(run_id: str) -> dict[str, Any]:
    """Message metadata naming the digest run (a random id; nothing about the period)."""
    return {"event_type": DIGEST_EVENT_TYPE, "event_payload": {"run": run_id}}


def _classify(error: SlackApiError) -> tuple[str, timedelta | None]:
    """What to record for a refused post, and when to try again (None: the usual delay)."""
    failure = classify(error, longest=MAX_RETRY_AFTER)
    if failure.retry_after is not None:
        return failure.label, timedelta(seconds=failure.retry_after)
    if failure.permanent:
        return str(failure.code), PERMANENT_RETRY_DELAY
    return failure.label, None
