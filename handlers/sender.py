"""Turns one outbox item into the Slack call it stands for, and finds it in Slack again.

Every post carries `metadata={"event_type": "ai_signal_outbox", "event_payload": {"item": id}}`
with the outbox item's id: random (uuid4), so the tag neither identifies a reporter nor dates
an anonymous filing. `find` looks for that tag in the channel's history (conversations.history,
or conversations.replies for a thread reply) when an earlier attempt may have reached Slack.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services.delivery import MAX_BACKOFF
from bot.services.errors import SendRefused
from bot.services.records import DeliveryTask
from handlers.blocks.triage import (
    build_escalation,
    build_owner_notice,
    build_reporter_notice,
    build_thread_reply,
    build_triage_message,
)
from handlers.leads import LeadDirectory
from handlers.slack_errors import classify
from models import OutboxPurpose

logger = logging.getLogger("ai_signal.delivery")

EVENT_TYPE = "ai_signal_outbox"
# Slack's clock and ours may differ; the post landed after its attempt started, give or take.
CLOCK_MARGIN = timedelta(minutes=2)
HISTORY_PAGE = 200
HISTORY_PAGES = 10  # at most 2,000 messages after the attempt started are read


@dataclass(frozen=True)
class Sent:
    channel: str
    ts: str


def outbox_tag(item_id: str) -> dict[str, Any]:
    """The message metadata that marks a post as this outbox item (and nothing else)."""
    return {"event_type": EVENT_TYPE, "event_payload": {"item": item_id}}


def find_tagged(
    read: Any, *, tag: dict[str, Any], channel: str, since: datetime | None, **params: Any
) -> str | None:
    """The ts of the message carrying `tag` among those `read` (a WebClient method:
    conversations_history or conversations_replies) returns from `since` on (None: the newest
    pages); None if absent."""
    if since is not None:
        params["oldest"] = f"{(since - CLOCK_MARGIN).timestamp():.6f}"
    cursor = None
    for _ in range(HISTORY_PAGES):
        response = read(
            channel=channel,
            limit=HISTORY_PAGE,
            include_all_metadata=True,
            **({"cursor": cursor} if cursor else {}),
            **params,
        )
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == tag["event_type"]
                and metadata.get("event_payload") == tag["event_payload"]
            ):
                return str(message["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


class OutboxSender:
    def __init__(
        self, *, client: WebClient, leads: LeadDirectory, escalation_group: str | None = None
    ) -> None:
        self._client = client
        self._leads = leads
        self._escalation_group = escalation_group

        self._team_url: str | None = None

    def team_url(self) -> str | None:
        """The workspace's URL (from auth.test, once): "seen before" links are built from it
        and a message's channel and ts. None while Slack cannot say: the refs go unlinked."""
        if self._team_url is None:
            try:
                url = self._client.auth_test().get("url")
            except (SlackApiError, OSError) as error:
                logger.info("auth.test failed (%s): links left out", type(error).__name__)
                return None
            self._team_url = url if isinstance(url, str) and url.startswith("https://") else None
        return self._team_url

    def _triage_message(self, task: DeliveryTask) -> dict[str, Any]:
        return build_triage_message(
            task.signal,
            detail=task.detail,
            related=task.related,
            team_url=self.team_url() if task.related or task.detail.primary else None,
        )

    def __call__(self, task: DeliveryTask) -> Sent | None:
        """Send `task`; raises SendRefused / connection errors for the worker to handle."""
        try:
            return self._send(task)
        except SlackApiError as error:
            raise SendRefused(classify(error, longest=MAX_BACKOFF)) from error

    def find(self, task: DeliveryTask) -> Sent | None:
        """Where the item's post is in Slack if an earlier attempt made it; None otherwise.
        Raises SendRefused / connection errors when the history cannot be read."""
        try:
            return self._find(task)
        except SlackApiError as error:
            raise SendRefused(classify(error, longest=MAX_BACKOFF)) from error

    def _send(self, task: DeliveryTask) -> Sent | None:
        if task.purpose == OutboxPurpose.TRIAGE_POST.value:
            message = self._triage_message(task)
            return self._post(task, message, channel=task.channel)
        if task.purpose == OutboxPurpose.PARENT_UPDATE.value:
            # No metadata: the parent keeps its own tag; a repeated update is harmless.
            message = self._triage_message(task)
            response = self._client.chat_update(
                channel=task.detail.triage_channel, ts=task.detail.triage_ts, **message
            )
            return Sent(response["channel"], response["ts"])
        if task.purpose == OutboxPurpose.THREAD_REPLY.value and task.event is not None:
            message = build_thread_reply(
                task.detail, task.event, lead_mention=self._leads.mention()
            )
            return self._post(
                task, message, channel=task.detail.triage_channel, thread_ts=task.detail.triage_ts
            )
        if task.purpose == OutboxPurpose.ESCALATION.value:
            return self._escalate(task)
        if task.purpose == OutboxPurpose.OWNER_NOTICE.value:
            return self._direct(task, build_owner_notice(task.detail))
        if task.purpose == OutboxPurpose.REPORTER_NOTICE.value and task.event is not None:
            # Named reporters only (the service never queues this for anonymous signals): a
            # message from the app in their DM with it.
            return self._direct(task, build_reporter_notice(task.detail, task.event))
        return None

    def _escalate(self, task: DeliveryTask) -> Sent:
        """The escalation post, with a link to the signal's thread (none if Slack gives none)."""
        link = None
        try:
            link = self._client.chat_getPermalink(
                channel=task.detail.triage_channel, message_ts=task.detail.triage_ts
            )["permalink"]
        except SlackApiError as error:
            logger.warning("chat.getPermalink failed: %s", error.response.get("error"))
        mention = f"<!subteam^{self._escalation_group}>" if self._escalation_group else None
        message = build_escalation(task.detail, link=link, mention=mention)
        return self._post(task, message, channel=task.channel)

    def _post(
        self,
        task: DeliveryTask,
        message: dict[str, Any],
        *,
        channel: str | None,
        thread_ts: str | None = None,
    ) -> Sent:
        """chat.postMessage tagged with the outbox item (so an unanswered attempt can be found
        in the channel's history before a resend), links never unfurled."""
        response = self._client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata=outbox_tag(task.item_id),
            **message,
        )
        return Sent(response["channel"], response["ts"])

    def _direct(self, task: DeliveryTask, message: dict[str, Any] | None) -> Sent | None:
        """A message from the app in the DM of the member `task.channel` names."""
        if message is None:
            return None
        return self._post(task, message, channel=task.channel)

    def _find(self, task: DeliveryTask) -> Sent | None:
        since = task.unsure_since
        if since is None:
            return None
        tag = outbox_tag(task.item_id)
        if task.purpose == OutboxPurpose.TRIAGE_POST.value:
            ts = find_tagged(
                self._client.conversations_history, tag=tag, channel=task.channel, since=since
            )
            return Sent(task.channel, ts) if ts else None
        if task.purpose == OutboxPurpose.ESCALATION.value:
            ts = find_tagged(
                self._client.conversations_history, tag=tag, channel=task.channel, since=since
            )
            return Sent(task.channel, ts) if ts else None
        if task.purpose == OutboxPurpose.THREAD_REPLY.value and task.detail.triage_ts:
            channel = task.detail.triage_channel or task.channel
            ts = find_tagged(
                self._client.conversations_replies,
                tag=tag,
                channel=channel,
                since=since,
                ts=task.detail.triage_ts,
            )
            return Sent(channel, ts) if ts else None
        return None
