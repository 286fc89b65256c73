"""Builders for AI systems on record: the card (a modal everyone may open), the leads' edit and
register form, `/ai-signal systems`, the type-ahead options and the triage post's controls for
a system not on record. Pure functions from plain data to Slack payload dicts.

The card shows counts, patterns, lessons and review answers: no reporter and no filing time, so
nothing on it narrows down who raised a signal.
"""

from __future__ import annotations

import json
from typing import Any

from bot.services.errors import ServiceError
from bot.services.records import SystemCard, SystemRecord
from bot.services.systems import MAX_ALIAS, MAX_FIELD, MAX_NAME, MAX_URL, SystemFields
from bot.services.vocabulary import STAGES
from handlers import ids
from handlers.blocks.kit import (
    Block,
    actions,
    button,
    context,
    divider,
    fields,
    header,
    input_block,
    kind_label,
    modal,
    option,
    pattern_label,
    plain_text,
    section,
    text_input,
)
from handlers.edge import (
    Unreadable,
    element_state,
    input_value,
    selected_value,
    state_values,
    text_field,
)
from handlers.formatting import escape, fit, inline

CARD_TITLE = "AI system"
NOT_ON_RECORD_HINT = "Leads can register it with `/ai-signal system NAME`."

# Which block shows a problem with which field of the system form.
SYSTEM_FIELD_BLOCKS = {
    "name": ids.SYSTEM_NAME_BLOCK,
    "aliases": ids.SYSTEM_ALIASES_BLOCK,
    "decision": ids.SYSTEM_DECISION_BLOCK,
    "success": ids.SYSTEM_SUCCESS_BLOCK,
    "stage": ids.SYSTEM_STAGE_BLOCK,
    "data_sources": ids.SYSTEM_SOURCES_BLOCK,
    "constraints": ids.SYSTEM_CONSTRAINTS_BLOCK,
    "ethics": ids.SYSTEM_ETHICS_BLOCK,
    "doc_url": ids.SYSTEM_DOC_BLOCK,
}


def stage_label(stage: str) -> str:
    return STAGES.get(stage, stage)


def _or_dash(value: str | None, limit: int = 600) -> str:
    return fit(inline(value), limit) if value else "—"


def _link(url: str | None) -> str:
    # Stored links are https:// only; `<`, `>` and `|` would end or split Slack's link syntax.
    if not url or any(c in url for c in "<>| "):
        return _or_dash(url)
    return f"<{url}|{fit(inline(url), 80)}>"


# -- the card ----------------------------------------------------------------------------------


def build_system_card(card: SystemCard, *, can_edit: bool) -> dict[str, Any]:
    """The system's card: its record, open signals by kind, recurring patterns, recent lessons
    and the last review; leads get an Edit button."""
    r = card.record
    blocks: list[Block] = [
        header(r.name),
        fields(
            f"*Stage*\n{escape(stage_label(r.stage))}",
            f"*Also called*\n{_or_dash(', '.join(r.aliases))}",
            f"*Decision it supports*\n{_or_dash(r.decision)}",
            f"*How success is defined*\n{_or_dash(r.success)}",
            f"*Data sources*\n{_or_dash(r.data_sources)}",
            f"*Known constraints*\n{_or_dash(r.constraints)}",
            f"*Ethical considerations*\n{_or_dash(r.ethics)}",
            f"*Documentation*\n{_link(r.doc_url)}",
        ),
        divider(),
    ]
    open_text = (
        ", ".join(f"{escape(kind_label(k))}: {n}" for k, n in card.open_by_kind) or "None open."
    )
    blocks.append(section(f"*Open signals by kind*\n{open_text}"))
    patterns = (
        ", ".join(f"{escape(pattern_label(p))} ×{n}" for p, n in card.patterns)
        or "None recorded yet."
    )
    blocks.append(section(f"*Recurring patterns*\n{patterns}"))
    lessons = "\n".join(
        f"{'⭐' if lesson.key else '•'} {fit(inline(lesson.lesson), 400)} "
        f"({lesson.ref}, {lesson.resolved_on})"
        for lesson in card.lessons
    )
    blocks.append(
        section(
            f"*Lessons* (⭐ key lessons, the playbook, first)\n{lessons or 'None recorded yet.'}"
        )
    )
    blocks.append(section(f"*Last review*\n{_review_text(card)}"))
    if can_edit:
        blocks.append(
            actions(
                button(ids.SYSTEM_EDIT_ACTION, "Edit", r.id),
                block_id=ids.SYSTEM_CARD_ACTIONS_BLOCK,
            )
        )
    blocks.append(
        context("Blameless: this card is about the system and its decisions, not people.")
    )
    return modal(callback_id=ids.SYSTEM_CARD_VIEW, title=CARD_TITLE, close="Close", blocks=blocks)


def _review_text(card: SystemCard) -> str:
    review = card.last_review
    if review is None:
        return "No review recorded yet."
    lines = [f"{review.ref}, resolved {review.resolved_on}"]
    for label, value in (
        ("Assumption that failed", review.failed_assumption),
        ("Decision it was meant to support", review.decision),
        ("How success was defined", review.success),
        ("Constraint underestimated", review.constraint),
        ("Earlier signal missed", review.missed_signal),
    ):
        if value:
            lines.append(f"*{label}:* {fit(inline(value), 400)}")
    return "\n".join(lines)


# -- the edit / register form -----------------------------------------------------------------


def build_system_modal(
    record: SystemRecord | None, *, name: str = "", card_view_id: str = ""
) -> dict[str, Any]:
    """The leads' form: edit `record`, or register a new system (named `name`) when None.
    private_metadata carries the record's id and the card to refresh, nothing else."""
    r = record
    stage = r.stage if r else "idea"
    stage_element: dict[str, Any] = {
        "type": "static_select",
        "action_id": ids.SYSTEM_STAGE_INPUT,
        "options": [option(k, v) for k, v in STAGES.items()],
        "initial_option": option(stage, STAGES.get(stage, stage)),
    }

    def long(block: str, action: str, label: str, value: str | None) -> Block:
        element = text_input(action, multiline=True, max_length=MAX_FIELD, initial=value)
        return input_block(block, label, element, optional=True)

    blocks: list[Block] = [
        input_block(
            ids.SYSTEM_NAME_BLOCK,
            "Name",
            text_input(ids.SYSTEM_NAME_INPUT, max_length=MAX_NAME, initial=r.name if r else name),
        ),
        input_block(
            ids.SYSTEM_ALIASES_BLOCK,
            "Other names (comma-separated)",
            text_input(
                ids.SYSTEM_ALIASES_INPUT,
                max_length=3000,
                initial=", ".join(r.aliases) if r else None,
                placeholder="e.g. fraud v3, fraud-scorer",
            ),
            optional=True,
            hint=f"Signals that name one of these count for this system (each up to {MAX_ALIAS}).",
        ),
        long(
            ids.SYSTEM_DECISION_BLOCK,
            ids.SYSTEM_DECISION_INPUT,
            "The decision it supports",
            r.decision if r else None,
        ),
        long(
            ids.SYSTEM_SUCCESS_BLOCK,
            ids.SYSTEM_SUCCESS_INPUT,
            "How success is defined",
            r.success if r else None,
        ),
        input_block(ids.SYSTEM_STAGE_BLOCK, "Stage", stage_element),
        long(
            ids.SYSTEM_SOURCES_BLOCK,
            ids.SYSTEM_SOURCES_INPUT,
            "Data sources",
            r.data_sources if r else None,
        ),
        long(
            ids.SYSTEM_CONSTRAINTS_BLOCK,
            ids.SYSTEM_CONSTRAINTS_INPUT,
            "Known constraints",
            r.constraints if r else None,
        ),
        long(
            ids.SYSTEM_ETHICS_BLOCK,
            ids.SYSTEM_ETHICS_INPUT,
            "Ethical considerations",
            r.ethics if r else None,
        ),
        input_block(
            ids.SYSTEM_DOC_BLOCK,
            "Documentation link (https)",
            text_input(
                ids.SYSTEM_DOC_INPUT,
                max_length=MAX_URL,
                initial=r.doc_url if r else None,
                placeholder="https://… a model card or design doc",
            ),
            optional=True,
        ),
    ]
    metadata = json.dumps({"system_id": r.id if r else "", "card_view_id": card_view_id})
    return modal(
        callback_id=ids.SYSTEM_MODAL,
        private_metadata=metadata,
        title="Edit system" if r else "Register a system",
        submit="Save" if r else "Register",
        close="Cancel",
        blocks=blocks,
    )


def system_form_metadata(view: dict[str, Any]) -> tuple[str | None, str]:
    """(system id or None for a new one, the card view to refresh or "") from the form."""
    metadata = text_field(view, "private_metadata", what="private_metadata")
    try:
        parsed = json.loads(metadata)
    except (ValueError, RecursionError) as error:
        raise Unreadable("private_metadata") from error
    system_id = text_field(parsed, "system_id", what="private_metadata") or None
    return system_id, text_field(parsed, "card_view_id", what="private_metadata")


def parse_system_submission(view: dict[str, Any]) -> SystemFields:
    values = state_values(view)

    def value(block: str, action: str) -> str:
        return input_value(element_state(values, block, action))

    return SystemFields(
        name=value(ids.SYSTEM_NAME_BLOCK, ids.SYSTEM_NAME_INPUT),
        aliases=value(ids.SYSTEM_ALIASES_BLOCK, ids.SYSTEM_ALIASES_INPUT),
        decision=value(ids.SYSTEM_DECISION_BLOCK, ids.SYSTEM_DECISION_INPUT),
        success=value(ids.SYSTEM_SUCCESS_BLOCK, ids.SYSTEM_SUCCESS_INPUT),
        stage=selected_value(element_state(values, ids.SYSTEM_STAGE_BLOCK, ids.SYSTEM_STAGE_INPUT)),
        data_sources=value(ids.SYSTEM_SOURCES_BLOCK, ids.SYSTEM_SOURCES_INPUT),
        constraints=value(ids.SYSTEM_CONSTRAINTS_BLOCK, ids.SYSTEM_CONSTRAINTS_INPUT),
        ethics=value(ids.SYSTEM_ETHICS_BLOCK, ids.SYSTEM_ETHICS_INPUT),
        doc_url=value(ids.SYSTEM_DOC_BLOCK, ids.SYSTEM_DOC_INPUT),
    )


def build_system_errors(error: ServiceError) -> dict[str, str]:
    """`response_action: errors` for the system form: each field's problem under its block."""
    problems = getattr(error, "errors", None) or {error.field or "name": str(error)}
    return {
        SYSTEM_FIELD_BLOCKS.get(field, ids.SYSTEM_NAME_BLOCK): fit(str(text), 150)
        for field, text in problems.items()
    }


# -- private answers ----------------------------------------------------------------------------


def build_systems_text(records: list[SystemRecord]) -> str:
    """`/ai-signal systems`: every system on record with its stage and other names."""
    if not records:
        return "No AI systems are on record yet. " + NOT_ON_RECORD_HINT
    lines = ["*AI systems on record* (open one with `/ai-signal system NAME`):"]
    for r in records:
        aliases = f" — also {fit(inline(', '.join(r.aliases)), 200)}" if r.aliases else ""
        lines.append(f"• *{inline(r.name)}* · {escape(stage_label(r.stage))}{aliases}")
    return fit("\n".join(lines), 3000)


def build_not_on_record_text(name: str) -> str:
    return f"No AI system called “{fit(inline(name), 150)}” is on record. {NOT_ON_RECORD_HINT}"


SYSTEM_USAGE = "Name the system: `/ai-signal system fraud-model`. `/ai-signal systems` lists them."


# -- type-ahead ----------------------------------------------------------------------------------


def build_system_options(names: list[str]) -> list[dict[str, Any]]:
    """Options for an external_select of systems: the name is the value (at most 150)."""
    return [option(name[:150], name) for name in names[:100]]


# -- the triage post's controls for a system not on record -----------------------------------


def unknown_system_block(ref: str) -> Block:
    """Register the signal's system, or merge its name into a system on record (leads)."""
    merge = {
        "type": "external_select",
        "action_id": ids.SYSTEM_MERGE_ACTION,
        "placeholder": plain_text("Merge into…"),
        "min_query_length": 0,
    }
    return actions(
        button(ids.SYSTEM_REGISTER_ACTION, "Register system", ref),
        merge,
        block_id=f"{ids.UNKNOWN_SYSTEM_BLOCK}|{ref}",
    )


def ref_of_unknown_system_block(block_id: str) -> str:
    prefix, _, ref = block_id.partition("|")
    if prefix != ids.UNKNOWN_SYSTEM_BLOCK or not ref:
        raise Unreadable("block_id")
    return ref
