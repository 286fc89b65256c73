"""What the edge hands Bolt: the dict it parsed from the signed bytes, with lone surrogates (which
only a JSON escape can carry) replaced by U+FFFD, and everything else exactly as sent."""

from __future__ import annotations

import io
import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_bolt import BoltRequest, BoltResponse
from slack_sdk.signature import SignatureVerifier

from bot.http import SlackEdge

SECRET = "edge-body-secret"


class RecordingApp:
    """Stands in for Bolt's App at the edge's one call into it: keeps each request."""

    def __init__(self) -> None:
        self.requests: list[BoltRequest] = []

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        self.requests.append(req)
        return BoltResponse(status=200, body="")


def send(body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    app = RecordingApp()
    edge = SlackEdge(app, signing_secret=SECRET)  # type: ignore[arg-type]
    ts = str(int(time.time()))
    environ = {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts,
        "HTTP_X_SLACK_SIGNATURE": SignatureVerifier(SECRET).generate_signature(
            timestamp=ts, body=body
        ),
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    status, _, _ = edge.handle(environ)
    assert len(app.requests) == (1 if status == 200 else 0)
    return status, app.requests[0].body if app.requests else {}


def click(value: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "actions": [{"action_id": "a", "block_id": "b", "value": value}],
    }


def test_an_escaped_lone_surrogate_in_a_payload_reaches_bolt_as_a_replacement_character():
    payload = json.dumps(click("x\ud800y"))  # ensure_ascii: the JSON text spells "\ud800"
    assert "\\ud800" in payload
    status, body = send(
        urlencode({"payload": payload}).encode(), "application/x-www-form-urlencoded"
    )
    assert status == 200
    assert body == click("x\ufffdy")


def test_paired_surrogates_and_a_spelled_out_backslash_u_reach_bolt_as_sent():
    event = {
        "type": "event_callback",
        "event_id": "Ev1",
        "event": {"type": "app_home_opened", "user": "U1", "text": "\U0001f600 and \\ud800"},
    }
    text = json.dumps(event)  # the emoji as "\ud83d\ude00"; the backslash escaped as "\\"
    assert "\\ud83d\\ude00" in text and "\\\\ud800" in text
    status, body = send(text.encode(), "application/json")
    assert status == 200
    assert body == event


def test_a_slash_command_reaches_bolt_as_its_form_fields():
    fields = {"command": "/ai-signal", "text": "drift a \\ud800 b", "user_id": "U1"}
    status, body = send(urlencode(fields).encode(), "application/x-www-form-urlencoded")
    assert status == 200
    assert body == fields


def test_percent_encoded_bytes_that_are_no_utf8_become_replacement_characters():
    # %ED%A0%80 would be U+D800 in UTF-8's encoding scheme, which UTF-8 does not allow.
    raw = b"command=%2Fai-signal&user_id=U1&text=a%ED%A0%80b"
    status, body = send(raw, "application/x-www-form-urlencoded")
    assert status == 200
    assert "\ud800" not in body["text"] and body["text"].startswith("a\ufffd")
