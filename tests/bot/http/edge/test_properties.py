"""Property-based: arbitrary text and arbitrary payload shapes through the real signed HTTP path
(commands, form submissions, button presses, raw bodies), on SQLite and PostgreSQL.

For every example: never a 5xx; a refused input stores nothing; what is filed is stored whole and
equals what was sent (modulo the documented stripping); every form the app answers with passes
Block Kit's rules. After each property: nothing the app posted carries a live mention (other than
the named reporter and the lead it names on purpose) or a labelled link, and Slack (the stand-in,
which checks Block Kit's rules and limits) refused no payload.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from bot.services.vocabulary import KINDS, parse_kind
from bot.standin import validate_view
from handlers import ids
from handlers.blocks.intake import build_signal_modal
from handlers.formatting import command_text_to_plain
from tests.bot.http.edge.conftest import (
    ALLOWED_MENTIONS,
    FORM,
    delivered,
    filed_ref,
    is_unreadable_answer,
    live_tokens,
    rejected_payloads,
    signal_by_ref,
    stored_state,
)
from tests.conftest import ALICE, LEAD, TRIAGE

# Per property, from the loaded profile (tests/bot/http/edge/conftest.py): 40 by default.
EXAMPLES = settings.default.max_examples

# NUL: stripped by the service, see clean_fields. PostgreSQL cannot store "\x00" in text; the
# service removes it before storing. Until that stripping is in, generated text leaves NUL out;
# set this to True to send NULs too (stored text is then compared with the NULs removed).
SEND_NUL = False
EXCLUDED = "" if SEND_NUL else "\x00"

SLACK_MARKUP = [
    "<!here>",
    "<!channel>",
    "<!everyone>",
    "<@U0123ABCD>",
    "<@U0123ABCD|bob>",
    "<#C0123ABCD|general>",
    "<!subteam^S0123|@leads>",
    "<!date^1392734382^{date}|Feb 18>",
    "<https://evil.example/x|click here>",
    "<mailto:a@b.example|mail>",
    "&amp;",
    "&lt;",
    "&gt;",
    "&lt;!here&gt;",
    "*bold*",
    "_it_",
    "~s~",
    "`code`",
    "```block```",
    "> quote",
    ":emoji:",
    "payload",
    "payload=",
    "%7B",
    "\n",
    "\r\n",
    "\t",
    " ",
    "\u200b",
    "\u202e",
    "\ufeff",
]

characters = st.characters(codec="utf-8", exclude_characters=EXCLUDED)
pieces = st.one_of(
    st.text(characters, max_size=30),
    st.sampled_from(SLACK_MARKUP),
    st.text(st.characters(codec="ascii", exclude_characters=EXCLUDED), max_size=30),
)
short_text = st.lists(pieces, max_size=8).map("".join)
long_text = st.tuples(short_text, st.integers(0, 3200), st.sampled_from("x<&é😀 ")).map(
    lambda t: t[0] + t[2] * t[1]
)
any_text = st.one_of(short_text, short_text, long_text)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), short_text
)
any_json = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(short_text, st.sampled_from(["id", "value", "type"])), children, max_size=4
        ),
    ),
    max_leaves=12,
)
kind_words = st.one_of(
    st.sampled_from(sorted(KINDS)),
    st.sampled_from(sorted(KINDS)),
    st.sampled_from(["edge", "fairness", "DQ", "Drift", "gov", "misc"]),
    short_text,
)


def stripped(value: str) -> str:
    return value.replace("\x00", "") if SEND_NUL else value


def slack_escaped(typed: str) -> str:
    """What Slack sends for typed text: & < > entity-escaped."""
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def changed(before: tuple[int, int, int], after: tuple[int, int, int]) -> tuple[int, int]:
    """New signals and new triage events (outbox rows follow the signals)."""
    return after[0] - before[0], after[1] - before[1]


def assert_posted_inert(app) -> None:
    delivered(app)
    assert live_tokens(app, allowed=ALLOWED_MENTIONS) == []
    assert rejected_payloads(app) == []


def assert_valid_answer(reply) -> Any:
    """A 200 whose body is what Slack accepts for the request; the parsed answer."""
    assert reply.status == 200, (reply.status, reply.text[:500])
    if not reply.body:
        return None
    answer = reply.json()
    view = answer.get("view")
    if view is not None:
        assert validate_view(view, allowed_types=("modal",)) == [], view
    if answer.get("response_action") == "errors":
        assert answer["errors"] and all(
            isinstance(k, str) and isinstance(v, str) and len(v) <= 2000
            for k, v in answer["errors"].items()
        ), answer
    if "text" in answer:
        # Slack cuts a message text beyond 40,000 characters.
        assert isinstance(answer["text"], str) and 0 < len(answer["text"]) <= 40_000
    return answer


# -- slash commands ---------------------------------------------------------------------------


@st.composite
def command_texts(draw) -> str:
    shape = draw(st.sampled_from(["kind", "anon", "free", "sub", "escaped"]))
    body = draw(any_text)
    if shape == "kind":
        return f"{draw(kind_words)} {body}"
    if shape == "anon":
        return f"{draw(st.sampled_from(['anon', 'anonymous', 'ANON']))} {draw(kind_words)} {body}"
    if shape == "sub":
        return f"{draw(st.sampled_from(['status', 'reply', 'lessons', 'help']))} {body}"
    if shape == "escaped":
        return f"{draw(st.sampled_from(sorted(KINDS)))} {slack_escaped(body)}"
    return body


def test_commands_with_arbitrary_text(edge_app):
    @settings(max_examples=EXAMPLES)
    @given(text=command_texts(), channel_name=short_text, user_name=short_text)
    def check(text: str, channel_name: str, user_name: str) -> None:
        fields = edge_app.sender.command_fields(user=ALICE, text=text, channel_id="CGENERAL01")
        fields.update(channel_name=channel_name, user_name=user_name)
        before = stored_state(edge_app)
        reply = edge_app.sender.post_form(fields)
        answer = assert_valid_answer(reply)
        new_signals, new_events = changed(before, stored_state(edge_app))
        ref = filed_ref(answer.get("text", "")) if answer else None
        note(f"answer: {answer}")
        event("filed" if ref else "not filed")
        if ref is None:
            assert (new_signals, new_events) == (0, 0)  # refused or answered: nothing stored
            return
        assert (new_signals, new_events) == (1, 0)
        signal = signal_by_ref(edge_app, ref)
        plain = stripped(command_text_to_plain(text))
        assert signal.text and signal.text == signal.text.strip()
        assert signal.text in plain  # whole: a contiguous piece of what was typed
        assert signal.system is None or signal.system in plain
        words = plain.strip().split()
        kind_word = words[1] if words[0].lower() in ("anon", "anonymous") else words[0]
        assert signal.kind == parse_kind(kind_word)
        assert signal.anonymous == (words[0].lower() in ("anon", "anonymous"))

    check()
    assert_posted_inert(edge_app)


# -- the filing form --------------------------------------------------------------------------


def option(value: Any) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": "o"}, "value": value}


@st.composite
def form_values(draw) -> tuple[dict[str, Any], dict[str, Any]]:
    """state.values for the filing form, and what was typed (None where the shape is wrong)."""
    typed = {
        "kind": draw(kind_words),
        "system": draw(st.one_of(st.none(), short_text, short_text, long_text)),
        "text": draw(st.one_of(st.none(), short_text, short_text, short_text, long_text)),
        "impact": draw(st.one_of(st.none(), short_text, short_text, long_text)),
        "identity": draw(st.sampled_from([ids.IDENTITY_NAMED, ids.IDENTITY_ANONYMOUS, "other"])),
    }
    values: dict[str, Any] = {
        ids.KIND_BLOCK: {
            ids.KIND_INPUT: {"type": "static_select", "selected_option": option(typed["kind"])}
        },
        ids.SYSTEM_BLOCK: {
            ids.SYSTEM_INPUT: {"type": "plain_text_input", "value": typed["system"]}
        },
        ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"type": "plain_text_input", "value": typed["text"]}},
        ids.IMPACT_BLOCK: {
            ids.IMPACT_INPUT: {"type": "plain_text_input", "value": typed["impact"]}
        },
        ids.IDENTITY_BLOCK: {
            ids.IDENTITY_INPUT: {
                "type": "radio_buttons",
                "selected_option": option(typed["identity"]),
            }
        },
    }
    # Sometimes a wrong shape somewhere: a block, an element, a value, an option.
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        block = draw(st.sampled_from(sorted(values)))
        where = draw(st.sampled_from(["block", "element", "value", "option", "extra"]))
        junk = draw(any_json)
        element = values[block]
        action = next(iter(element), None) if isinstance(element, dict) else None
        if where == "block" or action is None:
            values[block] = junk
        elif where == "element":
            values[block][action] = junk
        elif where == "value" and isinstance(values[block][action], dict):
            values[block][action]["value"] = junk
        elif where == "option" and isinstance(values[block][action], dict):
            values[block][action]["selected_option"] = junk
        else:
            values[draw(short_text)] = junk
        typed["mangled"] = True
    return values, typed


def test_form_submissions_with_arbitrary_values(edge_app):
    view = build_signal_modal()

    @settings(max_examples=EXAMPLES * 3 // 2)
    @given(shape=form_values(), user=st.sampled_from([ALICE, LEAD]))
    def check(shape: tuple[dict[str, Any], dict[str, Any]], user) -> None:
        values, typed = shape
        before = stored_state(edge_app)
        reply = edge_app.sender.view_submission(user=user, view=view, values=values)
        answer = assert_valid_answer(reply)
        note(f"answer: {answer}")
        assert answer is not None and answer["response_action"] in ("errors", "update")
        new_signals, new_events = changed(before, stored_state(edge_app))
        ref = filed_ref(json.dumps(answer.get("view") or {}))
        event(("filed" if ref else "not filed") + (" (mangled)" if typed.get("mangled") else ""))
        if ref is None:
            assert (new_signals, new_events) == (0, 0)
            return
        assert (new_signals, new_events) == (1, 0)
        signal = signal_by_ref(edge_app, ref)
        if typed.get("mangled"):
            return  # a wrong shape in a part the form does not read: filed from the rest
        assert signal.kind == parse_kind(typed["kind"])
        assert signal.text == stripped(typed["text"] or "").strip()
        assert signal.system == (stripped(typed["system"] or "").strip() or None)
        assert signal.impact == (stripped(typed["impact"] or "").strip() or None)
        assert signal.anonymous == (typed["identity"] == ids.IDENTITY_ANONYMOUS)
        assert signal.reporter_id == (None if signal.anonymous else user.id)

    check()
    assert_posted_inert(edge_app)


# -- buttons and lead forms -------------------------------------------------------------------


@pytest.fixture(scope="module")
def refs(edge_app) -> list[str]:
    made = []
    for text in ("drift a signal for the buttons", "anon bias another one for the buttons"):
        made.append(filed_ref(edge_app.sender.command(user=ALICE, text=text).json()["text"]))
    return made


ACTION_IDS = [
    ids.ACKNOWLEDGE_ACTION,
    ids.REOPEN_ACTION,
    ids.TRIAGE_ACTION,
    ids.ASK_ACTION,
    ids.RESOLVE_ACTION,
    ids.HOME_OPEN_MODAL_ACTION,
]


def test_button_presses_with_arbitrary_values(edge_app, refs):
    @settings(max_examples=EXAMPLES)
    @given(
        action_id=st.one_of(st.sampled_from(ACTION_IDS), short_text),
        value=st.one_of(st.sampled_from(refs + ["SIG-999999", ""]), any_text),
        user=st.sampled_from([ALICE, LEAD]),
        in_channel=st.booleans(),
    )
    def check(action_id: str, value: str, user, in_channel: bool) -> None:
        before = stored_state(edge_app)
        statuses = [signal_by_ref(edge_app, ref).status for ref in refs]
        reply = edge_app.sender.block_action(
            user=user,
            action_id=action_id,
            value=value,
            channel_id=TRIAGE if in_channel else None,
            message={"ts": "1.000001", "text": "x"} if in_channel else None,
            container={"type": "message", "channel_id": TRIAGE, "message_ts": "1.000001"}
            if in_channel
            else None,
        )
        assert reply.status == 200 and not reply.body, (reply.status, reply.text[:300])
        if user is ALICE or value not in refs:
            assert changed(before, stored_state(edge_app)) == (0, 0)
            assert [signal_by_ref(edge_app, ref).status for ref in refs] == statuses

    check()
    assert_posted_inert(edge_app)


def test_lead_form_submissions_with_arbitrary_values(edge_app, refs):
    @settings(max_examples=EXAMPLES)
    @given(
        callback_id=st.sampled_from([ids.TRIAGE_MODAL, ids.ASK_MODAL, ids.RESOLVE_MODAL]),
        metadata=st.one_of(
            st.sampled_from(refs).map(lambda r: json.dumps({"ref": r})),
            any_json.map(json.dumps),
            any_json,
        ),
        fields=st.dictionaries(
            st.sampled_from(
                [
                    ids.NOTE_BLOCK,
                    ids.REASON_BLOCK,
                    ids.QUESTION_BLOCK,
                    ids.DONE_BLOCK,
                    ids.LESSON_BLOCK,
                ]
            ),
            st.one_of(any_text, any_json),
            max_size=4,
        ),
        choices=st.dictionaries(
            st.sampled_from([ids.STATUS_BLOCK, ids.PATTERN_BLOCK, ids.IMPACT_LEVEL_BLOCK]),
            st.one_of(
                st.sampled_from(["investigating", "declined", "high", "data_optimism"]), any_json
            ),
            max_size=3,
        ),
        user=st.sampled_from([ALICE, LEAD]),
    )
    def check(callback_id, metadata, fields, choices, user) -> None:
        values: dict[str, Any] = {
            block: {block + "_input": {"type": "plain_text_input", "value": value}}
            for block, value in fields.items()
        }
        for block, value in choices.items():
            values[block] = {block + "_select": {"selected_option": option(value)}}
        view = {"type": "modal", "callback_id": callback_id, "private_metadata": metadata}
        before = stored_state(edge_app)
        reply = edge_app.sender.view_submission(user=user, view=view, values=values)
        answer = assert_valid_answer(reply)
        note(f"answer: {answer}")
        new_signals, new_events = changed(before, stored_state(edge_app))
        assert new_signals == 0
        if answer is not None or user is ALICE:
            assert new_events == 0  # errors, "nothing changed" or not a lead: nothing on record

    check()
    assert_posted_inert(edge_app)


# -- any payload shape, any body --------------------------------------------------------------

TYPES = ["view_submission", "block_actions", "message_action", "shortcut", "event_callback"]
ENVELOPE_KEYS = [
    "type",
    "user",
    "team",
    "channel",
    "view",
    "actions",
    "message",
    "container",
    "trigger_id",
    "response_url",
    "callback_id",
    "event",
    "authorizations",
    "response_urls",
    "enterprise",
]


def good_payload(app, kind: str) -> dict[str, Any]:
    user = {"id": ALICE.id, "name": ALICE.name, "team_id": "TSTANDIN"}
    base: dict[str, Any] = {
        "type": kind,
        "team": {"id": "TSTANDIN", "domain": "standin"},
        "user": user,
        "api_app_id": "ASTANDIN",
        "trigger_id": app.standin.issue_trigger_id(),
    }
    if kind == "view_submission":
        view = build_signal_modal()
        view.update(id="V" + secrets.token_hex(5).upper(), state={"values": {}})
        base["view"] = view
    elif kind == "block_actions":
        base["actions"] = [
            {"action_id": ids.ACKNOWLEDGE_ACTION, "value": "SIG-1", "type": "button"}
        ]
        base["response_url"] = app.standin.new_response_url()
    elif kind in ("message_action", "shortcut"):
        base.update(callback_id=ids.RAISE_SHORTCUT, message={"ts": "1.1", "text": "hi"})
        base["channel"] = {"id": "CGENERAL01"}
    else:
        base = {
            "type": kind,
            "event_id": "Ev" + secrets.token_hex(5),
            "event": {"type": "app_home_opened", "user": ALICE.id, "tab": "home"},
        }
    return base


def test_arbitrary_payload_shapes(edge_app):
    @settings(max_examples=EXAMPLES * 3 // 2)
    @given(
        kind=st.sampled_from(TYPES),
        changes=st.dictionaries(st.sampled_from(ENVELOPE_KEYS), any_json, max_size=3),
        whole=st.one_of(st.none(), any_json),
    )
    def check(kind: str, changes: dict[str, Any], whole: Any) -> None:
        payload = good_payload(edge_app, kind) if whole is None else whole
        if isinstance(payload, dict) and whole is None:
            payload.update(changes)
        before = stored_state(edge_app)
        reply = edge_app.sender.post_form({"payload": json.dumps(payload)})
        assert reply.status < 500, (reply.status, reply.text[:300])
        if not isinstance(payload, dict):
            assert reply.status == 400
        else:
            assert reply.status == 200
            assert_valid_answer(reply)
        event(f"{reply.status} {'unreadable' if is_unreadable_answer(reply) else 'read'}")
        if reply.status != 200 or is_unreadable_answer(reply):
            assert changed(before, stored_state(edge_app)) == (0, 0)

    check()
    assert_posted_inert(edge_app)


@settings(max_examples=EXAMPLES)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        short_text.map(str.encode),
        any_json.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(short_text, short_text, max_size=5).map(
            lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode()
        ),
    ),
    content_type=st.sampled_from(
        ["application/json", FORM, "text/plain", "", "multipart/form-data"]
    ),
    signed=st.booleans(),
)
def test_arbitrary_bodies(edge_app, body: bytes, content_type: str, signed: bool) -> None:
    before = stored_state(edge_app)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    signature = None if signed and text is not None else "v0=" + "0" * 64
    reply = edge_app.sender.post(body, content_type=content_type, signature=signature)
    assert reply.status < 500, (reply.status, reply.text[:300])
    if signature is not None:
        assert reply.status == 401
        assert stored_state(edge_app) == before
