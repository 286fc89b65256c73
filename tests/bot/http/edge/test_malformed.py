"""Signed but malformed: every shape the app cannot read gets a 200 and the private answer
"couldn't read that; nothing changed" (or the documented empty 200), nothing is stored, and one
log line names the request type and the field, never the person or the content."""

from __future__ import annotations

import copy
import json
import secrets
from typing import Any

import pytest
from sqlalchemy import text

from handlers import ids
from handlers.blocks.intake import build_signal_modal
from handlers.edge import UNREADABLE_TEXT
from tests.bot.http.edge.conftest import (
    filed_ref,
    is_unreadable_answer,
    signal_by_ref,
    stored_state,
)
from tests.conftest import ALICE, LEAD, TRIAGE, wait_until


def option(value: Any) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": "x"}, "value": value}


def good_values(text_: str = "drift seen in a malformed-shape test") -> dict[str, Any]:
    return {
        ids.KIND_BLOCK: {
            ids.KIND_INPUT: {"type": "static_select", "selected_option": option("drift")}
        },
        ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"type": "plain_text_input", "value": text_}},
        ids.IDENTITY_BLOCK: {
            ids.IDENTITY_INPUT: {"type": "radio_buttons", "selected_option": option("named")}
        },
    }


def submission(app, *, view: dict[str, Any], user=ALICE) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": user.team_id, "domain": user.team_domain},
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id},
        "api_app_id": "ASTANDIN",
        "trigger_id": app.standin.issue_trigger_id(),
        "view": {"id": "V" + secrets.token_hex(5).upper(), "team_id": user.team_id, **view},
    }


def signal_modal(values: Any = None, **extra: Any) -> dict[str, Any]:
    view = build_signal_modal()
    view["state"] = {"values": good_values() if values is None else values}
    view.update(extra)
    return view


class Watch:
    """What a request changed: rows, the log lines it wrote."""

    def __init__(self, app) -> None:
        self.app = app
        self.state = stored_state(app)
        self.log_at = len(app.log.getvalue())

    def new_log(self) -> str:
        return self.app.log.getvalue()[self.log_at :]

    def assert_unchanged_and_logged_once(self) -> None:
        assert stored_state(self.app) == self.state
        log = self.new_log()
        lines = [line for line in log.splitlines() if "could not read a" in line]
        assert len(lines) == 1, log[-3000:]
        assert " WARNING " in lines[0] and "nothing changed" in lines[0]
        for needle in (ALICE.id, ALICE.name, LEAD.id, "malformed-shape"):
            assert needle not in lines[0]
        # (the delivery worker's reports about earlier signals may interleave; not this request's)
        failures = [
            line
            for line in log.splitlines()
            if " ERROR " in line and " ai_signal.delivery: " not in line
        ]
        assert "Traceback" not in log and not failures, log[-3000:]


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


SIGNAL_MODAL_SHAPES = {
    "values is a list": lambda: signal_modal([]),
    "values is text": lambda: signal_modal("values"),
    "block is text": lambda: signal_modal({**good_values(), ids.TEXT_BLOCK: "text"}),
    "block is a list": lambda: signal_modal({**good_values(), ids.TEXT_BLOCK: [1]}),
    "element is a number": lambda: signal_modal(
        {**good_values(), ids.TEXT_BLOCK: {ids.TEXT_INPUT: 7}}
    ),
    "value is a number": lambda: signal_modal(
        {**good_values(), ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"value": 12}}}
    ),
    "value is a list": lambda: signal_modal(
        {**good_values(), ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"value": ["a", "b"]}}}
    ),
    "value is an object": lambda: signal_modal(
        {**good_values(), ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"value": {"text": "x"}}}}
    ),
    "selected_option is text": lambda: signal_modal(
        {**good_values(), ids.KIND_BLOCK: {ids.KIND_INPUT: {"selected_option": "drift"}}}
    ),
    "option value is a number": lambda: signal_modal(
        {**good_values(), ids.KIND_BLOCK: {ids.KIND_INPUT: {"selected_option": option(3)}}}
    ),
    "identity value is true": lambda: signal_modal(
        {
            **good_values(),
            ids.IDENTITY_BLOCK: {ids.IDENTITY_INPUT: {"selected_option": option(True)}},
        }
    ),
    "state is text": lambda: {**signal_modal(), "state": "state"},
    "state is a list": lambda: {**signal_modal(), "state": [{"values": good_values()}]},
}


@pytest.mark.parametrize("shape", sorted(SIGNAL_MODAL_SHAPES))
def test_malformed_filing_form(edge_app, shape):
    watch = Watch(edge_app)
    payload = submission(edge_app, view=SIGNAL_MODAL_SHAPES[shape]())
    reply = edge_app.sender.post_payload(payload)
    assert reply.status == 200, reply.text
    assert is_unreadable_answer(reply) and reply.json()["response_action"] == "update", reply.text
    watch.assert_unchanged_and_logged_once()


def test_a_view_without_an_id(edge_app):
    watch = Watch(edge_app)
    payload = submission(edge_app, view=signal_modal())
    payload["view"] = without(payload["view"], "id")
    reply = edge_app.sender.post_payload(payload)
    assert reply.status == 200 and is_unreadable_answer(reply), reply.text
    watch.assert_unchanged_and_logged_once()
    # The same form with an id is filed: the answer above was about the missing id.
    payload["view"]["id"] = "V" + secrets.token_hex(5).upper()
    filed = edge_app.sender.post_payload(payload)
    assert filed_ref(json.dumps(filed.json())), filed.text


ENVELOPE_SHAPES = {
    "view id is a number": lambda p: p["view"].update(id=5),
    "view is a list": lambda p: p.update(view=[p["view"]]),
    "view is text": lambda p: p.update(view="callback_id"),
    "view without type": lambda p: p.update(view=without(p["view"], "type")),
    "callback_id is a number": lambda p: p["view"].update(callback_id=1),
    "user is a number": lambda p: p.update(user=5),
    "user id is a list": lambda p: p.update(user={"id": ["U1"]}),
    "user is missing": lambda p: p.pop("user"),
    "team is a list": lambda p: p.update(team=[1]),
    "response_urls is an object": lambda p: p.update(response_urls={"a": 1}),
    "view is null": lambda p: p.update(view=None),
    "event is null": lambda p: p.update(event=None),
}


@pytest.mark.parametrize("shape", sorted(ENVELOPE_SHAPES))
def test_malformed_submission_envelope(edge_app, shape):
    watch = Watch(edge_app)
    payload = submission(edge_app, view=signal_modal())
    ENVELOPE_SHAPES[shape](payload)
    reply = edge_app.sender.post_payload(payload)
    assert reply.status == 200, reply.text
    assert is_unreadable_answer(reply), reply.text
    watch.assert_unchanged_and_logged_once()


@pytest.fixture(scope="module")
def a_signal(edge_app) -> str:
    reply = edge_app.sender.command(user=ALICE, text="bias a signal for the lead forms")
    return filed_ref(reply.json()["text"])


def lead_modal(callback_id: str, metadata: Any, *, drop_metadata: bool = False) -> dict:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "state": {
            "values": {
                ids.QUESTION_BLOCK: {ids.QUESTION_INPUT: {"value": "which data changed?"}},
                ids.DONE_BLOCK: {ids.DONE_INPUT: {"value": "retrained"}},
                ids.PATTERN_BLOCK: {
                    ids.PATTERN_INPUT: {"selected_option": option("data_optimism")}
                },
                ids.NOTE_BLOCK: {ids.NOTE_INPUT: {"value": "looking"}},
            }
        },
    }
    if not drop_metadata:
        view["private_metadata"] = metadata
    return view


METADATA = {
    "none": None,
    "empty text": "",
    "a number": 5,
    "a list": ["SIG-1"],
    "an object, not text": {"ref": "SIG-1"},
    "JSON null": "null",
    "JSON list": "[]",
    "JSON text": '"SIG-1"',
    "JSON number": "12",
    "ref is a number": '{"ref": 7}',
    "ref missing": '{"signal": "SIG-1"}',
    "not JSON": "{ref: SIG-1",
    "deep JSON": "[" * 5000 + "]" * 5000,
}


@pytest.mark.parametrize("callback_id", [ids.TRIAGE_MODAL, ids.ASK_MODAL, ids.RESOLVE_MODAL])
@pytest.mark.parametrize("metadata", sorted(METADATA))
def test_lead_form_with_unreadable_private_metadata(edge_app, a_signal, callback_id, metadata):
    watch = Watch(edge_app)
    view = lead_modal(callback_id, METADATA[metadata], drop_metadata=metadata == "none")
    reply = edge_app.sender.post_payload(submission(edge_app, view=view, user=LEAD))
    assert reply.status == 200, reply.text
    assert is_unreadable_answer(reply), reply.text
    watch.assert_unchanged_and_logged_once()
    assert signal_by_ref(edge_app, a_signal).status == "new"


def test_lead_form_with_the_app_s_metadata_still_works(edge_app, a_signal):
    view = lead_modal(ids.ASK_MODAL, json.dumps({"ref": a_signal}))
    before = stored_state(edge_app)
    reply = edge_app.sender.post_payload(submission(edge_app, view=view, user=LEAD))
    assert reply.status == 200 and not reply.body, reply.text  # accepted: the modal closes
    assert stored_state(edge_app)[1] == before[1] + 1  # the question is on record


@pytest.mark.parametrize("missing", ["user_id", "trigger_id"])
@pytest.mark.parametrize("text_", ["drift no user id", "anon drift no user id", "status SIG-1", ""])
def test_a_command_without_user_or_trigger_id(edge_app, missing, text_):
    watch = Watch(edge_app)
    opened = len(edge_app.standin.calls_to("views.open", include_errors=True))
    fields = edge_app.sender.command_fields(user=ALICE, text=text_, channel_id="CGENERAL01")
    reply = edge_app.sender.post_form(without(fields, missing))
    assert reply.status == 200, reply.text
    assert reply.json() == {"response_type": "ephemeral", "text": UNREADABLE_TEXT}
    watch.assert_unchanged_and_logged_once()
    assert len(edge_app.standin.calls_to("views.open", include_errors=True)) == opened


def response_url_answers(app, url_count: int) -> list[str]:
    calls = app.standin.wait_for("response_url", url_count)
    return [c.params.get("text", "") for c in calls]


def test_an_unknown_action_id(edge_app):
    watch = Watch(edge_app)
    answered = len(edge_app.standin.calls_to("response_url"))
    reply = edge_app.sender.block_action(
        user=ALICE, action_id="retired_button", value="SIG-1", channel_id=TRIAGE
    )
    assert reply.status == 200 and not reply.body, reply.text
    # A private answer through the response_url: a button's ack cannot carry one.
    assert response_url_answers(edge_app, answered + 1)[-1] == UNREADABLE_TEXT
    watch.assert_unchanged_and_logged_once()


def test_an_unknown_callback_id(edge_app):
    watch = Watch(edge_app)
    view = {**signal_modal(), "callback_id": "retired_modal"}
    reply = edge_app.sender.post_payload(submission(edge_app, view=view))
    assert reply.status == 200 and is_unreadable_answer(reply), reply.text
    watch.assert_unchanged_and_logged_once()


def test_an_unknown_command_and_shortcut(edge_app):
    watch = Watch(edge_app)
    fields = edge_app.sender.command_fields(user=ALICE, text="drift x", channel_id="CGENERAL01")
    fields["command"] = "/retired"
    reply = edge_app.sender.post_form(fields)
    assert reply.json() == {"response_type": "ephemeral", "text": UNREADABLE_TEXT}
    watch.assert_unchanged_and_logged_once()
    watch = Watch(edge_app)
    reply = edge_app.sender.message_shortcut(
        user=ALICE, callback_id="retired_shortcut", channel_id="CGENERAL01", message={"ts": "1.2"}
    )
    assert reply.status == 200 and not reply.body
    watch.assert_unchanged_and_logged_once()


def test_an_action_on_a_signal_that_does_not_exist(edge_app):
    before = stored_state(edge_app)
    told = len(edge_app.standin.calls_to("chat.postEphemeral"))
    for action_id in (ids.ACKNOWLEDGE_ACTION, ids.REOPEN_ACTION, ids.TRIAGE_ACTION):
        reply = edge_app.sender.block_action(
            user=LEAD, action_id=action_id, value="SIG-987654", channel_id=TRIAGE
        )
        assert reply.status == 200, reply.text
    answers = edge_app.standin.wait_for("chat.postEphemeral", told + 3)[told:]
    assert all("There is no signal SIG-987654" in c.params["text"] for c in answers)
    # The value is echoed in the answer: escaped, so a forged one pings nobody.
    reply = edge_app.sender.block_action(
        user=LEAD, action_id=ids.ACKNOWLEDGE_ACTION, value="<!here>", channel_id=TRIAGE
    )
    assert reply.status == 200
    answer = edge_app.standin.wait_for("chat.postEphemeral", told + 4)[-1].params["text"]
    assert "&lt;!here&gt;" in answer and "<!here>" not in answer
    assert stored_state(edge_app) == before


ACTION_SHAPES = {
    "actions is empty": lambda p: p.update(actions=[]),
    "actions is text": lambda p: p.update(actions="signal_acknowledge"),
    "action is a number": lambda p: p.update(actions=[5]),
    "action_id is a number": lambda p: p["actions"][0].update(action_id=5),
    "action_id is missing": lambda p: p["actions"][0].pop("action_id"),
    "value is an object": lambda p: p["actions"][0].update(value={"ref": "SIG-1"}),
    "channel is a number": lambda p: p.update(channel=5),
    "message is text": lambda p: p.update(message="hello"),
    "container is a list": lambda p: p.update(container=[]),
    "user is missing": lambda p: p.pop("user"),
    "user without id": lambda p: p.update(user={"name": "x"}),
    "event is null": lambda p: p.update(event=None),
    "view is null": lambda p: p.update(view=None),
}


def block_action_payload(app, *, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "TSTANDIN", "domain": "standin"},
        "user": {"id": LEAD.id, "username": LEAD.name, "name": LEAD.name, "team_id": "TSTANDIN"},
        "api_app_id": "ASTANDIN",
        "trigger_id": app.standin.issue_trigger_id(),
        "channel": {"id": TRIAGE, "name": "triage"},
        "container": {"type": "message", "channel_id": TRIAGE, "message_ts": "1.1"},
        "response_url": app.standin.new_response_url(),
        "actions": [{"type": "button", "action_id": action_id, "value": value, "block_id": "b"}],
    }


@pytest.mark.parametrize("shape", sorted(ACTION_SHAPES))
def test_malformed_button_press(edge_app, a_signal, shape):
    watch = Watch(edge_app)
    payload = block_action_payload(edge_app, action_id=ids.ACKNOWLEDGE_ACTION, value=a_signal)
    ACTION_SHAPES[shape](payload)
    reply = edge_app.sender.post_payload(payload)
    assert reply.status == 200, reply.text
    assert not reply.body
    watch.assert_unchanged_and_logged_once()
    assert signal_by_ref(edge_app, a_signal).status == "new"


def test_malformed_event(edge_app):
    for event in ("app_home_opened", 5, {"type": 5}, {"type": "app_home_opened", "user": 5}):
        watch = Watch(edge_app)
        reply = edge_app.sender.event(copy.deepcopy(event))
        assert reply.status == 200, reply.text
        assert stored_state(edge_app) == watch.state
        assert "Traceback" not in watch.new_log()


@pytest.fixture
def refusing_outbox(edge_app):
    """The database accepts the signal but refuses its outbox row (the second write)."""
    engine = edge_app.runtime.engine
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_outbox() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_outbox()"
                )
            )
    yield
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER refuse_outbox"))
        else:
            connection.execute(text("DROP TRIGGER refuse_outbox ON outbox"))
            connection.execute(text("DROP FUNCTION refuse_outbox()"))


def test_a_failure_after_the_first_write_stores_nothing(edge_app, refusing_outbox):
    before = stored_state(edge_app)
    reply = edge_app.sender.command(user=ALICE, text="drift half-way filing")
    assert reply.status == 500  # a database fault, not the request's: reported as such
    payload = submission(edge_app, view=signal_modal(good_values("drift half-way form")))
    assert edge_app.sender.post_payload(payload).status == 500
    assert stored_state(edge_app) == before  # the signal row went with the refused outbox row
    wait_until(lambda: "unexpected" in edge_app.log.getvalue(), what="the error report")
