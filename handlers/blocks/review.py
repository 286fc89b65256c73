"""Builders for `/ai-signal review`: the short summary posted with the report, and the private
lines around it. Pure functions of a `ReviewReport`, which names no person; system names are
user text and go through `user_text` (ids replaced, escaped)."""

from __future__ import annotations

from bot.services.redaction import redact_user_ids
from bot.services.report_render import duration_text
from bot.services.review import ReviewReport
from handlers.blocks.kit import kind_label, pattern_label
from handlers.formatting import escape, fit

SUMMARY_LIMIT = 3000
TOP = 3


def _user_text(text: str, limit: int = 80) -> str:
    return fit(escape(redact_user_ids(text)), limit)


def build_review_summary(report: ReviewReport) -> str:
    """A few lines for the channel: the figures a board looks at first, and what the file is."""
    scope = f" for {_user_text(report.system)}" if report.system else ""
    lines = [f"*AI signals review, {report.period.label}{scope}* — the full report is attached."]
    if report.total == 0:
        lines.append("No signals were filed in this period.")
        return "\n".join(lines)
    declined, duplicate = report.share("declined"), report.share("duplicate")
    lines.append(
        f"{report.total} signal(s) filed · {report.statuses.get('resolved', 0)} resolved · "
        f"declined {declined:.0%} · duplicates {duplicate:.0%}"
    )
    kinds = sorted(report.kind_totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    if kinds:
        lines.append("Most raised: " + ", ".join(f"{kind_label(k)} {n}" for k, n in kinds if n))
    if report.recurring_patterns:
        system, pattern, count = report.recurring_patterns[0]
        lines.append(
            f"Recurring: {pattern_label(pattern)} in {_user_text(system)} ({count} signals)"
        )
    lines.append(
        "Time to acknowledge (median): named "
        f"{duration_text(report.ack_named.median)}, anonymous "
        f"{duration_text(report.ack_anonymous.median)}"
    )
    return fit("\n".join(lines), SUMMARY_LIMIT)


def build_review_started_text(label: str, channel: str) -> str:
    return f"Putting together the review of {label}; it will be posted in <#{channel}> shortly."


def build_review_failed_text(label: str, error: str) -> str:
    return (
        f"Sorry — Slack did not take the review of {label} ({escape(error)}). Nothing was "
        "posted; please run `/ai-signal review` again in a moment."
    )
