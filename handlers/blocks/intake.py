"""Block Kit builders: pure functions from plain data to Slack payload dicts.

Every piece of user text goes through `escape` (mrkdwn) or `plain` (plain_text) and is cut to
Slack's limits here, so Slack never rejects a payload and no text can ping or forge a link.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.services.errors import ServiceError
from bot.services.signals import MAX_IMPACT, MAX_SYSTEM, MAX_TEXT, FiledSignal, SignalSummary
from bot.services.triage import RevealOffer, SignalDetail
from bot.services.vocabulary import KIND_DESCRIPTIONS, KINDS
from handlers import ids
from handlers.formatting import escape, fit, inline, plain

SECTION_TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
OPTION_TEXT_LIMIT = 75
NOTIFICATION_TEXT_LIMIT = 300

STATUS_LABELS = {
    "new": "🆕 New",
    "acknowledged": "👀 Acknowledged",
    "investigating": "🔎 Investigating",
    "resolved": "✅ Resolved",
    "declined": "🙏 Declined (not a problem)",
}

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

Block = dict[str, Any]


def _text(text: str, *, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": kind, "text": text}


def _section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": _text(fit(text, SECTION_TEXT_LIMIT)), **extra}


def _context(*texts: str) -> Block:
    return {"type": "context", "elements": [_text(t) for t in texts[:10]]}


def kind_label(kind: str) -> str:
    return KINDS.get(kind, kind)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def quote(text: str) -> str:
    """Escaped user text as a mrkdwn block quote."""
    return "\n".join("&gt; " + line if line else "&gt;" for line in escape(text).split("\n"))


# -- the triage post --------------------------------------------------------------------------


def _button(action_id: str, label: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": _text(plain(label, BUTTON_TEXT_LIMIT), kind="plain_text"),
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def lead_buttons(ref: str, status: str) -> list[dict[str, Any]]:
    """Lead actions that fit the status: no Acknowledge once acknowledged; Reopen when closed."""
    if status in ("resolved", "declined"):
        return [_button(ids.REOPEN_ACTION, "Reopen", ref)]
    buttons = []
    if status == "new":
        buttons.append(_button(ids.ACKNOWLEDGE_ACTION, "Acknowledge", ref, style="primary"))
    buttons += [
        _button(ids.TRIAGE_ACTION, "Triage…", ref),
        _button(ids.ASK_ACTION, "Ask reporter…", ref),
        _button(ids.RESOLVE_ACTION, "Resolve…", ref),
    ]
    return buttons


def format_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if hours < 10 else f"{hours} h"
    return f"{hours // 24} days"


def build_triage_message(
    signal: SignalSummary, *, detail: SignalDetail | None = None
) -> dict[str, Any]:
    """The parent post in the triage channel: what was raised, by whom (or Anonymous), and where
    it stands now (status, owner, time to acknowledge), with the lead actions that fit."""
    reporter = (
        "Anonymous" if signal.anonymous or not signal.reporter_id else f"<@{signal.reporter_id}>"
    )
    fields = [
        _text(f"*Kind*\n{escape(kind_label(signal.kind))}"),
        _text(f"*System*\n{fit(inline(signal.system or '—'), FIELD_LIMIT - 20)}"),
        _text(f"*Reporter*\n{reporter}"),
        _text(f"*Status*\n{status_label(signal.status)}"),
    ]
    if detail is not None:
        if detail.owner_id:
            fields.append(_text(f"*Owner*\n<@{detail.owner_id}>"))
        if detail.confirmed_impact:
            fields.append(_text(f"*Confirmed impact*\n{escape(detail.confirmed_impact.title())}"))
        if detail.time_to_acknowledge is not None:
            fields.append(
                _text(f"*Acknowledged after*\n{format_duration(detail.time_to_acknowledge)}")
            )
    blocks: list[Block] = [
        {
            "type": "header",
            "text": _text(
                plain(f"{signal.ref} · {kind_label(signal.kind)}", HEADER_LIMIT), kind="plain_text"
            ),
        },
        {"type": "section", "fields": fields[:10]},
        _section(quote(signal.text)),
    ]
    if signal.impact:
        # Quoted like the text: a reporter's lines never pass for the post's own fields.
        blocks.append(_section(f"*Perceived impact*\n{quote(signal.impact)}"))
    blocks.append(
        _context(
            "Raised with `/ai-signal`. Thank the reporter; look at the system, not the person."
        )
    )
    blocks.append(
        {
            "type": "actions",
            "block_id": ids.TRIAGE_ACTIONS_BLOCK,
            "elements": lead_buttons(signal.ref, signal.status),
        }
    )
    system = f" on {signal.system}" if signal.system else ""
    text = plain(
        f"{signal.ref}: {kind_label(signal.kind).lower()} signal{system} — {signal.status}",
        NOTIFICATION_TEXT_LIMIT,
    )
    return {"text": inline(text), "blocks": blocks}


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
    return {
        "type": "modal",
        "callback_id": ids.SIGNAL_MODAL + "_done",
        "title": _text("Signal filed", kind="plain_text"),
        "close": _text("Done", kind="plain_text"),
        "blocks": [_section(build_receipt_text(filed))],
    }


def build_duplicate_view() -> dict[str, Any]:
    return {
        "type": "modal",
        "title": _text("Already filed", kind="plain_text"),
        "close": _text("Close", kind="plain_text"),
        "blocks": [
            _section(
                "This form was already submitted, so nothing new was filed. If you did not see "
                "your receipt, run `/ai-signal` again."
            )
        ],
    }


UNREADABLE_TEXT = "Sorry — I couldn't read that; nothing changed."


def build_unreadable_view() -> dict[str, Any]:
    """The answer to a form submission the app could not read (it replaces the form)."""
    return {
        "type": "modal",
        "title": _text("AI signal", kind="plain_text"),
        "close": _text("Close", kind="plain_text"),
        "blocks": [_section(UNREADABLE_TEXT + " Please open the form again and retry.")],
    }


def build_status_text(signal: SignalSummary) -> str:
    system = f" on *{inline(signal.system)}*" if signal.system else ""
    posted = "" if signal.posted else "\n_It has not reached the triage channel yet._"
    return (
        f"*{signal.ref}* — {escape(kind_label(signal.kind))}{system}\n"
        f"Status: {status_label(signal.status)}\n{quote(fit(signal.text, 500))}{posted}"
    )


def build_help_text() -> str:
    kinds = "\n".join(f"• `{kind}` — {desc}" for kind, desc in KIND_DESCRIPTIONS.items())
    return (
        "*Raise an early warning about an AI system* — drift, bias, an edge case, a data problem…\n"
        "• `/ai-signal` — open the form (you choose: your name or anonymous)\n"
        "• `/ai-signal <kind> <what you saw>` — file under your name at once, e.g. "
        "`/ai-signal drift fraud-model: precision fell to 0.78`\n"
        "   Name the system with its name and a colon as the first word (`fraud-model:`) or "
        "with `system:fraud-model`; without one the signal names no system. Words that open a "
        "sentence (`Note:`, `FYI:`, `Re:`, `Update:`…) stay text; the receipt shows the system\n"
        "• `/ai-signal anon <kind> <what you saw>` — file anonymously; "
        "you get a one-time follow-up code\n"
        "• `/ai-signal status SIG-12` — your named signal; "
        "`/ai-signal status <code>` — an anonymous one\n"
        "• `/ai-signal reply SIG-12 <answer>` — answer a lead on your named signal; "
        "`/ai-signal reply <code> <answer>` — on an anonymous one\n"
        "• `/ai-signal reveal <code>` — put your name to your anonymous signal "
        "(you confirm first; it cannot be undone)\n"
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
    return {
        "type": "modal",
        "callback_id": ids.REVEAL_MODAL,
        "private_metadata": offer.token,
        "title": _text("Put your name to it", kind="plain_text"),
        "submit": _text("Show my name", kind="plain_text"),
        "close": _text("Stay anonymous", kind="plain_text"),
        "blocks": [
            _section(text),
            _context(
                "Nothing about you has been stored: press *Stay anonymous* (or close this) and "
                "the signal stays as it is. This confirmation lapses after 30 minutes."
            ),
        ],
    }


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
    return {
        "type": "modal",
        "callback_id": ids.REVEAL_MODAL + "_done",
        "title": _text(title, kind="plain_text"),
        "close": _text("Done", kind="plain_text"),
        "blocks": [_section(text)],
    }


def build_error_text(error: ServiceError) -> str:
    return f":warning: {escape(str(error))}"


# -- the filing modal -------------------------------------------------------------------------


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _text(plain(label, OPTION_TEXT_LIMIT), kind="plain_text"), "value": value}


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
    kind_element: dict[str, Any] = {
        "type": "static_select",
        "action_id": ids.KIND_INPUT,
        "placeholder": _text("What kind of concern?", kind="plain_text"),
        "options": [_option(k, f"{label}") for k, label in KINDS.items()],
    }
    if kind in KINDS:
        kind_element["initial_option"] = _option(kind, KINDS[kind])
    text_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.TEXT_INPUT,
        "multiline": True,
        "max_length": MAX_TEXT,
        "placeholder": _text(
            "What did you observe? Numbers, examples, links help.", kind="plain_text"
        ),
    }
    if text:
        text_element["initial_value"] = text[:MAX_TEXT]
    system_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.SYSTEM_INPUT,
        "max_length": MAX_SYSTEM,
        "placeholder": _text("e.g. fraud-model v3, support chatbot", kind="plain_text"),
    }
    if system:
        system_element["initial_value"] = system[:MAX_SYSTEM]
    named = _option(ids.IDENTITY_NAMED, "Share my name with the leads")
    anon = _option(ids.IDENTITY_ANONYMOUS, "Stay anonymous")
    identity_element: dict[str, Any] = {
        "type": "radio_buttons",
        "action_id": ids.IDENTITY_INPUT,
        "options": [named, anon],
    }
    if anonymous is not None:
        identity_element["initial_option"] = anon if anonymous else named
    return {
        "type": "modal",
        "callback_id": ids.SIGNAL_MODAL,
        "title": _text("Raise an AI signal", kind="plain_text"),
        "submit": _text("Raise it", kind="plain_text"),
        "close": _text("Cancel", kind="plain_text"),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.KIND_BLOCK,
                "label": _text("Kind", kind="plain_text"),
                "element": kind_element,
            },
            {
                "type": "input",
                "block_id": ids.SYSTEM_BLOCK,
                "optional": True,
                "label": _text("AI system or model concerned", kind="plain_text"),
                "element": system_element,
            },
            {
                "type": "input",
                "block_id": ids.TEXT_BLOCK,
                "label": _text("What was observed", kind="plain_text"),
                "element": text_element,
            },
            {
                "type": "input",
                "block_id": ids.IMPACT_BLOCK,
                "optional": True,
                "label": _text("Perceived impact", kind="plain_text"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.IMPACT_INPUT,
                    "multiline": True,
                    "max_length": MAX_IMPACT,
                    "placeholder": _text(
                        "Who or what could be affected, and how badly?", kind="plain_text"
                    ),
                },
            },
            {
                "type": "input",
                "block_id": ids.IDENTITY_BLOCK,
                "label": _text("Your name", kind="plain_text"),
                "hint": _text(IDENTITY_HINT, kind="plain_text"),
                "element": identity_element,
            },
            _context(
                ANONYMITY_PROMISE
                + (FROM_MESSAGE_NOTE if from_message else "")
                + (small_crowd_note(small_crowd) if small_crowd is not None else "")
            ),
        ],
    }


class Unreadable(ValueError):
    """A signed request whose content a listener cannot read (a field of the wrong JSON type, a
    view without its id, private_metadata that is not the app's). `what` names the field, never
    its content, so it can be logged."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def text_field(container: Any, key: str, *, what: str | None = None) -> str:
    """`container[key]` as text: missing or null -> "", a string as it is, anything else (a
    number, a list, an object) -> Unreadable."""
    if not isinstance(container, dict):
        raise Unreadable(what or key)
    value = container.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Unreadable(what or key)
    return value


def required_text(container: Any, key: str, *, what: str | None = None) -> str:
    """Like `text_field`, and empty counts as unreadable (ids Slack always sends)."""
    value = text_field(container, key, what=what)
    if not value:
        raise Unreadable(what or key)
    return value


def user_id_of(body: dict[str, Any]) -> str:
    """The id of whoever pressed or submitted (interactions carry `user.id`)."""
    return required_text(body.get("user"), "id", what="user.id")


def state_values(view: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """A view's state.values, checked: {block_id: {action_id: {...}}}; missing parts are empty.
    A part of another JSON type -> Unreadable."""
    if not isinstance(view, dict):
        raise Unreadable("view")
    state = view.get("state")
    if state is None:
        return {}
    if not isinstance(state, dict):
        raise Unreadable("view.state")
    values = state.get("values")
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise Unreadable("state.values")
    for actions in values.values():
        if not isinstance(actions, dict):
            raise Unreadable("state.values")
        if not all(value is None or isinstance(value, dict) for value in actions.values()):
            raise Unreadable("state.values")
    return values


def element_state(values: dict[str, dict[str, Any]], block: str, action: str) -> dict[str, Any]:
    return (values.get(block) or {}).get(action) or {}


def input_value(element: dict[str, Any]) -> str:
    """A plain_text_input's value ("" when empty)."""
    return text_field(element, "value", what="state.values value")


def selected_value(element: dict[str, Any]) -> str:
    """A select's or radio group's chosen option value ("" when none)."""
    option = element.get("selected_option")
    if option is None:
        return ""
    return text_field(option, "value", what="state.values selected_option")


def parse_signal_submission(view: dict[str, Any]) -> dict[str, Any]:
    """state.values of the modal -> one flat dict (kind, system, text, impact, anonymous).

    `anonymous` is None when no identity was picked (Slack sends `selected_option: null`).
    Raises Unreadable when a part has the wrong shape."""
    values = state_values(view)

    def value(block: str, action: str) -> str:
        return input_value(element_state(values, block, action))

    def selected(block: str, action: str) -> str:
        return selected_value(element_state(values, block, action))

    return {
        "kind": selected(ids.KIND_BLOCK, ids.KIND_INPUT),
        "system": value(ids.SYSTEM_BLOCK, ids.SYSTEM_INPUT),
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


# -- App Home ---------------------------------------------------------------------------------


def build_home_view(*, own_signals: list[SignalSummary]) -> dict[str, Any]:
    blocks: list[Block] = [
        {"type": "header", "text": _text("AI signals", kind="plain_text")},
        _section(
            "Noticed drift, bias, an edge case or a data problem in an AI system? Raise it early — "
            "under your name or anonymously."
        ),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.HOME_OPEN_MODAL_ACTION,
                    "text": _text("Raise a signal", kind="plain_text"),
                    "style": "primary",
                }
            ],
        },
        {"type": "divider"},
        {"type": "header", "text": _text("Your named signals", kind="plain_text")},
    ]
    if not own_signals:
        blocks.append(
            _context("None yet. Anonymous signals are never listed here — use your code.")
        )
    for signal in own_signals[:40]:
        system = f" · {inline(signal.system)}" if signal.system else ""
        blocks.append(
            _section(
                f"*{signal.ref}* · {escape(kind_label(signal.kind))}{system}\n"
                f"{status_label(signal.status)} — {fit(inline(signal.text), 200)}"
            )
        )
    return {"type": "home", "blocks": blocks[:100]}
