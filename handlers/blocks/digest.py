"""Builders for the weekly digest: Block Kit within Slack's limits, and a plain-text version.

Pure functions of `DigestData` (which carries no person: no reporter, no lead, no owner). Every
piece of user text — system names, failed assumptions, lessons — goes through `user_text` (a user
id typed into it is replaced, then `escape`) and `fit`, so nothing in a digest can name someone by
id, ping `@channel` or forge a link.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.services import charts
from bot.services.digest import (
    AttentionItem,
    DigestData,
    KindCount,
    Period,
    ResolvedItem,
    ResponseHealth,
    WeeklyKinds,
)
from bot.services.redaction import redact_user_ids
from handlers.blocks.kit import (
    MESSAGE_TEXT_LIMIT,
    Block,
    context,
    divider,
    fields,
    format_duration,
    header,
    kind_label,
    pattern_label,
    section,
    status_word,
)
from handlers.formatting import escape, fit, inline

SYSTEM_LIMIT = 150
ASSUMPTION_LIMIT = 1000
LESSON_LIMIT = 1200
NO_NAMES = "Names systems and patterns, never people."
INVITATION = "Something bothering you about an AI system? `/ai-signal` — anonymously if you prefer."


# -- small pieces ------------------------------------------------------------------------------


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


def pattern_word(pattern: str | None) -> str:
    return pattern_label(pattern) if pattern else "not recorded"


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


def _state_words(item: AttentionItem, reminder_hours: float) -> str:
    if item.stalled:
        state = f"{item.status}, {_stalled_words(reminder_hours)}"
    elif item.status == "new":
        state = "waiting for acknowledgement"
    else:
        state = item.status
    return f"{state}, overdue" if item.overdue else state


def _attention_line(item: AttentionItem, esc: Callable[[str], str], reminder_hours: float) -> str:
    state = _state_words(item, reminder_hours)
    system = _system(item.system)
    where = f" · {esc(system)}" if system else ""
    return (
        f"{esc(item.ref)} · {esc(kind_label(item.kind))}{where} — raised {age_words(item.age)} "
        f"ago, {state}"
    )


def _kind_counts(kinds: tuple[KindCount, ...]) -> list[KindCount]:
    return [k for k in kinds if k.count or k.previous]


def _subject(period: Period) -> str:
    return f"this {period.noun}"


def _text_subject(period: Period) -> str:
    """In the text of a preview, the period is the part of it gone by."""
    return f"this {period.noun} so far" if period.in_progress else _subject(period)


def _attention_block(item: AttentionItem, link: str | None, reminder_hours: float) -> Block:
    ref = f"*<{link}|{escape(item.ref)}>*" if link else f"*{escape(item.ref)}*"
    system = _system(item.system)
    where = f" · {fit(user_text(system), SYSTEM_LIMIT)}" if system else ""
    state = escape(_state_words(item, reminder_hours)).capitalize()
    return section(
        f"{ref} · {escape(kind_label(item.kind))}{where}\n{state} · raised {age_words(item.age)} ago"
    )


def _resolved_block(item: ResolvedItem) -> Block:
    system = _system(item.system)
    where = f" · {fit(user_text(system), SYSTEM_LIMIT)}" if system else ""
    assumption = fit(user_text(item.failed_assumption or "—"), ASSUMPTION_LIMIT)
    lesson = fit(user_text(item.lesson or "—"), LESSON_LIMIT)
    return section(
        f"*{escape(item.ref)}* · {escape(kind_label(item.kind))}{where}\n"
        f"*Failed assumption:* {assumption}\n"
        f"*Pattern:* {escape(pattern_word(item.pattern))}\n"
        f"*Lesson:* {lesson}"
    )


# -- the sections, each as text lines and as blocks ----------------------------------------------

Escape = Callable[[str], str]


@dataclass(frozen=True)
class Part:
    """One section of the digest: its lines in the text version and its blocks."""

    lines: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


def _opening(data: DigestData, esc: Escape) -> Part:
    period = data.period
    this = _subject(period)
    blocks = [
        header(f"AI signal digest · {period_title(period)}"),
        context(f"Covers {period_sentence(period)}. {NO_NAMES}"),
    ]
    kinds = _kind_counts(data.new_by_kind)
    if data.empty:
        blocks.append(
            section(
                f"*No new signals {this}.* Nothing was raised between "
                f"{_day(period.local(period.start))} and {_day(period.local(period.end))}."
            )
        )
    else:
        blocks.append(
            section(
                f"*New signals {this}: {data.new_total}* "
                f"({change(data.new_total, data.previous_total)} on the previous "
                f"{period.noun}: {data.previous_total})"
                + (
                    f" — {data.new_duplicates} of them the same concern as an earlier signal, "
                    "counted once by kind"
                    if data.new_duplicates
                    else ""
                )
            )
        )
        if kinds:
            blocks.append(
                fields(
                    *(
                        f"*{escape(k.label)}*\n{k.count} ({change(k.count, k.previous)})"
                        for k in kinds
                    )
                )
            )
    return Part(_opening_lines(data, esc, kinds), blocks)


def _opening_lines(data: DigestData, esc: Escape, kinds: list[KindCount]) -> list[str]:
    period = data.period
    this = _text_subject(period)
    if period.in_progress:
        # A preview of the running period: a part of it, so no change against a whole one.
        lines = [
            f"AI signal digest · {period_title(period)} (preview, in progress)",
            f"{progress_sentence(period, data.now)} {NO_NAMES}",
            "",
        ]
        if data.empty:
            return [*lines, f"No new signals {this}."]
        lines.append(
            f"New signals {this}: {data.new_total} "
            f"(the whole previous {period.noun}: {data.previous_total})"
        )
        return lines + [f"  {esc(k.label)}: {k.count} (previous: {k.previous})" for k in kinds]
    lines = [
        f"AI signal digest · {period_title(period)}",
        f"Covers {period_sentence(period)}. {NO_NAMES}",
        "",
    ]
    if data.empty:
        return [*lines, f"No new signals {this}."]
    lines.append(
        f"New signals {this}: {data.new_total} "
        f"({change(data.new_total, data.previous_total)} on the previous {period.noun}: "
        f"{data.previous_total})"
    )
    return lines + [f"  {esc(k.label)}: {k.count} ({change(k.count, k.previous)})" for k in kinds]


def _standing(data: DigestData) -> Part:
    this, this_text = _subject(data.period), _text_subject(data.period)
    lines = ["", "Where things stand:"]
    lines += [f"  {status_word(status)}: {count}" for status, count in data.open_counts.items()]
    lines.append(f"  Resolved {this_text}: {data.resolved_count}")
    lines.append(f"  Declined {this_text} (not a problem): {data.declined_count}")
    withdrawn = f"Withdrawn by their reporters {this}"
    if data.withdrawn_count:
        lines.append(f"  Withdrawn by their reporters {this_text}: {data.withdrawn_count}")
    blocks = [
        divider(),
        section("*Where things stand*"),
        fields(
            *(
                f"*{escape(status_word(status))}*\n{count}"
                for status, count in data.open_counts.items()
            ),
            f"*Resolved {this}*\n{data.resolved_count}",
            f"*Declined {this}*\n{data.declined_count}",
            *([f"*{withdrawn}*\n{data.withdrawn_count}"] if data.withdrawn_count else []),
        ),
    ]
    return Part(lines, blocks)


def _attention(data: DigestData, esc: Escape, links: Mapping[str, str]) -> Part:
    if not data.needs_attention:
        return Part()
    more = data.needs_attention_total - len(data.needs_attention)
    lines = ["", "Needs attention (oldest first):"]
    lines += [
        f"  - {_attention_line(item, esc, data.reminder_hours)}" for item in data.needs_attention
    ]
    blocks = [divider(), section("*Needs attention* — oldest first")]
    blocks += [
        _attention_block(item, _safe_link(links.get(item.ref)), data.reminder_hours)
        for item in data.needs_attention
    ]
    if more > 0:
        lines.append(f"  … and {more} more waiting")
        blocks.append(context(f"… and {more} more waiting."))
    return Part(lines, blocks)


def _resolved(data: DigestData, esc: Escape) -> Part:
    this, this_text = _subject(data.period), _text_subject(data.period)
    more = data.resolved_count - len(data.resolved)
    lines: list[str] = []
    if data.resolved:
        lines += ["", f"Resolved {this_text} — what we learned:"]
        for item in data.resolved:
            system = _system(item.system)
            where = f" · {esc(system)}" if system else ""
            lines.append(f"  - {esc(item.ref)} · {esc(kind_label(item.kind))}{where}")
            lines.append(f"    Failed assumption: {esc(item.failed_assumption or '—')}")
            lines.append(f"    Pattern: {esc(pattern_word(item.pattern))}")
            lines.append(f"    Lesson: {esc(item.lesson or '—')}")
        if more > 0:
            lines.append(f"  … and {more} more resolved")
    if not (data.resolved or data.declined_count):
        return Part(lines)
    blocks = [divider(), section(f"*Resolved {this} — what we learned*")]
    blocks += [_resolved_block(item) for item in data.resolved]
    notes = [f"… and {more} more resolved."] if more > 0 else []
    if data.declined_count:
        notes.append(
            f"{data.declined_count} declined as not a problem — still counted, "
            "and thank you for raising them."
        )
    if notes:
        blocks.append(context(" ".join(notes)))
    return Part(lines, blocks)


def _recurring(data: DigestData, esc: Escape) -> Part:
    if not (data.recurring or data.patterns):
        return Part()
    more = data.recurring_total - len(data.recurring)
    lines = ["", "Recurring:"]
    lines += [f"  - {esc(s.system)}: {s.count} signals" for s in data.recurring]
    shown = ["*Recurring*"]
    shown += [
        f"• {fit(user_text(s.system), SYSTEM_LIMIT)} — {s.count} signals" for s in data.recurring
    ]
    if more > 0:
        lines.append(f"  … and {more} more systems")
        shown.append(f"… and {more} more systems")
    if data.patterns:
        lines.append(
            "  Patterns across resolutions: "
            + ", ".join(f"{esc(pattern_word(p))} ×{n}" for p, n in data.patterns)
        )
        shown.append(
            "*Patterns across resolutions:* "
            + ", ".join(f"{escape(pattern_word(p))} ×{n}" for p, n in data.patterns)
        )
    return Part(lines, [divider(), section("\n".join(shown))])


def _health(data: DigestData) -> Part:
    this, this_text = _subject(data.period), _text_subject(data.period)
    named = health_words(data.named, reminder_hours=data.reminder_hours)
    anonymous = health_words(data.anonymous, reminder_hours=data.reminder_hours)
    lines = [
        "",
        "Response health (time from triage post to acknowledgement):",
        f"  Named: {named}",
        f"  Anonymous: {anonymous}",
    ]
    blocks = [
        divider(),
        section(
            f"*Response health* — time from triage post to acknowledgement, for signals posted "
            f"{this}"
        ),
        fields(f"*Named*\n{named}", f"*Anonymous*\n{anonymous}"),
    ]
    if data.escalated_count:
        lines.append(f"  Escalated after the last reminder {this_text}: {data.escalated_count}")
        blocks.append(
            context(
                f"Escalated after the last reminder went unanswered {this}: {data.escalated_count}"
            )
        )
    if anonymous_waited_longer(data):
        lines.append(f"  Anonymous signals waited longer than named ones {this_text}.")
        blocks.append(
            context(
                f":warning: Anonymous signals waited longer than named ones {this}. "
                "Anonymous concerns must not wait longer."
            )
        )
    return Part(lines, blocks)


def _sections(data: DigestData, esc: Escape, links: Mapping[str, str]) -> list[Part]:
    return [
        _opening(data, esc),
        _standing(data),
        _attention(data, esc, links),
        _resolved(data, esc),
        _recurring(data, esc),
        _health(data),
        Part(blocks=[context(INVITATION)]),
    ]


# -- the two renderings ------------------------------------------------------------------------


def build_digest_text(data: DigestData, *, for_slack: bool = False) -> str:
    """The whole digest as readable text: `ai-signal digest preview`, and the message fallback.

    `for_slack` escapes user text (the fallback is shown by Slack in notifications); the preview
    in a terminal shows it as typed.
    """
    esc: Escape = user_text if for_slack else redact_user_ids
    lines = [line for part in _sections(data, esc, {}) for line in part.lines]
    text = "\n".join(lines) + "\n"
    return text[:MESSAGE_TEXT_LIMIT] if for_slack else text


def build_digest_blocks(data: DigestData, *, links: Mapping[str, str] | None = None) -> list[Block]:
    """At most ~35 blocks whatever the data (Slack allows 50 in a message)."""
    return [block for part in _sections(data, user_text, links or {}) for block in part.blocks]


def build_digest_message(
    data: DigestData, *, links: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`text` (escaped fallback) and `blocks` for chat.postMessage."""
    return {
        "text": build_digest_text(data, for_slack=True),
        "blocks": build_digest_blocks(data, links=links),
    }


# -- the chart after the digest -----------------------------------------------------------------

CHART_TITLE = "Signals by kind, last eight weeks"


def build_digest_chart(weekly: WeeklyKinds) -> bytes:
    """The PNG: one stacked bar per week (the period's start date), a segment per kind."""
    series = {kind_label(kind): counts for kind, counts in weekly.series.items()}
    return charts.digest_chart_png(
        weeks=[start.date() for start in weekly.starts], series=series, title=CHART_TITLE
    )


def build_digest_chart_alt(weekly: WeeklyKinds) -> str:
    """The chart in words (the file's alt text): each kind's counts, oldest week first."""
    if not weekly.series:
        return f"{CHART_TITLE}: no signals."
    parts = [
        f"{kind_label(kind)} " + ", ".join(str(n) for n in counts)
        for kind, counts in weekly.series.items()
    ]
    return fit(f"{CHART_TITLE}, oldest week first: " + "; ".join(parts), 1000)
