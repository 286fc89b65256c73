"""How big is the crowd an anonymous reporter hides in?

Approximated by the member count of the digest channel (the whole team reads it), asked of
Slack with conversations.info and cached. When it is below AI_SIGNAL_SMALL_CROWD the form warns
before an anonymous signal is submitted, and the quick command's receipt says so.
"""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger("ai_signal.crowd")

CACHE_SECONDS = 3600.0
FAILURE_RETRY_SECONDS = 300.0


class CrowdGauge:
    def __init__(self, *, client: WebClient, channel: str, threshold: int) -> None:
        self._client = client
        self._channel = channel
        self._threshold = threshold
        self._members: int | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()

    def small_crowd(self, *, refresh: bool = True) -> int | None:
        """The member count when it is below the threshold; None when big enough or unknown.

        `refresh=False` never waits for Slack (for request paths: acks and trigger ids expire
        after 3 seconds): it answers from the cache and, when the cache is stale, refreshes it
        on a background thread for the next caller.
        """
        if self._threshold <= 0:
            return None
        if refresh:
            members = self._member_count()
        else:
            members = self._members
            if time.monotonic() >= self._next_check and not self._lock.locked():
                threading.Thread(target=self._member_count, daemon=True).start()
        return members if members is not None and members < self._threshold else None

    def _member_count(self) -> int | None:
        with self._lock:
            if time.monotonic() < self._next_check:
                return self._members
            try:
                info = self._client.conversations_info(
                    channel=self._channel, include_num_members=True
                )
                self._members = int(info["channel"].get("num_members"))
                self._next_check = time.monotonic() + CACHE_SECONDS
            except (SlackApiError, OSError, TypeError, ValueError) as error:
                logger.warning(
                    "could not count the digest channel's members (%s)", type(error).__name__
                )
                self._next_check = time.monotonic() + FAILURE_RETRY_SECONDS
            return self._members
