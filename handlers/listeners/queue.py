"""The leads' queue: `/ai-signal queue …` (answered privately), its Next / Previous, quick and
bulk Acknowledge, and the leads' Home with its filter menus.

A click on the private answer replaces it through the response_url; a click in Home publishes
Home again. Every click carries the page's state (filter words and keyset position) in its
button's value, Home also in its private_metadata, so no state is kept between requests.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.services import Services
from bot.services.queue import decode_cursor, filter_from_fields, parse_filters
from bot.services.records import QueueCursor, QueueFilter
from handlers import ids
from handlers.blocks.home import build_lead_home
from handlers.blocks.kit import status_label
from handlers.blocks.queue import build_bulk_notice, build_queue_message
from handlers.edge import Unreadable, required_text, state_values, text_field, user_id_of
from handlers.leads import LeadDirectory
from handlers.listeners.errors import tell
from handlers.listeners.triage import LEADS_NOT_KNOWN_YET, NOT_A_LEAD

# A mention as Slack sends it (`<@U123|name>` or `<@U123>`): the filter keeps the id.
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^<>]*)?>")
_FIELD_OF = {
    ids.QUEUE_FILTER_STATUS: "status",
    ids.QUEUE_FILTER_KIND: "kind",
    ids.QUEUE_FILTER_SYSTEM: "system",
    ids.QUEUE_FILTER_OWNER: "owner",
    ids.QUEUE_FILTER_AGE: "older_than_days",
    ids.QUEUE_FILTER_IDENTITY: "identity",
    ids.QUEUE_FILTER_DUE: "overdue",
}


def workspace_url(context: BoltContext) -> str | None:
    """The workspace's URL from auth.test (learned at start), for permalinks; None until known."""
    result = context.authorize_result
    url = getattr(result, "url", None) if result is not None else None
    return url if isinstance(url, str) and url.startswith("https://") else None


def command_words(raw_text: str) -> list[str]:
    """The words after `queue`, with mentions turned into `@U…` ids."""
    words = _MENTION.sub(lambda m: "@" + m.group(1), raw_text).split()
    return words[1:]


def _state(text: str) -> tuple[QueueFilter, QueueCursor | None, QueueCursor | None]:
    """(filters, after, before) from a button's value or Home's private_metadata."""
    try:
        state = json.loads(text) if text else {}
    except ValueError:
        raise Unreadable("queue state") from None
    if not isinstance(state, dict):
        raise Unreadable("queue state")
    filters = filter_from_fields(state.get("f", {}))
    after, before = (_cursor(state, key) for key in ("a", "b"))
    if filters is None:
        raise Unreadable("queue state")
    return filters, after, before


def _cursor(state: dict[str, Any], key: str) -> QueueCursor | None:
    if key not in state:
        return None
    cursor = decode_cursor(state[key]) if isinstance(state[key], str) else None
    if cursor is None:
        raise Unreadable("queue state")
    return cursor


def _selected_refs(body: dict[str, Any]) -> list[str]:
    """The refs ticked in the page's checkboxes (a message's state, or Home's view state)."""
    holder = body.get("view") if isinstance(body.get("view"), dict) else body
    values = state_values(holder)
    chosen = (values.get(ids.QUEUE_SELECT_BLOCK) or {}).get(ids.QUEUE_SELECT_ACTION) or {}
    options = chosen.get("selected_options") or []
    if not isinstance(options, list):
        raise Unreadable("selected_options")
    return [text_field(o, "value", what="selected option") for o in options if isinstance(o, dict)]


class QueueListeners:
    def __init__(self, services: Services, leads: LeadDirectory) -> None:
        self._services = services
        self._queue = services.queue
        self._leads = leads

    # -- the command -----------------------------------------------------------------------

    def answer_command(self, ack: Ack, body: dict, context: BoltContext) -> None:
        """`/ai-signal queue [filters]`: the first page, privately, in the command's answer."""
        lead_id = required_text(body, "user_id")
        # Before the ack only the cached lead group counts; it is refreshed after the ack.
        if not self._leads.is_lead(lead_id, cached=True):
            refusal = NOT_A_LEAD if self._leads.group_known else LEADS_NOT_KNOWN_YET
            ack(text=refusal, response_type="ephemeral")
            self._leads.refresh()
            return
        filters = parse_filters(command_words(text_field(body, "text")), me=lead_id)
        page = self._queue.page(filters=filters)
        message = build_queue_message(page, workspace_url=workspace_url(context))
        ack(response_type="ephemeral", **message)

    # -- clicks ----------------------------------------------------------------------------

    def handle_queue_page_action(
        self, ack: Ack, body: dict, client: WebClient, respond: Respond, context: BoltContext
    ) -> None:
        """Next / Previous: the page the button names."""
        lead_id = self._acked_for_lead(ack, body, client, respond)
        if lead_id is None:
            return
        filters, after, before = _state(self._value(body))
        self._show(body, client, respond, context, filters=filters, after=after, before=before)

    def handle_queue_acknowledge_action(
        self, ack: Ack, body: dict, client: WebClient, respond: Respond, context: BoltContext
    ) -> None:
        """Quick Acknowledge on one line: the same acknowledgement as the triage post's."""
        lead_id = self._acked_for_lead(ack, body, client, respond)
        if lead_id is None:
            return
        value = self._value(body)
        try:
            ref = json.loads(value).get("r", "")
        except (ValueError, AttributeError):
            raise Unreadable("action value") from None
        if not isinstance(ref, str) or not ref:
            raise Unreadable("action value")
        result = self._services.triage.acknowledge(ref=ref, lead_id=lead_id)
        notice = (
            f"{result.ref} acknowledged — thanks."
            if result.changed
            else f"{result.ref} is already {status_label(result.detail.signal.status)}; "
            "nothing changed."
        )
        filters, after, before = _state(value)
        self._show(
            body,
            client,
            respond,
            context,
            filters=filters,
            after=after,
            before=before,
            notice=notice,
        )

    def handle_queue_bulk_action(
        self, ack: Ack, body: dict, client: WebClient, respond: Respond, context: BoltContext
    ) -> None:
        """Acknowledge the ticked signals, each with its own thread reply and parent update."""
        lead_id = self._acked_for_lead(ack, body, client, respond)
        if lead_id is None:
            return
        refs = _selected_refs(body)
        result = self._queue.acknowledge_many(refs=refs, lead_id=lead_id)
        filters, after, before = _state(self._value(body))
        self._show(
            body,
            client,
            respond,
            context,
            filters=filters,
            after=after,
            before=before,
            notice=build_bulk_notice(result),
        )

    def handle_queue_select_action(self, ack: Ack) -> None:
        """Ticking a checkbox: Slack reports every tick; the choice is read when submitted."""
        ack()

    def handle_queue_filter_action(
        self, ack: Ack, body: dict, client: WebClient, respond: Respond, context: BoltContext
    ) -> None:
        """A Home filter menu: Home again, from the first page, with that filter changed."""
        lead_id = self._acked_for_lead(ack, body, client, respond)
        if lead_id is None:
            return
        action = body["actions"][0]
        field = _FIELD_OF.get(text_field(action, "action_id"))
        picked = text_field(action.get("selected_option") or {}, "value", what="selected option")
        if field is None or not picked:
            raise Unreadable("selected option")
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        filters, _, _ = _state(text_field(view, "private_metadata"))
        chosen = QueueFilter() if picked == "any" else parse_filters([picked], me=lead_id)
        filters = dataclasses.replace(filters, **{field: getattr(chosen, field)})
        self._show(body, client, respond, context, filters=filters, after=None, before=None)

    def publish_home(
        self,
        client: WebClient,
        *,
        user_id: str,
        context: BoltContext,
        filters: QueueFilter | None = None,
        after: QueueCursor | None = None,
        before: QueueCursor | None = None,
        notice: str | None = None,
    ) -> None:
        """The leads' Home, with the queue page asked for."""
        overview = self._queue.overview(
            lead_id=user_id, filters=filters, after=after, before=before
        )
        own = self._services.signals.recent_own_signals(user_id=user_id, limit=20)
        view = build_lead_home(
            overview,
            own_signals=own,
            lead_id=user_id,
            workspace_url=workspace_url(context),
            notice=notice,
        )
        client.views_publish(user_id=user_id, view=view)

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _value(body: dict) -> str:
        return text_field(body["actions"][0], "value", what="action value")

    def _acked_for_lead(
        self, ack: Ack, body: dict, client: WebClient, respond: Respond
    ) -> str | None:
        user_id = user_id_of(body)
        ack()  # first: finding out who is a lead may mean asking Slack for the lead group
        if self._leads.is_lead(user_id):
            return user_id
        if respond.response_url:  # a click on the private answer: a line below it, not in place
            respond(text=NOT_A_LEAD, response_type="ephemeral", replace_original=False)
        else:
            tell(client, body, NOT_A_LEAD)
        return None

    def _show(
        self,
        body: dict,
        client: WebClient,
        respond: Respond,
        context: BoltContext,
        *,
        filters: QueueFilter,
        after: QueueCursor | None,
        before: QueueCursor | None,
        notice: str | None = None,
    ) -> None:
        """The page again where the click came from: Home, or the private answer it replaces."""
        user_id = user_id_of(body)
        if (body.get("container") or {}).get("type") == "view":
            self.publish_home(
                client,
                user_id=user_id,
                context=context,
                filters=filters,
                after=after,
                before=before,
                notice=notice,
            )
            return
        page = self._queue.page(filters=filters, after=after, before=before)
        message = build_queue_message(page, workspace_url=workspace_url(context), notice=notice)
        respond(replace_original=True, response_type="ephemeral", **message)


def register(app: App, services: Services, *, leads: LeadDirectory) -> QueueListeners:
    listeners = QueueListeners(services, leads)
    app.action(ids.QUEUE_NEXT_ACTION)(listeners.handle_queue_page_action)
    app.action(ids.QUEUE_PREVIOUS_ACTION)(listeners.handle_queue_page_action)
    app.action(ids.QUEUE_ACK_ACTION)(listeners.handle_queue_acknowledge_action)
    app.action(ids.QUEUE_BULK_ACK_ACTION)(listeners.handle_queue_bulk_action)
    app.action(ids.QUEUE_SELECT_ACTION)(listeners.handle_queue_select_action)
    for action_id in ids.QUEUE_FILTERS:
        app.action(action_id)(listeners.handle_queue_filter_action)
    return listeners
