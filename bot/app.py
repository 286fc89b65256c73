"""The Bolt app factory."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from bot.config import Settings
from bot.leads import LeadDirectory
from bot.services import Services
from handlers import register


def create_app(
    *, settings: Settings, services: Services, client: WebClient, leads: LeadDirectory
) -> App:
    app = App(
        client=client,
        # Socket Mode requests are not signed; Bolt still wants a value.
        signing_secret=settings.signing_secret or "unused-in-socket-mode",
        request_verification_enabled=not settings.socket_mode,
        # The runtime runs auth.test itself, with a clear message when the token is wrong.
        token_verification_enabled=False,
        logger=logging.getLogger("ai_signal.bolt"),
        process_before_response=False,
    )
    register(app, services, leads=leads)
    return app
