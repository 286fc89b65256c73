"""Button presses."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from handlers import ids
from handlers.blocks.intake import build_signal_modal
from handlers.crowd import CrowdGauge
from handlers.edge import required_text, text_field
from handlers.formatting import command_text_to_plain
from handlers.listeners.commands import open_modal

logger = logging.getLogger(__name__)


def register(app: App, services: Services, *, crowd: CrowdGauge) -> None:
    def handle_home_open_modal_action(ack: Ack, body: dict, client: WebClient) -> None:
        trigger_id = required_text(body, "trigger_id")
        ack()
        open_modal(
            client,
            None,
            trigger_id=trigger_id,
            view=build_signal_modal(small_crowd=crowd.small_crowd(refresh=False)),
        )

    def handle_raise_shortcut(ack: Ack, body: dict, client: WebClient) -> None:
        trigger_id = required_text(body, "trigger_id")
        message = body.get("message") or {}
        channel = text_field(body.get("channel") or {}, "id", what="channel.id")
        message_text = text_field(message, "text", what="message.text")
        message_ts = text_field(message, "ts", what="message.ts")
        ack()
        link = ""
        if channel and message_ts:
            try:
                link = client.chat_getPermalink(channel=channel, message_ts=message_ts)["permalink"]
            except SlackApiError as error:
                logger.warning("chat.getPermalink failed: %s", error.response.get("error"))
        text = command_text_to_plain(message_text)
        if link:
            text = f"{text}\n\nMessage: {link}"
        view = build_signal_modal(
            text=text.strip(), from_message=bool(link), small_crowd=crowd.small_crowd(refresh=False)
        )
        open_modal(client, None, trigger_id=trigger_id, view=view)

    app.action(ids.HOME_OPEN_MODAL_ACTION)(handle_home_open_modal_action)
    app.shortcut(ids.RAISE_SHORTCUT)(handle_raise_shortcut)
