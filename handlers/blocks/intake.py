"""Builders for the reporter's side: the filing form and its answers (receipts, status, help,
the reveal confirmation). Pure functions from plain data to Slack payload dicts.

Every piece of user text goes through `escape` (mrkdwn) or `plain` (plain_text) and is cut to
Slack's limits here, so Slack never rejects a payload and no text can ping or forge a link.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.services.errors import ServiceError
from bot.services.records import EventSummary, FiledSignal, RevealOffer, SignalSummary
from bot.services.signals import MAX_IMPACT, MAX_SYSTEM, MAX_TEXT
from bot.services.vocabulary import KIND_DESCRIPTIONS, KINDS
from handlers import ids
from handlers.blocks.kit import (
    context,
    input_block,
    kind_label,
    modal,
    option,
    plain_text,
    quote,
    section,
    status_label,
    text_input,
)
from handlers.edge import (
    UNREADABLE_TEXT,
    element_state,
    input_value,
    selected_value,
    state_values,
)
from handlers.formatting import escape, fit, inline

ANONYMITY_PROMISE = (
    "*Anonymous* means your name, user id and the channel you typed in are never stored, logged "
    "or posted; the post reaches the leads after a delay; you get a one-time follow-up code. "
    "Honest limits: Slack itself records that you ran a command, and wording can identify you."
)

IDENTITY_HINT = (
    "Nothing is preselected: pick one. An anonymous signal can get your name later, with "
    "/ai-signal reveal and your code; a name once shared cannot be taken back."
)
IDENTITY_REQUIRED = (
    "Choose: share your name or stay anonymous. Nothing is preselected, as a shared name can't be "
    "taken back."
)

FROM_MESSAGE_NOTE = (
    "\n:warning: The message link in the text shows which channel it came from. If you stay "
    "anonymous and that could point to you, remove the link."
)

# -- private answers to the reporter ----------------------------------------------------------


def small_crowd_note(members: int) -> str:
    return (
        f"\n:warning: *Small crowd:* the team channel has only {members} members. Anonymous "
        "still means nothing about you is stored, but in a small group timing and wording point "
        "at people more easily — consider leaving out details only you would know."
    )


def build_receipt_text(filed: FiledSignal, *, small_crowd: int | None = None) -> str:
    """The private receipt. For anonymous signals it carries the follow-up code, shown once.

    The system the signal names is shown, so a first word taken for one is seen at once."""
    system = f"System: *{inline(filed.system)}*\n" if filed.system else ""
    if not filed.anonymous:
        return (
            f"Thanks — your signal *{filed.ref}* is filed under your name and is on its way to the "
            "leads' triage channel.\n"
            + system
            + f"Check on it any time with `/ai-signal status {filed.ref}`."
        )
    return (
        f"Thanks — your signal *{filed.ref}* is filed *anonymously*.\n"
        + system
        + f"Your follow-up code: `{filed.code}`\n"
        "Save it now: it is shown only this once and nobody, including the admins, can look it up. "
        f"Use `/ai-signal status <code>` to read what the leads ask or decide.\n"
        "The post reaches the triage channel after a delay, so its timing does not point at you.\n"
        "To put your name to it later, `/ai-signal reveal <code>` asks you to confirm first; "
        "a name once shown cannot be taken back."
        + (small_crowd_note(small_crowd) if small_crowd is not None else "")
    )


def build_receipt_view(filed: FiledSignal) -> dict[str, Any]:
    return modal(
        callback_id=ids.SIGNAL_DONE_VIEW,
        title="Signal filed",
        close="Done",
        blocks=[section(build_receipt_text(filed))],
    )


def build_duplicate_view() -> dict[str, Any]:
    text = (
        "This form was already submitted, so nothing new was filed. If you did not see "
        "your receipt, run `/ai-signal` again."
    )
    return modal(title="Already filed", close="Close", blocks=[section(text)])


def build_unreadable_view() -> dict[str, Any]:
    """The answer to a form submission the app could not read (it replaces the form)."""
    text = UNREADABLE_TEXT + " Please open the form again and retry."
    return modal(title="AI signal", close="Close", blocks=[section(text)])


def build_status_text(signal: SignalSummary, *, events: Iterable[EventSummary] = ()) -> str:
    """`/ai-signal status SIG-12`: a named reporter's own signal, the leads' questions and the
    reporter's answers and corrections."""
    system = f" on *{inline(signal.system)}*" if signal.system else ""
    posted = "" if signal.posted else "\n_It has not reached the triage channel yet._"
    text = (
        f"*{signal.ref}* — {escape(kind_label(signal.kind))}{system}\n"
        f"Status: {status_label(signal.status)}\n{quote(fit(signal.text, 500))}{posted}"
    )
    lines = []
    for event in events:
        if event.action == "asked" and event.note:
            lines.append(f"*A lead asked:* {fit(inline(event.note), 400)}")
        elif event.action == "replied" and event.note:
            lines.append(f"*You added:* {fit(inline(event.note), 400)}")
    if signal.status in ("new", "acknowledged", "investigating"):
        lines.append(f"Add a correction or an answer with `/ai-signal reply {signal.ref} …`.")
    if signal.status == "new":
        lines.append(
            f"Until a lead acknowledges it, `/ai-signal withdraw {signal.ref}` takes it back."
        )
    return fit("\n".join([text, *lines]), 3000)


def build_help_text() -> str:
    kinds = "\n".join(f"• `{kind}` — {desc}" for kind, desc in KIND_DESCRIPTIONS.items())
    return (
        "*Raise an early warning about an AI system* — drift, bias, an edge case, a data problem…\n"
        "• `/ai-signal` — open the form (you choose: your name or anonymous)\n"
        "• `/ai-signal <kind> <what you saw>` — file under your name at once, e.g. "
        "`/ai-signal drift fraud-model: precision fell to 0.78`\n"
        "   Name the system with its name and a colon as the first word (`fraud-model:`) or "
        "with `system:fraud-model`; without one the signal names no system. Words that open a "
        "sentence (`Note:`, `FYI:`, `Re:`, `Update:`…) stay text; another name of a system on "
        "record files under its name; the receipt shows the system\n"
        "• `/ai-signal anon <kind> <what you saw>` — file anonymously; "
        "you get a one-time follow-up code\n"
        "• `/ai-signal status SIG-12` — your named signal; "
        "`/ai-signal status <code>` — an anonymous one\n"
        "• `/ai-signal reply SIG-12 <text>` — answer a lead or add a correction on your named "
        "signal; `/ai-signal reply <code> <text>` — on an anonymous one\n"
        "• `/ai-signal withdraw SIG-12` or `/ai-signal withdraw <code>` — take your signal back "
        "until a lead acknowledges it (what you wrote is erased)\n"
        "• `/ai-signal reveal <code>` — put your name to your anonymous signal "
        "(you confirm first; it cannot be undone)\n"
        "• `/ai-signal system <name>` — the card of an AI system on record: what it is for, "
        "its open signals, patterns, lessons and last review; `/ai-signal systems` lists them\n"
        "• `/ai-signal queue [status:new kind:drift system:… owner:me older:7d anonymous|named "
        "overdue]` — leads: the open signals, oldest first, to page through and acknowledge\n"
        "• `/ai-signal review [2026-Q4]` — leads: the quarter's review-board report, shared in "
        "the triage channel as a file\n"
        "• `/ai-signal help` — this text\n\n"
        f"*Kinds*\n{kinds}\n\n{ANONYMITY_PROMISE}"
    )


# -- putting a name to an anonymous signal ----------------------------------------------------


def build_reveal_modal(offer: RevealOffer) -> dict[str, Any]:
    """The private confirmation of `/ai-signal reveal`: exactly what becomes visible to whom.
    Closing it is staying anonymous; only the submission changes anything."""
    ref = offer.ref
    post = (
        "its post in the leads' triage channel shows you as the reporter, and a reply in its "
        "thread says that you chose to put your name to it"
        if offer.posted
        else "when its post reaches the leads' triage channel it shows you as the reporter, "
        "and a reply in its thread says that you chose to put your name to it"
    )
    text = (
        f"*Put your name to {ref}?* If you confirm:\n"
        f"• *Everyone in the triage channel:* {post}.\n"
        "• *Everyone who reads that thread:* what is already in it, including anything you "
        "replied anonymously, can then be read as yours.\n"
        f"• *The leads and the app:* {ref} becomes a named signal. The app keeps that you "
        "raised it, the leads' questions and decisions reach you as private notes, and "
        f"`/ai-signal status {ref}` and your Home tab show it.\n"
        "• *Your follow-up code* stops working.\n"
        "*This cannot be undone:* a named signal never becomes anonymous again."
    )
    note = (
        "Nothing about you has been stored: press *Stay anonymous* (or close this) and "
        "the signal stays as it is. This confirmation lapses after 30 minutes."
    )
    return modal(
        callback_id=ids.REVEAL_MODAL,
        private_metadata=offer.token,
        title="Put your name to it",
        submit="Show my name",
        close="Stay anonymous",
        blocks=[section(text), context(note)],
    )


def build_reveal_done_view(*, ref: str | None, changed: bool, problem: str = "") -> dict[str, Any]:
    """The confirmation's answer: named now, already named, or nothing changed (`problem`)."""
    if problem:
        title, text = "Nothing changed", escape(problem)
    elif changed:
        title = "Your name is on it"
        text = (
            f"Thank you for standing behind *{ref}*. The triage post and its thread now show you "
            f"as the reporter. Follow it with `/ai-signal status {ref}`."
        )
    else:
        title = "Already named"
        text = f"*{ref}* already shows your name; nothing changed."
    return modal(
        callback_id=ids.REVEAL_DONE_VIEW, title=title, close="Done", blocks=[section(text)]
    )


def build_error_text(error: ServiceError) -> str:
    return f":warning: {escape(str(error))}"


# -- the filing modal -------------------------------------------------------------------------


def build_signal_modal(
    *,
    kind: str | None = None,
    text: str = "",
    system: str = "",
    anonymous: bool | None = None,
    from_message: bool = False,
    small_crowd: int | None = None,
) -> dict[str, Any]:
    """The /ai-signal form. Pre-filled values are plain text; nothing about the user is in it.

    The name/anonymous choice is preselected only when the reporter already made it
    (`anonymous=True` for `/ai-signal anon`); otherwise nothing is, and the form cannot be
    submitted until they pick one: a name once shared cannot be taken back.
    """
    notes = (
        ANONYMITY_PROMISE
        + (FROM_MESSAGE_NOTE if from_message else "")
        + (small_crowd_note(small_crowd) if small_crowd is not None else "")
    )
    return modal(
        callback_id=ids.SIGNAL_MODAL,
        title="Raise an AI signal",
        submit="Raise it",
        close="Cancel",
        blocks=[*_signal_inputs(kind, text, system, anonymous), context(notes)],
    )


def _signal_inputs(kind: str | None, text: str, system: str, anonymous: bool | None) -> list:
    kind_element: dict[str, Any] = {
        "type": "static_select",
        "action_id": ids.KIND_INPUT,
        "placeholder": plain_text("What kind of concern?"),
        "options": [option(k, f"{label}") for k, label in KINDS.items()],
    }
    if kind in KINDS:
        kind_element["initial_option"] = option(kind, KINDS[kind])
    named = option(ids.IDENTITY_NAMED, "Share my name with the leads")
    anon = option(ids.IDENTITY_ANONYMOUS, "Stay anonymous")
    identity_element: dict[str, Any] = {
        "type": "radio_buttons",
        "action_id": ids.IDENTITY_INPUT,
        "options": [named, anon],
    }
    if anonymous is not None:
        identity_element["initial_option"] = anon if anonymous else named
    pick = {
        "type": "external_select",
        "action_id": ids.SYSTEM_PICK_INPUT,
        "placeholder": plain_text("Type to find a system on record"),
        "min_query_length": 0,
    }
    return [
        input_block(ids.KIND_BLOCK, "Kind", kind_element),
        input_block(ids.SYSTEM_PICK_BLOCK, "AI system or model concerned", pick, optional=True),
        input_block(
            ids.SYSTEM_BLOCK,
            "Not listed? Its name",
            text_input(
                ids.SYSTEM_INPUT,
                max_length=MAX_SYSTEM,
                placeholder="e.g. fraud-model v3, support chatbot",
                initial=system,
            ),
            optional=True,
        ),
        input_block(
            ids.TEXT_BLOCK,
            "What was observed",
            text_input(
                ids.TEXT_INPUT,
                multiline=True,
                max_length=MAX_TEXT,
                placeholder="What did you observe? Numbers, examples, links help.",
                initial=text,
            ),
        ),
        input_block(
            ids.IMPACT_BLOCK,
            "Perceived impact",
            text_input(
                ids.IMPACT_INPUT,
                multiline=True,
                max_length=MAX_IMPACT,
                placeholder="Who or what could be affected, and how badly?",
            ),
            optional=True,
        ),
        input_block(ids.IDENTITY_BLOCK, "Your name", identity_element, hint=IDENTITY_HINT),
    ]


def parse_signal_submission(view: dict[str, Any]) -> dict[str, Any]:
    """state.values of the modal -> one flat dict (kind, system, text, impact, anonymous); the
    system is the one picked from the list, else the name typed.

    `anonymous` is None when no identity was picked (Slack sends `selected_option: null`).
    Raises Unreadable when a part has the wrong shape."""
    values = state_values(view)

    def value(block: str, action: str) -> str:
        return input_value(element_state(values, block, action))

    def selected(block: str, action: str) -> str:
        return selected_value(element_state(values, block, action))

    return {
        "kind": selected(ids.KIND_BLOCK, ids.KIND_INPUT),
        # A system picked from the list wins over a typed name.
        "system": selected(ids.SYSTEM_PICK_BLOCK, ids.SYSTEM_PICK_INPUT)
        or value(ids.SYSTEM_BLOCK, ids.SYSTEM_INPUT),
        "text": value(ids.TEXT_BLOCK, ids.TEXT_INPUT),
        "impact": value(ids.IMPACT_BLOCK, ids.IMPACT_INPUT),
        "anonymous": _IDENTITY_CHOICES.get(selected(ids.IDENTITY_BLOCK, ids.IDENTITY_INPUT)),
    }


_IDENTITY_CHOICES = {ids.IDENTITY_NAMED: False, ids.IDENTITY_ANONYMOUS: True}


FIELD_BLOCKS = {
    "kind": ids.KIND_BLOCK,
    "text": ids.TEXT_BLOCK,
    "system": ids.SYSTEM_BLOCK,
    "impact": ids.IMPACT_BLOCK,
}


def build_field_errors(
    error: ServiceError | None = None, *, identity_missing: bool = False
) -> dict[str, str]:
    """`response_action: errors` for the filing form: the field `error` concerns, and the
    identity choice when none was picked."""
    errors = {}
    if error is not None:
        errors[FIELD_BLOCKS.get(error.field or "text", ids.TEXT_BLOCK)] = str(error)[:150]
    if identity_missing:
        errors[ids.IDENTITY_BLOCK] = IDENTITY_REQUIRED
    return errors
