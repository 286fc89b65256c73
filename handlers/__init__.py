"""Slack listeners: thin functions that ack, parse, call one service, build blocks, call Slack."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import actions, commands, errors, events, views


def register(app: App, services: Services) -> None:
    errors.register(app)
    events.register(app, services)
    commands.register(app, services)
    views.register(app, services)
    actions.register(app, services)
