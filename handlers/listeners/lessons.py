"""The lessons library from Slack: `/ai-signal lessons …` (called by the command listener), its
"More" button, and a lead's key-lesson toggle on a resolution reply."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.services import Services
from bot.services.lessons import parse_lessons_query
from handlers import ids
from handlers.blocks.lessons import build_lessons_answer, parse_more_value
from handlers.edge import UNREADABLE_TEXT, text_field, user_id_of
from handlers.leads import LeadDirectory
from handlers.listeners.errors import tell

logger = logging.getLogger(__name__)

KEY_ON = "⭐ {ref}'s lesson is now a key lesson: it comes first in `/ai-signal lessons` and in its system's playbook."
KEY_OFF = "{ref}'s lesson is no longer a key lesson."
NOT_A_LEAD = "Only leads can mark key lessons, so nothing changed."


def team_url_of(context: BoltContext | None) -> str | None:
    """The workspace URL auth.test gave (None until it is known: answers go unlinked)."""
    result = context.authorize_result if context is not None else None
    url = getattr(result, "url", None)
    return url if isinstance(url, str) and url.startswith("https://") else None


def lessons_answer(services: Services, *, text: str, context: BoltContext | None) -> dict[str, Any]:
    """The first page of `/ai-signal lessons <text>` (BadLessonsQuery for a filter that cannot
    be read: the error handler answers with its sentence)."""
    page = services.lessons.search(query=parse_lessons_query(text))
    return build_lessons_answer(page, team_url=team_url_of(context))


def register(app: App, services: Services, *, leads: LeadDirectory) -> None:
    def handle_lessons_more_action(
        ack: Ack, body: dict, respond: Respond, context: BoltContext
    ) -> None:
        value = text_field(body["actions"][0], "value", what="action value")
        ack()
        if not respond.response_url:
            return  # a button on a private answer always comes with one; nothing to answer
        parsed = parse_more_value(value)
        if parsed is None:
            respond(text=UNREADABLE_TEXT, response_type="ephemeral", replace_original=False)
            return
        query, page = parsed
        answer = build_lessons_answer(
            services.lessons.search(query=query, page=page), team_url=team_url_of(context)
        )
        respond(response_type="ephemeral", replace_original=True, **answer)

    def handle_key_lesson_action(ack: Ack, body: dict, client: WebClient) -> None:
        user_id = user_id_of(body)
        ref = text_field(body["actions"][0], "value", what="action value")
        ack()
        if not leads.is_lead(user_id):
            tell(client, body, NOT_A_LEAD)
            return
        result = services.lessons.toggle_key_lesson(ref=ref, lead_id=user_id)
        tell(client, body, (KEY_ON if result.key else KEY_OFF).format(ref=result.ref))

    app.action(ids.LESSONS_MORE_ACTION)(handle_lessons_more_action)
    app.action(ids.KEY_LESSON_ACTION)(handle_key_lesson_action)
