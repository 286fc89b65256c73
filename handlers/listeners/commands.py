"""`/ai-signal` and its sub-commands. Every answer is private (the ack's ephemeral text)."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.services.errors import EmptyText
from bot.services.report_render import render
from bot.services.signals import split_system
from bot.services.vocabulary import parse_kind
from handlers import ids
from handlers.blocks.intake import (
    build_help_text,
    build_receipt_text,
    build_reveal_modal,
    build_signal_modal,
    build_status_text,
)
from handlers.blocks.review import (
    build_review_failed_text,
    build_review_started_text,
    build_review_summary,
)
from handlers.blocks.triage import build_reporter_status, build_withdrawn_text
from handlers.crowd import CrowdGauge
from handlers.edge import required_text, text_field
from handlers.formatting import command_text_to_plain
from handlers.leads import LeadDirectory
from handlers.listeners.lessons import lessons_answer
from handlers.listeners.queue import QueueListeners
from handlers.listeners.systems import SystemListeners
from handlers.listeners.triage import LEADS_NOT_KNOWN_YET, NOT_A_LEAD
from handlers.uploads import UploadFailed, upload_file

logger = logging.getLogger(__name__)

_REF = re.compile(r"^SIG-[A-Z0-9]{1,10}$", re.IGNORECASE)


def register(
    app: App,
    services: Services,
    *,
    crowd: CrowdGauge,
    leads: LeadDirectory,
    systems: SystemListeners,
    queue: QueueListeners,
) -> None:
    def handle_signal_command(
        ack: Ack, body: dict, client: WebClient, respond: Respond, context: BoltContext
    ) -> None:
        # Slack always sends these (and the parsed form has only strings): without them nothing
        # can be answered or de-duplicated, so Unreadable, answered "couldn't read that; nothing
        # changed" by the error handler before anything is stored. A ServiceError is answered
        # by the error handler too, with its sentence as the ack's private text.
        required_text(body, "user_id")
        required_text(body, "trigger_id")
        text = command_text_to_plain(text_field(body, "text")).strip()
        first, _, rest = text.partition(" ")
        word = first.lower()
        rest = rest.strip()
        if not text:
            ack()
            open_form(client, respond, body=body, crowd=crowd)
        elif word == "help":
            private(ack, build_help_text())
        elif word == "status":
            private(ack, status_answer(services, ref_or_code=rest, user_id=body["user_id"]))
        elif word == "reply":
            answer = reply_answer(
                services,
                words=rest,
                user_id=body["user_id"],
                trigger_id=body.get("trigger_id", ""),
            )
            private(ack, answer)
        elif word == "withdraw":
            private(ack, withdraw_answer(services, ref_or_code=rest, user_id=body["user_id"]))
        elif word == "reveal":
            offer_reveal(ack, client, respond, services, code=rest, body=body)
        elif word in ("system", "systems"):
            systems.command(ack, body, client, respond, word=word, rest=rest)
        elif word == "queue":
            queue.answer_command(ack, body, context)
        elif word == "review":
            review_command(ack, client, respond, services, leads, quarter=rest, body=body)
        elif word == "lessons":
            answer = lessons_answer(services, text=rest, context=context)
            ack(response_type="ephemeral", **answer)
        elif word in ("anon", "anonymous") and not rest:
            ack()  # the choice is made; the form asks for the rest
            open_form(client, respond, body=body, crowd=crowd, anonymous=True)
        elif word in ("anon", "anonymous"):
            file_quick(ack, services, words=rest, anonymous=True, body=body, crowd=crowd)
        elif parse_kind(word) is not None:
            file_quick(ack, services, words=text, anonymous=False, body=body, crowd=crowd)
        else:
            ack()
            open_form(client, respond, body=body, crowd=crowd, text=text)

    app.command(ids.COMMAND)(handle_signal_command)


def open_form(
    client: WebClient, respond: Respond, *, body: dict, crowd: CrowdGauge, **prefill: Any
) -> None:
    """The filing form, pre-filled with what the command already said."""
    view = build_signal_modal(small_crowd=crowd.small_crowd(refresh=False), **prefill)
    open_modal(client, respond, trigger_id=body["trigger_id"], view=view)


def private(ack: Ack, text: str) -> None:
    """Answer the command with a message only the person who ran it sees."""
    ack(text=text, response_type="ephemeral")


def file_quick(
    ack: Ack, services: Services, *, words: str, anonymous: bool, body: dict, crowd: CrowdGauge
) -> None:
    kind, _, text = words.partition(" ")
    if not kind:
        raise EmptyText(
            "Tell me the kind and what you saw, e.g. `/ai-signal anon bias loan-model: rejects more "
            "applicants over 60` — or run `/ai-signal` alone for the form."
        )
    system, text = split_system(text)
    filed = services.signals.file_signal(
        kind=kind,
        text=text,
        system=system,
        anonymous=anonymous,
        reporter_id=None if anonymous else body["user_id"],
        request_key="command:" + body.get("trigger_id", ""),
    )
    if filed.duplicate:
        private(ack, "That command was already handled; nothing new was filed.")
        return
    small = crowd.small_crowd(refresh=False) if anonymous else None
    private(ack, build_receipt_text(filed, small_crowd=small))


def status_answer(services: Services, *, ref_or_code: str, user_id: str) -> str:
    if not ref_or_code:
        return (
            "Add your reference or follow-up code: `/ai-signal status SIG-12` "
            "or `/ai-signal status <code>`."
        )
    if _REF.match(ref_or_code):
        detail = services.triage.own_signal(ref=ref_or_code, user_id=user_id)
        return build_status_text(detail.signal, events=detail.events)
    # The user id only limits how many codes one person may try; the service keeps nothing of it.
    detail = services.triage.reporter_view(code=ref_or_code, requester_id=user_id)
    return build_reporter_status(detail)


def reply_answer(services: Services, *, words: str, user_id: str, trigger_id: str) -> str:
    code, _, text = words.partition(" ")
    if not code or not text.strip():
        raise EmptyText(
            "Use `/ai-signal reply SIG-12 <your answer>` for a signal filed under your name, "
            "or `/ai-signal reply <code> <your answer>` for an anonymous one."
        )
    if _REF.match(code):
        # By reference: only the named reporter of that signal; never an anonymous signal.
        ref = services.triage.reply_as_reporter(
            ref=code, user_id=user_id, text=text, request_key="command:" + trigger_id
        )
        return f"Thanks — your answer is added to *{ref}*; the leads see it in the signal's thread."
    ref = services.triage.reply_anonymously(
        code=code, text=text, requester_id=user_id, request_key="command:" + trigger_id
    )
    return (
        f"Thanks — your answer is added to *{ref}* as “the reporter (anonymous)”. "
        "It appears in the thread after a short delay, so its timing does not point at you."
    )


def withdraw_answer(services: Services, *, ref_or_code: str, user_id: str) -> str:
    if not ref_or_code:
        raise EmptyText(
            "Use `/ai-signal withdraw SIG-12` for a signal filed under your name, or "
            "`/ai-signal withdraw <code>` for an anonymous one."
        )
    if _REF.match(ref_or_code):
        result = services.triage.withdraw_named(ref=ref_or_code, user_id=user_id)
    else:
        # The user id only limits how many codes one person may try; nothing of it is kept.
        result = services.triage.withdraw_anonymously(code=ref_or_code, requester_id=user_id)
    return build_withdrawn_text(result)


def offer_reveal(
    ack: Ack, client: WebClient, respond: Respond, services: Services, *, code: str, body: dict
) -> None:
    """`/ai-signal reveal <code>`: a private confirmation first; nothing is stored until then."""
    if not code:
        raise EmptyText(
            "Use `/ai-signal reveal <code>` with your anonymous signal's follow-up code."
        )
    offer = services.triage.offer_reveal(code=code, user_id=body["user_id"])
    ack()
    view = build_reveal_modal(offer)
    open_modal(client, respond, trigger_id=body["trigger_id"], view=view)


def review_command(
    ack: Ack,
    client: WebClient,
    respond: Respond,
    services: Services,
    leads: LeadDirectory,
    *,
    quarter: str,
    body: dict,
) -> None:
    """`/ai-signal review [2026-Q4]`, leads only: the report is built after the ack and shared
    in the triage channel as an HTML file with a short summary (the leads' channel: the report
    names no person, and the board reads it there or downloads it)."""
    period = services.review.quarter(quarter)  # BadPeriod: answered by the error handler
    if not leads.is_lead(body["user_id"], cached=True):
        private(ack, NOT_A_LEAD if leads.group_known else LEADS_NOT_KNOWN_YET)
        leads.refresh()
        return
    channel = services.review.channel or ""
    private(ack, build_review_started_text(period.label, channel))
    report = services.review.report(period=period)
    try:
        upload_file(
            client,
            channel=channel,
            content=render(report, "html").encode("utf-8"),
            filename=f"ai-signal-review-{period.label}.html",
            title=f"AI signals review, {period.label}",
            comment=build_review_summary(report),
        )
    except UploadFailed as error:
        logger.warning("the review of %s was not posted (%s)", period.label, error)
        respond(text=build_review_failed_text(period.label, str(error)), response_type="ephemeral")


def open_modal(client: WebClient, respond: Respond | None, *, trigger_id: str, view: dict) -> None:
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "unknown"
        logger.warning("views.open failed: %s", code)
        if respond is None or respond.response_url is None:
            return
        respond(
            text="Sorry — Slack didn't open the form in time. Please run `/ai-signal` again.",
            response_type="ephemeral",
            replace_original=False,
        )
