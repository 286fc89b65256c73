"""Builders for the identity choice and the reveal: plain data, within Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.services.errors import EmptyText
from bot.services.records import EventSummary, RevealOffer, SignalDetail
from bot.services.signals import FiledSignal
from bot.standin import validate_blocks, validate_view
from handlers import ids
from handlers.blocks.intake import (
    IDENTITY_REQUIRED,
    build_field_errors,
    build_help_text,
    build_receipt_text,
    build_reveal_done_view,
    build_reveal_modal,
    build_signal_modal,
    parse_signal_submission,
)
from handlers.blocks.triage import build_thread_reply
from tests.handlers.blocks.test_blocks import _state, summary

OFFER = RevealOffer(
    ref="SIG-K3JD7Q",
    token="0" * 32 + ".1796130268." + "f" * 64,
    posted=True,
    expires_at=datetime(2026, 12, 1, tzinfo=UTC),
)


def identity_block(modal: dict) -> dict:
    [block] = [b for b in modal["blocks"] if b.get("block_id") == ids.IDENTITY_BLOCK]
    return block


@pytest.mark.parametrize(
    ("anonymous", "initial"),
    [(None, None), (True, ids.IDENTITY_ANONYMOUS), (False, ids.IDENTITY_NAMED)],
)
def test_identity_is_preselected_only_when_already_chosen(anonymous, initial):
    modal = build_signal_modal(anonymous=anonymous)
    assert validate_view(modal, allowed_types=("modal",)) == []
    block = identity_block(modal)
    assert not block.get("optional")
    assert block["element"].get("initial_option", {}).get("value") == initial
    assert block["hint"]["type"] == "plain_text" and "reveal" in block["hint"]["text"]


def test_no_choice_parses_as_none_and_gets_the_field_error():
    for identity in (None, "bogus"):
        assert parse_signal_submission(_state(text="t", identity=identity))["anonymous"] is None
    errors = build_field_errors(identity_missing=True)
    assert errors == {ids.IDENTITY_BLOCK: IDENTITY_REQUIRED}
    assert len(IDENTITY_REQUIRED) <= 150 and "\n" not in IDENTITY_REQUIRED
    both = build_field_errors(EmptyText("empty"), identity_missing=True)
    assert set(both) == {ids.TEXT_BLOCK, ids.IDENTITY_BLOCK}
    assert ids.IDENTITY_BLOCK not in build_field_errors(EmptyText("empty"))


def test_receipt_mentions_the_reveal_for_anonymous_signals_only():
    anonymous = build_receipt_text(
        FiledSignal(ref="SIG-K3JD7Q", anonymous=True, code="ABCD-" * 7 + "ABCD")
    )
    assert "/ai-signal reveal <code>" in anonymous and "confirm" in anonymous
    named = build_receipt_text(FiledSignal(ref="SIG-1", anonymous=False, code=None))
    assert "reveal" not in named
    assert "/ai-signal reveal <code>" in build_help_text()


@pytest.mark.parametrize("posted", [True, False])
def test_reveal_modal_says_what_becomes_visible(posted):
    offer = RevealOffer(
        ref=OFFER.ref, token=OFFER.token, posted=posted, expires_at=OFFER.expires_at
    )
    modal = build_reveal_modal(offer)
    assert validate_view(modal, allowed_types=("modal",)) == []
    assert modal["callback_id"] == ids.REVEAL_MODAL
    assert modal["private_metadata"] == OFFER.token  # the token only
    assert modal["close"]["text"] == "Stay anonymous"
    text = " ".join(
        b["text"]["text"] if "text" in b else b["elements"][0]["text"] for b in modal["blocks"]
    )
    for says in ("triage channel", "thread", "private notes", "follow-up code", "cannot be undone"):
        assert says in text, says
    assert ("when its post reaches" in text) is not posted


def test_reveal_answers_are_valid_views():
    for view in (
        build_reveal_done_view(ref="SIG-K3JD7Q", changed=True),
        build_reveal_done_view(ref="SIG-K3JD7Q", changed=False),
        build_reveal_done_view(ref=None, changed=False, problem="<nope> & no"),
    ):
        assert validate_view(view, allowed_types=("modal",)) == []
        assert "submit" not in view
    problem = build_reveal_done_view(ref=None, changed=False, problem="<nope>")
    assert "&lt;nope&gt;" in problem["blocks"][0]["text"]["text"]


def test_thread_reply_of_a_reveal_names_the_reporter():
    event = EventSummary(
        action="revealed", actor_id="UBOB000002", note=None, created_at=OFFER.expires_at
    )
    message = build_thread_reply(
        SignalDetail(
            signal=summary(anonymous=False, reporter_id="UBOB000002", ref="SIG-K3JD7Q"),
            **dict.fromkeys(
                (
                    "owner_id",
                    "confirmed_impact",
                    "next_step",
                    "decline_reason",
                    "resolution_done",
                    "failed_assumption",
                    "pattern",
                    "lesson",
                    "acknowledged_at",
                    "posted_at",
                    "resolved_at",
                )
            ),
        ),
        event,
        lead_mention="@leads",
    )
    assert "<@UBOB000002>" in message["text"]
    assert "chose to put their name to this signal" in message["text"]
    assert validate_blocks(message["blocks"]) == []
