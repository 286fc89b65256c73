"""Button presses."""

from __future__ import annotations

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.services import Services
from handlers import blocks, ids
from handlers.commands import open_modal


def register(app: App, services: Services) -> None:
    def handle_home_open_modal_action(
        ack: Ack, body: dict, client: WebClient, respond: Respond
    ) -> None:
        ack()
        open_modal(client, respond, trigger_id=body["trigger_id"], view=blocks.build_signal_modal())

    app.action(ids.HOME_OPEN_MODAL_ACTION)(handle_home_open_modal_action)
