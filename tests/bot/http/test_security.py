"""Request signing, replay window, health check and routing."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from models import OutboxItem, Signal
from tests.conftest import ALICE, SIGNING_SECRET, count_rows, migrated_sqlite_url, start_app

FORM = "application/x-www-form-urlencoded"


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def assert_nothing_happened(app) -> None:
    assert count_rows(app, Signal) == 0
    assert count_rows(app, OutboxItem) == 0
    # The next good request is the only one that reaches Slack.
    assert app.sender.command(user=ALICE, text="drift after the refused one").status == 200
    app.settle()
    app.standin.wait_for("chat.postMessage")
    assert len(app.standin.calls_to("chat.postMessage", include_errors=True)) == 1
    # No views.open, no response_url, nothing else (auth.test is Bolt learning the bot's id).
    assert [c.method for c in app.standin.calls if c.method != "auth.test"] == ["chat.postMessage"]


def signed_command_body(app, text: str) -> bytes:
    fields = app.sender.command_fields(user=ALICE, text=text, channel_id="CGENERAL01")
    return urlencode(fields).encode()


def test_bad_signature_is_refused(running_app):
    body = signed_command_body(running_app, "drift forged")
    reply = running_app.sender.post(body, content_type=FORM, signature="v0=" + "0" * 64)
    assert reply.status == 401
    assert_nothing_happened(running_app)


def test_signature_with_another_secret_is_refused(running_app):
    from slack_sdk.signature import SignatureVerifier

    body = signed_command_body(running_app, "drift other secret")
    ts = int(time.time())
    signature = SignatureVerifier("not-" + SIGNING_SECRET).generate_signature(
        timestamp=str(ts), body=body
    )
    reply = running_app.sender.post(body, content_type=FORM, timestamp=ts, signature=signature)
    assert reply.status == 401
    assert_nothing_happened(running_app)


def test_missing_signature_headers_are_refused(running_app):
    status, _ = http(
        "POST", running_app.url + "/slack/events", signed_command_body(running_app, "x")
    )
    assert status == 401
    assert_nothing_happened(running_app)


def test_tampered_body_is_refused(running_app):
    body = signed_command_body(running_app, "drift original")
    ts = int(time.time())
    from slack_sdk.signature import SignatureVerifier

    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=str(ts), body=body)
    tampered = body.replace(b"original", b"tampered")
    reply = running_app.sender.post(tampered, content_type=FORM, timestamp=ts, signature=signature)
    assert reply.status == 401
    assert_nothing_happened(running_app)


@pytest.mark.parametrize("age", [6 * 60, -6 * 60])
def test_stale_timestamp_with_valid_signature_is_refused(running_app, age):
    body = signed_command_body(running_app, "drift replayed later")
    # The sender signs for the timestamp it is given: the signature is valid, the time is not.
    reply = running_app.sender.post(body, content_type=FORM, timestamp=int(time.time()) - age)
    assert reply.status == 401
    assert_nothing_happened(running_app)


def test_bad_signature_on_view_submission_is_refused(running_app):
    from handlers import ids
    from handlers.blocks.intake import build_signal_modal

    def option(value):
        return {"text": {"type": "plain_text", "text": value}, "value": value}

    reply = running_app.sender.view_submission(
        user=ALICE,
        view=build_signal_modal(),
        values={
            ids.KIND_BLOCK: {ids.KIND_INPUT: {"selected_option": option("drift")}},
            ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"value": "forged"}},
            ids.IDENTITY_BLOCK: {ids.IDENTITY_INPUT: {"selected_option": option("named")}},
        },
        signature="v0=" + "f" * 64,
    )
    assert reply.status == 401
    assert_nothing_happened(running_app)


def test_healthz(running_app):
    status, body = http("GET", running_app.url + "/healthz")
    assert status == 200
    payload = json.loads(body)
    assert payload["status"] == "ok"


def test_unknown_paths(running_app):
    body = signed_command_body(running_app, "drift wrong path")
    assert http("POST", running_app.url + "/slack/other", body)[0] == 404
    assert http("POST", running_app.url + "/", body)[0] == 404
    assert http("GET", running_app.url + "/slack/events")[0] in (404, 405)
    assert_nothing_happened(running_app)


def test_healthz_503_when_database_unreachable(standin, tmp_path):
    directory = tmp_path / "data"
    directory.mkdir()
    app = start_app(standin, migrated_sqlite_url(directory / "ai_signal.db"))
    try:
        assert http("GET", app.url + "/healthz")[0] == 200
        # Take the database away: stop the worker, close pooled connections, move the files.
        app.runtime.worker.stop()
        app.runtime.engine.dispose()
        directory.rename(tmp_path / "elsewhere")
        status, body = http("GET", app.url + "/healthz")
        assert status == 503
        assert json.loads(body)["status"] != "ok"
        # An empty database where the real one was is not healthy either.
        directory.mkdir()
        status, body = http("GET", app.url + "/healthz")
        assert status == 503
        assert json.loads(body)["status"] != "ok"
        # It recovers when the database is back.
        app.runtime.engine.dispose()
        shutil.rmtree(directory)
        (tmp_path / "elsewhere").rename(directory)
        status, body = http("GET", app.url + "/healthz")
        assert status == 200
        assert json.loads(body)["status"] == "ok"
    finally:
        app.stop()
