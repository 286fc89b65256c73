"""Slack listeners: thin functions that ack, parse, call one service, build blocks, call Slack."""

from __future__ import annotations

from slack_bolt import App

from bot.leads import LeadDirectory
from bot.services import Services
from handlers import actions, commands, errors, events, triage, views


def register(app: App, services: Services, *, leads: LeadDirectory) -> None:
    errors.register(app)
    events.register(app, services, leads=leads)
    commands.register(app, services)
    views.register(app, services)
    actions.register(app, services)
    triage.register(app, services, leads=leads)
