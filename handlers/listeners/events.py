"""Events: de-duplication of Slack's retries, and the App Home tab."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from bot.services import Services
from handlers.blocks.home import build_home_view
from handlers.leads import LeadDirectory
from handlers.listeners.queue import QueueListeners


def register(app: App, services: Services, *, leads: LeadDirectory, queue: QueueListeners) -> None:
    def skip_repeated_events(
        body: dict, next: Callable[[], BoltResponse | None]
    ) -> BoltResponse | None:
        # Slack retries events it thinks were not acknowledged; Bolt does not de-duplicate them.
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not services.signals.first_time("event:" + event_id):
            return BoltResponse(status=200, body="")
        return next()

    def handle_app_home_opened_event(event: dict, client: WebClient, context: BoltContext) -> None:
        user_id = event.get("user")
        if event.get("tab") != "home" or not isinstance(user_id, str) or not user_id:
            return
        if leads.is_lead(user_id):
            queue.publish_home(client, user_id=user_id, context=context)
            return
        own = services.signals.recent_own_signals(user_id=user_id, limit=20)
        client.views_publish(user_id=user_id, view=build_home_view(own_signals=own))

    app.middleware(skip_repeated_events)
    app.event("app_home_opened")(handle_app_home_opened_event)
