"""Block Kit builders stay within Slack's limits for any input; the modal and its parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.services.errors import EmptyText, TextTooLong, UnknownKind
from bot.services.signals import MAX_IMPACT, MAX_SYSTEM, MAX_TEXT, FiledSignal, SignalSummary
from bot.services.vocabulary import KINDS
from bot.standin import validate_blocks, validate_view
from handlers import ids
from handlers.blocks.home import build_home_view
from handlers.blocks.intake import (
    build_duplicate_view,
    build_field_errors,
    build_help_text,
    build_receipt_view,
    build_signal_modal,
    build_status_text,
    parse_signal_submission,
)
from handlers.blocks.kit import SECTION_TEXT_LIMIT, status_label
from handlers.blocks.triage import build_triage_message
from handlers.formatting import escape

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def summary(**overrides) -> SignalSummary:
    values = dict(
        ref="SIG-12",
        kind="drift",
        system="fraud-model",
        text="precision fell to 0.78",
        impact="false positives",
        anonymous=False,
        reporter_id="UALICE0001",
        status="new",
        created_at=NOW,
        posted=False,
    )
    values.update(overrides)
    return SignalSummary(**values)


WORST_CASES = [
    pytest.param({"text": "&" * MAX_TEXT}, id="text-amp"),
    pytest.param({"text": "<" * MAX_TEXT}, id="text-lt"),
    pytest.param({"text": "\n" * MAX_TEXT}, id="text-newlines"),
    pytest.param({"text": "a\n" * (MAX_TEXT // 2)}, id="text-many-lines"),
    pytest.param({"text": "<!channel> " * 272}, id="text-mentions"),
    pytest.param(
        {"text": "&" * MAX_TEXT, "system": "<" * MAX_SYSTEM, "impact": "&" * MAX_IMPACT},
        id="all-max",
    ),
    pytest.param({"system": "x" * MAX_SYSTEM, "impact": ">" * MAX_IMPACT}, id="system-impact"),
    pytest.param({"system": None, "impact": None}, id="no-optional"),
    pytest.param({"anonymous": True, "reporter_id": None, "ref": "SIG-K3JD7Q"}, id="anonymous"),
]


def _all_text(payload) -> str:
    return json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("overrides", WORST_CASES)
def test_triage_message_within_block_kit_limits(overrides):
    message = build_triage_message(summary(**overrides))
    assert validate_blocks(message["blocks"], surface="message") == []
    assert 0 < len(message["text"]) <= 4000
    dumped = _all_text(message)
    assert "<!" not in dumped
    raw = overrides.get("text", "")
    if len(escape(raw)) > SECTION_TEXT_LIMIT:
        assert "cut" in dumped  # long text is cut with a visible note, not rejected


def test_triage_message_contents_named():
    message = build_triage_message(summary())
    dumped = _all_text(message)
    assert "SIG-12" in dumped
    assert KINDS["drift"] in dumped
    assert "fraud-model" in dumped
    assert "precision fell to 0.78" in dumped
    assert "false positives" in dumped
    assert "<@UALICE0001>" in dumped
    assert status_label("new") in dumped
    buttons = [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert ids.ACKNOWLEDGE_ACTION in [b["action_id"] for b in buttons]
    acknowledge = next(b for b in buttons if b["action_id"] == ids.ACKNOWLEDGE_ACTION)
    assert acknowledge["value"] == "SIG-12"


def test_triage_message_anonymous_names_nobody():
    message = build_triage_message(
        summary(anonymous=True, reporter_id="UALICE0001", ref="SIG-K3JD7Q")
    )
    dumped = _all_text(message)
    assert "Anonymous" in dumped
    assert "UALICE0001" not in dumped  # even if a reporter id slipped into the summary
    assert "<@" not in dumped


def test_triage_message_escapes_user_text():
    message = build_triage_message(
        summary(
            text="<!here> <@U123> <https://evil|x> & stuff",
            system="<!channel>",
            impact="<!subteam^S1|@leads>",
        )
    )
    dumped = _all_text(message)
    for forbidden in ("<!", "<@U123>", "<https://evil|"):
        assert forbidden not in dumped
    assert "&lt;!here&gt;" in dumped
    assert "&amp; stuff" in dumped


@pytest.mark.parametrize(
    "modal",
    [
        build_signal_modal(),
        build_signal_modal(text="y" * 5000),
        build_signal_modal(text="<!channel> & <@U1>", kind="bias", anonymous=True),
        build_signal_modal(system="s" * 500, kind="not-a-kind"),
    ],
)
def test_modal_valid(modal):
    assert validate_view(modal, allowed_types=("modal",)) == []
    assert modal["callback_id"] == ids.SIGNAL_MODAL


def _element(modal: dict, block_id: str) -> dict:
    return next(b for b in modal["blocks"] if b.get("block_id") == block_id)["element"]


def test_modal_offers_every_kind_and_the_fields():
    modal = build_signal_modal()
    kind = _element(modal, ids.KIND_BLOCK)
    assert [o["value"] for o in kind["options"]] == list(KINDS)
    assert _element(modal, ids.TEXT_BLOCK)["max_length"] == MAX_TEXT
    assert _element(modal, ids.SYSTEM_BLOCK)["type"] == "plain_text_input"
    assert _element(modal, ids.IMPACT_BLOCK)["type"] == "plain_text_input"
    text_block = next(b for b in modal["blocks"] if b.get("block_id") == ids.TEXT_BLOCK)
    assert not text_block.get("optional")  # what was observed is required
    identity = _element(modal, ids.IDENTITY_BLOCK)
    assert {o["value"] for o in identity["options"]} == {ids.IDENTITY_NAMED, ids.IDENTITY_ANONYMOUS}
    assert "initial_option" not in identity  # the identity choice is never made for them
    assert "Anonymous" in _all_text(modal)  # the one-line promise


def test_modal_prefill():
    modal = build_signal_modal(text="model is odd", kind="bias", anonymous=True)
    assert _element(modal, ids.TEXT_BLOCK)["initial_value"] == "model is odd"
    assert _element(modal, ids.KIND_BLOCK)["initial_option"]["value"] == "bias"
    assert _element(modal, ids.IDENTITY_BLOCK)["initial_option"]["value"] == ids.IDENTITY_ANONYMOUS
    long = build_signal_modal(text="z" * 4000)
    assert len(_element(long, ids.TEXT_BLOCK)["initial_value"]) == MAX_TEXT


@pytest.mark.parametrize(
    "filed",
    [
        FiledSignal(ref="SIG-1", anonymous=False, code=None),
        FiledSignal(ref="SIG-K3JD7Q", anonymous=True, code="ABCD-" * 7 + "ABCD"),
    ],
)
def test_receipt_views_valid(filed):
    view = build_receipt_view(filed)
    assert validate_view(view, allowed_types=("modal",)) == []
    assert filed.ref in _all_text(view)
    if filed.code:
        assert filed.code in _all_text(view)
    assert validate_view(build_duplicate_view(), allowed_types=("modal",)) == []


def test_home_view_valid_with_many_long_signals():
    own = [summary(ref=f"SIG-{i}", text="<&>" * 1000, system="<" * MAX_SYSTEM) for i in range(60)]
    view = build_home_view(own_signals=own)
    assert validate_view(view, allowed_types=("home",)) == []
    assert validate_view(build_home_view(own_signals=[]), allowed_types=("home",)) == []


def test_status_text_escapes():
    text = build_status_text(summary(text="<!channel> & " + "x" * 4000, system="<@U1>"))
    assert "<!" not in text and "<@" not in text
    assert "SIG-12" in text


def _state(kind=None, text=None, system=None, impact=None, identity=None) -> dict:
    def option(value):
        return (
            None
            if value is None
            else {"text": {"type": "plain_text", "text": value}, "value": value}
        )

    return {
        "state": {
            "values": {
                ids.KIND_BLOCK: {
                    ids.KIND_INPUT: {"type": "static_select", "selected_option": option(kind)}
                },
                ids.SYSTEM_BLOCK: {ids.SYSTEM_INPUT: {"type": "plain_text_input", "value": system}},
                ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"type": "plain_text_input", "value": text}},
                ids.IMPACT_BLOCK: {ids.IMPACT_INPUT: {"type": "plain_text_input", "value": impact}},
                ids.IDENTITY_BLOCK: {
                    ids.IDENTITY_INPUT: {
                        "type": "radio_buttons",
                        "selected_option": option(identity),
                    }
                },
            }
        }
    }


def test_parse_signal_submission_full():
    parsed = parse_signal_submission(
        _state("bias", "<raw> text", "loan-model", "many", ids.IDENTITY_ANONYMOUS)
    )
    assert parsed == {
        "kind": "bias",
        "system": "loan-model",
        "text": "<raw> text",
        "impact": "many",
        "anonymous": True,
    }


def test_parse_signal_submission_nulls_and_missing():
    parsed = parse_signal_submission(_state(text="t", identity=ids.IDENTITY_NAMED))
    assert parsed == {"kind": "", "system": "", "text": "t", "impact": "", "anonymous": False}
    assert parse_signal_submission({}) == {
        "kind": "",
        "system": "",
        "text": "",
        "impact": "",
        "anonymous": None,  # no choice made
    }


def test_field_errors_keyed_by_block():
    assert list(build_field_errors(EmptyText("empty"))) == [ids.TEXT_BLOCK]
    assert list(build_field_errors(UnknownKind("?"))) == [ids.KIND_BLOCK]
    assert list(build_field_errors(TextTooLong("long", field="impact"))) == [ids.IMPACT_BLOCK]
    assert list(build_field_errors(TextTooLong("long", field="system"))) == [ids.SYSTEM_BLOCK]
    message = build_field_errors(EmptyText("w" * 500))[ids.TEXT_BLOCK]
    assert len(message) <= 150


def test_help_text_lists_kinds_and_commands():
    text = build_help_text()
    for kind in KINDS:
        assert f"`{kind}`" in text
    assert "anon" in text and "status" in text
