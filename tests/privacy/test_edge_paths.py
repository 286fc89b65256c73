"""Canaries on the HTTP edge's own paths: refused requests (counted, never logged with their
body), the word "payload" in an anonymous command, and signed requests the app cannot read
(answered "couldn't read that; nothing changed", logged as one line naming only the field)."""

from __future__ import annotations

import json

from handlers import ids
from handlers.blocks.intake import build_signal_modal
from handlers.edge import UNREADABLE_TEXT
from tests.conftest import LEAD, TRIAGE
from tests.privacy.canaries import (
    CANARY_USER,
    assert_no_leaks,
    modal_values,
    receipt,
    triage_post,
)


def test_edge_paths_keep_the_reporter_out(running_app, canaries, database_url):
    # Refused before parsing: the canary body never reaches the log.
    fields = canaries.command_fields("anon bias payload of the scoring job is skewed")
    assert canaries.sender.post_form(fields, signature="v0=" + "0" * 64).status == 401
    assert canaries.sender.post_form(fields, timestamp=1).status == 401

    # The word "payload" in an anonymous command: filed, anonymously.
    reply = canaries.command("anon data-quality the payload of the feed lost a column")
    ref, code = receipt(reply.json())
    canaries.remember_code(code)
    triage_post(canaries, ref)

    # Signed, unreadable: a command without trigger_id, a form with a value of the wrong type,
    # a form without its view id, a button nobody handles (answered through the response_url).
    fields = canaries.command_fields("anon drift no trigger")
    del fields["trigger_id"]
    answer = canaries.sender.post_form(fields).json()
    assert answer == {"response_type": "ephemeral", "text": UNREADABLE_TEXT}

    values = modal_values()
    values[ids.TEXT_BLOCK][ids.TEXT_INPUT]["value"] = {"text": "not a string"}
    form = canaries.sender.view_submission(
        user=CANARY_USER, view=build_signal_modal(), values=values
    )
    assert form.status == 200 and form.json()["response_action"] == "update"

    payload = {
        "type": "view_submission",
        "team": {"id": "TSTANDIN", "domain": CANARY_USER.team_domain},
        "user": {"id": CANARY_USER.id, "username": CANARY_USER.name, "name": CANARY_USER.name},
        "trigger_id": canaries.new_trigger(),
        "view": {
            **build_signal_modal(),
            "private_metadata": json.dumps({"channel": "x"}),
            "state": {"values": modal_values()},
        },
    }
    assert canaries.sender.post_payload(payload).json()["response_action"] == "update"

    # A lead's press on a button nobody handles: the private answer goes through the
    # response_url (a lead path: anonymous reporters are never answered that way).
    answered = len(canaries.standin.calls_to("response_url"))
    button = running_app.sender.block_action(
        user=LEAD, action_id="retired_button", value=ref, channel_id=TRIAGE
    )
    assert button.status == 200
    canaries.standin.wait_for("response_url", answered + 1)

    running_app.settle()
    lines = [line for line in canaries.read_log().splitlines() if "could not read a" in line]
    assert len(lines) == 4, lines
    assert_no_leaks(canaries.all_leaks(database_url))
