"""Slack listeners: thin functions that ack, parse, call one service, build blocks, call Slack."""

from __future__ import annotations

from typing import cast

from slack_bolt import App

from bot.services import Services
from handlers.crowd import CrowdGauge
from handlers.leads import LeadDirectory
from handlers.listeners import (
    actions,
    commands,
    errors,
    events,
    lessons,
    queue,
    systems,
    triage,
    views,
)


def register(bolt: App, services: Services, *, leads: LeadDirectory, crowd: CrowdGauge) -> None:
    errors.register(bolt)
    # Listeners register through the guard: an error after the ack is answered, not lost.
    app = cast(App, errors.GuardedApp(bolt))
    queue_listeners = queue.register(app, services, leads=leads)
    events.register(app, services, leads=leads, queue=queue_listeners)
    on_record = systems.register(app, services, leads=leads)
    commands.register(
        app, services, crowd=crowd, leads=leads, systems=on_record, queue=queue_listeners
    )
    views.register(app, services)
    actions.register(app, services, crowd=crowd)
    triage.register(app, services, leads=leads)
    lessons.register(app, services, leads=leads)
