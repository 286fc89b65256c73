"""Builders for the App Home tab: a member's (raise a signal, their named signals) and a lead's
(the same, with the queue first). Pure."""

from __future__ import annotations

from typing import Any

from bot.services.records import QueueOverview, SignalDetail, SignalSummary
from handlers import ids
from handlers.blocks.kit import (
    Block,
    actions,
    button,
    context,
    divider,
    format_duration,
    header,
    kind_label,
    section,
    status_label,
)
from handlers.formatting import escape, fit, inline

MAX_BLOCKS = 100  # Slack's limit for a Home view
MAX_OWN_SIGNALS = 40


def build_home_view(*, own_signals: list[SignalSummary]) -> dict[str, Any]:
    blocks = _welcome() + _own_signals(own_signals)
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


def build_lead_home(overview: QueueOverview, *, own_signals: list) -> dict[str, Any]:
    """The leads' Home: the queue by status, the oldest unacknowledged, what they own; then
    their own named signals."""
    blocks = _welcome() + _queue(overview) + _own_signals(own_signals)
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


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


def _signal_line(detail: SignalDetail, tail: str) -> Block:
    signal = detail.signal
    system = f" · {inline(signal.system)}" if signal.system else ""
    return section(f"*{signal.ref}* · {escape(kind_label(signal.kind))}{system} — {tail}")


def _queue(overview: QueueOverview) -> list[Block]:
    counts = " · ".join(f"{status_label(k)}: *{v}*" for k, v in overview.counts.items())
    blocks = [divider(), header("The queue"), section(counts), header("Oldest unacknowledged")]
    if not overview.oldest_unacknowledged:
        blocks.append(context("Nothing waiting. :tada:"))
    for d in overview.oldest_unacknowledged:
        age = format_duration(overview.as_of - d.posted_at) if d.posted_at else "not posted yet"
        blocks.append(_signal_line(d, f"waiting {age}"))
    blocks.append(header("Signals you own"))
    if not overview.owned:
        blocks.append(context("None open."))
    for d in overview.owned:
        blocks.append(_signal_line(d, status_label(d.signal.status)))
    return blocks
