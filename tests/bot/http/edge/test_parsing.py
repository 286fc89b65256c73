"""The edge parses what Slack signed with the standard library: a slash command that mentions
"payload" is a slash command (Bolt's own parser took any form body containing that word for an
interaction and answered 404, so the signal was lost)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.standin.sender import SlackUser
from handlers import ids
from handlers.blocks.intake import build_signal_modal
from tests.bot.http.edge.conftest import FORM, filed_ref, signal_by_ref, stored_state
from tests.conftest import ALICE

PAYLOAD_USER = SlackUser(id="UPAYLOAD01", name="payload.team")


@pytest.mark.parametrize(
    "text",
    [
        "drift the payload parser drops a field",
        "data-quality payload=broken in the nightly export",
        "bias payload",
    ],
)
def test_a_command_mentioning_payload_files_a_signal(edge_app, text):
    before = stored_state(edge_app)[0]
    reply = edge_app.sender.command(user=ALICE, text=text)
    assert reply.status == 200, reply.text
    assert "is filed under your name" in reply.json()["text"]
    assert stored_state(edge_app)[0] == before + 1
    assert signal_by_ref(edge_app, filed_ref(reply.json()["text"])).text == text.partition(" ")[2]


def test_payload_in_channel_or_user_name_files_a_signal(edge_app):
    before = stored_state(edge_app)[0]
    fields = edge_app.sender.command_fields(
        user=PAYLOAD_USER, text="anon edge-case ocr drops totals", channel_id="CGENERAL01"
    )
    fields["channel_name"] = "payload-team"
    reply = edge_app.sender.post_form(fields)
    assert reply.status == 200, reply.text
    assert "filed *anonymously*" in reply.json()["text"]
    assert stored_state(edge_app)[0] == before + 1
    assert signal_by_ref(edge_app, filed_ref(reply.json()["text"])).text == "ocr drops totals"


def test_a_command_mentioning_payload_prefills_the_form(edge_app):
    opened = len(edge_app.standin.calls_to("views.open"))
    reply = edge_app.sender.command(user=ALICE, text="the payload looks wrong")
    assert reply.status == 200
    call = edge_app.standin.wait_for("views.open", opened + 1)[-1]
    assert "the payload looks wrong" in json.dumps(call.params["view"])


def test_a_submission_mentioning_payload_is_filed_whole(edge_app):
    text = 'payload=x&payload=y; the word payload, and {"payload": 1}'
    reply = edge_app.sender.view_submission(
        user=ALICE,
        view=build_signal_modal(),
        values={
            ids.KIND_BLOCK: {
                ids.KIND_INPUT: {"selected_option": {"value": "drift", "text": {"text": "d"}}}
            },
            ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"value": text}},
            ids.IDENTITY_BLOCK: {ids.IDENTITY_INPUT: {"selected_option": {"value": "named"}}},
        },
    )
    assert reply.status == 200 and reply.json()["response_action"] == "update"
    ref = filed_ref(json.dumps(reply.json()["view"]))
    assert signal_by_ref(edge_app, ref).text == text


def test_a_signed_payload_field_that_is_not_json_is_refused_with_400(edge_app):
    before = stored_state(edge_app)
    for payload in ("{not json", "[1, 2]", "42", ""):
        reply = edge_app.sender.post(urlencode({"payload": payload}).encode(), content_type=FORM)
        assert reply.status == 400, (payload, reply.text)
    assert stored_state(edge_app) == before
    assert "Traceback" not in edge_app.log.getvalue()


def test_url_verification_and_events_reach_bolt(edge_app):
    challenge = "c" + "0" * 20
    reply = edge_app.sender.post(
        json.dumps({"type": "url_verification", "challenge": challenge, "token": "t"}).encode(),
        content_type="application/json",
    )
    assert reply.status == 200 and challenge in reply.text
    published = len(edge_app.standin.calls_to("views.publish"))
    reply = edge_app.sender.event({"type": "app_home_opened", "user": ALICE.id, "tab": "home"})
    assert reply.status == 200
    edge_app.standin.wait_for("views.publish", published + 1)
