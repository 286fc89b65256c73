"""The builders of systems on record, at Slack's limits: the card, the edit / register form, the
type-ahead options, the triage post's controls for a system not on record, and the resolve
modal with its leadership questions — every one valid for the stand-in's Block Kit validator."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.services.errors import ServiceError
from bot.services.records import (
    ReviewAnswers,
    SignalDetail,
    SignalSummary,
    SystemCard,
    SystemLesson,
    SystemRecord,
)
from bot.services.systems import (
    MAX_ALIAS,
    MAX_ALIASES,
    MAX_FIELD,
    MAX_NAME,
    MAX_URL,
    SystemFields,
    SystemInvalid,
    check_fields,
    split_aliases,
)
from bot.services.vocabulary import KINDS, PATTERNS, system_key
from bot.standin import validate_blocks, validate_options, validate_view
from handlers import ids
from handlers.blocks.systems import (
    build_system_card,
    build_system_errors,
    build_system_modal,
    build_system_options,
    build_systems_text,
)
from handlers.blocks.triage import build_resolve_modal, build_thread_reply, build_triage_message

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
WORST = "<&>*_~`" * 400  # escapes into far more than it is long


def record(text: str = WORST, **overrides) -> SystemRecord:
    fields = {
        "id": "a" * 32,
        "name": ("<&>" * 60)[:MAX_NAME],
        "aliases": tuple((str(i) + "&" * MAX_ALIAS)[:MAX_ALIAS] for i in range(MAX_ALIASES)),
        "decision": text[:MAX_FIELD],
        "success": text[:MAX_FIELD],
        "stage": "pilot",
        "data_sources": text[:MAX_FIELD],
        "constraints": text[:MAX_FIELD],
        "ethics": text[:MAX_FIELD],
        "doc_url": "https://example.com/" + "a" * (MAX_URL - 20),
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(overrides)
    return SystemRecord(**fields)


def card(text: str = WORST, **overrides) -> SystemCard:
    review = ReviewAnswers(
        ref="SIG-ABCDEF",
        resolved_on="2026-12-01",
        failed_assumption=text[:2000],
        decision=text[:2000],
        success=text[:2000],
        constraint=text[:2000],
        missed_signal=text[:2000],
    )
    return SystemCard(
        record=record(text, **overrides),
        open_by_kind=tuple((k, 10_000) for k in KINDS),
        patterns=tuple((p, 9_999) for p in PATTERNS),
        lessons=tuple(
            SystemLesson(ref=f"SIG-{i}", lesson=text, resolved_on="2026-12-01") for i in range(3)
        ),
        last_review=review,
    )


def detail(system: str | None, *, on_record: bool = True, text: str = WORST) -> SignalDetail:
    summary = SignalSummary(
        ref="SIG-12",
        kind="drift",
        system=system,
        text=text[:3000],
        impact=None,
        anonymous=True,
        reporter_id=None,
        status="new",
        created_at=NOW,
        posted=True,
    )
    return SignalDetail(
        signal=summary,
        owner_id=None,
        confirmed_impact=None,
        next_step=None,
        decline_reason=None,
        resolution_done=text[:2000],
        failed_assumption=text[:2000],
        pattern="data-optimism",
        lesson=text[:2000],
        acknowledged_at=None,
        posted_at=NOW,
        resolved_at=NOW,
        review_decision=text[:2000],
        review_success=text[:2000],
        review_constraint=text[:2000],
        review_missed_signal=text[:2000],
        system_on_record=on_record,
    )


@pytest.mark.parametrize("can_edit", [True, False])
@pytest.mark.parametrize("text", [WORST, "x", "a\nb"])
def test_the_card_is_valid_at_the_limits(can_edit, text):
    view = build_system_card(card(text), can_edit=can_edit)
    assert validate_view(view, allowed_types=("modal",)) == []
    assert (ids.SYSTEM_EDIT_ACTION in json.dumps(view)) is can_edit


def test_an_empty_card_says_so():
    empty = SystemCard(
        record=record(
            "x", aliases=(), decision=None, success=None, data_sources=None, constraints=None
        ),
        open_by_kind=(),
        patterns=(),
        lessons=(),
        last_review=None,
    )
    view = build_system_card(empty, can_edit=False)
    assert validate_view(view, allowed_types=("modal",)) == []
    text = json.dumps(view)
    assert "None open." in text and "No review recorded yet." in text


def test_a_link_that_would_break_out_is_not_made_a_link():
    view = build_system_card(card(doc_url="https://a.example/x|<!channel>"), can_edit=False)
    assert "<https://a.example/x|" not in json.dumps(view)
    assert "<!channel>" not in json.dumps(view)


@pytest.mark.parametrize("with_record", [True, False])
def test_the_form_is_valid_and_keeps_every_alias(with_record):
    rec = record() if with_record else None
    view = build_system_modal(rec, name="n" * MAX_NAME, card_view_id="V" * 20)
    assert validate_view(view, allowed_types=("modal",)) == []
    if rec is not None:
        [aliases] = [b for b in view["blocks"] if b["block_id"] == ids.SYSTEM_ALIASES_BLOCK]
        assert split_aliases(aliases["element"]["initial_value"]) == list(rec.aliases)


def test_options_fit_slack():
    names = [("n" * MAX_NAME)[: MAX_NAME - 3] + str(i) for i in range(150)]
    options = build_system_options(names)
    assert validate_options({"options": options}) == []
    assert len(options) == 100
    assert validate_options({"options": []}) == []
    assert validate_options({"options": [{"text": {"type": "mrkdwn", "text": "x"}}]})


@pytest.mark.parametrize("on_record", [True, False])
def test_the_triage_post_offers_register_and_merge_only_for_an_unknown_system(on_record):
    message = build_triage_message(
        detail("x" * 200, on_record=on_record).signal, detail=detail("x" * 200, on_record=on_record)
    )
    assert validate_blocks(message["blocks"]) == []
    text = json.dumps(message)
    assert (ids.SYSTEM_REGISTER_ACTION in text) is not on_record
    assert (ids.SYSTEM_MERGE_ACTION in text) is not on_record
    no_system = detail(None, on_record=True)
    assert ids.SYSTEM_REGISTER_ACTION not in json.dumps(
        build_triage_message(no_system.signal, detail=no_system)
    )


def test_the_resolve_modal_prefills_from_the_record_and_stays_valid():
    blank = detail("fraud-model", text="")
    blank = SignalDetail(**{**blank.__dict__, "review_decision": None, "review_success": None})
    view = build_resolve_modal(blank, record())
    assert validate_view(view, allowed_types=("modal",)) == []
    by_block = {b.get("block_id"): b for b in view["blocks"]}
    assert by_block[ids.REVIEW_DECISION_BLOCK]["element"]["initial_value"] == record().decision
    assert "initial_value" not in by_block[ids.REVIEW_CONSTRAINT_BLOCK]["element"]
    assert validate_view(build_resolve_modal(detail(None)), allowed_types=("modal",)) == []


def test_the_resolution_reply_fits_with_every_answer_at_its_limit():
    from bot.services.records import EventSummary

    event = EventSummary(action="resolved", actor_id="ULEAD", note="done", created_at=NOW)
    reply = build_thread_reply(detail("s"), event, lead_mention="Leads")
    assert validate_blocks(reply["blocks"]) == []
    assert "Constraint underestimated" in reply["text"]


def test_checking_fields_names_each_problem():
    with pytest.raises(SystemInvalid) as raised:
        check_fields(
            SystemFields(
                name="",
                aliases=",".join("a" * (MAX_ALIAS + 1) for _ in range(2)),
                stage="sunset",
                doc_url="javascript:alert(1)",
                ethics="e" * (MAX_FIELD + 1),
            )
        )
    assert set(raised.value.errors) == {"name", "aliases", "stage", "doc_url", "ethics"}
    errors = build_system_errors(raised.value)
    assert set(errors) == {
        ids.SYSTEM_NAME_BLOCK,
        ids.SYSTEM_ALIASES_BLOCK,
        ids.SYSTEM_STAGE_BLOCK,
        ids.SYSTEM_DOC_BLOCK,
        ids.SYSTEM_ETHICS_BLOCK,
    }
    assert all(len(v) <= 150 for v in errors.values())
    assert build_system_errors(ServiceError("x")) == {ids.SYSTEM_NAME_BLOCK: "x"}
    for url in ("http://a.example", "https://", "https://a.example/x y", "ftp://a"):
        with pytest.raises(SystemInvalid):
            check_fields(SystemFields(name="n", doc_url=url))
    cleaned, aliases = check_fields(
        SystemFields(name="  Fraud   Model ", aliases="fraud model, V3,\nv3 , ,x", stage="idea")
    )
    assert cleaned["name"] == "Fraud Model" and aliases == ["V3", "x"]


def test_names_fold_case_and_spacing():
    assert system_key("  Fraud \t Model ") == system_key("fraud model") == "fraud model"
    assert system_key("STRASSE") == system_key("straße")


def test_the_list_fits():
    records = [record("x", name=f"system-{i}") for i in range(200)]
    text = build_systems_text(records)
    assert len(text) <= 3000 and text.startswith("*AI systems on record*")
