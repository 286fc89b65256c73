"""Builders for the weekly digest: Block Kit within Slack's limits, and a plain-text version.

Pure functions of `DigestData` (which carries no person: no reporter, no lead, no owner). Every
piece of user text — system names, failed assumptions, lessons — goes through `user_text` (a user
id typed into it is replaced, then `escape`) and `fit`, so nothing in a digest can name someone by
id, ping `@channel` or forge a link.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.services.digest import (
    AttentionItem,
    DigestData,
    KindCount,
    Period,
    ResolvedItem,
    ResponseHealth,
    redact_user_ids,
)
from bot.services.triage import PATTERNS
from bot.services.vocabulary import KINDS
from handlers.blocks.intake import FIELD_LIMIT, HEADER_LIMIT, SECTION_TEXT_LIMIT, format_duration
from handlers.formatting import escape, fit, inline, plain

Block = dict[str, Any]

MESSAGE_TEXT_LIMIT = 39_000  # Slack truncates a message's `text` at 40,000
SYSTEM_LIMIT = 150
ASSUMPTION_LIMIT = 1000
LESSON_LIMIT = 1200
NO_NAMES = "Names systems and patterns, never people."
INVITATION = "Something bothering you about an AI system? `/ai-signal` — anonymously if you prefer."
STATUS_WORDS = {
    "new": "Open (unacknowledged)",
    "acknowledged": "Acknowledged",
    "investigating": "Investigating",
}


# -- small pieces ------------------------------------------------------------------------------


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(fit(text, SECTION_TEXT_LIMIT))}


def _fields(*texts: str) -> Block:
    return {"type": "section", "fields": [_mrkdwn(fit(t, FIELD_LIMIT)) for t in texts[:10]]}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(fit(text, SECTION_TEXT_LIMIT))]}


_DIVIDER: Block = {"type": "divider"}


def _day(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b} {moment.year}"


def period_title(period: Period) -> str:
    start, end = period.local(period.start), period.local(period.end)
    if start.year == end.year:
        return f"{start.day} {start:%b} – {end.day} {end:%b %Y}"
    return f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}"


def period_sentence(period: Period) -> str:
    start, end = period.local(period.start), period.local(period.end)
    return f"{_day(start)} {start:%H:%M} – {_day(end)} {end:%H:%M} ({period.timezone})"


def progress_sentence(period: Period, now: datetime) -> str:
    """For a preview of the period still running: which period, up to when, when it is sent."""
    start, at, end = period.local(period.start), period.local(now), period.local(period.end)
    return (
        f"Preview of the {period.noun} in progress: {_day(start)} {start:%H:%M} – now, "
        f"{_day(at)} {at:%H:%M} ({period.timezone}). Its digest is posted "
        f"{_day(end)} {end:%H:%M}; figures may still change."
    )


def change(count: int, previous: int) -> str:
    delta = count - previous
    if delta > 0:
        return f"+{delta}"
    if delta < 0:
        return f"−{-delta}"
    return "±0"


def age_words(age: timedelta) -> str:
    """Whole days only: a digest has no business dating a filing to the hour."""
    days = int(age.total_seconds() // 86400)
    if days < 1:
        return "under a day"
    return "1 day" if days == 1 else f"{days} days"


def kind_word(kind: str) -> str:
    return KINDS.get(kind, kind)


def pattern_word(pattern: str | None) -> str:
    if not pattern:
        return "not recorded"
    return PATTERNS.get(pattern, pattern)


def hours_words(hours: float) -> str:
    return f"{hours:g} h"


def health_words(health: ResponseHealth, *, reminder_hours: float) -> str:
    if health.posted == 0:
        return "no signals posted"
    median = format_duration(health.median) if health.median is not None else "—"
    parts = [f"median {median} to acknowledge"]
    if health.share_within is not None:
        parts.append(
            f"{health.within_window} of {health.eligible} ({round(health.share_within * 100)}%) "
            f"within {hours_words(reminder_hours)}"
        )
    parts.append(f"{health.posted} posted")
    return " · ".join(parts)


def anonymous_waited_longer(data: DigestData) -> bool:
    """See `bot.services.digest.anonymous_waited_longer`: big enough samples, a material gap."""
    return data.anonymous_waited_longer


def user_text(text: str) -> str:
    """What a person typed, for mrkdwn: no user id, nothing that pings or links, on one line
    and with no formatting that could pass for the digest's own words."""
    return inline(redact_user_ids(text))


def _safe_link(url: str | None) -> str | None:
    """Only a plain http(s) URL from Slack can become a link; anything odd stays text."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    if any(ch in url for ch in "<>| \n\t"):
        return None
    return url


# -- lines shared by blocks and text ------------------------------------------------------------


def _stalled_words(reminder_hours: float) -> str:
    return f"no update for over {hours_words(reminder_hours)}"


def _system(system: str | None) -> str | None:
    return (system or "").strip() or None


def _attention_line(item: AttentionItem, esc: Callable[[str], str], reminder_hours: float) -> str:
    state = (
        f"{item.status}, {_stalled_words(reminder_hours)}"
        if item.stalled
        else "waiting for acknowledgement"
    )
    system = _system(item.system)
    where = f" · {esc(system)}" if system else ""
    return (
        f"{esc(item.ref)} · {esc(kind_word(item.kind))}{where} — raised {age_words(item.age)} "
        f"ago, {state}"
    )


def _kind_counts(kinds: tuple[KindCount, ...]) -> list[KindCount]:
    return [k for k in kinds if k.count or k.previous]


def _subject(period: Period) -> str:
    return f"this {period.noun}"


# -- plain text --------------------------------------------------------------------------------


def build_digest_text(data: DigestData, *, for_slack: bool = False) -> str:
    """The whole digest as readable text: `ai-signal digest preview`, and the message fallback.

    `for_slack` escapes user text (the fallback is shown by Slack in notifications); the preview
    in a terminal shows it as typed.
    """
    esc: Callable[[str], str] = user_text if for_slack else redact_user_ids
    period = data.period
    this = _subject(period)
    if period.in_progress:
        # A preview of the running period: a part of it, so no change against a whole one.
        lines = [
            f"AI signal digest · {period_title(period)} (preview, in progress)",
            f"{progress_sentence(period, data.now)} {NO_NAMES}",
            "",
        ]
        so_far = f"{this} so far"
        if data.empty:
            lines.append(f"No new signals {so_far}.")
        else:
            lines.append(
                f"New signals {so_far}: {data.new_total} "
                f"(the whole previous {period.noun}: {data.previous_total})"
            )
            for k in _kind_counts(data.new_by_kind):
                lines.append(f"  {esc(k.label)}: {k.count} (previous: {k.previous})")
        this = so_far
    else:
        lines = [
            f"AI signal digest · {period_title(period)}",
            f"Covers {period_sentence(period)}. {NO_NAMES}",
            "",
        ]
        if data.empty:
            lines.append(f"No new signals {this}.")
        else:
            lines.append(
                f"New signals {this}: {data.new_total} "
                f"({change(data.new_total, data.previous_total)} on the previous {period.noun}: "
                f"{data.previous_total})"
            )
            for k in _kind_counts(data.new_by_kind):
                lines.append(f"  {esc(k.label)}: {k.count} ({change(k.count, k.previous)})")
    lines += ["", "Where things stand:"]
    for status, count in data.open_counts.items():
        lines.append(f"  {STATUS_WORDS.get(status, status)}: {count}")
    lines.append(f"  Resolved {this}: {data.resolved_count}")
    lines.append(f"  Declined {this} (not a problem): {data.declined_count}")
    if data.needs_attention:
        lines += ["", "Needs attention (oldest first):"]
        lines += [
            f"  - {_attention_line(item, esc, data.reminder_hours)}"
            for item in data.needs_attention
        ]
        if data.needs_attention_total > len(data.needs_attention):
            lines.append(
                f"  … and {data.needs_attention_total - len(data.needs_attention)} more waiting"
            )
    if data.resolved:
        lines += ["", f"Resolved {this} — what we learned:"]
        for item in data.resolved:
            system = _system(item.system)
            where = f" · {esc(system)}" if system else ""
            lines.append(f"  - {esc(item.ref)} · {esc(kind_word(item.kind))}{where}")
            lines.append(f"    Failed assumption: {esc(item.failed_assumption or '—')}")
            lines.append(f"    Pattern: {esc(pattern_word(item.pattern))}")
            lines.append(f"    Lesson: {esc(item.lesson or '—')}")
        if data.resolved_count > len(data.resolved):
            lines.append(f"  … and {data.resolved_count - len(data.resolved)} more resolved")
    if data.recurring or data.patterns:
        lines += ["", "Recurring:"]
        for system in data.recurring:
            lines.append(f"  - {esc(system.system)}: {system.count} signals")
        if data.recurring_total > len(data.recurring):
            lines.append(f"  … and {data.recurring_total - len(data.recurring)} more systems")
        if data.patterns:
            lines.append(
                "  Patterns across resolutions: "
                + ", ".join(f"{esc(pattern_word(p))} ×{n}" for p, n in data.patterns)
            )
    lines += [
        "",
        "Response health (time from triage post to acknowledgement):",
        f"  Named: {health_words(data.named, reminder_hours=data.reminder_hours)}",
        f"  Anonymous: {health_words(data.anonymous, reminder_hours=data.reminder_hours)}",
    ]
    if anonymous_waited_longer(data):
        lines.append(f"  Anonymous signals waited longer than named ones {this}.")
    text = "\n".join(lines) + "\n"
    return text[:MESSAGE_TEXT_LIMIT] if for_slack else text


# -- Block Kit ---------------------------------------------------------------------------------


def _attention_block(item: AttentionItem, link: str | None, reminder_hours: float) -> Block:
    ref = f"*<{link}|{escape(item.ref)}>*" if link else f"*{escape(item.ref)}*"
    system = _system(item.system)
    where = f" · {fit(user_text(system), SYSTEM_LIMIT)}" if system else ""
    state = (
        f"{escape(item.status).capitalize()}, {_stalled_words(reminder_hours)}"
        if item.stalled
        else "Waiting for acknowledgement"
    )
    return _section(
        f"{ref} · {escape(kind_word(item.kind))}{where}\n{state} · raised {age_words(item.age)} ago"
    )


def _resolved_block(item: ResolvedItem) -> Block:
    system = _system(item.system)
    where = f" · {fit(user_text(system), SYSTEM_LIMIT)}" if system else ""
    assumption = fit(user_text(item.failed_assumption or "—"), ASSUMPTION_LIMIT)
    lesson = fit(user_text(item.lesson or "—"), LESSON_LIMIT)
    return _section(
        f"*{escape(item.ref)}* · {escape(kind_word(item.kind))}{where}\n"
        f"*Failed assumption:* {assumption}\n"
        f"*Pattern:* {escape(pattern_word(item.pattern))}\n"
        f"*Lesson:* {lesson}"
    )


def build_digest_blocks(data: DigestData, *, links: Mapping[str, str] | None = None) -> list[Block]:
    """At most ~35 blocks whatever the data (Slack allows 50 in a message)."""
    links = links or {}
    period = data.period
    this = _subject(period)
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": plain(f"AI signal digest · {period_title(period)}", HEADER_LIMIT),
            },
        },
        _context(f"Covers {period_sentence(period)}. {NO_NAMES}"),
    ]

    if data.empty:
        blocks.append(
            _section(
                f"*No new signals {this}.* Nothing was raised between "
                f"{_day(period.local(period.start))} and {_day(period.local(period.end))}."
            )
        )
    else:
        blocks.append(
            _section(
                f"*New signals {this}: {data.new_total}* "
                f"({change(data.new_total, data.previous_total)} on the previous "
                f"{period.noun}: {data.previous_total})"
            )
        )
        kinds = _kind_counts(data.new_by_kind)
        if kinds:
            blocks.append(
                _fields(
                    *(
                        f"*{escape(k.label)}*\n{k.count} ({change(k.count, k.previous)})"
                        for k in kinds
                    )
                )
            )

    blocks += [
        _DIVIDER,
        _section("*Where things stand*"),
        _fields(
            *(
                f"*{STATUS_WORDS.get(status, escape(status))}*\n{count}"
                for status, count in data.open_counts.items()
            ),
            f"*Resolved {this}*\n{data.resolved_count}",
            f"*Declined {this}*\n{data.declined_count}",
        ),
    ]

    if data.needs_attention:
        blocks += [_DIVIDER, _section("*Needs attention* — oldest first")]
        blocks += [
            _attention_block(item, _safe_link(links.get(item.ref)), data.reminder_hours)
            for item in data.needs_attention
        ]
        more = data.needs_attention_total - len(data.needs_attention)
        if more > 0:
            blocks.append(_context(f"… and {more} more waiting."))

    if data.resolved or data.declined_count:
        blocks += [_DIVIDER, _section(f"*Resolved {this} — what we learned*")]
        blocks += [_resolved_block(item) for item in data.resolved]
        more = data.resolved_count - len(data.resolved)
        notes = []
        if more > 0:
            notes.append(f"… and {more} more resolved.")
        if data.declined_count:
            notes.append(
                f"{data.declined_count} declined as not a problem — still counted, "
                "and thank you for raising them."
            )
        if notes:
            blocks.append(_context(" ".join(notes)))

    if data.recurring or data.patterns:
        lines = ["*Recurring*"]
        lines += [
            f"• {fit(user_text(s.system), SYSTEM_LIMIT)} — {s.count} signals"
            for s in data.recurring
        ]
        if data.recurring_total > len(data.recurring):
            lines.append(f"… and {data.recurring_total - len(data.recurring)} more systems")
        if data.patterns:
            lines.append(
                "*Patterns across resolutions:* "
                + ", ".join(f"{escape(pattern_word(p))} ×{n}" for p, n in data.patterns)
            )
        blocks += [_DIVIDER, _section("\n".join(lines))]

    blocks += [
        _DIVIDER,
        _section(
            f"*Response health* — time from triage post to acknowledgement, for signals posted "
            f"{this}"
        ),
        _fields(
            f"*Named*\n{health_words(data.named, reminder_hours=data.reminder_hours)}",
            f"*Anonymous*\n{health_words(data.anonymous, reminder_hours=data.reminder_hours)}",
        ),
    ]
    if anonymous_waited_longer(data):
        blocks.append(
            _context(
                f":warning: Anonymous signals waited longer than named ones {this}. "
                "Anonymous concerns must not wait longer."
            )
        )
    blocks.append(_context(INVITATION))
    return blocks


def build_digest_message(
    data: DigestData, *, links: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`text` (escaped fallback) and `blocks` for chat.postMessage."""
    return {
        "text": build_digest_text(data, for_slack=True),
        "blocks": build_digest_blocks(data, links=links),
    }
