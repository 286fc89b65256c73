"""The real process: `python -m bot run --http` at LOG_LEVEL=DEBUG, its stderr captured.

In-process tests see what goes through the logging handler the app installs. A separate process
also shows whatever reaches stderr some other way (a library's own handler, a print, a thread's
uncaught traceback), with the logging configuration the operator actually runs.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from bot.services import codes
from bot.services.signals import GENERIC_CODE_ANSWER
from handlers import ids
from tests.bot.socket_mode.test_socket_mode import cli_env
from tests.conftest import SIGNING_SECRET, wait_until
from tests.privacy.canaries import (
    CANARY_USER,
    Canaries,
    assert_no_leaks,
    modal_values,
    receipt,
    triage_post,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def as_text(log: str) -> str:
    """JSON lines as the text format would show them (for the assertions on what was logged);
    every line must be one JSON object with time, level, logger and message."""
    lines = []
    for line in log.splitlines():
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(entry), line
        lines.append(f"x {entry['level']} {entry['logger']}: {entry['message']}")
        lines.extend(entry.get("exception", "").splitlines())
    return "\n".join(lines)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_process_stderr_at_debug(standin, database_url, tmp_path, log_format):
    port = free_port()
    # Every setting pinned (an .env file cannot reach the test), Socket Mode off, DEBUG on.
    env = cli_env(api_url=standin.url, database_url=database_url)
    env.update(
        SLACK_APP_TOKEN="",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        LOG_LEVEL="DEBUG",
        LOG_FORMAT=log_format,
    )
    stderr_path, stdout_path = tmp_path / "stderr.log", tmp_path / "stdout.log"
    with stderr_path.open("wb") as stderr, stdout_path.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--http", "--host", "127.0.0.1"]
            + ["--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_until(
            lambda: healthy(port) or process.poll() is not None, "the app to start", timeout=20
        )
        assert process.poll() is None, stderr_path.read_text()
        canaries = Canaries(
            events_url=f"http://127.0.0.1:{port}/slack/events",
            standin=standin,
            read_log=lambda: stderr_path.read_text() + stdout_path.read_text(),
        )
        _anonymous_paths(canaries)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    log = canaries.read_log()
    assert process.returncode == 0, log[-3000:]
    if log_format == "json":
        requests = [
            entry
            for entry in map(json.loads, stderr_path.read_text().splitlines())
            if entry["logger"] == "ai_signal.requests"
        ]
        assert {"command", "view_submission"} <= {entry["kind"] for entry in requests}
        assert all(entry["outcome"] and entry["duration_ms"] >= 0 for entry in requests)
        log = as_text(stderr_path.read_text()) + stdout_path.read_text()
    # The paths really ran, at DEBUG, through the process's own logging.
    assert " DEBUG slack_sdk.web.base_client: Sending a request" in log
    assert "without a valid Slack signature (bad signature: 1)" in log
    assert "could not read a view_submission request (view.id); nothing changed" in log
    assert "channel_not_found" in log and "rate limited" in log
    assert_no_leaks(canaries.log_leaks(where="process stderr/stdout"))
    assert_no_leaks(canaries.database_leaks(database_url))
    assert_no_leaks(canaries.outbound_leaks())


def _anonymous_paths(canaries: Canaries) -> None:
    standin = canaries.standin
    sender = canaries.sender

    # Quick command, then status with the right and a wrong code, then an anonymous reply.
    reply = canaries.command("anon drift fraud-model precision fell to 0.78")
    ref, code = receipt(reply.json())
    canaries.remember_code(code)
    triage_post(canaries, ref)
    assert ref in canaries.command(f"status {code}").json()["text"]
    wrong = canaries.remember_code(codes.new_code())
    assert GENERIC_CODE_ANSWER in canaries.command(f"status {wrong}").json()["text"]
    assert canaries.command(f"reply {code} it started after the march retrain").status == 200
    standin.wait_until(
        lambda: [c for c in standin.calls_to("chat.postMessage") if c.params.get("thread_ts")],
        what="the anonymous reply in the thread",
    )

    # The modal.
    before = len(standin.calls_to("views.open"))
    assert canaries.command("", sender=canaries.modal_sender).status == 200
    view = standin.wait_for("views.open", count=before + 1)[-1].params["view"]
    submitted = sender.view_submission(user=CANARY_USER, view=view, values=modal_values())
    modal_ref, modal_code = receipt(submitted.json())
    canaries.remember_code(modal_code)
    triage_post(canaries, modal_ref)

    # Errors a reporter can make.
    for text in ("anon frobnicate odd", "anon drift", "anon drift " + "x" * 3001):
        assert canaries.command(text).json()["response_type"] == "ephemeral"

    # `anon` alone opens the form; a reveal with a wrong code; a reveal offered, never confirmed.
    before = len(standin.calls_to("views.open"))
    assert canaries.command("anon", sender=canaries.modal_sender).status == 200
    wrong = canaries.remember_code(codes.new_code())
    assert GENERIC_CODE_ANSWER in canaries.command(f"reveal {wrong}").json()["text"]
    assert canaries.command(f"reveal {code}", sender=canaries.modal_sender).status == 200
    opened = standin.wait_for("views.open", count=before + 2)[before:]
    assert [c.params["view"]["callback_id"] for c in opened] == [ids.SIGNAL_MODAL, ids.REVEAL_MODAL]

    # Bad signature and a replay.
    fields = canaries.command_fields("anon bias hiring-model ranks women lower")
    assert sender.post_form(fields, signature="v0=" + "0" * 64).status == 401
    body = json.dumps(fields).encode()  # any body: the signature is what is checked
    assert sender.post(body, content_type="application/json", signature="v0=bad").status == 401
    stamp = int(time.time())
    replayed = [sender.post_form(fields, timestamp=stamp) for _ in range(2)]
    replay_ref, replay_code = receipt(replayed[0].json())
    canaries.remember_code(replay_code)
    assert "already handled" in replayed[1].json()["text"]
    triage_post(canaries, replay_ref)

    # Slack down while an anonymous signal is delivered, then back.
    standin.set_down(True)
    down_ref, down_code = receipt(canaries.command("anon data-quality nulls in ages").json())
    canaries.remember_code(down_code)
    wait_until(lambda: "service_unavailable" in canaries.read_log(), "the retry warning")
    standin.set_down(False)
    triage_post(canaries, down_ref, timeout=10)

    # Slack answers 429, then refuses for good.
    standin.fail_next("chat.postMessage", status=429, retry_after=1)
    limited_ref, limited_code = receipt(canaries.command("anon edge-case ocr fails").json())
    canaries.remember_code(limited_code)
    triage_post(canaries, limited_ref, timeout=10)
    standin.fail_next("chat.postMessage", error="channel_not_found")
    _, refused_code = receipt(canaries.command("anon governance no model card").json())
    canaries.remember_code(refused_code)
    wait_until(lambda: "channel_not_found" in canaries.read_log(), "the report of the refused post")

    # Requests the app cannot read: answered 200, logged as one line without their content.
    payload = {
        "type": "view_submission",
        "team": {"id": "TSTANDIN", "domain": CANARY_USER.team_domain},
        "user": {"id": CANARY_USER.id, "username": CANARY_USER.name, "name": CANARY_USER.name},
        "trigger_id": canaries.new_trigger(),
        "view": {"callback_id": ids.SIGNAL_MODAL, "state": {"values": modal_values()}},
    }
    # Without view.type Bolt could not read it (the edge answers); with it, the listener cannot.
    assert sender.post_payload(payload).status == 200
    wait_until(lambda: "(envelope); nothing changed" in canaries.read_log(), "the envelope report")
    payload["view"]["type"] = "modal"
    assert sender.post_payload(payload).status == 200
    wait_until(lambda: "(view.id); nothing changed" in canaries.read_log(), "the view.id report")
