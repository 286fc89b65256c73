"""The review asks the leadership questions: the resolve modal, as Slack submits it, keeps what
was done, the failed assumption, the pattern and the lesson, and adds what the system was meant
to decide and how success was defined (prefilled from its record), the underestimated
constraint and the earlier signal that was missed. Stored, shown in the thread reply and on the
system's card, on SQLite and PostgreSQL."""

from __future__ import annotations

from handlers import ids
from models import EventAction
from tests.conftest import ALICE, LEAD
from tests.handlers.listeners.triage.helpers import (
    assert_slack_happy,
    file_named,
    open_modal,
    posted,
    settle,
    signal,
    submit,
    thread,
)
from tests.handlers.listeners.triage.test_systems import card_text, opened_by_command, register


def initial(view: dict, block_id: str) -> str | None:
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    return block["element"].get("initial_value")


def test_resolving_answers_the_leadership_questions(app):
    register(app)  # decision and success on record
    earlier = file_named(app, "drift fraud-model: recall slipping")
    ref = file_named(app, "drift Fraud-Scorer: precision fell to 0.78")
    posted(app, earlier)
    posted(app, ref)
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    assert initial(view, ids.REVIEW_DECISION_BLOCK) == "Hold a card payment for manual review"
    assert initial(view, ids.REVIEW_SUCCESS_BLOCK) == "Precision at least 0.9 at 60% recall"
    assert initial(view, ids.REVIEW_CONSTRAINT_BLOCK) is None
    labels = " ".join(b["label"]["text"] for b in view["blocks"] if b["type"] == "input")
    assert "who" not in labels.lower().split()

    answer = submit(
        app,
        LEAD,
        view,
        {
            ids.DONE_BLOCK: "Retrained on the last quarter",
            ids.ASSUMPTION_BLOCK: "Fraud patterns are stable",
            ids.PATTERN_BLOCK: "data-optimism",
            ids.LESSON_BLOCK: "Plan retraining with the launch",
            ids.REVIEW_DECISION_BLOCK: "Hold a card payment for manual review",
            ids.REVIEW_SUCCESS_BLOCK: "Precision only; recall was never agreed",
            ids.REVIEW_CONSTRAINT_BLOCK: "Labels arrive 60 days late",
            ids.REVIEW_MISSED_BLOCK: f"{earlier} said recall was slipping",
        },
    )
    assert answer is None, answer
    settle(app)
    row = signal(app, ref)
    assert (row.status, row.pattern, row.lesson) == (
        "resolved",
        "data-optimism",
        "Plan retraining with the launch",
    )
    assert row.review_decision == "Hold a card payment for manual review"
    assert row.review_success == "Precision only; recall was never agreed"
    assert row.review_constraint == "Labels arrive 60 days late"
    assert row.review_missed_signal == f"{earlier} said recall was slipping"

    [reply] = [t for t in thread(app, ref) if "resolved" in t]
    for line in (
        "*Assumption that failed:* Fraud patterns are stable",
        "*Decision the system was meant to support:* Hold a card payment for manual review",
        "*How success was defined:* Precision only; recall was never agreed",
        "*Constraint underestimated:* Labels arrive 60 days late",
        f"*Earlier signal missed or ignored:* {earlier} said recall was slipping",
    ):
        assert line in reply, line

    card = card_text(opened_by_command(app, ALICE, "system fraud-model"))
    last = card.split("Last review")[1]
    assert f"{ref}, resolved" in last
    assert "Labels arrive 60 days late" in last and f"{earlier} said recall" in last
    assert "Precision only; recall was never agreed" in last
    assert_slack_happy(app)


def test_the_questions_are_optional_and_not_prefilled_without_a_record(app):
    ref = file_named(app, "drift loan-model: approvals fell")
    posted(app, ref)
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    assert initial(view, ids.REVIEW_DECISION_BLOCK) is None
    assert initial(view, ids.REVIEW_SUCCESS_BLOCK) is None
    answer = submit(app, LEAD, view, {ids.DONE_BLOCK: "Fixed", ids.PATTERN_BLOCK: "none"})
    assert answer is None, answer
    settle(app)
    row = signal(app, ref)
    assert row.status == "resolved"
    assert (
        row.review_decision,
        row.review_success,
        row.review_constraint,
        row.review_missed_signal,
    ) == (None, None, None, None)
    [reply] = [t for t in thread(app, ref) if "resolved" in t]
    assert "Constraint underestimated" not in reply
    assert_slack_happy(app)


def test_an_overlong_answer_is_shown_under_its_question(app):
    ref = file_named(app)
    posted(app, ref)
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    answer = submit(
        app,
        LEAD,
        view,
        {
            ids.DONE_BLOCK: "Fixed",
            ids.PATTERN_BLOCK: "none",
            ids.REVIEW_CONSTRAINT_BLOCK: "x" * 2001,
        },
    )
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [ids.REVIEW_CONSTRAINT_BLOCK]
    assert signal(app, ref).status == "new"
    assert EventAction.RESOLVED.value not in [t for t in thread(app, ref)]
