"""Builders for the leads' side: the triage post and its thread replies, the lead modals, the
private notices to reporters, `/ai-signal status <code>` and `/ai-signal lessons`. Pure."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.services.records import (
    ActionResult,
    EventSummary,
    Related,
    SignalDetail,
    SignalSummary,
    SystemRecord,
)
from bot.services.triage import MAX_NOTE, MAX_TRACKER_URL
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
    due_day,
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
from handlers.blocks.systems import unknown_system_block
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
    tracker = button(ids.TRACKER_ACTION, "Tracker link…", ref)
    if status == "withdrawn":
        return []
    if status in ("resolved", "declined", "duplicate"):
        return [button(ids.REOPEN_ACTION, "Reopen", ref), tracker]
    buttons = []
    if status == "new":
        buttons.append(button(ids.ACKNOWLEDGE_ACTION, "Acknowledge", ref, style="primary"))
    buttons += [
        button(ids.TRIAGE_ACTION, "Triage…", ref),
        button(ids.ASK_ACTION, "Ask reporter…", ref),
        button(ids.RESOLVE_ACTION, "Resolve…", ref),
        tracker,
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
        if detail.respond_by is not None:
            fields.append(mrkdwn(f"*Respond by*\n{due_day(detail.respond_by)}"))
        if detail.tracker_url:
            fields.append(mrkdwn(f"*Tracker*\n{tracker_link(detail.tracker_url)}"))
        if detail.confirmed_impact:
            fields.append(mrkdwn(f"*Confirmed impact*\n{escape(detail.confirmed_impact.title())}"))
        if detail.time_to_acknowledge is not None:
            fields.append(
                mrkdwn(f"*Acknowledged after*\n{format_duration(detail.time_to_acknowledge)}")
            )
    withdrawn = signal.status == "withdrawn"
    blocks: list[Block] = [
        header(f"{signal.ref} · {kind_label(signal.kind)}"),
        {"type": "section", "fields": fields[:10]},
        # Withdrawn: what the reporter wrote is erased, from the database and from this post.
        section(
            "_Withdrawn by the reporter before it was acknowledged; what they wrote is erased._"
        )
        if withdrawn
        else section(quote(signal.text)),
    ]
    if signal.impact and not withdrawn:
        # Quoted like the text: a reporter's lines never pass for the post's own fields.
        blocks.append(section(f"*Perceived impact*\n{quote(signal.impact)}"))
    seen = build_seen_before(related, team_url=team_url)
    if seen is not None:
        blocks.append(seen)
    blocks.append(
        context("Raised with `/ai-signal`. Thank the reporter; look at the system, not the person.")
    )
    buttons = lead_buttons(signal.ref, signal.status)
    if buttons:  # none once the reporter withdrew it
        blocks.append(actions(*buttons, block_id=ids.TRIAGE_ACTIONS_BLOCK))
    if buttons and signal.system and detail is not None and not detail.system_on_record:
        blocks.append(
            context(
                f"*{fit(inline(signal.system), 200)}* is not on record as an AI system. Leads: "
                "register it, or merge this name into a system on record."
            )
        )
        blocks.append(unknown_system_block(signal.ref))
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
    respond_by: dict[str, Any] = {"type": "datepicker", "action_id": ids.RESPOND_BY_INPUT}
    if detail.respond_by is not None:
        respond_by["initial_date"] = due_day(detail.respond_by)
    investigating = option("investigating", "Investigating — we are looking into it")
    declined = option("declined", "Declined — not a problem (still counted, still thanked)")
    blocks: list[Block] = [
        _context_signal(detail),
        input_block(ids.IMPACT_LEVEL_BLOCK, "Confirmed impact", impact, optional=True),
        input_block(
            ids.OWNER_BLOCK,
            "Owner",
            owner,
            optional=True,
            hint="Any member; they may then ask the reporter and resolve it.",
        ),
        input_block(ids.RESPOND_BY_BLOCK, "Respond by", respond_by, optional=True),
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


def tracker_link(url: str) -> str:
    """A checked tracker URL (https, no spaces or link-breaking characters) as a Slack link
    labelled with its host and path."""
    label = url.split("://", 1)[-1]
    label = label if len(label) <= 60 else label[:59] + "…"
    return f"<{url.replace('&', '&amp;')}|{escape(label)}>"


def build_tracker_modal(detail: SignalDetail) -> dict[str, Any]:
    element = text_input(
        ids.TRACKER_INPUT,
        max_length=MAX_TRACKER_URL,
        placeholder="https://…",
        initial=detail.tracker_url,
    )
    blocks = [
        _context_signal(detail),
        input_block(
            ids.TRACKER_BLOCK,
            "Tracker link",
            element,
            optional=True,
            hint="An https link to the ticket in Jira, Linear, GitHub … Leave empty to remove it.",
        ),
    ]
    return _lead_modal(
        ids.TRACKER_MODAL, f"Link {detail.signal.ref}", detail.signal.ref, blocks, "Save"
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


def build_resolve_modal(detail: SignalDetail, system: SystemRecord | None = None) -> dict[str, Any]:
    """The blameless review, with the leadership questions (optional). What the system was
    meant to decide and how success was defined are prefilled from its record, if on record."""
    decision = detail.review_decision or (system.decision if system else None)
    success = detail.review_success or (system.success if system else None)
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
        _text_input(
            ids.REVIEW_DECISION_BLOCK,
            ids.REVIEW_DECISION_INPUT,
            "What decision was the system meant to support?",
            optional=True,
            initial=decision,
        ),
        _text_input(
            ids.REVIEW_SUCCESS_BLOCK,
            ids.REVIEW_SUCCESS_INPUT,
            "How was success defined?",
            optional=True,
            initial=success,
        ),
        _text_input(
            ids.REVIEW_CONSTRAINT_BLOCK,
            ids.REVIEW_CONSTRAINT_INPUT,
            "Which constraint was underestimated?",
            optional=True,
            initial=detail.review_constraint,
        ),
        _text_input(
            ids.REVIEW_MISSED_BLOCK,
            ids.REVIEW_MISSED_INPUT,
            "Which earlier signal was missed or ignored? (e.g. SIG-12)",
            optional=True,
            initial=detail.review_missed_signal,
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
                or text_field(value, "selected_date", what="state.values selected_date")
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
        text = "\n".join(lines)
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
    elif event.action == "linked" and event.note:
        text = f":link: {_who(event)} linked {ref} to a tracker: {tracker_link(event.note)}"
    elif event.action == "linked":
        text = f":link: {_who(event)} removed the tracker link of {ref}."
    elif event.action == "withdrawn":
        text = (
            f":leftwards_arrow_with_hook: {ref} was withdrawn by the reporter before it was "
            "acknowledged; what they wrote is erased. Thank you for raising it all the same."
        )
    elif event.action == "escalated":
        text = f":rotating_light: {ref} was escalated: every reminder went unanswered."
    elif event.action == "reminded":
        text = (
            f":alarm_clock: {lead_mention} — {ref} has waited for an acknowledgement "
            f"(reminder {escape(event.note or '')} of 3). Someone took a risk raising it."
        )
    else:
        text = f"{ref}: {escape(event.action)}"
    text = fit(text, SECTION_TEXT_LIMIT)
    blocks = [section(text)]
    review = "\n".join(review_lines(detail)) if event.action == "resolved" else ""
    if review:
        # A section of its own: the answers never push the review above out of its block.
        review = fit(review, SECTION_TEXT_LIMIT)
        blocks.append(section(review))
        text = f"{text}\n{review}"
    if event.action == "resolved" and (detail.lesson or detail.failed_assumption):
        # A lead marks (or unmarks) the lesson as a key lesson from here.
        blocks.append(actions(button(ids.KEY_LESSON_ACTION, "Key lesson ⭐ (mark / unmark)", ref)))
    return {"text": text, "blocks": blocks}


REVIEW_LABELS = (
    ("review_decision", "Decision the system was meant to support"),
    ("review_success", "How success was defined"),
    ("review_constraint", "Constraint underestimated"),
    ("review_missed_signal", "Earlier signal missed or ignored"),
)


def review_lines(detail: SignalDetail) -> list[str]:
    """The review's answers to the leadership questions, one line each (the unanswered left
    out)."""
    return [
        f"*{label}:* {fit(inline(value), 600)}"
        for field, label in REVIEW_LABELS
        if (value := getattr(detail, field))
    ]


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


def build_escalation(
    detail: SignalDetail, *, link: str | None, mention: str | None
) -> dict[str, Any]:
    """The one post raising a signal nobody acknowledged after every reminder. Blameless: the
    system and kind, how long it has waited, a link to the thread; never who raised it, never
    who did not answer."""
    s = detail.signal
    system = f" on *{inline(s.system)}*" if s.system else ""
    waited = (
        format_duration(max(detail.escalated_at - detail.posted_at, timedelta(0)))
        if detail.escalated_at and detail.posted_at
        else None
    )
    ref = f"<{link}|{s.ref}>" if link else f"*{s.ref}*"
    text = (
        f":rotating_light: {mention + ' — ' if mention else ''}{ref}, a "
        f"{escape(kind_label(s.kind).lower())} signal{system}, "
        + (f"has waited {waited} " if waited else "is still waiting ")
        + "for an acknowledgement; its reminders went unanswered. It needs a lead's answer, "
        "not a culprit: please acknowledge it in its thread."
    )
    text = fit(text, SECTION_TEXT_LIMIT)
    return {"text": text, "blocks": [section(text)]}


def build_owner_notice(detail: SignalDetail) -> dict[str, Any]:
    """A private note to the member a lead made the signal's owner. No free text of the signal
    (a DM can be exported): its reference, kind, system and due date, and what they may do."""
    s = detail.signal
    system = f" on *{inline(s.system)}*" if s.system else ""
    where = f" in <#{detail.triage_channel}>" if detail.triage_channel else ""
    text = f"You are now the owner of *{s.ref}* ({escape(kind_label(s.kind))}{system}){where}."
    if detail.respond_by is not None:
        text += f" Please respond by {due_day(detail.respond_by)}."
    text += (
        " You may ask the reporter and resolve it from the buttons on its triage post. "
        "Look at the system, not the person."
    )
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
        elif event.action == "replied" and event.note:
            lines.append(f"*You replied:* {fit(inline(event.note), 600)}")
    if s.status == "declined" and detail.decline_reason:
        lines.append(f"*Declined:* {fit(inline(detail.decline_reason), 600)}")
    if s.status == "resolved":
        lines.append(f"*What was done:* {fit(inline(detail.resolution_done or ''), 600)}")
        if detail.lesson:
            lines.append(f"*Lesson:* {fit(inline(detail.lesson), 600)}")
    if s.status == "withdrawn":
        lines.append("You withdrew it; what you wrote is erased.")
    elif s.status == "duplicate" and detail.primary is not None:
        lines.append(f"It is the same concern as *{detail.primary.signal.ref}*, raised earlier:")
        lines += _primary_outcome(detail.primary)
    if s.status not in ("resolved", "declined", "duplicate", "withdrawn"):
        lines.append("Add information with `/ai-signal reply <code> <text>`.")
    if s.status == "new":
        lines.append("Until a lead acknowledges it, `/ai-signal withdraw <code>` takes it back.")
    return fit("\n".join(lines), 3000)


def build_withdrawn_text(result: ActionResult) -> str:
    """The private answer to `/ai-signal withdraw`."""
    s = result.detail.signal
    if not result.changed:
        return f"*{s.ref}* is already withdrawn; nothing changed."
    later = (
        " The thread hears of it after a short delay, so its timing does not point at you."
        if s.anonymous
        else ""
    )
    return (
        f"*{s.ref}* is withdrawn. What you wrote is erased from the app's database, and its "
        f"triage post now says it was withdrawn by the reporter.{later} It still counts as "
        "raised — thank you."
    )
