"""AI systems on record, through signed requests as Slack sends them, on SQLite and PostgreSQL:
`/ai-signal system NAME` (card, register form), the card's Edit button (views.push) and the
form's submission (views.update of the card, field errors), `/ai-signal systems`, names and
aliases matched when filing (one-liner and the form's type-ahead, a block_suggestion), and the
triage post's Register / Merge for a system not on record."""

from __future__ import annotations

import itertools
import json
from typing import Any

from sqlalchemy import select

from bot.standin import validate_options, validate_view
from bot.standin.sender import SlackUser
from handlers import ids
from models import System, SystemAlias
from tests.conftest import ALICE, LEAD, TRIAGE
from tests.handlers.listeners.triage.helpers import (
    NOT_A_LEAD,
    assert_slack_happy,
    command,
    ephemerals_to,
    file_named,
    parent,
    posted,
    settle,
    signal,
    submit,
)

FULL_RECORD = {
    ids.SYSTEM_ALIASES_BLOCK: "Fraud V3, fraud-scorer",
    ids.SYSTEM_DECISION_BLOCK: "Hold a card payment for manual review",
    ids.SYSTEM_SUCCESS_BLOCK: "Precision at least 0.9 at 60% recall",
    ids.SYSTEM_STAGE_BLOCK: "pilot",
    ids.SYSTEM_SOURCES_BLOCK: "Card transactions, chargebacks",
    ids.SYSTEM_CONSTRAINTS_BLOCK: "Labels arrive 60 days late",
    ids.SYSTEM_ETHICS_BLOCK: "False holds hurt low-income customers most",
    ids.SYSTEM_DOC_BLOCK: "https://docs.example.com/fraud-model-card",
}


def opened_by_command(app, user: SlackUser, text: str) -> dict[str, Any]:
    """Run `/ai-signal <text>` that opens a modal; return the view as Slack stored it."""
    before = len(app.standin.calls_to("views.open"))
    reply = app.sender.command(user=user, text=text)
    assert reply.status == 200, reply.text
    [opened] = app.standin.wait_for("views.open", before + 1)[before:]
    return opened.response["view"]


def register(app, name: str = "fraud-model", aliases: str | None = None) -> dict[str, Any]:
    """A lead registers `name` (with FULL_RECORD, other `aliases` if given) through
    `/ai-signal system NAME`; the card that replaced the form (response_action update)."""
    view = opened_by_command(app, LEAD, f"system {name}")
    assert view["callback_id"] == ids.SYSTEM_MODAL
    values = {**FULL_RECORD, ids.SYSTEM_NAME_BLOCK: name}
    if aliases is not None:
        values[ids.SYSTEM_ALIASES_BLOCK] = aliases
    answer = submit(app, LEAD, view, values)
    assert answer is not None and answer["response_action"] == "update", answer
    assert not validate_view(answer["view"], allowed_types=("modal",))
    return answer["view"]


def card_text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def has_edit(view: dict[str, Any]) -> bool:
    return ids.SYSTEM_EDIT_ACTION in card_text(view)


def systems(app) -> dict[str, list[str]]:
    with app.runtime.sessions() as session:
        found: dict[str, list[str]] = {s.name: [] for s in session.scalars(select(System))}
        for name, alias in session.execute(
            select(System.name, SystemAlias.alias).join(
                SystemAlias, SystemAlias.system_id == System.id
            )
        ):
            found[name].append(alias)
        return {k: sorted(v) for k, v in found.items()}


def press_in_view(app, user: SlackUser, view: dict, action_id: str, value: str) -> None:
    reply = app.sender.block_action(
        user=user,
        action_id=action_id,
        value=value,
        block_id=ids.SYSTEM_CARD_ACTIONS_BLOCK,
        view=view,
        container={"type": "view", "view_id": view["id"]},
    )
    assert reply.status == 200, reply.text


def suggestions(app, action_id: str, query: str, **where: Any) -> list[str]:
    reply = app.sender.block_suggestion(user=LEAD, action_id=action_id, value=query, **where)
    assert reply.status == 200, reply.text
    answer = reply.json()
    assert validate_options(answer) == [], answer
    return [o["value"] for o in answer["options"]]


# -- registering, the card, the list ---------------------------------------------------------


def test_a_lead_registers_a_system_and_everyone_opens_its_card(app):
    card = register(app)
    assert systems(app) == {"fraud-model": ["Fraud V3", "fraud-scorer"]}
    text = card_text(card)
    for expected in (
        "fraud-model",
        "Pilot",
        "Hold a card payment for manual review",
        "Precision at least 0.9 at 60% recall",
        "Card transactions, chargebacks",
        "Labels arrive 60 days late",
        "False holds hurt low-income customers most",
        "<https://docs.example.com/fraud-model-card|",
        "Fraud V3, fraud-scorer",
    ):
        assert expected in text, expected
    assert has_edit(card)

    # Anyone opens it by its name or an alias, in any case; only leads see Edit.
    seen = opened_by_command(app, ALICE, "system FRAUD v3")
    assert seen["callback_id"] == ids.SYSTEM_CARD_VIEW
    assert "Hold a card payment for manual review" in card_text(seen)
    assert not has_edit(seen)
    assert has_edit(opened_by_command(app, LEAD, "system fraud-model"))

    listing = command(app, "systems")
    assert "fraud-model" in listing and "Pilot" in listing and "Fraud V3" in listing
    assert_slack_happy(app)


def test_an_unknown_name_is_a_private_sentence_for_others(app):
    before = len(app.standin.calls)
    answer = command(app, "system loan-model", user=ALICE)
    assert "No AI system called “loan-model” is on record" in answer
    assert app.standin.calls_to("views.open") == []
    assert {c.method for c in app.standin.calls[before:]} <= {"auth.test"}
    assert "No AI systems are on record yet" in command(app, "systems")
    assert "Name the system" in command(app, "system")


def test_an_expired_trigger_is_answered_through_the_response_url(app):
    register(app)
    app.standin.trigger_ttl = 0.0  # every trigger has expired by the time it is used
    reply = app.sender.command(user=ALICE, text="system fraud-model")
    assert reply.status == 200
    [answer] = app.standin.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral"
    assert "didn't open it in time" in answer.params["text"]
    assert "Traceback" not in app.log.getvalue()


def test_the_card_shows_signals_patterns_lessons_and_the_last_review(app):
    register(app)
    refs = [
        file_named(app, "drift fraud-model: precision fell"),
        file_named(app, "drift Fraud-Scorer: recall fell"),
        file_named(app, "bias system:FRAUD-SCORER holds more cards abroad"),
        file_named(app, "edge-case fraud-model: crashes on empty merchant"),
        file_named(app, "edge-case fraud-model: crashes on long names"),
    ]
    for ref in refs:
        posted(app, ref)
    from tests.handlers.listeners.triage.test_lead_actions import resolve

    resolve(app, refs[3], pattern="data-optimism", lesson="Validate merchants at the edge")
    resolve(
        app,
        refs[4],
        pattern="data-optimism",
        assumption="Names are short",
        lesson="Fuzz the inputs before launch",
    )
    card = opened_by_command(app, ALICE, "system fraud-model")
    text = card_text(card)
    assert "Model drift: 2" in text and "Bias / fairness: 1" in text
    assert "Edge case" not in text.split("Open signals by kind")[1].split("Recurring")[0]
    assert "Data optimism ×2" in text
    assert "Fuzz the inputs before launch" in text and "Validate merchants at the edge" in text
    assert f"{refs[4]}, resolved" in text and "Names are short" in text
    assert not validate_view(card, allowed_types=("modal",))

    # A lead marks the older lesson a key lesson: the playbook leads the card's lessons.
    from tests.handlers.listeners.triage.test_lessons_library import press_key

    press_key(app, LEAD, refs[3])
    text = card_text(opened_by_command(app, ALICE, "system fraud-model"))
    lessons = text.split("*Lessons*")[1]
    assert lessons.index("⭐ Validate merchants at the edge") < lessons.index(
        "• Fuzz the inputs before launch"
    )


# -- editing -------------------------------------------------------------------------------------


def test_edit_pushes_the_form_and_saving_updates_the_card_and_rewrites_signals(app):
    scorer = file_named(app, "drift scorer: precision fell")
    posted(app, scorer)
    register(app)
    card = opened_by_command(app, LEAD, "system fraud-model")
    record_id = systems_ids(app)["fraud-model"]

    press_in_view(app, LEAD, card, ids.SYSTEM_EDIT_ACTION, record_id)
    [pushed] = app.standin.wait_for("views.push")
    form = pushed.response["view"]
    assert form["callback_id"] == ids.SYSTEM_MODAL
    assert "Labels arrive 60 days late" in json.dumps(form)

    answer = submit(
        app,
        LEAD,
        form,
        {
            **FULL_RECORD,
            ids.SYSTEM_NAME_BLOCK: "fraud-model",
            ids.SYSTEM_ALIASES_BLOCK: "Fraud V3, fraud-scorer, Scorer",
            ids.SYSTEM_STAGE_BLOCK: "production",
        },
    )
    assert answer is None  # the form closes; the card underneath is updated
    [update] = app.standin.wait_for("views.update")
    assert update.params["view_id"] == card["id"]
    assert "Production" in card_text(update.params["view"])
    assert signal(app, scorer).system == "fraud-model"
    settle(app)
    assert "fraud-model" in json.dumps(parent(app, scorer)["blocks"])
    assert_slack_happy(app)


def systems_ids(app) -> dict[str, str]:
    with app.runtime.sessions() as session:
        return {s.name: s.id for s in session.scalars(select(System))}


def test_a_rename_keeps_the_old_name_as_an_alias(app):
    register(app, aliases="")
    ref = file_named(app, "drift fraud-model: precision fell")
    card = opened_by_command(app, LEAD, "system fraud-model")
    press_in_view(app, LEAD, card, ids.SYSTEM_EDIT_ACTION, systems_ids(app)["fraud-model"])
    form = app.standin.wait_for("views.push")[0].response["view"]
    assert submit(app, LEAD, form, {**FULL_RECORD, ids.SYSTEM_NAME_BLOCK: "Fraud Guard"}) is None
    assert systems(app) == {"Fraud Guard": ["Fraud V3", "fraud-model", "fraud-scorer"]}
    assert signal(app, ref).system == "Fraud Guard"
    assert "SIG" in file_named(app, "drift fraud-model: again")
    assert {signal(app, r).system for r in ("SIG-1", "SIG-2")} == {"Fraud Guard"}


def test_a_member_cannot_edit_or_save(app):
    register(app)
    card = opened_by_command(app, ALICE, "system fraud-model")
    record_id = systems_ids(app)["fraud-model"]
    # A forged press of the Edit button the card does not show them.
    press_in_view(app, ALICE, card, ids.SYSTEM_EDIT_ACTION, record_id)
    [pushed] = app.standin.wait_for("views.push")
    notice = pushed.params["view"]
    assert "Only leads can edit or register systems" in card_text(notice)
    assert ids.SYSTEM_MODAL != notice.get("callback_id")
    # A forged submission of the form.
    form = opened_by_command(app, LEAD, "system fraud-model")
    press_in_view(app, LEAD, form, ids.SYSTEM_EDIT_ACTION, record_id)
    lead_form = app.standin.wait_for("views.push", 2)[1].response["view"]
    refused = submit(app, ALICE, lead_form, {**FULL_RECORD, ids.SYSTEM_NAME_BLOCK: "taken-over"})
    assert refused["response_action"] == "errors"
    assert "Only leads" in refused["errors"][ids.SYSTEM_NAME_BLOCK]
    assert list(systems(app)) == ["fraud-model"]
    # An unknown name opens no register form for them.
    opened = len(app.standin.calls_to("views.open"))
    assert "is on record" in command(app, "system other-model", user=NOT_A_LEAD)
    assert len(app.standin.calls_to("views.open")) == opened


def test_field_errors_are_answered_per_field(app):
    register(app, name="loan-model", aliases="credit-model")
    view = opened_by_command(app, LEAD, "system fraud-model")
    answer = submit(
        app,
        LEAD,
        view,
        {
            ids.SYSTEM_NAME_BLOCK: "",
            ids.SYSTEM_ALIASES_BLOCK: "Credit-Model",
            ids.SYSTEM_STAGE_BLOCK: "sunset",
            ids.SYSTEM_DOC_BLOCK: "http://docs.example.com/card",
        },
    )
    assert answer["response_action"] == "errors"
    errors = answer["errors"]
    assert set(errors) == {
        ids.SYSTEM_NAME_BLOCK,
        ids.SYSTEM_STAGE_BLOCK,
        ids.SYSTEM_DOC_BLOCK,
    }
    assert "https://" in errors[ids.SYSTEM_DOC_BLOCK]
    assert all(len(text) <= 150 for text in errors.values())
    # A name or alias another system has is refused under its own field.
    answer = submit(
        app,
        LEAD,
        view,
        {
            ids.SYSTEM_NAME_BLOCK: "fraud-model",
            ids.SYSTEM_ALIASES_BLOCK: "CREDIT-model",
            ids.SYSTEM_STAGE_BLOCK: "idea",
        },
    )
    assert list(answer["errors"]) == [ids.SYSTEM_ALIASES_BLOCK]
    assert "loan-model" in answer["errors"][ids.SYSTEM_ALIASES_BLOCK]
    answer = submit(
        app, LEAD, view, {ids.SYSTEM_NAME_BLOCK: " LOAN-Model ", ids.SYSTEM_STAGE_BLOCK: "idea"}
    )
    assert answer["response_action"] == "errors"
    assert list(systems(app)) == ["loan-model"]
    assert_slack_happy(app)


# -- signals point to a system -----------------------------------------------------------------


def test_the_one_liner_stores_the_canonical_name_for_a_name_or_alias(app):
    register(app)
    answers = {
        "drift FRAUD-MODEL: precision fell": "fraud-model",
        "drift system:fraud-scorer recall fell": "fraud-model",
        "drift system: Fraud  V3 recall fell": "Fraud",  # `system: NAME` takes one word
        "drift Fraud-Scorer: drifting": "fraud-model",
        "drift unknown-model: drifting": "unknown-model",
    }
    for text, expected in answers.items():
        answer = command(app, text)
        ref = answer.split("*")[1]
        assert signal(app, ref).system == expected, text
        assert f"System: *{expected}*" in answer


def test_the_form_offers_systems_by_type_ahead(app):
    register(app)
    register(app, name="loan-model", aliases="credit scorer")
    view = opened_by_command(app, ALICE, "")
    [pick] = [b for b in view["blocks"] if b.get("block_id") == ids.SYSTEM_PICK_BLOCK]
    assert pick["element"]["type"] == "external_select"

    where = {"view": view, "block_id": ids.SYSTEM_PICK_BLOCK}
    assert suggestions(app, ids.SYSTEM_PICK_INPUT, "", **where) == ["fraud-model", "loan-model"]
    assert suggestions(app, ids.SYSTEM_PICK_INPUT, "SCOR", **where) == [
        "fraud-model",
        "loan-model",
    ]
    assert suggestions(app, ids.SYSTEM_PICK_INPUT, "credit", **where) == ["loan-model"]
    assert suggestions(app, ids.SYSTEM_PICK_INPUT, "nothing-like-it", **where) == []

    view_ids = itertools.count()

    def filed(answers: dict[str, Any]) -> str:
        answer = submit(
            app,
            ALICE,
            view,
            {
                ids.KIND_BLOCK: "drift",
                ids.TEXT_BLOCK: "scores drift",
                ids.IDENTITY_BLOCK: ids.IDENTITY_NAMED,
                **answers,
            },
            view_id=f"VFORM{next(view_ids)}",
        )
        return answer["view"]["blocks"][0]["text"]["text"].split("*")[1]

    assert signal(app, filed({ids.SYSTEM_PICK_BLOCK: "loan-model"})).system == "loan-model"
    # The free-text fallback: an alias is stored as its system's name, an unknown name as typed.
    assert signal(app, filed({ids.SYSTEM_BLOCK: "Credit Scorer"})).system == "loan-model"
    assert signal(app, filed({ids.SYSTEM_BLOCK: "chat-bot"})).system == "chat-bot"
    assert_slack_happy(app)


def test_register_from_the_triage_post_of_an_unknown_system(app):
    ref = file_named(app, "drift scorer-x: precision fell")
    other = file_named(app, "bias Scorer-X: holds more abroad")
    posted(app, ref)
    posted(app, other)
    post = parent(app, ref)
    unknown = [b for b in post["blocks"] if b.get("block_id", "").startswith("unknown_system")]
    assert unknown, post["blocks"]

    before = len(app.standin.calls_to("views.open"))
    reply = app.sender.block_action(
        user=LEAD,
        action_id=ids.SYSTEM_REGISTER_ACTION,
        value=ref,
        block_id=unknown[0]["block_id"],
        channel_id=TRIAGE,
        message={"type": "message", "ts": post["ts"], "text": post["text"]},
        container={"type": "message", "message_ts": post["ts"], "channel_id": TRIAGE},
    )
    assert reply.status == 200
    form = app.standin.wait_for("views.open", before + 1)[before].response["view"]
    name_block = next(b for b in form["blocks"] if b.get("block_id") == ids.SYSTEM_NAME_BLOCK)
    assert name_block["element"]["initial_value"] == "scorer-x"
    answer = submit(
        app, LEAD, form, {ids.SYSTEM_NAME_BLOCK: "scorer-x", ids.SYSTEM_STAGE_BLOCK: "idea"}
    )
    assert answer["response_action"] == "update"
    assert signal(app, other).system == "scorer-x"
    settle(app)
    for r in (ref, other):
        assert "unknown_system" not in json.dumps(parent(app, r)["blocks"]), r
    assert_slack_happy(app)


def test_merge_an_unknown_name_into_a_system_on_record(app):
    register(app)
    ref = file_named(app, "drift fraudy: precision fell")
    older = file_named(app, "drift FRAUDY: recall fell")
    posted(app, ref)
    posted(app, older)
    post = parent(app, ref)
    [block] = [b for b in post["blocks"] if b.get("block_id", "").startswith("unknown_system")]
    where = {"block_id": block["block_id"], "channel_id": TRIAGE, "message_ts": post["ts"]}
    assert suggestions(app, ids.SYSTEM_MERGE_ACTION, "fra", **where) == ["fraud-model"]

    def choose(user: SlackUser) -> None:
        reply = app.sender.block_action(
            user=user,
            action_id=ids.SYSTEM_MERGE_ACTION,
            block_id=block["block_id"],
            channel_id=TRIAGE,
            message={"type": "message", "ts": post["ts"], "text": post["text"]},
            container={"type": "message", "message_ts": post["ts"], "channel_id": TRIAGE},
            selected_option={
                "text": {"type": "plain_text", "text": "fraud-model"},
                "value": "fraud-model",
            },
        )
        assert reply.status == 200

    choose(ALICE)  # not a lead: refused
    settle(app)
    assert "Only leads" in ephemerals_to(app, ALICE)[0]
    assert signal(app, ref).system == "fraudy"

    choose(LEAD)
    settle(app)
    [told] = ephemerals_to(app, LEAD)
    assert "“fraudy” is now another name of *fraud-model*; 2 signals" in told
    assert systems(app)["fraud-model"] == ["Fraud V3", "fraud-scorer", "fraudy"]
    assert {signal(app, r).system for r in (ref, older)} == {"fraud-model"}
    settle(app)
    assert "unknown_system" not in json.dumps(parent(app, ref)["blocks"])
    assert signal(app, file_named(app, "drift Fraudy: again")).system == "fraud-model"
    assert_slack_happy(app)


def test_stale_register_and_merge_controls_change_nothing(app):
    register(app)
    ref = file_named(app, "drift loan-x: approvals fell")
    posted(app, ref)
    post = parent(app, ref)
    [block] = [b for b in post["blocks"] if b.get("block_id", "").startswith("unknown_system")]
    where = {
        "block_id": block["block_id"],
        "channel_id": TRIAGE,
        "message": {"type": "message", "ts": post["ts"], "text": post["text"]},
        "container": {"type": "message", "message_ts": post["ts"], "channel_id": TRIAGE},
    }
    # A member pressing Register is refused; no form opens.
    app.sender.block_action(user=ALICE, action_id=ids.SYSTEM_REGISTER_ACTION, value=ref, **where)
    settle(app)
    assert "Only leads" in ephemerals_to(app, ALICE)[0]
    # Meanwhile the name is registered as a system of its own; the old post's controls are stale.
    register(app, name="loan-x", aliases="")
    opened = len(app.standin.calls_to("views.open"))
    app.sender.block_action(user=LEAD, action_id=ids.SYSTEM_REGISTER_ACTION, value=ref, **where)
    settle(app)
    [told] = ephemerals_to(app, LEAD)
    assert "loan-x is already on record as loan-x" in told
    choice = {"text": {"type": "plain_text", "text": "fraud-model"}, "value": "fraud-model"}
    app.sender.block_action(
        user=LEAD, action_id=ids.SYSTEM_MERGE_ACTION, selected_option=choice, **where
    )
    settle(app)
    told = ephemerals_to(app, LEAD)
    assert len(told) == 2, told
    assert "“loan-x” is already on record as loan-x" in told[1]
    assert len(app.standin.calls_to("views.open")) == opened
    assert systems(app) == {"fraud-model": ["Fraud V3", "fraud-scorer"], "loan-x": []}
    assert signal(app, ref).system == "loan-x"
    assert_slack_happy(app)
