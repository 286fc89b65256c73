"""Render Block Kit as readable plain text (for transcripts and test failure messages).

`render_blocks` is a pure function: blocks in, text out. Slack markup in text (`<@U1>`,
`<https://x|label>`, `&amp;`) is turned into something a person can read; mrkdwn emphasis
(`*bold*`, `_italic_`) is left as typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["render_blocks", "render_mrkdwn", "render_view"]

DIVIDER = "-" * 40

_SLACK_TOKEN = re.compile(r"<([^<>]+)>")


def _token(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return f"@{label or target[1:]}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        if target.startswith("!subteam^"):
            return label if label.startswith("@") else f"@{label or target[len('!subteam^') :]}"
        if target.startswith("!date^"):
            return label or target
        return f"@{label or target[1:]}"
    if label:
        return f"{label} ({target})"
    return target


def render_mrkdwn(text: str) -> str:
    """Make Slack markup readable: mentions, links and entity escapes."""
    text = _SLACK_TOKEN.sub(_token, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any) -> str:
    """The readable text of a text object (plain_text or mrkdwn) or a bare string."""
    if isinstance(obj, str):
        return render_mrkdwn(obj)
    if isinstance(obj, Mapping):
        value = obj.get("text", "")
        if not isinstance(value, str):
            return ""
        if obj.get("type") == "mrkdwn":
            return render_mrkdwn(value)
        return value
    return ""


def _options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    options = element.get("options")
    if isinstance(options, list):
        return [o for o in options if isinstance(o, Mapping)]
    groups = element.get("option_groups")
    found: list[Mapping[str, Any]] = []
    if isinstance(groups, list):
        for group in groups:
            if isinstance(group, Mapping) and isinstance(group.get("options"), list):
                found.extend(o for o in group["options"] if isinstance(o, Mapping))
    return found


def _selected_values(element: Mapping[str, Any]) -> set[Any]:
    selected: set[Any] = set()
    initial = element.get("initial_option")
    if isinstance(initial, Mapping):
        selected.add(initial.get("value"))
    initials = element.get("initial_options")
    if isinstance(initials, list):
        selected.update(o.get("value") for o in initials if isinstance(o, Mapping))
    return selected


def _element(element: Any) -> str:
    """An interactive element as an inline bracketed control."""
    if not isinstance(element, Mapping):
        return "[?]"
    kind = element.get("type", "")
    placeholder = _text(element.get("placeholder"))
    if kind in ("button", "workflow_button"):
        label = _text(element.get("text"))
        style = element.get("style")
        return f"[{label}]" + (f"({style})" if style in ("primary", "danger") else "")
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind == "overflow":
        return "[... " + " | ".join(_text(o.get("text")) for o in _options(element)) + "]"
    if kind in ("checkboxes", "radio_buttons"):
        marks = ("[x]", "[ ]") if kind == "checkboxes" else ("(o)", "( )")
        selected = _selected_values(element)
        return " ".join(
            f"{marks[0] if o.get('value') in selected else marks[1]} {_text(o.get('text'))}"
            for o in _options(element)
        )
    if kind.endswith("select"):
        chosen = [
            _text(o.get("text"))
            for o in _options(element)
            if o.get("value") in _selected_values(element)
        ]
        for key in ("initial_user", "initial_conversation", "initial_channel"):
            if element.get(key):
                chosen.append(str(element[key]))
        for key in ("initial_users", "initial_conversations", "initial_channels"):
            if isinstance(element.get(key), list):
                chosen.extend(str(v) for v in element[key])
        shown = ", ".join(chosen) or placeholder or kind.replace("_", " ")
        return f"[{shown} v]"
    if kind in ("datepicker", "timepicker", "datetimepicker"):
        initial = (
            element.get("initial_date")
            or element.get("initial_time")
            or element.get("initial_date_time")
        )
        return f"[{kind.removesuffix('picker')}: {initial or placeholder or '...'}]"
    return f"[{kind}]"


def _input_value(element: Any) -> str:
    if not isinstance(element, Mapping):
        return "<input>"
    kind = element.get("type", "")
    if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
        value = element.get("initial_value")
        if value:
            return f"<{value}>"
        placeholder = _text(element.get("placeholder"))
        multiline = " (multiline)" if element.get("multiline") else ""
        return f"<{placeholder or kind.replace('_', ' ')}{multiline}>"
    if kind == "rich_text_input":
        return "<rich text>"
    if kind == "file_input":
        return "<file>"
    return f"<{_element(element)}>"


def _rich_element(element: Any) -> str:
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "text":
        text = str(element.get("text", ""))
        style = element.get("style") or {}
        if isinstance(style, Mapping):
            if style.get("code"):
                text = f"`{text}`"
            if style.get("bold"):
                text = f"*{text}*"
            if style.get("italic"):
                text = f"_{text}_"
            if style.get("strike"):
                text = f"~{text}~"
        return text
    if kind == "link":
        url = str(element.get("url", ""))
        label = element.get("text")
        return f"{label} ({url})" if label else url
    if kind == "user":
        return f"@{element.get('user_id', '')}"
    if kind == "usergroup":
        return f"@{element.get('usergroup_id', '')}"
    if kind == "channel":
        return f"#{element.get('channel_id', '')}"
    if kind == "emoji":
        return f":{element.get('name', '')}:"
    if kind == "broadcast":
        return f"@{element.get('range', '')}"
    if kind == "date":
        return str(element.get("fallback") or element.get("timestamp", ""))
    return ""


def _rich_section(section: Any) -> str:
    if not isinstance(section, Mapping):
        return ""
    elements = section.get("elements")
    if not isinstance(elements, list):
        return ""
    return "".join(_rich_element(e) for e in elements)


def _rich_text(block: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for part in block.get("elements") or []:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "rich_text_section":
            lines.extend(_rich_section(part).split("\n"))
        elif kind == "rich_text_quote":
            lines.extend(f"> {line}" for line in _rich_section(part).split("\n"))
        elif kind == "rich_text_preformatted":
            lines.append("```")
            lines.extend(_rich_section(part).split("\n"))
            lines.append("```")
        elif kind == "rich_text_list":
            indent = "  " * int(part.get("indent") or 0)
            ordered = part.get("style") == "ordered"
            for n, item in enumerate(part.get("elements") or [], start=1):
                bullet = f"{n}." if ordered else "-"
                lines.append(f"{indent}{bullet} {_rich_section(item)}")
    return lines


def _block(block: Any) -> list[str]:
    if not isinstance(block, Mapping):
        return []
    kind = block.get("type")
    if kind == "header":
        text = _text(block.get("text"))
        return [text.upper(), "=" * len(text)]
    if kind == "divider":
        return [DIVIDER]
    if kind == "section":
        lines: list[str] = []
        text = _text(block.get("text"))
        if text:
            lines.extend(text.split("\n"))
        fields = block.get("fields")
        if isinstance(fields, list):
            for item in fields:
                lines.extend(f"  {line}" for line in _text(item).split("\n"))
        accessory = block.get("accessory")
        if accessory is not None:
            control = _element(accessory)
            if lines:
                lines[0] = f"{lines[0]}  {control}"
            else:
                lines.append(control)
        return lines
    if kind == "context":
        parts = []
        for element in block.get("elements") or []:
            if isinstance(element, Mapping) and element.get("type") == "image":
                parts.append(f"[image: {element.get('alt_text', '')}]")
            else:
                parts.append(_text(element))
        return [" · ".join(parts)]
    if kind == "actions":
        return [" ".join(_element(e) for e in block.get("elements") or [])]
    if kind == "input":
        label = _text(block.get("label"))
        optional = " (optional)" if block.get("optional") else ""
        lines = [f"{label}{optional}: {_input_value(block.get('element'))}"]
        hint = _text(block.get("hint"))
        if hint:
            lines.append(f"  ({hint})")
        return lines
    if kind == "image":
        title = _text(block.get("title"))
        alt = block.get("alt_text", "")
        return [f"[image: {alt}]" + (f" {title}" if title else "")]
    if kind == "rich_text":
        return _rich_text(block)
    if kind == "markdown":
        return str(block.get("text", "")).split("\n")
    if kind == "video":
        return [f"[video: {_text(block.get('title'))}]"]
    if kind == "file":
        return [f"[file: {block.get('external_id', '')}]"]
    return [f"[{kind}]"]


def render_blocks(blocks: Iterable[Any] | None) -> str:
    """Render Block Kit blocks as plain text, one block after another."""
    lines: list[str] = []
    for block in blocks or []:
        lines.extend(_block(block))
    return "\n".join(lines)


def render_view(view: Mapping[str, Any]) -> str:
    """Render a modal or Home tab: title bar, blocks, then the submit/close buttons."""
    lines: list[str] = []
    title = _text(view.get("title"))
    if title:
        lines.append(f"| {title} |")
        lines.append("=" * (len(title) + 4))
    body = render_blocks(view.get("blocks"))
    if body:
        lines.append(body)
    buttons = [f"[{_text(view[key])}]" for key in ("close", "submit") if view.get(key)]
    if buttons:
        lines.append(" ".join(buttons))
    return "\n".join(lines)
