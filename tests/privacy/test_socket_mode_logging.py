"""Socket Mode: slack-sdk's client logs every envelope it receives and every ack it sends at
DEBUG. `python -m bot run` in Socket Mode, at LOG_LEVEL=DEBUG, must still not write the
reporter's identity anywhere.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.bot.socket_mode.test_socket_mode import cli_env
from tests.bot.socket_mode.ws_standin import SocketModeStandIn
from tests.conftest import REPO_ROOT, wait_until
from tests.privacy.canaries import (
    CANARY_USER,
    Canaries,
    assert_no_leaks,
    modal_values,
    receipt,
    triage_post,
)

ROOT = REPO_ROOT


@pytest.fixture
def socket_standin():
    with SocketModeStandIn() as ws:
        yield ws


def test_socket_mode_debug_log(standin, socket_standin, sqlite_url, tmp_path):
    standin.socket_mode_url = socket_standin.url
    log_path = tmp_path / "app.log"
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=workdir,
            env=cli_env(api_url=standin.url, database_url=sqlite_url),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    canaries = Canaries(
        events_url="http://127.0.0.1:9/unused",  # nothing is POSTed: envelopes go over the socket
        standin=standin,
        read_log=lambda: log_path.read_text(errors="replace"),
    )
    ws = socket_standin

    def ack(envelope_id: str) -> dict:
        return ws.wait_for_ack(envelope_id, timeout=5).payload or {}

    try:
        ws.wait_for_connection(timeout=15, alive=lambda: process.poll() is None)

        # Quick command and status by code.
        answer = ack(ws.push_slash_command(canaries.command_fields("anon drift fraud-model fell")))
        ref, code = receipt(answer)
        canaries.remember_code(code)
        triage_post(canaries, ref)
        assert ref in ack(ws.push_slash_command(canaries.command_fields(f"status {code}")))["text"]

        # The modal, chosen anonymous.
        fields = canaries.command_fields("", sender=canaries.modal_sender)
        ack(ws.push_slash_command(fields))
        view = standin.wait_for("views.open")[-1].response["view"]
        submission = {
            "type": "view_submission",
            "team": {"id": "TSTANDIN", "domain": CANARY_USER.team_domain},
            "user": {"id": CANARY_USER.id, "username": CANARY_USER.name, "name": CANARY_USER.name},
            "api_app_id": "ASTANDIN",
            "trigger_id": canaries.new_trigger(),
            "view": {**view, "state": {"values": modal_values()}},
        }
        modal_ref, modal_code = receipt(ack(ws.push_interactive(submission)))
        canaries.remember_code(modal_code)
        triage_post(canaries, modal_ref)

        # A reporter's error, and a submission the listener cannot read (no view id).
        ack(ws.push_slash_command(canaries.command_fields("anon frobnicate odd")))
        broken = {**submission, "view": {k: v for k, v in submission["view"].items() if k != "id"}}
        ws.push_interactive(broken)
        wait_until(lambda: "(view.id); nothing changed" in canaries.read_log(), "the report")
    finally:
        process.kill()
        process.wait(10)

    log = canaries.read_log()
    assert " DEBUG " in log and "envelope" in log.lower(), log[-2000:]
    assert_no_leaks(canaries.log_leaks(where="Socket Mode process log"))
    assert_no_leaks(canaries.database_leaks(sqlite_url))
    assert_no_leaks(canaries.outbound_leaks())
