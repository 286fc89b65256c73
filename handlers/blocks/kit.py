"""The Block Kit vocabulary every builder uses: text objects, blocks, elements, and the words
the app shows for its own values (kinds, statuses, patterns, durations).

Pure functions returning payload dicts. Text that comes from people is escaped by the builder
(`handlers.formatting`); these helpers cut it to Slack's limits, so Slack never rejects a payload.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.services.vocabulary import KINDS, PATTERNS
from handlers.formatting import escape, fit, plain

SECTION_TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
OPTION_TEXT_LIMIT = 75
NOTIFICATION_TEXT_LIMIT = 300
MESSAGE_TEXT_LIMIT = 39_000  # Slack truncates a message's `text` at 40,000

Block = dict[str, Any]

# How each status reads: with its emoji where people act on it (posts, Home, status answers),
# as a plain word in the digest's overview.
STATUS_WORDS: dict[str, tuple[str, str]] = {
    "new": ("🆕 New", "Open (unacknowledged)"),
    "acknowledged": ("👀 Acknowledged", "Acknowledged"),
    "investigating": ("🔎 Investigating", "Investigating"),
    "resolved": ("✅ Resolved", "Resolved"),
    "declined": ("🙏 Declined (not a problem)", "Declined (not a problem)"),
    "duplicate": ("🔁 Duplicate", "Duplicate"),
}


def status_label(status: str) -> str:
    return STATUS_WORDS[status][0] if status in STATUS_WORDS else status


def status_word(status: str) -> str:
    return STATUS_WORDS[status][1] if status in STATUS_WORDS else status


def kind_label(kind: str) -> str:
    return KINDS.get(kind, kind)


def pattern_label(pattern: str) -> str:
    return PATTERNS.get(pattern, pattern)


def format_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if hours < 10 else f"{hours} h"
    return f"{hours // 24} days"


def quote(text: str) -> str:
    """Escaped user text as a mrkdwn block quote."""
    return "\n".join("&gt; " + line if line else "&gt;" for line in escape(text).split("\n"))


# -- text objects ------------------------------------------------------------------------------


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def plain_text(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


# -- blocks ------------------------------------------------------------------------------------


def section(text: str, **extra: Any) -> Block:
    return {"type": "section", "text": mrkdwn(fit(text, SECTION_TEXT_LIMIT)), **extra}


def fields(*texts: str) -> Block:
    """A section of up to ten short fields, side by side."""
    return {"type": "section", "fields": [mrkdwn(fit(t, FIELD_LIMIT)) for t in texts[:10]]}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(fit(t, SECTION_TEXT_LIMIT)) for t in texts[:10]]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain_text(plain(text, HEADER_LIMIT))}


def divider() -> Block:
    return {"type": "divider"}


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions"}
    if block_id:
        block["block_id"] = block_id
    block["elements"] = list(elements)
    return block


def input_block(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool | None = None,
    hint: str | None = None,
) -> Block:
    block: Block = {"type": "input", "block_id": block_id}
    if optional is not None:
        block["optional"] = optional
    block["label"] = plain_text(label)
    if hint:
        block["hint"] = plain_text(hint)
    block["element"] = element
    return block


# -- elements ----------------------------------------------------------------------------------


def button(
    action_id: str, label: str, value: str | None = None, *, style: str | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": plain_text(plain(label, BUTTON_TEXT_LIMIT)),
    }
    if value is not None:
        element["value"] = value
    if style:
        element["style"] = style
    return element


def option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain_text(plain(label, OPTION_TEXT_LIMIT)), "value": value}


def modal(
    *,
    title: str,
    blocks: list[Block],
    close: str,
    callback_id: str | None = None,
    submit: str | None = None,
    private_metadata: str | None = None,
) -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal"}
    if callback_id:
        view["callback_id"] = callback_id
    if private_metadata is not None:
        view["private_metadata"] = private_metadata
    view["title"] = plain_text(title)
    if submit:
        view["submit"] = plain_text(submit)
    view["close"] = plain_text(close)
    view["blocks"] = blocks
    return view


def text_input(
    action_id: str,
    *,
    max_length: int,
    multiline: bool | None = None,
    placeholder: str | None = None,
    initial: str | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id}
    if multiline is not None:
        element["multiline"] = multiline
    element["max_length"] = max_length
    if placeholder:
        element["placeholder"] = plain_text(placeholder)
    if initial:
        element["initial_value"] = initial[:max_length]
    return element
