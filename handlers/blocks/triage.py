"""Builders for the lead side: modals, thread replies, notices, status and lessons. Pure."""

from __future__ import annotations

import json
from typing import Any

from bot.services.records import EventSummary, Lesson, QueueOverview, SignalDetail
from bot.services.triage import MAX_NOTE
from bot.services.vocabulary import IMPACTS, PATTERNS
from handlers import ids
from handlers.blocks.intake import (
    OPTION_TEXT_LIMIT,
    Unreadable,
    build_home_view,
    format_duration,
    input_value,
    kind_label,
    quote,
    required_text,
    selected_value,
    state_values,
    status_label,
    text_field,
)
from handlers.formatting import escape, fit, inline, plain

Block = dict[str, Any]
THREAD_TEXT_LIMIT = 3000


def _pt(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _pt(plain(label, OPTION_TEXT_LIMIT)), "value": value}


def _text_input(
    block_id: str,
    action_id: str,
    label: str,
    *,
    optional: bool = False,
    multiline: bool = True,
    initial: str | None = None,
) -> Block:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
        "max_length": MAX_NOTE,
    }
    if initial:
        element["initial_value"] = initial[:MAX_NOTE]
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": _pt(label),
        "element": element,
    }


def _modal(
    callback_id: str, title: str, ref: str, blocks: list[Block], submit: str
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": json.dumps({"ref": ref}),
        "title": _pt(plain(title, 24)),
        "submit": _pt(submit),
        "close": _pt("Cancel"),
        "blocks": blocks,
    }


def _context_signal(detail: SignalDetail) -> Block:
    s = detail.signal
    system = f" · {inline(s.system)}" if s.system else ""
    return {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": fit(
                    f"*{s.ref}* · {escape(kind_label(s.kind))}{system} — {inline(s.text)}", 2000
                ),
            }
        ],
    }


def ref_from_view(view: dict[str, Any]) -> str:
    """The signal reference a lead modal carries in private_metadata (`{"ref": "SIG-1"}`); any
    other content, JSON type or none -> Unreadable."""
    metadata = text_field(view, "private_metadata", what="private_metadata")
    try:
        parsed = json.loads(metadata)
    except (ValueError, RecursionError) as error:
        raise Unreadable("private_metadata") from error
    return required_text(parsed, "ref", what="private_metadata")


def build_triage_modal(detail: SignalDetail) -> dict[str, Any]:
    impact: dict[str, Any] = {
        "type": "static_select",
        "action_id": ids.IMPACT_LEVEL_INPUT,
        "options": [_option(k, v) for k, v in IMPACTS.items()],
    }
    if detail.confirmed_impact in IMPACTS:
        impact["initial_option"] = _option(
            detail.confirmed_impact, IMPACTS[detail.confirmed_impact]
        )
    owner: dict[str, Any] = {"type": "users_select", "action_id": ids.OWNER_INPUT}
    if detail.owner_id:
        owner["initial_user"] = detail.owner_id
    investigating = _option("investigating", "Investigating — we are looking into it")
    declined = _option("declined", "Declined — not a problem (still counted, still thanked)")
    blocks: list[Block] = [
        _context_signal(detail),
        {
            "type": "input",
            "block_id": ids.IMPACT_LEVEL_BLOCK,
            "optional": True,
            "label": _pt("Confirmed impact"),
            "element": impact,
        },
        {
            "type": "input",
            "block_id": ids.OWNER_BLOCK,
            "optional": True,
            "label": _pt("Owner (a lead)"),
            "element": owner,
        },
        {
            "type": "input",
            "block_id": ids.STATUS_BLOCK,
            "label": _pt("Status"),
            "element": {
                "type": "radio_buttons",
                "action_id": ids.STATUS_INPUT,
                "options": [investigating, declined],
                "initial_option": investigating,
            },
        },
        _text_input(
            ids.NOTE_BLOCK, ids.NOTE_INPUT, "Next step", optional=True, initial=detail.next_step
        ),
        _text_input(
            ids.REASON_BLOCK, ids.REASON_INPUT, "Reason (required when declining)", optional=True
        ),
    ]
    return _modal(
        ids.TRIAGE_MODAL, f"Triage {detail.signal.ref}", detail.signal.ref, blocks, "Save"
    )


def build_ask_modal(detail: SignalDetail) -> dict[str, Any]:
    who = (
        "The reporter is anonymous: they read your question with their follow-up code and can "
        "answer without being identified."
        if detail.signal.anonymous
        else "The reporter is told privately and can answer with `/ai-signal reply "
        f"{detail.signal.ref} …`; the answer lands in this thread."
    )
    blocks = [
        _context_signal(detail),
        _text_input(ids.QUESTION_BLOCK, ids.QUESTION_INPUT, "Your question for the reporter"),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": who}]},
    ]
    return _modal(ids.ASK_MODAL, f"Ask about {detail.signal.ref}", detail.signal.ref, blocks, "Ask")


def build_resolve_modal(detail: SignalDetail) -> dict[str, Any]:
    blocks = [
        _context_signal(detail),
        _text_input(ids.DONE_BLOCK, ids.DONE_INPUT, "What was done"),
        _text_input(
            ids.ASSUMPTION_BLOCK, ids.ASSUMPTION_INPUT, "Which assumption failed?", optional=True
        ),
        {
            "type": "input",
            "block_id": ids.PATTERN_BLOCK,
            "label": _pt("Systemic pattern"),
            "element": {
                "type": "static_select",
                "action_id": ids.PATTERN_INPUT,
                "options": [_option(k, v) for k, v in PATTERNS.items()],
            },
        },
        _text_input(
            ids.LESSON_BLOCK, ids.LESSON_INPUT, "Lesson for the next project", optional=True
        ),
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Blameless review: describe the system and the assumption, not the people.",
                }
            ],
        },
    ]
    return _modal(
        ids.RESOLVE_MODAL, f"Resolve {detail.signal.ref}", detail.signal.ref, blocks, "Resolve"
    )


def parse_values(view: dict[str, Any]) -> dict[str, str | None]:
    """Flatten state.values: {block_id: value} for text, selects, radios and user pickers."""
    flat: dict[str, str | None] = {}
    for block_id, actions in state_values(view).items():
        for value in actions.values():
            value = value or {}
            flat[block_id] = (
                input_value(value)
                or selected_value(value)
                or text_field(value, "selected_user", what="state.values selected_user")
                or None
            )
    return flat


# -- thread replies and notices ---------------------------------------------------------------


def _who(event: EventSummary) -> str:
    return f"<@{event.actor_id}>" if event.actor_id else "A lead"


def build_thread_reply(
    detail: SignalDetail, event: EventSummary, *, lead_mention: str
) -> dict[str, Any]:
    """One history event as a reply under the triage post."""
    note = inline(event.note or "")
    ref = detail.signal.ref
    reporter = "the reporter (anonymous)" if detail.signal.anonymous else "the reporter"
    if event.action == "acknowledged":
        text = f":eyes: {_who(event)} acknowledged {ref}. Thank you to {reporter} for raising it — we're looking at it."
    elif event.action == "triaged":
        parts = [f":mag: {_who(event)} triaged {ref}: *investigating*."]
        if detail.confirmed_impact:
            parts.append(f"Confirmed impact: {escape(detail.confirmed_impact.title())}.")
        if detail.owner_id:
            parts.append(f"Owner: <@{detail.owner_id}>.")
        if note:
            parts.append(f"Next step: {note}")
        text = " ".join(parts)
    elif event.action == "declined":
        text = (
            f":pray: {_who(event)} declined {ref} as not a problem — still counted, and thanks "
            f"to {reporter} for raising it. Reason: {note}"
        )
    elif event.action == "asked":
        text = f":speech_balloon: {_who(event)} asked {reporter}:\n{quote(event.note or '')}"
    elif event.action == "replied":
        # A named reporter's answer carries who they are; an anonymous one never has an actor.
        who = (
            f"<@{event.actor_id}> (the reporter)"
            if event.actor_id and not detail.signal.anonymous
            else reporter.capitalize()
        )
        text = f":envelope_with_arrow: {who} replied:\n{quote(event.note or '')}"
    elif event.action == "resolved":
        lines = [f":white_check_mark: {_who(event)} resolved {ref}. Thank you to {reporter}."]
        lines.append(f"*What was done:* {inline(detail.resolution_done or event.note or '')}")
        if detail.failed_assumption:
            lines.append(f"*Assumption that failed:* {inline(detail.failed_assumption)}")
        if detail.pattern:
            lines.append(
                f"*Systemic pattern:* {escape(PATTERNS.get(detail.pattern, detail.pattern))}"
            )
        if detail.lesson:
            lines.append(f"*Lesson:* {inline(detail.lesson)}")
        text = "\n".join(lines)
    elif event.action == "reopened":
        text = f":arrows_counterclockwise: {_who(event)} reopened {ref}."
    elif event.action == "revealed":
        who = f"<@{event.actor_id}>" if event.actor_id else "The reporter"
        text = (
            f":raised_hand: The reporter of {ref} chose to put their name to this signal: {who}. "
            "Thank you for standing behind it."
        )
    elif event.action == "reminded":
        text = (
            f":alarm_clock: {lead_mention} — {ref} has waited for an acknowledgement "
            f"(reminder {escape(event.note or '')} of 3). Someone took a risk raising it."
        )
    else:
        text = f"{ref}: {escape(event.action)}"
    text = fit(text, THREAD_TEXT_LIMIT)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def build_reporter_notice(detail: SignalDetail, event: EventSummary) -> dict[str, Any] | None:
    """A private note to a named reporter; None for anything they need not hear about."""
    ref = detail.signal.ref
    note = inline(event.note or "")
    if event.action == "acknowledged":
        text = f"Thank you for raising *{ref}* — a lead has acknowledged it and is looking at it."
    elif event.action == "asked":
        text = (
            f"A lead has a question about *{ref}*:\n{quote(event.note or '')}\n"
            f"Answer with `/ai-signal reply {ref} …` (your answer after the reference): it "
            "lands in the signal's thread for the leads."
        )
    elif event.action == "resolved":
        text = f"*{ref}* is resolved. What was done: {inline(detail.resolution_done or '')}"
        if detail.lesson:
            text += f"\nLesson: {inline(detail.lesson)}"
        text += "\nThank you for raising it."
    elif event.action == "declined":
        text = f"*{ref}* was reviewed and declined as not a problem: {note}\nIt still counts — thank you for raising it."
    else:
        return None
    text = fit(text, THREAD_TEXT_LIMIT)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def build_reporter_status(detail: SignalDetail) -> str:
    """`/ai-signal status <code>`: status, the leads' questions and answers, the resolution."""
    s = detail.signal
    system = f" on *{inline(s.system)}*" if s.system else ""
    lines = [
        f"*{s.ref}* — {escape(kind_label(s.kind))}{system}",
        f"Status: {status_label(s.status)}",
    ]
    if not s.posted:
        lines.append("_It has not reached the triage channel yet._")
    for event in detail.events:
        if event.action == "asked":
            lines.append(f"*A lead asked:* {fit(inline(event.note or ''), 600)}")
        elif event.action == "replied":
            lines.append(f"*You replied:* {fit(inline(event.note or ''), 600)}")
    if s.status == "declined" and detail.decline_reason:
        lines.append(f"*Declined:* {fit(inline(detail.decline_reason), 600)}")
    if s.status == "resolved":
        lines.append(f"*What was done:* {fit(inline(detail.resolution_done or ''), 600)}")
        if detail.lesson:
            lines.append(f"*Lesson:* {fit(inline(detail.lesson), 600)}")
    if s.status not in ("resolved", "declined"):
        lines.append("Add information with `/ai-signal reply <code> <text>`.")
    return fit("\n".join(lines), 3000)


def build_lessons_text(lessons: list[Lesson], words: list[str]) -> str:
    if not lessons:
        scope = f" matching “{inline(' '.join(words))}”" if words else ""
        return f"No lessons recorded yet{scope}."
    lines = [
        f"*Lessons from resolved signals*{' matching “' + inline(' '.join(words)) + '”' if words else ''}:"
    ]
    for lesson in lessons:
        system = f" · {inline(lesson.system)}" if lesson.system else ""
        lines.append(f"• *{lesson.ref}* ({escape(kind_label(lesson.kind))}{system})")
        if lesson.failed_assumption:
            lines.append(f"   Assumption that failed: {fit(inline(lesson.failed_assumption), 300)}")
        if lesson.pattern:
            lines.append(f"   Pattern: {escape(PATTERNS.get(lesson.pattern, lesson.pattern))}")
        if lesson.lesson:
            lines.append(f"   Lesson: {fit(inline(lesson.lesson), 300)}")
    return fit("\n".join(lines), 3000)


def build_lead_home(overview: QueueOverview, *, own_signals: list) -> dict[str, Any]:
    """The leads' Home: the queue by status, the oldest unacknowledged, what they own."""
    view = build_home_view(own_signals=own_signals)
    counts = " · ".join(f"{status_label(k)}: *{v}*" for k, v in overview.counts.items())
    extra: list[Block] = [
        {"type": "divider"},
        {"type": "header", "text": _pt("The queue")},
        {"type": "section", "text": {"type": "mrkdwn", "text": counts}},
        {"type": "header", "text": _pt("Oldest unacknowledged")},
    ]
    if not overview.oldest_unacknowledged:
        extra.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "Nothing waiting. :tada:"}]}
        )
    for d in overview.oldest_unacknowledged:
        age = format_duration(overview.as_of - d.posted_at) if d.posted_at else "not posted yet"
        system = f" · {inline(d.signal.system)}" if d.signal.system else ""
        extra.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": fit(
                        f"*{d.signal.ref}* · {escape(kind_label(d.signal.kind))}{system} — waiting {age}",
                        3000,
                    ),
                },
            }
        )
    extra.append({"type": "header", "text": _pt("Signals you own")})
    if not overview.owned:
        extra.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "None open."}]})
    for d in overview.owned:
        system = f" · {inline(d.signal.system)}" if d.signal.system else ""
        extra.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": fit(
                        f"*{d.signal.ref}* · {escape(kind_label(d.signal.kind))}{system} — {status_label(d.signal.status)}",
                        3000,
                    ),
                },
            }
        )
    # Leads' queue first, then their own named signals.
    head, rest = view["blocks"][:3], view["blocks"][3:]
    view["blocks"] = (head + extra + rest)[:100]
    return view
