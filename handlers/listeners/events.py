"""Events: de-duplication of Slack's retries, and the App Home tab."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot.services import Services
from handlers.blocks.home import build_home_view
from handlers.leads import LeadDirectory
from handlers.listeners.queue import QueueListeners


class SkipRepeatedEvents(Middleware):
    """Slack retries events it thinks were not acknowledged; Bolt does not de-duplicate them.

    A middleware class rather than a function: Bolt calls a function middleware with its
    arguments built by name, every one it could ask for, on every request (commands and
    buttons included), to hand it the body."""

    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def name(self) -> str:
        return "SkipRepeatedEvents"

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse | None]
    ) -> BoltResponse | None:
        body = req.body
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self._services.signals.first_time("event:" + event_id):
            return BoltResponse(status=200, body="")
        return next()


def register(app: App, services: Services, *, leads: LeadDirectory, queue: QueueListeners) -> None:

    def handle_app_home_opened_event(event: dict, client: WebClient, context: BoltContext) -> None:
        user_id = event.get("user")
        if event.get("tab") != "home" or not isinstance(user_id, str) or not user_id:
            return
        if leads.is_lead(user_id):
            queue.publish_home(client, user_id=user_id, context=context)
            return
        own = services.signals.recent_own_signals(user_id=user_id, limit=20)
        client.views_publish(user_id=user_id, view=build_home_view(own_signals=own))

    app.middleware(SkipRepeatedEvents(services))
    app.event("app_home_opened")(handle_app_home_opened_event)
