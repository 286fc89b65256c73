"""Turns one outbox item into the Slack call it stands for."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from bot.leads import LeadDirectory
from bot.services.delivery import DeliveryTask
from handlers.blocks import build_triage_message
from handlers.triage_blocks import build_reporter_notice, build_thread_reply
from models import OutboxPurpose


@dataclass(frozen=True)
class Sent:
    channel: str
    ts: str


class OutboxSender:
    def __init__(self, *, client: WebClient, leads: LeadDirectory) -> None:
        self._client = client
        self._leads = leads

    def __call__(self, task: DeliveryTask) -> Sent | None:
        """Send `task`; raises SlackApiError / connection errors for the worker to handle."""
        signal = task.signal
        if task.purpose == OutboxPurpose.TRIAGE_POST.value:
            message = build_triage_message(signal, detail=task.detail)
            response = self._client.chat_postMessage(
                channel=task.channel, unfurl_links=False, unfurl_media=False, **message
            )
            return Sent(response["channel"], response["ts"])
        if task.purpose == OutboxPurpose.PARENT_UPDATE.value:
            message = build_triage_message(signal, detail=task.detail)
            response = self._client.chat_update(
                channel=task.detail.triage_channel, ts=task.detail.triage_ts, **message
            )
            return Sent(response["channel"], response["ts"])
        if task.purpose == OutboxPurpose.THREAD_REPLY.value and task.event is not None:
            message = build_thread_reply(
                task.detail, task.event, lead_mention=self._leads.mention()
            )
            response = self._client.chat_postMessage(
                channel=task.detail.triage_channel,
                thread_ts=task.detail.triage_ts,
                unfurl_links=False,
                unfurl_media=False,
                **message,
            )
            return Sent(response["channel"], response["ts"])
        if task.purpose == OutboxPurpose.REPORTER_NOTICE.value and task.event is not None:
            # Named reporters only (the service never queues this for anonymous signals): a
            # message from the app in their DM with it.
            message = build_reporter_notice(task.detail, task.event)
            if message is None:
                return None
            response = self._client.chat_postMessage(
                channel=task.channel, unfurl_links=False, unfurl_media=False, **message
            )
            return Sent(response["channel"], response["ts"])
        return None
