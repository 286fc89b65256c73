"""Lead actions on the triage post: buttons, the modals they open, and their submissions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.services.errors import ServiceError
from bot.services.triage import ActionResult, NotAllowed
from handlers import ids
from handlers.blocks import triage as triage_blocks
from handlers.blocks.intake import (
    FIELD_LIMIT,
    required_text,
    state_values,
    status_label,
    text_field,
    user_id_of,
)
from handlers.formatting import escape
from handlers.leads import LeadDirectory

logger = logging.getLogger(__name__)

NOT_A_LEAD = (
    "Only leads can do that, so nothing changed. Leads are set by the app's admin "
    "(AI_SIGNAL_LEADS or AI_SIGNAL_LEAD_GROUP)."
)
LEADS_NOT_KNOWN_YET = (
    "I couldn't confirm who the leads are just now, so nothing changed. Please submit again "
    "in a moment."
)
MODAL_FIELD_BLOCKS = {
    "note": ids.NOTE_BLOCK,
    "reason": ids.REASON_BLOCK,
    "question": ids.QUESTION_BLOCK,
    "done": ids.DONE_BLOCK,
    "assumption": ids.ASSUMPTION_BLOCK,
    "lesson": ids.LESSON_BLOCK,
    "pattern": ids.PATTERN_BLOCK,
    "owner": ids.OWNER_BLOCK,
    "status": ids.STATUS_BLOCK,
    "impact": ids.IMPACT_LEVEL_BLOCK,
}


def tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    """A private line to whoever pressed a button in a channel."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    if not channel:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)
    except SlackApiError as error:
        logger.warning("could not answer privately: %s", error.response.get("error"))


def _unchanged_text(result: ActionResult) -> str:
    return f"{result.ref} is already {status_label(result.detail.signal.status)}; nothing changed."


def register(app: App, services: Services, *, leads: LeadDirectory) -> None:
    triage = services.triage

    def lead_only(handler: Callable[..., None]) -> Callable[..., None]:
        def guarded(ack: Ack, body: dict, client: WebClient) -> None:
            user_id_of(body)  # Unreadable without one: answered by the error handler
            # Ack first: finding out who is a lead may mean asking Slack for the lead group.
            ack()
            if not leads.is_lead(user_id_of(body)):
                tell(client, body, NOT_A_LEAD)
                return
            handler(body=body, client=client)

        guarded.__name__ = handler.__name__
        return guarded

    def ref_of(body: dict) -> str:
        # The edge lets through only block_actions with a list of actions whose values are text.
        return text_field(body["actions"][0], "value", what="action value")

    def after(result: ActionResult, client: WebClient, body: dict) -> None:
        if not result.changed:
            tell(client, body, _unchanged_text(result))

    @lead_only
    def handle_acknowledge_action(body: dict, client: WebClient) -> None:
        try:
            result = triage.acknowledge(ref=ref_of(body), lead_id=user_id_of(body))
        except ServiceError as error:
            tell(client, body, escape(str(error)))
            return
        after(result, client, body)

    @lead_only
    def handle_reopen_action(body: dict, client: WebClient) -> None:
        try:
            result = triage.reopen(ref=ref_of(body), lead_id=user_id_of(body))
        except ServiceError as error:
            tell(client, body, escape(str(error)))
            return
        after(result, client, body)

    def modal_opener(build: Callable[..., dict]) -> Callable[..., None]:
        @lead_only
        def handle_open_modal_action(body: dict, client: WebClient) -> None:
            try:
                detail = triage.detail(ref=ref_of(body))
            except ServiceError as error:
                tell(client, body, escape(str(error)))
                return
            try:
                client.views_open(trigger_id=required_text(body, "trigger_id"), view=build(detail))
            except SlackApiError as error:
                logger.warning("views.open failed: %s", error.response.get("error"))
                tell(
                    client,
                    body,
                    "Slack didn't open the form in time — please press the button again.",
                )

        return handle_open_modal_action

    app.action(ids.ACKNOWLEDGE_ACTION)(handle_acknowledge_action)
    app.action(ids.REOPEN_ACTION)(handle_reopen_action)
    app.action(ids.TRIAGE_ACTION)(modal_opener(triage_blocks.build_triage_modal))
    app.action(ids.ASK_ACTION)(modal_opener(triage_blocks.build_ask_modal))
    app.action(ids.RESOLVE_ACTION)(modal_opener(triage_blocks.build_resolve_modal))

    def submission(perform: Callable[[str, str, dict, str], ActionResult]) -> Callable[..., None]:
        def handle_lead_modal_submission(
            ack: Ack, body: dict, view: dict, client: WebClient
        ) -> None:
            # Read everything first: Unreadable -> the error handler's answer, nothing stored.
            lead_id = user_id_of(body)
            values = triage_blocks.parse_values(view)
            ref = triage_blocks.ref_from_view(view)
            view_id = required_text(view, "id", what="view.id")
            first_block = next(iter(state_values(view)), ids.NOTE_BLOCK)
            # Before the ack only the cached lead group counts; it is refreshed after the ack.
            if not leads.is_lead(lead_id, cached=True):
                refusal = NOT_A_LEAD if leads.group_known else LEADS_NOT_KNOWN_YET
                ack(response_action="errors", errors={first_block: refusal[:150]})
                leads.refresh()
                return
            try:
                result = perform(ref, lead_id, values, "view:" + view_id)
            except ServiceError as error:
                block = MODAL_FIELD_BLOCKS.get(error.field or "", None) or first_block
                ack(response_action="errors", errors={block: str(error)[:FIELD_LIMIT]})
                return
            if not result.changed and not result.duplicate:
                # A stale form (e.g. another lead resolved the signal meanwhile): say so.
                ack(response_action="errors", errors={first_block: _unchanged_text(result)})
                return
            ack()
            leads.refresh()

        return handle_lead_modal_submission

    def do_triage(ref: str, lead_id: str, v: dict, key: str) -> ActionResult:
        status = v.get(ids.STATUS_BLOCK) or "investigating"
        owner = v.get(ids.OWNER_BLOCK)
        if owner and not leads.is_lead(owner, cached=True):
            raise NotAllowed("Choose a lead as the owner.", field="owner")
        try:
            return triage.triage(
                ref=ref,
                lead_id=lead_id,
                status=status,
                impact=v.get(ids.IMPACT_LEVEL_BLOCK),
                owner_id=v.get(ids.OWNER_BLOCK),
                note=v.get(ids.NOTE_BLOCK),
                reason=v.get(ids.REASON_BLOCK),
                request_key=key,
            )
        except NotAllowed as error:
            error.field = error.field or "reason"
            raise

    def do_ask(ref: str, lead_id: str, v: dict, key: str) -> ActionResult:
        return triage.ask(
            ref=ref, lead_id=lead_id, question=v.get(ids.QUESTION_BLOCK) or "", request_key=key
        )

    def do_resolve(ref: str, lead_id: str, v: dict, key: str) -> ActionResult:
        return triage.resolve(
            ref=ref,
            lead_id=lead_id,
            done=v.get(ids.DONE_BLOCK) or "",
            assumption=v.get(ids.ASSUMPTION_BLOCK),
            pattern=v.get(ids.PATTERN_BLOCK) or "",
            lesson=v.get(ids.LESSON_BLOCK),
            request_key=key,
        )

    app.view_submission(ids.TRIAGE_MODAL)(submission(do_triage))
    app.view_submission(ids.ASK_MODAL)(submission(do_ask))
    app.view_submission(ids.RESOLVE_MODAL)(submission(do_resolve))
