"""Builders for the App Home tab: a member's (raise a signal, their named signals) and a lead's
(the same, with the queue first: handlers/blocks/queue.py). Pure."""

from __future__ import annotations

from typing import Any

from bot.services.records import QueueOverview, QueuePage, SignalSummary
from handlers import ids
from handlers.blocks.kit import (
    Block,
    actions,
    button,
    context,
    divider,
    header,
    kind_label,
    section,
    status_label,
)
from handlers.blocks.queue import build_queue_home_blocks, current_state, line_text
from handlers.formatting import escape, fit, inline

MAX_BLOCKS = 100  # Slack's limit for a Home view
MAX_OWN_SIGNALS = 40
MAX_ASSIGNED = 5


def build_home_view(*, own_signals: list[SignalSummary]) -> dict[str, Any]:
    blocks = _welcome() + _own_signals(own_signals)
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


def build_lead_home(
    overview: QueueOverview,
    *,
    own_signals: list[SignalSummary],
    lead_id: str,
    workspace_url: str | None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The leads' Home: the queue (counts, filter menus, a page with Next / Previous, quick and
    bulk Acknowledge), the signals they own; then their own named signals. The page's state
    (filter words, keyset position) is kept in private_metadata."""
    page = overview.page
    blocks = (
        _welcome()
        + [divider()]
        + build_queue_home_blocks(
            counts=overview.counts,
            page=page,
            lead_id=lead_id,
            workspace_url=workspace_url,
            notice=notice,
        )
        + _assigned(overview.assigned, workspace_url)
        + _own_signals(own_signals)
    )
    return {
        "type": "home",
        "private_metadata": current_state(page),
        "blocks": blocks[:MAX_BLOCKS],
    }


def _welcome() -> list[Block]:
    return [
        header("AI signals"),
        section(
            "Noticed drift, bias, an edge case or a data problem in an AI system? Raise it early — "
            "under your name or anonymously."
        ),
        actions(button(ids.HOME_OPEN_MODAL_ACTION, "Raise a signal", style="primary")),
    ]


def _own_signals(own_signals: list[SignalSummary]) -> list[Block]:
    blocks = [divider(), header("Your named signals")]
    if not own_signals:
        blocks.append(context("None yet. Anonymous signals are never listed here — use your code."))
    for signal in own_signals[:MAX_OWN_SIGNALS]:
        system = f" · {inline(signal.system)}" if signal.system else ""
        blocks.append(
            section(
                f"*{signal.ref}* · {escape(kind_label(signal.kind))}{system}\n"
                f"{status_label(signal.status)} — {fit(inline(signal.text), 200)}"
            )
        )
    return blocks


def _assigned(page: QueuePage, workspace_url: str | None) -> list[Block]:
    blocks = [header("Signals you own")]
    if not page.lines:
        return blocks + [context("None open.")]
    lines = [line_text(line, as_of=page.as_of, workspace_url=workspace_url) for line in page.lines]
    blocks += [section(text) for text in lines[:MAX_ASSIGNED]]
    if page.has_next or len(lines) > MAX_ASSIGNED:
        blocks.append(context("More: choose “Assigned to me” in the Owner menu above."))
    return blocks
