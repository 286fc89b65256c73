"""Text the database cannot store (NUL, unpaired surrogates) is cleaned, not refused: every field
a person types is filed, and apart from those characters it is stored exactly as sent."""

from __future__ import annotations

from handlers import ids
from tests.conftest import ALICE, LEAD, signal_rows
from tests.handlers.listeners.triage.helpers import (
    BOB,
    command,
    events,
    file_anonymous,
    open_modal,
    posted,
    settle,
    signal,
    submit,
)

NUL = "\x00"
LONE = "\ud83d"  # half of a surrogate pair: JSON can carry it, UTF-8 cannot


def option(value: str) -> dict:
    return {"text": {"type": "plain_text", "text": value}, "value": value}


def test_command_text_with_nul_is_filed(running_app):
    answer = command(running_app, f"drift fraud{NUL}-model precision{NUL} fell")
    assert "SIG-1" in answer
    [row] = signal_rows(running_app)
    assert row.text == "fraud-model precision fell"


def test_form_fields_with_nul_and_lone_surrogates_are_filed(running_app):
    assert running_app.sender.command(user=ALICE, text="").status == 200
    view = running_app.standin.wait_for("views.open")[0].params["view"]
    reply = running_app.sender.view_submission(
        user=ALICE,
        view=view,
        values={
            ids.KIND_BLOCK: {ids.KIND_INPUT: {"selected_option": option("bias")}},
            ids.SYSTEM_BLOCK: {ids.SYSTEM_INPUT: {"value": f"loan{NUL}-model {LONE}"}},
            ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"value": f"rejects {NUL}older{LONE} people"}},
            ids.IMPACT_BLOCK: {ids.IMPACT_INPUT: {"value": f"many{NUL} *applicants*"}},
            ids.IDENTITY_BLOCK: {
                ids.IDENTITY_INPUT: {"selected_option": option(ids.IDENTITY_NAMED)}
            },
        },
    )
    assert reply.status == 200, reply.text
    assert reply.json()["response_action"] == "update"
    [row] = signal_rows(running_app)
    assert row.text == "rejects older\ufffd people"
    assert row.system == "loan-model \ufffd"
    assert row.impact == "many *applicants*"  # the rest exactly as sent


def test_lead_notes_and_anonymous_replies_with_nul(running_app):
    ref, code = file_anonymous(running_app)
    posted(running_app, ref)
    view = open_modal(running_app, LEAD, ids.ASK_ACTION, ref)
    assert submit(running_app, LEAD, view, {ids.QUESTION_BLOCK: f"Since{NUL} when?{LONE}"}) is None
    answer = command(running_app, f"reply {code} since{NUL} March", user=BOB)
    assert ref in answer
    view = open_modal(running_app, LEAD, ids.RESOLVE_ACTION, ref)
    answers = {
        ids.DONE_BLOCK: f"retrained{NUL}",
        ids.ASSUMPTION_BLOCK: f"stable{NUL} ages",
        ids.PATTERN_BLOCK: "data-optimism",
        ids.LESSON_BLOCK: f"check{NUL} {LONE}drift",
    }
    assert submit(running_app, LEAD, view, answers) is None
    settle(running_app)
    notes = [e.note for e in events(running_app, ref)]
    assert "Since when?\ufffd" in notes and "since March" in notes and "retrained" in notes
    row = signal(running_app, ref)
    assert (row.failed_assumption, row.lesson) == ("stable ages", "check \ufffddrift")
