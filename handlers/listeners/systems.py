"""AI systems on record: `/ai-signal system NAME` and `/ai-signal systems`, the card's Edit
button, the edit / register form, the type-ahead of systems, and the triage post's Register and
Merge controls for a system not on record. Only leads change anything."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from handlers import ids
from handlers.blocks.kit import modal, section
from handlers.blocks.systems import (
    SYSTEM_USAGE,
    build_not_on_record_text,
    build_system_card,
    build_system_modal,
    build_system_options,
    build_systems_text,
    parse_system_submission,
    ref_of_unknown_system_block,
    system_form_metadata,
)
from handlers.edge import Unreadable, required_text, selected_value, text_field, user_id_of
from handlers.formatting import fit, inline
from handlers.leads import LeadDirectory
from handlers.listeners.errors import tell

logger = logging.getLogger(__name__)

NOT_A_LEAD = (
    "Only leads can edit or register systems, so nothing changed. Leads are set by the app's "
    "admin (AI_SIGNAL_LEADS or AI_SIGNAL_LEAD_GROUP)."
)
LEADS_NOT_KNOWN_YET = (
    "I couldn't confirm who the leads are just now, so nothing was saved. Please submit again "
    "in a moment."
)


class SystemListeners:
    def __init__(self, services: Services, leads: LeadDirectory) -> None:
        self._systems = services.systems
        self._triage = services.triage
        self._leads = leads

    # -- commands ------------------------------------------------------------------------------

    def command(
        self, ack: Ack, body: dict, client: WebClient, respond: Respond, *, word: str, rest: str
    ) -> None:
        """`/ai-signal systems` (a private list) or `/ai-signal system NAME` (the card)."""
        if word == "systems":
            ack(text=build_systems_text(self._systems.list_systems()), response_type="ephemeral")
            return
        if not rest:
            ack(text=SYSTEM_USAGE, response_type="ephemeral")
            return
        user_id = body["user_id"]
        card = self._systems.card(name=rest)
        if (
            card is None
            and self._leads.group_known
            and not self._leads.is_lead(user_id, cached=True)
        ):
            ack(text=build_not_on_record_text(rest), response_type="ephemeral")
            return
        ack()  # finding out who is a lead may mean asking Slack for the lead group
        lead = self._leads.is_lead(user_id)
        if card is not None:
            view = build_system_card(card, can_edit=lead)
        elif lead:
            view = build_system_modal(None, name=rest)
        else:
            respond(text=build_not_on_record_text(rest), response_type="ephemeral")
            return
        self._open(client, trigger_id=body["trigger_id"], view=view, respond=respond)

    # -- the card's Edit button ------------------------------------------------------------------

    def handle_system_edit_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        user_id = user_id_of(body)
        system_id = text_field(body["actions"][0], "value", what="action value")
        card_view_id = text_field(body.get("view"), "id", what="view.id")
        trigger_id = required_text(body, "trigger_id")
        ack()
        if not self._leads.is_lead(user_id):
            notice = modal(title="Not changed", close="Close", blocks=[section(NOT_A_LEAD)])
            self._open(client, trigger_id=trigger_id, view=notice, push=True)
            return
        record = self._systems.get(system_id=system_id)
        view = build_system_modal(record, card_view_id=card_view_id)
        self._open(client, trigger_id=trigger_id, view=view, push=True)

    # -- the edit / register form -----------------------------------------------------------------

    def handle_system_modal_submission(
        self, ack: Ack, body: dict, view: dict, client: WebClient
    ) -> None:
        user_id = user_id_of(body)
        system_id, card_view_id = system_form_metadata(view)
        fields = parse_system_submission(view)
        if not self._leads.is_lead(user_id, cached=True):
            refusal = NOT_A_LEAD if self._leads.group_known else LEADS_NOT_KNOWN_YET
            ack(response_action="errors", errors={ids.SYSTEM_NAME_BLOCK: refusal[:150]})
            self._leads.refresh()
            return
        saved = self._systems.save(system_id=system_id, fields=fields)
        card = self._systems.card(name=saved.record.name)
        if card is None:  # removed meanwhile: nothing to show
            ack()
            return
        updated = build_system_card(card, can_edit=True)
        if not card_view_id:
            ack(response_action="update", view=updated)
            return
        ack()  # closes the form; the card underneath shows the saved record
        try:
            client.views_update(view_id=card_view_id, view=updated)
        except SlackApiError as error:
            logger.warning("views.update failed: %s", error.response.get("error"))

    # -- type-ahead ------------------------------------------------------------------------------

    def handle_system_options(self, ack: Ack, body: dict) -> None:
        query = text_field(body, "value", what="block_suggestion value")
        ack(options=build_system_options(self._systems.suggest(query=query)))

    # -- the triage post's controls for a system not on record ---------------------------------

    def handle_system_register_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        if not self._acked_for_lead(ack, body, client):
            return
        ref = text_field(body["actions"][0], "value", what="action value")
        name = self._triage.detail(ref=ref).signal.system or ""
        record = self._systems.find(name=name) if name else None
        if record is not None:
            tell(client, body, f"{inline(name)} is already on record as {inline(record.name)}.")
            return
        view = build_system_modal(None, name=name)
        self._open(client, trigger_id=required_text(body, "trigger_id"), view=view, body=body)

    def handle_system_merge_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        action = body["actions"][0]
        ref = ref_of_unknown_system_block(text_field(action, "block_id", what="block_id"))
        into = selected_value(action)
        if not into:
            raise Unreadable("selected_option")
        if not self._acked_for_lead(ack, body, client):
            return
        name = self._triage.detail(ref=ref).signal.system or ""
        saved = self._systems.merge(name=name, into=into)
        count = saved.rewritten
        tell(
            client,
            body,
            fit(
                f"“{inline(name)}” is now another name of *{inline(saved.record.name)}*; "
                f"{count} signal{'s' if count != 1 else ''} now name{'s' if count == 1 else ''} "
                "it by its name.",
                3000,
            ),
        )

    # -- internals -------------------------------------------------------------------------------

    def _acked_for_lead(self, ack: Ack, body: dict, client: WebClient) -> bool:
        user_id = user_id_of(body)
        ack()
        if self._leads.is_lead(user_id):
            return True
        tell(client, body, NOT_A_LEAD)
        return False

    @staticmethod
    def _open(
        client: WebClient,
        *,
        trigger_id: str,
        view: dict,
        push: bool = False,
        body: dict | None = None,
        respond: Respond | None = None,
    ) -> None:
        try:
            if push:
                client.views_push(trigger_id=trigger_id, view=view)
            else:
                client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as error:
            logger.warning(
                "views.%s failed: %s", "push" if push else "open", error.response.get("error")
            )
            if body is not None:
                tell(client, body, "Slack didn't open the form in time — please press it again.")
            elif respond is not None and respond.response_url is not None:
                respond(
                    text="Sorry — Slack didn't open it in time. Please run the command again.",
                    response_type="ephemeral",
                    replace_original=False,
                )


def register(app: App, services: Services, *, leads: LeadDirectory) -> SystemListeners:
    listeners = SystemListeners(services, leads)
    app.action(ids.SYSTEM_EDIT_ACTION)(listeners.handle_system_edit_action)
    app.action(ids.SYSTEM_REGISTER_ACTION)(listeners.handle_system_register_action)
    app.action(ids.SYSTEM_MERGE_ACTION)(listeners.handle_system_merge_action)
    app.view_submission(ids.SYSTEM_MODAL)(listeners.handle_system_modal_submission)
    app.options(ids.SYSTEM_PICK_INPUT)(listeners.handle_system_options)
    app.options(ids.SYSTEM_MERGE_ACTION)(listeners.handle_system_options)
    return listeners
