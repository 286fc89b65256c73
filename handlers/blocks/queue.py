"""Builders for the leads' queue: the private answer to `/ai-signal queue …` and the queue part
of the leads' Home (counts, filter menus, the same list). Pure.

A page is at most ten signals (one checkbox group holds ten options): the largest page, with
every line at its longest, is 15 blocks — far inside a message's 50 and Home's 100. Each line
links to its triage thread (a permalink built from the workspace URL, the channel and the ts)
and shows age, status, owner, due date, tracker link and "overdue"; never who reported it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from bot.services.queue import ACCEPTED_FORMS, encode_cursor, filter_fields
from bot.services.records import (
    BulkAcknowledgement,
    QueueCounts,
    QueueCursor,
    QueueFilter,
    QueueLine,
    QueuePage,
)
from bot.services.vocabulary import KINDS, OPEN_STATUSES
from handlers import ids
from handlers.blocks.kit import (
    Block,
    actions,
    button,
    context,
    format_duration,
    header,
    kind_label,
    option,
    plain_text,
    section,
    status_label,
)
from handlers.formatting import escape, fit, inline

_SAFE_URL = re.compile(r"^https?://[^\s<>|]{1,400}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
MAX_EXCERPT = 160
AGES = (1, 7, 30, 90)


# -- the page's state, as buttons and Home carry it ----------------------------------------------


def page_state(
    filters: QueueFilter, *, after: QueueCursor | None = None, before: QueueCursor | None = None
) -> str:
    """A page as a button value: its filter words and where it starts."""
    state: dict[str, Any] = {"f": filter_fields(filters)}
    if before is not None:
        state["b"] = encode_cursor(before)
    elif after is not None:
        state["a"] = encode_cursor(after)
    return json.dumps(state, separators=(",", ":"))


def current_state(page: QueuePage) -> str:
    return page_state(page.filters, after=page.after, before=page.before)


def permalink(workspace_url: str | None, channel: str | None, ts: str | None) -> str | None:
    """Slack's permalink form, https://<workspace>/archives/<channel>/p<ts without the dot>."""
    if not workspace_url or not channel or not ts:
        return None
    return f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


# -- one line ---------------------------------------------------------------------------------


def _date(moment: datetime) -> str:
    """A date each viewer reads in their own time zone (the fallback is the UTC date)."""
    return f"<!date^{int(moment.timestamp())}^{{date_short}}|{moment:%Y-%m-%d}>"


def _owner(owner_id: str | None) -> str:
    if owner_id and _USER_ID.match(owner_id):
        return f"owner <@{owner_id}>"
    return "no owner"


def line_text(line: QueueLine, *, as_of: datetime, workspace_url: str | None) -> str:
    link = permalink(workspace_url, line.triage_channel, line.triage_ts)
    ref = f"*<{link}|{line.ref}>*" if link else f"*{line.ref}*"
    system = f" · {inline(line.system)}" if line.system else ""
    facts = [
        status_label(line.status),
        f"waiting {format_duration(as_of - line.posted_at)}",
        _owner(line.owner_id),
        "anonymous" if line.anonymous else "named",
    ]
    if line.respond_by is not None:
        facts.append(f"due {_date(line.respond_by)}")
    if line.overdue:
        facts.append(":warning: *overdue*")
    if line.tracker_url and _SAFE_URL.match(line.tracker_url):
        facts.append(f"<{line.tracker_url}|tracker>")
    excerpt = fit(inline(line.text), MAX_EXCERPT) if line.text else "_(no text)_"
    return f"{ref} · {escape(kind_label(line.kind))}{system}\n{' · '.join(facts)}\n{excerpt}"


def _line_block(line: QueueLine, page: QueuePage, workspace_url: str | None) -> Block:
    block = section(
        line_text(line, as_of=page.as_of, workspace_url=workspace_url),
        block_id=ids.QUEUE_LINE_BLOCK_PREFIX + line.ref,
    )
    if line.status == "new":
        value = json.dumps(
            {"r": line.ref, **json.loads(current_state(page))}, separators=(",", ":")
        )
        block["accessory"] = button(ids.QUEUE_ACK_ACTION, "Acknowledge", value, style="primary")
    return block


# -- the list ---------------------------------------------------------------------------------


def build_queue_list(page: QueuePage, *, workspace_url: str | None) -> list[Block]:
    """The lines, the bulk selection and Previous / Next: shared by the message and Home."""
    if not page.lines:
        where = "matches these filters" if page.filters.words() else "is open"
        return [context(f"No signal {where} right now. :tada:")]
    blocks = [_line_block(line, page, workspace_url) for line in page.lines]
    boxes = {
        "type": "checkboxes",
        "action_id": ids.QUEUE_SELECT_ACTION,
        "options": [
            option(line.ref, f"{line.ref} · {status_label(line.status)}") for line in page.lines
        ],
    }
    bulk = button(ids.QUEUE_BULK_ACK_ACTION, "Acknowledge selected", current_state(page))
    blocks.append(actions(boxes, bulk, block_id=ids.QUEUE_SELECT_BLOCK))
    nav = []
    if page.has_previous:
        first = page.lines[0].cursor
        nav.append(
            button(ids.QUEUE_PREVIOUS_ACTION, "◀ Previous", page_state(page.filters, before=first))
        )
    if page.has_next:
        last = page.lines[-1].cursor
        nav.append(button(ids.QUEUE_NEXT_ACTION, "Next ▶", page_state(page.filters, after=last)))
    if nav:
        blocks.append(actions(*nav, block_id=ids.QUEUE_NAV_BLOCK))
    return blocks


def _filters_line(filters: QueueFilter) -> str:
    words = filters.words()
    return f"filters: {inline(words)}" if words else "no filters"


def build_queue_message(
    page: QueuePage, *, workspace_url: str | None, notice: str | None = None
) -> dict[str, Any]:
    """The private answer to `/ai-signal queue …` (and its replacement on every click)."""
    blocks: list[Block] = []
    if notice:
        blocks.append(section(notice))
    blocks.append(
        section(f"*The queue* — open signals, oldest first · {_filters_line(page.filters)}")
    )
    blocks += build_queue_list(page, workspace_url=workspace_url)
    blocks.append(context(f"Filter with `/ai-signal queue …`: {ACCEPTED_FORMS}."))
    refs = ", ".join(line.ref for line in page.lines) or "none"
    return {"text": f"The queue ({_filters_line(page.filters)}): {refs}", "blocks": blocks}


def build_bulk_notice(result: BulkAcknowledgement) -> str:
    parts = []
    if result.acknowledged:
        parts.append(f"Acknowledged {', '.join(result.acknowledged)} — thanks.")
    if result.skipped:
        skipped = ", ".join(f"{ref} ({status_label(status)})" for ref, status in result.skipped)
        parts.append(f"Skipped, already acknowledged or closed: {skipped}.")
    if result.unknown:
        parts.append(f"Not found: {', '.join(result.unknown)}.")
    if result.busy:
        parts.append(f"Not acknowledged, the database was busy: {', '.join(result.busy)}.")
    return " ".join(parts) or "Nothing was selected, so nothing changed."


# -- Home: counts and filter menus ------------------------------------------------------------


def _counts_text(counts: dict[str, int], label) -> str:
    return " · ".join(f"{label(key)}: *{value}*" for key, value in counts.items()) or "none"


def build_queue_counts(counts: QueueCounts) -> list[Block]:
    systems = {name or "(no system)": n for name, n in counts.by_system.items()}
    return [
        section(
            f"*Open:* {_counts_text(counts.by_status, status_label)}\n"
            f"*Assigned to you:* *{counts.assigned_to_you}*"
        ),
        context(f"*By kind:* {_counts_text(counts.by_kind, kind_label)}"),
        context(f"*By system:* {_counts_text(systems, lambda name: inline(name))}"),
    ]


def _select(
    action_id: str, placeholder: str, choices: list[tuple[str, str]], current: str
) -> dict[str, Any]:
    options = [option("any", f"Any {placeholder.lower()}")] + [option(v, t) for v, t in choices]
    picked = next((o for o in options if o["value"] == current), options[0])
    return {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain_text(placeholder),
        "options": options[:100],
        "initial_option": picked,
    }


def build_filter_menus(filters: QueueFilter, counts: QueueCounts, *, lead_id: str) -> Block:
    """Static selects that re-render Home with the filter applied (one per filter)."""
    systems = [(f"system:{s}", s) for s in counts.by_system if s and len(s) <= 140]
    # A name too long for an option's value (150) is not offered; the filter line shows it.
    current = (f"system:{filters.system}", filters.system)
    if filters.system and len(filters.system) <= 140 and current not in systems:
        systems.append(current)
    owner = (
        "owner:me"
        if filters.owner == lead_id
        else ("owner:none" if filters.owner == "none" else "any")
    )
    menus = [
        _select(
            ids.QUEUE_FILTER_STATUS,
            "Status",
            [(f"status:{s}", status_label(s)) for s in OPEN_STATUSES],
            f"status:{filters.status}" if filters.status else "any",
        ),
        _select(
            ids.QUEUE_FILTER_KIND,
            "Kind",
            [(f"kind:{k}", label) for k, label in KINDS.items()],
            f"kind:{filters.kind}" if filters.kind else "any",
        ),
        _select(
            ids.QUEUE_FILTER_SYSTEM,
            "System",
            systems[:90],
            f"system:{filters.system}" if filters.system else "any",
        ),
        _select(
            ids.QUEUE_FILTER_OWNER,
            "Owner",
            [("owner:me", "Assigned to me"), ("owner:none", "Nobody")],
            owner,
        ),
        _select(
            ids.QUEUE_FILTER_AGE,
            "Age",
            [(f"older:{d}d", f"Waiting over {d} day{'s' if d > 1 else ''}") for d in AGES],
            f"older:{filters.older_than_days}d" if filters.older_than_days else "any",
        ),
        _select(
            ids.QUEUE_FILTER_IDENTITY,
            "Reporter",
            [("anonymous", "Anonymous"), ("named", "Named")],
            filters.identity or "any",
        ),
        _select(
            ids.QUEUE_FILTER_DUE,
            "Due date",
            [("overdue", "Overdue")],
            "overdue" if filters.overdue else "any",
        ),
    ]
    return actions(*menus, block_id=ids.QUEUE_FILTER_BLOCK)


def build_queue_home_blocks(
    *,
    counts: QueueCounts,
    page: QueuePage,
    lead_id: str,
    workspace_url: str | None,
    notice: str | None = None,
) -> list[Block]:
    blocks: list[Block] = [header("The queue")]
    if notice:
        blocks.append(section(notice))
    blocks += build_queue_counts(counts)
    blocks.append(build_filter_menus(page.filters, counts, lead_id=lead_id))
    blocks.append(context(f"Open signals, oldest first · {_filters_line(page.filters)}"))
    blocks += build_queue_list(page, workspace_url=workspace_url)
    return blocks
