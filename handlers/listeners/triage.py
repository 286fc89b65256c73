"""Lead actions on the triage post: buttons, the modals they open, and their submissions.

A service's refusal (`ServiceError`) is answered by the error handler; these listeners say only
what is theirs to say: not a lead, nothing changed, Slack did not open the form.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.services.records import ActionResult, SignalDetail
from handlers import ids
from handlers.blocks.kit import status_label
from handlers.blocks.lessons import build_duplicate_modal
from handlers.blocks.triage import (
    build_ask_modal,
    build_resolve_modal,
    build_tracker_modal,
    build_triage_modal,
    parse_values,
    ref_from_view,
)
from handlers.edge import required_text, text_field, user_id_of
from handlers.leads import LeadDirectory
from handlers.listeners.errors import first_block, tell

logger = logging.getLogger(__name__)

NOT_A_LEAD = (
    "Only leads can do that, so nothing changed. Leads are set by the app's admin "
    "(AI_SIGNAL_LEADS or AI_SIGNAL_LEAD_GROUP)."
)
LEADS_NOT_KNOWN_YET = (
    "I couldn't confirm who the leads are just now, so nothing changed. Please submit again "
    "in a moment."
)
FORM_NOT_OPENED = "Slack didn't open the form in time — please press the button again."

# A lead form's submission: (ref, lead id, {block id: value}, request key, is a lead) -> result.
Perform = Callable[[str, str, dict[str, Any], str, bool], ActionResult]


def unchanged_text(result: ActionResult) -> str:
    return f"{result.ref} is already {status_label(result.detail.signal.status)}; nothing changed."


def ref_of(body: dict) -> str:
    # The edge lets through only block_actions with a list of actions whose values are text.
    return text_field(body["actions"][0], "value", what="action value")


class TriageListeners:
    """The lead listeners, bound to the services and the lead directory they use."""

    def __init__(self, services: Services, leads: LeadDirectory) -> None:
        self._services = services
        self._triage = services.triage
        self._leads = leads

    # -- buttons -------------------------------------------------------------------------------

    def handle_acknowledge_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        if self._acked_for_lead(ack, body, client):
            result = self._triage.acknowledge(ref=ref_of(body), lead_id=user_id_of(body))
            self._after_button(result, client, body)

    def handle_reopen_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        if self._acked_for_lead(ack, body, client):
            result = self._triage.reopen(ref=ref_of(body), lead_id=user_id_of(body))
            self._after_button(result, client, body)

    def handle_triage_button_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        self._open_form(ack, body, client, build_triage_modal)

    def handle_tracker_button_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        self._open_form(ack, body, client, build_tracker_modal)

    def handle_ask_button_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        self._open_form(ack, body, client, build_ask_modal, owner_may=True)

    def handle_resolve_button_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        self._open_form(ack, body, client, self._resolve_form, owner_may=True)

    def _resolve_form(self, detail: SignalDetail) -> dict:
        # The review's first questions are prefilled from the system's record, if on record.
        name = detail.signal.system
        system = self._services.systems.find(name=name) if name else None
        return build_resolve_modal(detail, system)

    def handle_duplicate_button_action(self, ack: Ack, body: dict, client: WebClient) -> None:
        self._open_form(ack, body, client, build_duplicate_modal)

    def _acked_for_lead(self, ack: Ack, body: dict, client: WebClient) -> bool:
        user_id = user_id_of(body)  # Unreadable without one: answered by the error handler
        # Ack first: finding out who is a lead may mean asking Slack for the lead group.
        ack()
        if self._leads.is_lead(user_id):
            return True
        tell(client, body, NOT_A_LEAD)
        return False

    def _after_button(self, result: ActionResult, client: WebClient, body: dict) -> None:
        if not result.changed:
            tell(client, body, unchanged_text(result))

    def _open_form(
        self,
        ack: Ack,
        body: dict,
        client: WebClient,
        build: Callable[[SignalDetail], dict],
        *,
        owner_may: bool = False,
    ) -> None:
        """`owner_may`: the signal's owner may use the form too (the service says who owns it;
        anyone else who is no lead gets its NotOwner answer from the error handler)."""
        user_id = user_id_of(body)
        if owner_may and not self._leads.is_lead(user_id, cached=True) and self._leads.group_known:
            # Before the ack (a database read, no Slack call): a refusal raised after the ack
            # would race Bolt's wait for it.
            detail = self._triage.may_act(ref=ref_of(body), user_id=user_id, lead=False)
            ack()
        elif self._acked_for_lead(ack, body, client):
            detail = self._triage.detail(ref=ref_of(body))
        else:
            return
        try:
            client.views_open(trigger_id=required_text(body, "trigger_id"), view=build(detail))
        except SlackApiError as error:
            logger.warning("views.open failed: %s", error.response.get("error"))
            tell(client, body, FORM_NOT_OPENED)

    # -- form submissions ----------------------------------------------------------------------

    def handle_triage_modal_submission(self, ack: Ack, body: dict, view: dict) -> None:
        self._submit(ack, body, view, self._do_triage)

    def handle_tracker_modal_submission(self, ack: Ack, body: dict, view: dict) -> None:
        self._submit(ack, body, view, self._do_tracker)

    def handle_ask_modal_submission(self, ack: Ack, body: dict, view: dict) -> None:
        self._submit(ack, body, view, self._do_ask, owner_may=True)

    def handle_resolve_modal_submission(self, ack: Ack, body: dict, view: dict) -> None:
        self._submit(ack, body, view, self._do_resolve, owner_may=True)

    def handle_duplicate_modal_submission(self, ack: Ack, body: dict, view: dict) -> None:
        self._submit(ack, body, view, self._do_duplicate)

    def _submit(
        self, ack: Ack, body: dict, view: dict, perform: Perform, *, owner_may: bool = False
    ) -> None:
        # Read everything first: Unreadable -> the error handler's answer, nothing stored.
        lead_id = user_id_of(body)
        values = parse_values(view)
        ref = ref_from_view(view)
        view_id = required_text(view, "id", what="view.id")
        # Before the ack only the cached lead group counts; it is refreshed after the ack.
        lead = self._leads.is_lead(lead_id, cached=True)
        if not lead and not (owner_may and self._leads.group_known):
            refusal = NOT_A_LEAD if self._leads.group_known else LEADS_NOT_KNOWN_YET
            ack(response_action="errors", errors={first_block(view): refusal[:150]})
            self._leads.refresh()
            return
        # Not a lead on a form the owner may use: the service checks they own the signal.
        result = perform(ref, lead_id, values, "view:" + view_id, lead)
        if not result.changed and not result.duplicate:
            # A stale form (e.g. another lead resolved the signal meanwhile): say so.
            ack(response_action="errors", errors={first_block(view): unchanged_text(result)})
            return
        ack()
        self._leads.refresh()

    def _do_triage(
        self, ref: str, lead_id: str, v: dict[str, Any], key: str, lead: bool
    ) -> ActionResult:
        return self._triage.triage(
            ref=ref,
            lead_id=lead_id,
            status=v.get(ids.STATUS_BLOCK) or "investigating",
            impact=v.get(ids.IMPACT_LEVEL_BLOCK),
            owner_id=v.get(ids.OWNER_BLOCK),
            note=v.get(ids.NOTE_BLOCK),
            reason=v.get(ids.REASON_BLOCK),
            respond_by=v.get(ids.RESPOND_BY_BLOCK),
            request_key=key,
        )

    def _do_tracker(
        self, ref: str, lead_id: str, v: dict[str, Any], key: str, lead: bool
    ) -> ActionResult:
        url = v.get(ids.TRACKER_BLOCK)
        return self._triage.attach_tracker(ref=ref, lead_id=lead_id, url=url, request_key=key)

    def _do_ask(
        self, ref: str, lead_id: str, v: dict[str, Any], key: str, lead: bool
    ) -> ActionResult:
        question = v.get(ids.QUESTION_BLOCK) or ""
        return self._triage.ask(
            ref=ref, lead_id=lead_id, question=question, request_key=key, lead=lead
        )

    def _do_resolve(
        self, ref: str, lead_id: str, v: dict[str, Any], key: str, lead: bool
    ) -> ActionResult:
        return self._triage.resolve(
            ref=ref,
            lead_id=lead_id,
            done=v.get(ids.DONE_BLOCK) or "",
            assumption=v.get(ids.ASSUMPTION_BLOCK),
            pattern=v.get(ids.PATTERN_BLOCK) or "",
            lesson=v.get(ids.LESSON_BLOCK),
            review={
                "decision": v.get(ids.REVIEW_DECISION_BLOCK),
                "success": v.get(ids.REVIEW_SUCCESS_BLOCK),
                "constraint": v.get(ids.REVIEW_CONSTRAINT_BLOCK),
                "missed_signal": v.get(ids.REVIEW_MISSED_BLOCK),
            },
            request_key=key,
            lead=lead,
        )

    def _do_duplicate(
        self, ref: str, lead_id: str, v: dict[str, Any], key: str, lead: bool
    ) -> ActionResult:
        # Leads only (`_submit` refuses anyone else before this runs).
        return self._triage.mark_duplicate(
            ref=ref, lead_id=lead_id, primary_ref=v.get(ids.PRIMARY_BLOCK) or "", request_key=key
        )


def register(app: App, services: Services, *, leads: LeadDirectory) -> None:
    listeners = TriageListeners(services, leads)
    app.action(ids.ACKNOWLEDGE_ACTION)(listeners.handle_acknowledge_action)
    app.action(ids.REOPEN_ACTION)(listeners.handle_reopen_action)
    app.action(ids.TRIAGE_ACTION)(listeners.handle_triage_button_action)
    app.action(ids.ASK_ACTION)(listeners.handle_ask_button_action)
    app.action(ids.RESOLVE_ACTION)(listeners.handle_resolve_button_action)
    app.action(ids.TRACKER_ACTION)(listeners.handle_tracker_button_action)
    app.view_submission(ids.TRACKER_MODAL)(listeners.handle_tracker_modal_submission)
    app.view_submission(ids.TRIAGE_MODAL)(listeners.handle_triage_modal_submission)
    app.view_submission(ids.ASK_MODAL)(listeners.handle_ask_modal_submission)
    app.view_submission(ids.RESOLVE_MODAL)(listeners.handle_resolve_modal_submission)
    app.action(ids.DUPLICATE_ACTION)(listeners.handle_duplicate_button_action)
    app.view_submission(ids.DUPLICATE_MODAL)(listeners.handle_duplicate_modal_submission)
