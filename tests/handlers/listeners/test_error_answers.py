"""The one error handler's private answers to a refused form, per form (pure, no Slack)."""

from __future__ import annotations

from bot.services.errors import EmptyText, NotFound
from bot.services.triage import NotAllowed
from handlers import ids
from handlers.listeners.errors import view_error_answer


def form(callback_id: str, *blocks: str) -> dict:
    values = {block: {"input": {"type": "plain_text_input", "value": "x"}} for block in blocks}
    return {"callback_id": callback_id, "state": {"values": values}}


def test_the_filing_form_shows_the_error_under_its_field():
    error = EmptyText("Tell me what you saw.")
    error.field = "text"
    answer = view_error_answer(error, form(ids.SIGNAL_MODAL, ids.KIND_BLOCK, ids.TEXT_BLOCK))
    assert answer == {"response_action": "errors", "errors": {ids.TEXT_BLOCK: str(error)}}


def test_the_reveal_confirmation_is_replaced_by_a_nothing_changed_notice():
    answer = view_error_answer(NotFound("That code is not live."), form(ids.REVEAL_MODAL))
    assert answer is not None and answer["response_action"] == "update"
    assert answer["view"]["title"]["text"] == "Nothing changed"
    assert "That code is not live." in answer["view"]["blocks"][0]["text"]["text"]


def test_a_lead_form_shows_the_error_under_its_field_or_the_first_block():
    owner = NotAllowed("Choose a lead as the owner.", field="owner")
    triage_form = form(ids.TRIAGE_MODAL, ids.IMPACT_LEVEL_BLOCK, ids.OWNER_BLOCK)
    assert view_error_answer(owner, triage_form) == {
        "response_action": "errors",
        "errors": {ids.OWNER_BLOCK: "Choose a lead as the owner."},
    }
    stale = NotAllowed("SIG-1 is resolved.")
    # A triage the signal's state refuses is shown with the reason; elsewhere on the first block.
    assert list(view_error_answer(stale, triage_form)["errors"]) == [ids.REASON_BLOCK]
    ask_form = form(ids.ASK_MODAL, ids.QUESTION_BLOCK)
    assert list(view_error_answer(stale, ask_form)["errors"]) == [ids.QUESTION_BLOCK]
    assert list(view_error_answer(NotFound("No such signal."), triage_form)["errors"]) == [
        ids.IMPACT_LEVEL_BLOCK
    ]


def test_a_form_the_app_does_not_know_gets_no_form_answer():
    assert view_error_answer(NotFound("x"), form("someone_elses_modal")) is None
