"""The /ai-signal modal: view_submission named and anonymous, field errors, double submits."""

from __future__ import annotations

import json

from bot.services.signals import GENERIC_CODE_ANSWER, MAX_IMPACT
from handlers import ids
from handlers.blocks.intake import build_duplicate_view
from models import OutboxItem, Signal
from tests.conftest import ALICE, BOB, TRIAGE, count_rows, followup_code, signal_rows


def open_modal(app, user=ALICE) -> dict:
    """Run /ai-signal with no text; return the view the app opened, as Slack holds it."""
    assert app.sender.command(user=user, text="").status == 200
    return app.standin.wait_for("views.open")[-1].params["view"]


def values(
    *,
    kind: str | None = "drift",
    text: str | None = "scores drift",
    system=None,
    impact=None,
    anonymous: bool = False,
) -> dict:
    def option(value):
        if value is None:
            return None
        return {"text": {"type": "plain_text", "text": value}, "value": value}

    identity = ids.IDENTITY_ANONYMOUS if anonymous else ids.IDENTITY_NAMED
    return {
        ids.KIND_BLOCK: {
            ids.KIND_INPUT: {"type": "static_select", "selected_option": option(kind)}
        },
        ids.SYSTEM_BLOCK: {ids.SYSTEM_INPUT: {"type": "plain_text_input", "value": system}},
        ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"type": "plain_text_input", "value": text}},
        ids.IMPACT_BLOCK: {ids.IMPACT_INPUT: {"type": "plain_text_input", "value": impact}},
        ids.IDENTITY_BLOCK: {
            ids.IDENTITY_INPUT: {"type": "radio_buttons", "selected_option": option(identity)}
        },
    }


def submit(app, view, user=ALICE, view_id=None, **fields):
    reply = app.sender.view_submission(
        user=user, view=view, values=values(**fields), view_id=view_id
    )
    assert reply.status == 200, reply.text
    return reply.json()


def view_text(view: dict) -> str:
    return json.dumps(view, ensure_ascii=False)


def test_named_submission(running_app):
    view = open_modal(running_app)
    answer = submit(
        running_app,
        view,
        kind="bias",
        text="loan model rejects older applicants",
        system="loan-model v2",
        impact="unfair denials",
    )
    assert answer["response_action"] == "update"
    receipt = answer["view"]
    assert receipt["type"] == "modal"
    assert "SIG-1" in view_text(receipt)
    assert "under your name" in view_text(receipt)

    [row] = signal_rows(running_app)
    assert (row.kind, row.system, row.text, row.impact) == (
        "bias",
        "loan-model v2",
        "loan model rejects older applicants",
        "unfair denials",
    )
    assert row.anonymous is False and row.reporter_id == ALICE.id

    running_app.settle()
    running_app.standin.wait_for("chat.postMessage")
    dumped = json.dumps(running_app.standin.messages(TRIAGE))
    assert f"<@{ALICE.id}>" in dumped
    assert "loan-model v2" in dumped and "unfair denials" in dumped


def test_anonymous_submission_and_status_with_code(running_app):
    view = open_modal(running_app)
    answer = submit(running_app, view, kind="governance", text="no audit trail", anonymous=True)
    assert answer["response_action"] == "update"
    receipt = view_text(answer["view"])
    code = followup_code(receipt)
    [row] = signal_rows(running_app)
    assert row.anonymous is True and row.reporter_id is None
    assert row.ref in receipt

    running_app.settle()
    running_app.standin.wait_for("chat.postMessage")
    post = json.dumps(running_app.standin.messages(TRIAGE))
    assert "Anonymous" in post and ALICE.id not in post and code not in post

    status = running_app.sender.command(user=BOB, text=f"status {code}").json()
    assert status["response_type"] == "ephemeral"
    assert row.ref in status["text"]
    assert GENERIC_CODE_ANSWER not in status["text"]


def test_missing_text_is_a_field_error(running_app):
    view = open_modal(running_app)
    for empty in (None, "", "   \n "):
        answer = submit(running_app, view, text=empty)
        assert answer["response_action"] == "errors"
        assert list(answer["errors"]) == [ids.TEXT_BLOCK]
        assert answer["errors"][ids.TEXT_BLOCK]
    assert count_rows(running_app, Signal) == 0


def test_too_long_impact_is_a_field_error(running_app):
    view = open_modal(running_app)
    answer = submit(running_app, view, impact="i" * (MAX_IMPACT + 1))
    assert answer == {
        "response_action": "errors",
        "errors": {ids.IMPACT_BLOCK: answer["errors"][ids.IMPACT_BLOCK]},
    }
    assert "1,000" in answer["errors"][ids.IMPACT_BLOCK]
    assert count_rows(running_app, Signal) == 0


def test_too_long_text_and_system_are_field_errors(running_app):
    view = open_modal(running_app)
    assert list(submit(running_app, view, text="t" * 3001)["errors"]) == [ids.TEXT_BLOCK]
    assert list(submit(running_app, view, system="s" * 201)["errors"]) == [ids.SYSTEM_BLOCK]
    assert list(submit(running_app, view, kind=None)["errors"]) == [ids.KIND_BLOCK]
    assert count_rows(running_app, Signal) == 0


def test_corrected_submission_of_the_same_view_is_filed(running_app):
    """Slack keeps the view id when the person fixes a field error and submits again."""
    view = open_modal(running_app)
    assert submit(running_app, view, view_id="VFIXED0001", text="")["response_action"] == "errors"
    answer = submit(running_app, view, view_id="VFIXED0001", text="now with text")
    assert answer["response_action"] == "update"
    assert "SIG-1" in view_text(answer["view"])
    assert count_rows(running_app, Signal) == 1


def test_same_view_submitted_twice_files_one_signal(running_app):
    view = open_modal(running_app)
    first = submit(running_app, view, view_id="VDOUBLE001", text="double click", anonymous=True)
    second = submit(running_app, view, view_id="VDOUBLE001", text="double click", anonymous=True)
    assert first["response_action"] == "update"
    followup_code(view_text(first["view"]))
    assert second == {"response_action": "update", "view": build_duplicate_view()}
    assert count_rows(running_app, Signal) == 1
    assert count_rows(running_app, OutboxItem) == 1
    # A different view (another modal) is a new signal.
    third = submit(running_app, view, view_id="VOTHER0001", text="another one")
    assert "SIG-1" in view_text(third["view"])  # the first named one
    running_app.settle()
    running_app.standin.wait_for("chat.postMessage", 2)
    assert count_rows(running_app, Signal) == 2


def test_double_click_at_the_same_moment_files_one_signal(running_app):
    from concurrent.futures import ThreadPoolExecutor

    view = open_modal(running_app)
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: submit(running_app, view, view_id="VRACE00001", text="raced"), range(4)
            )
        )
    receipts = [a for a in answers if "SIG-1" in view_text(a["view"])]
    duplicates = [a for a in answers if a["view"] == build_duplicate_view()]
    assert len(receipts) == 1 and len(duplicates) == 3
    assert count_rows(running_app, Signal) == 1
    running_app.settle()
    running_app.standin.wait_for("chat.postMessage")
    assert count_rows(running_app, OutboxItem) == 1
