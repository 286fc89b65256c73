"""Who counts as a lead: AI_SIGNAL_LEADS plus members of AI_SIGNAL_LEAD_GROUP (cached)."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger("ai_signal.leads")

GROUP_CACHE_SECONDS = 300.0
FAILURE_RETRY_SECONDS = 30.0


class LeadDirectory:
    def __init__(
        self,
        *,
        client: WebClient,
        leads: tuple[str, ...],
        group: str | None,
        cache_seconds: float = GROUP_CACHE_SECONDS,
    ) -> None:
        self._client = client
        self._leads = frozenset(leads)
        self._group = group
        self._cache_seconds = cache_seconds
        self._members: frozenset[str] = frozenset()
        self._fetched_at: float | None = None
        self._fetched_once = False
        self._lock = threading.Lock()

    def is_lead(self, user_id: str, *, cached: bool = False) -> bool:
        """Whether `user_id` is a lead. May ask Slack for the group (up to the client's timeout)
        when the cached members are stale; `cached=True` never calls Slack and answers from the
        last known members: what a request path uses before its ack (then `refresh()`)."""
        if user_id in self._leads:
            return True
        if cached:
            return user_id in self._members
        return user_id in self._group_members()

    @property
    def group_known(self) -> bool:
        """False while the lead group was never fetched (so a cached answer knows no member)."""
        return self._group is None or self._fetched_once

    def refresh(self) -> None:
        """Fetch the group's members if the cache is stale (after an ack, never before)."""
        self._group_members()

    def _group_members(self) -> frozenset[str]:
        if self._group is None:
            return frozenset()
        with self._lock:
            fresh = self._fetched_at is not None and (
                time.monotonic() - self._fetched_at < self._cache_seconds
            )
            if fresh:
                return self._members
            try:
                users = self._client.usergroups_users_list(usergroup=self._group)["users"]
                self._members = frozenset(users)
                self._fetched_at = time.monotonic()
                self._fetched_once = True
            except (SlackApiError, OSError) as error:
                # Keep the last known members; ask Slack again in a little while, not on every
                # button press while it is failing.
                logger.warning("could not list the lead group (%s)", type(error).__name__)
                self._fetched_at = time.monotonic() - self._cache_seconds + FAILURE_RETRY_SECONDS
            return self._members

    def mention(self) -> str:
        """How to ping the leads in a reminder: the group if there is one, else each lead."""
        if self._group:
            return f"<!subteam^{self._group}>"
        return " ".join(f"<@{lead}>" for lead in sorted(self._leads)) or "Leads"
