"""Builders for the lessons library: the `/ai-signal lessons` answer (with its "More" button), the
"seen before" lines of a triage post, and the lead's duplicate form. Pure."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot.services.records import Lesson, LessonQuery, LessonsPage, Related, SignalDetail
from handlers import ids
from handlers.blocks.kit import (
    SECTION_TEXT_LIMIT,
    Block,
    actions,
    button,
    context,
    input_block,
    kind_label,
    modal,
    pattern_label,
    section,
    status_label,
    text_input,
)
from handlers.formatting import escape, fit, inline, plain

# A "More" button's value carries the query and the next page (Slack: 2,000 characters).
BUTTON_VALUE_LIMIT = 2000


def thread_link(team_url: str | None, channel: str, ts: str) -> str | None:
    """The permalink of a message from its channel and ts (Slack's archives URL form)."""
    if not team_url or not channel or not ts:
        return None
    return f"{team_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


def _ref(ref: str, link: str | None) -> str:
    return f"<{link}|{ref}>" if link else ref


def query_words(query: LessonQuery) -> str:
    """The query as the person typed it (words and filters), for the answer's heading."""
    parts = list(query.words)
    if query.system:
        parts.append(f"system:{query.system}")
    if query.pattern:
        parts.append(f"pattern:{query.pattern}")
    if query.since:
        parts.append(f"since:{query.since.isoformat()}")
    return " ".join(parts)


def more_value(query: LessonQuery, page: int) -> str:
    value = {
        "w": list(query.words),
        "s": query.system,
        "p": query.pattern,
        "d": query.since.isoformat() if query.since else None,
        "n": page,
    }
    return json.dumps(value, separators=(",", ":"))[:BUTTON_VALUE_LIMIT]


def parse_more_value(value: str) -> tuple[LessonQuery, int] | None:
    """The query and page a "More" button carries; None for anything else."""
    try:
        data = json.loads(value)
        words = tuple(str(w)[:40] for w in data["w"][:8])
        since = date.fromisoformat(data["d"]) if data.get("d") else None
        query = LessonQuery(
            words=words,
            system=str(data["s"])[:200] if data.get("s") else None,
            pattern=str(data["p"])[:40] if data.get("p") else None,
            since=since,
        )
        return query, max(0, int(data["n"]))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def _lesson_lines(lesson: Lesson, link: str | None) -> list[str]:
    system = f" · {inline(lesson.system)}" if lesson.system else ""
    key = ":star: Key lesson · " if lesson.key else ""
    when = f" · resolved {lesson.resolved_at:%Y-%m-%d}" if lesson.resolved_at else ""
    lines = [f"• {key}*{_ref(lesson.ref, link)}* ({escape(kind_label(lesson.kind))}{system}){when}"]
    if lesson.failed_assumption:
        lines.append(f"   Assumption that failed: {fit(inline(lesson.failed_assumption), 300)}")
    if lesson.pattern:
        lines.append(f"   Pattern: {escape(pattern_label(lesson.pattern))}")
    if lesson.lesson:
        lines.append(f"   Lesson: {fit(inline(lesson.lesson), 300)}")
    return lines


def build_lessons_answer(page: LessonsPage, *, team_url: str | None = None) -> dict[str, Any]:
    """The private answer to `/ai-signal lessons …` (and each "More" page): text and blocks."""
    asked = query_words(page.query)
    scope = f" matching “{inline(asked)}”" if asked else ""
    if not page.lessons:
        text = f"No more lessons{scope}." if page.page else f"No lessons recorded yet{scope}."
        return {"text": text, "blocks": [section(text)]}
    heading = f"*Lessons from resolved signals*{scope}"
    if page.page:
        heading += f" — page {page.page + 1}"
    blocks: list[Block] = [section(heading + ":")]
    lines = [heading + ":"]
    for lesson in page.lessons:
        link = thread_link(team_url, lesson.triage_channel or "", lesson.triage_ts or "")
        entry = "\n".join(_lesson_lines(lesson, link))
        blocks.append(section(fit(entry, SECTION_TEXT_LIMIT)))
        lines.append(entry)
    if page.more:
        more = button(ids.LESSONS_MORE_ACTION, "More", more_value(page.query, page.page + 1))
        blocks.append(actions(more, block_id=ids.LESSONS_ACTIONS_BLOCK))
    else:
        blocks.append(context("Key lessons first, then the best matches, newest first."))
    return {"text": fit("\n".join(lines), 3000), "blocks": blocks}


def _related_line(item: Related, link: str | None) -> str:
    system = f" · {inline(item.system)}" if item.system else ""
    key = " :star:" if item.key else ""
    line = f"• *{_ref(item.ref, link)}*{key} {escape(kind_label(item.kind))}{system} — {status_label(item.status)}"
    if item.lesson:
        line += f" — Lesson: {fit(inline(item.lesson), 200)}"
    return line


def build_seen_before(related: tuple[Related, ...], *, team_url: str | None) -> Block | None:
    """The triage post's "seen before" lines: earlier signals and lessons on the same system or
    with similar words, linked to their threads. Never who raised them nor their words."""
    if not related:
        return None
    lines = ["*Seen before*"]
    for item in related:
        lines.append(
            _related_line(item, thread_link(team_url, item.triage_channel, item.triage_ts))
        )
    return section(fit("\n".join(lines), SECTION_TEXT_LIMIT), block_id=ids.SEEN_BEFORE_BLOCK)


def build_duplicate_modal(detail: SignalDetail) -> dict[str, Any]:
    s = detail.signal
    system = f" · {inline(s.system)}" if s.system else ""
    blocks = [
        context(fit(f"*{s.ref}* · {escape(kind_label(s.kind))}{system} — {inline(s.text)}", 2000)),
        input_block(
            ids.PRIMARY_BLOCK,
            "The earlier signal it duplicates",
            text_input(ids.PRIMARY_INPUT, placeholder="SIG-12", max_length=20),
            hint="Its reporter is thanked and follows that signal's outcome.",
        ),
    ]
    return modal(
        callback_id=ids.DUPLICATE_MODAL,
        private_metadata=json.dumps({"ref": s.ref}),
        title=plain(f"Duplicate {s.ref}", 24),
        submit="Mark duplicate",
        close="Cancel",
        blocks=blocks,
    )
