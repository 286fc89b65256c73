"""Builders for the leads' side: the triage post and its thread replies, the lead modals, the
private notices to reporters, `/ai-signal status <code>` and `/ai-signal lessons`. Pure."""

from __future__ import annotations

import json
from typing import Any

from bot.services.records import EventSummary, Related, SignalDetail, SignalSummary
from bot.services.triage import MAX_NOTE
from bot.services.vocabulary import IMPACTS, PATTERNS
from handlers import ids
from handlers.blocks.kit import (
    FIELD_LIMIT,
    NOTIFICATION_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    Block,
    actions,
    button,
    context,
    format_duration,
    header,
    input_block,
    kind_label,
    modal,
    mrkdwn,
    option,
    pattern_label,
    quote,
    section,
    status_label,
    text_input,
)
from handlers.blocks.lessons import build_seen_before, thread_link
from handlers.edge import (
    Unreadable,
    input_value,
    required_text,
    selected_value,
    state_values,
    text_field,
)
from handlers.formatting import escape, fit, inline, plain

# -- the triage post ---------------------------------------------------------------------------


def lead_buttons(ref: str, status: str) -> list[dict[str, Any]]:
    """Lead actions that fit the status: no Acknowledge once acknowledged; Reopen when closed."""
    if status in ("resolved", "declined", "duplicate"):
        return [button(ids.REOPEN_ACTION, "Reopen", ref)]
    buttons = []
    if status == "new":
        buttons.append(button(ids.ACKNOWLEDGE_ACTION, "Acknowledge", ref, style="primary"))
    buttons += [
        button(ids.TRIAGE_ACTION, "Triage…", ref),
        button(ids.ASK_ACTION, "Ask reporter…", ref),
        button(ids.RESOLVE_ACTION, "Resolve…", ref),
        button(ids.DUPLICATE_ACTION, "Duplicate…", ref),
    ]
    return buttons


def _status_text(signal: SignalSummary, detail: SignalDetail | None, team_url: str | None) -> str:
    primary = detail.primary if detail is not None else None
    if signal.status == "duplicate" and primary is not None:
        link = thread_link(team_url, primary.triage_channel or "", primary.triage_ts or "")
        ref = f"<{link}|{primary.signal.ref}>" if link else primary.signal.ref
        return f"{status_label(signal.status)} of {ref}"
    return status_label(signal.status)


def build_triage_message(
    signal: SignalSummary,
    *,
    detail: SignalDetail | None = None,
    related: tuple[Related, ...] = (),
    team_url: str | None = None,
) -> dict[str, Any]:
    """The parent post in the triage channel: what was raised, by whom (or Anonymous), and where
    it stands now (status, owner, time to acknowledge), what was seen before (`related`, linked
    under `team_url`), with the lead actions that fit."""
    reporter = (
        "Anonymous" if signal.anonymous or not signal.reporter_id else f"<@{signal.reporter_id}>"
    )
    fields = [
        mrkdwn(f"*Kind*\n{escape(kind_label(signal.kind))}"),
        mrkdwn(f"*System*\n{fit(inline(signal.system or '—'), FIELD_LIMIT - 20)}"),
        mrkdwn(f"*Reporter*\n{reporter}"),
        mrkdwn(f"*Status*\n{_status_text(signal, detail, team_url)}"),
    ]
    if detail is not None:
        if detail.owner_id:
            fields.append(mrkdwn(f"*Owner*\n<@{detail.owner_id}>"))
        if detail.confirmed_impact:
            fields.append(mrkdwn(f"*Confirmed impact*\n{escape(detail.confirmed_impact.title())}"))
        if detail.time_to_acknowledge is not None:
            fields.append(
                mrkdwn(f"*Acknowledged after*\n{format_duration(detail.time_to_acknowledge)}")
            )
    blocks: list[Block] = [
        header(f"{signal.ref} · {kind_label(signal.kind)}"),
        {"type": "section", "fields": fields[:10]},
        section(quote(signal.text)),
    ]
    if signal.impact:
        # Quoted like the text: a reporter's lines never pass for the post's own fields.
        blocks.append(section(f"*Perceived impact*\n{quote(signal.impact)}"))
    seen = build_seen_before(related, team_url=team_url)
    if seen is not None:
        blocks.append(seen)
    blocks.append(
        context("Raised with `/ai-signal`. Thank the reporter; look at the system, not the person.")
    )
    blocks.append(
        actions(*lead_buttons(signal.ref, signal.status), block_id=ids.TRIAGE_ACTIONS_BLOCK)
    )
    system = f" on {signal.system}" if signal.system else ""
    if signal.status == "duplicate" and detail is not None and detail.primary is not None:
        system += f" (duplicate of {detail.primary.signal.ref})"
    text = plain(
        f"{signal.ref}: {kind_label(signal.kind).lower()} signal{system} — {signal.status}",
        NOTIFICATION_TEXT_LIMIT,
    )
    return {"text": inline(text), "blocks": blocks}


# -- lead modals -------------------------------------------------------------------------------


def _text_input(
    block_id: str, action_id: str, label: str, *, optional: bool = False, initial: str | None = None
) -> Block:
    element = text_input(action_id, multiline=True, max_length=MAX_NOTE, initial=initial)
    return input_block(block_id, label, element, optional=optional)


def _lead_modal(callback_id: str, title: str, ref: str, blocks: list[Block], submit: str) -> dict:
    return modal(
        callback_id=callback_id,
        private_metadata=json.dumps({"ref": ref}),
        title=plain(title, 24),
        submit=submit,
        close="Cancel",
        blocks=blocks,
    )


def _context_signal(detail: SignalDetail) -> Block:
    s = detail.signal
    system = f" · {inline(s.system)}" if s.system else ""
    return context(
        fit(f"*{s.ref}* · {escape(kind_label(s.kind))}{system} — {inline(s.text)}", 2000)
    )


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
        "options": [option(k, v) for k, v in IMPACTS.items()],
    }
    if detail.confirmed_impact in IMPACTS:
        impact["initial_option"] = option(detail.confirmed_impact, IMPACTS[detail.confirmed_impact])
    owner: dict[str, Any] = {"type": "users_select", "action_id": ids.OWNER_INPUT}
    if detail.owner_id:
        owner["initial_user"] = detail.owner_id
    investigating = option("investigating", "Investigating — we are looking into it")
    declined = option("declined", "Declined — not a problem (still counted, still thanked)")
    blocks: list[Block] = [
        _context_signal(detail),
        input_block(ids.IMPACT_LEVEL_BLOCK, "Confirmed impact", impact, optional=True),
        input_block(ids.OWNER_BLOCK, "Owner (a lead)", owner, optional=True),
        input_block(
            ids.STATUS_BLOCK,
            "Status",
            {
                "type": "radio_buttons",
                "action_id": ids.STATUS_INPUT,
                "options": [investigating, declined],
                "initial_option": investigating,
            },
        ),
        _text_input(
            ids.NOTE_BLOCK, ids.NOTE_INPUT, "Next step", optional=True, initial=detail.next_step
        ),
        _text_input(
            ids.REASON_BLOCK, ids.REASON_INPUT, "Reason (required when declining)", optional=True
        ),
    ]
    return _lead_modal(
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
        context(who),
    ]
    return _lead_modal(
        ids.ASK_MODAL, f"Ask about {detail.signal.ref}", detail.signal.ref, blocks, "Ask"
    )


def build_resolve_modal(detail: SignalDetail) -> dict[str, Any]:
    blocks = [
        _context_signal(detail),
        _text_input(ids.DONE_BLOCK, ids.DONE_INPUT, "What was done"),
        _text_input(
            ids.ASSUMPTION_BLOCK, ids.ASSUMPTION_INPUT, "Which assumption failed?", optional=True
        ),
        input_block(
            ids.PATTERN_BLOCK,
            "Systemic pattern",
            {
                "type": "static_select",
                "action_id": ids.PATTERN_INPUT,
                "options": [option(k, v) for k, v in PATTERNS.items()],
            },
        ),
        _text_input(
            ids.LESSON_BLOCK, ids.LESSON_INPUT, "Lesson for the next project", optional=True
        ),
        context("Blameless review: describe the system and the assumption, not the people."),
    ]
    return _lead_modal(
        ids.RESOLVE_MODAL, f"Resolve {detail.signal.ref}", detail.signal.ref, blocks, "Resolve"
    )


def parse_values(view: dict[str, Any]) -> dict[str, str | None]:
    """Flatten state.values: {block_id: value} for text, selects, radios and user pickers."""
    flat: dict[str, str | None] = {}
    for block_id, elements in state_values(view).items():
        for value in elements.values():
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
            lines.append(f"*Systemic pattern:* {escape(pattern_label(detail.pattern))}")
        if detail.lesson:
            lines.append(f"*Lesson:* {inline(detail.lesson)}")
        text = fit("\n".join(lines), SECTION_TEXT_LIMIT)
        if detail.lesson or detail.failed_assumption:
            # A lead marks (or unmarks) the lesson as a key lesson from here.
            toggle = button(ids.KEY_LESSON_ACTION, "Key lesson ⭐ (mark / unmark)", ref)
            return {"text": text, "blocks": [section(text), actions(toggle)]}
    elif event.action == "reopened":
        text = f":arrows_counterclockwise: {_who(event)} reopened {ref}."
    elif event.action == "duplicate":
        text = (
            f":link: {_who(event)} marked {ref} as a duplicate of {escape(event.note or '')}. "
            f"Thank you to {reporter} — it still counts, and they follow "
            f"{escape(event.note or '')}'s outcome."
        )
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
    text = fit(text, SECTION_TEXT_LIMIT)
    return {"text": text, "blocks": [section(text)]}


def build_reporter_notice(detail: SignalDetail, event: EventSummary) -> dict[str, Any] | None:
    """A private note to a named reporter; None for anything they need not hear about."""
    if detail.signal.status == "duplicate" and event.action in ("resolved", "declined"):
        return _primary_outcome_notice(detail)
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
    elif event.action == "duplicate":
        text = (
            f"Thank you for raising *{ref}* — a lead found it is the same concern as "
            f"*{escape(event.note or '')}*, raised earlier. It still counts; you will hear here "
            "when that one is resolved."
        )
    else:
        return None
    text = fit(text, SECTION_TEXT_LIMIT)
    return {"text": text, "blocks": [section(text)]}


def _primary_outcome(primary: SignalDetail) -> list[str]:
    """What a duplicate's reporter reads of its primary: the outcome, never its text or reporter."""
    lines = [f"*{primary.signal.ref}* is {status_label(primary.signal.status)}."]
    if primary.signal.status == "declined" and primary.decline_reason:
        lines.append(f"*Declined:* {fit(inline(primary.decline_reason), 600)}")
    if primary.signal.status == "resolved":
        lines.append(f"*What was done:* {fit(inline(primary.resolution_done or ''), 600)}")
        if primary.lesson:
            lines.append(f"*Lesson:* {fit(inline(primary.lesson), 600)}")
    return lines


def _primary_outcome_notice(detail: SignalDetail) -> dict[str, Any] | None:
    primary = detail.primary
    if primary is None:
        return None
    lines = [
        f"*{detail.signal.ref}*, which you raised, is a duplicate of *{primary.signal.ref}*: "
        "here is its outcome."
    ]
    lines += _primary_outcome(primary)
    lines.append("Thank you for raising it.")
    text = fit("\n".join(lines), SECTION_TEXT_LIMIT)
    return {"text": text, "blocks": [section(text)]}


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
    if s.status == "duplicate" and detail.primary is not None:
        lines.append(f"It is the same concern as *{detail.primary.signal.ref}*, raised earlier:")
        lines += _primary_outcome(detail.primary)
    if s.status not in ("resolved", "declined", "duplicate"):
        lines.append("Add information with `/ai-signal reply <code> <text>`.")
    return fit("\n".join(lines), 3000)
