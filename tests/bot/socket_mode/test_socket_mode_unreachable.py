"""`ai-signal run` in Socket Mode while Slack cannot be reached: the process stays up, logs one
warning per attempt with a growing pause, and connects once Slack is back.

Slack's Web API is a port nobody listens on at first; the test then brings `SlackStandIn` up on
that very port, and apps.connections.open hands out the WebSocket stand-in's URL.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.standin import SlackStandIn
from bot.standin.sender import SlackSender
from tests.bot.socket_mode.test_socket_mode import STOP_TIMEOUT, cli_env
from tests.bot.socket_mode.ws_standin import SocketModeStandIn
from tests.conftest import ALICE, BOT_TOKEN, DIGEST, TRIAGE, migrated_sqlite_url, wait_until

RETRY_WARNING = re.compile(
    r" WARNING ai_signal\.socket_mode: Slack cannot be reached for Socket Mode \((.*)\); "
    r"attempt (\d+) failed, next in (\d+)s"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def retries(self) -> list[tuple[int, int]]:
        """(attempt, pause in seconds) of every retry warning so far."""
        return [(int(m[2]), int(m[3])) for m in RETRY_WARNING.finditer(self.log())]

    def wait_for_retries(self, count: int, timeout: float = 20) -> list[tuple[int, int]]:
        def enough() -> list[tuple[int, int]] | None:
            assert self.alive(), self.log()[-4000:]
            retries = self.retries()
            return retries if len(retries) >= count else None

        return wait_until(enough, timeout=timeout, interval=0.05, what=f"{count} retry warnings")

    def stop(self) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within {STOP_TIMEOUT}s of SIGTERM\n{self.log()[-4000:]}")


@pytest.fixture
def slack_port() -> int:
    return free_port()


@pytest.fixture
def app(tmp_path: Path, slack_port: int) -> Iterator[Process]:
    """`python -m bot run` in Socket Mode with SLACK_API_URL at a closed port."""
    env = cli_env(
        api_url=f"http://127.0.0.1:{slack_port}/api/",
        database_url=migrated_sqlite_url(tmp_path / "ai_signal.db"),
    )
    env["LOG_LEVEL"] = "INFO"
    log_path = tmp_path / "app.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    process = Process(popen=popen, log_path=log_path)
    try:
        yield process
    finally:
        if popen.poll() is None:
            popen.kill()
        popen.wait(STOP_TIMEOUT)


def slack_on(port: int) -> SlackStandIn:
    slack = SlackStandIn(bot_token=BOT_TOKEN, port=port)
    slack.add_channel(TRIAGE, name="ai-triage", is_member=True)
    slack.add_channel(DIGEST, name="ai-digest", is_member=True)
    slack.add_user(ALICE.id, name=ALICE.name)
    return slack


def test_unreachable_slack_is_retried_until_it_comes_up(app: Process, slack_port: int) -> None:
    # Slack is away: one warning per attempt, and the pause grows.
    assert app.wait_for_retries(2)[:2] == [(1, 1), (2, 2)]
    assert "Connection refused" in RETRY_WARNING.search(app.log())[1]

    with SocketModeStandIn() as ws, slack_on(slack_port) as slack:
        slack.socket_mode_url = ws.url
        try:
            ws.wait_for_connection(timeout=15, alive=app.alive)
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- app log ---\n{app.log()[-4000:]}") from None
        retries = app.retries()
        assert [attempt for attempt, _ in retries] == list(range(1, len(retries) + 1))
        assert len(slack.calls_to("apps.connections.open")) == 1

        # It serves: a command through the WebSocket is answered.
        sender = SlackSender(
            url="http://127.0.0.1:9/unused",
            signing_secret="unused",
            trigger_ids=slack.issue_trigger_id,
            response_urls=slack.new_response_url,
        )
        fields = sender.command_fields(user=ALICE, text="help", channel_id="CGENERAL01")
        ack = ws.wait_for_ack(ws.push_slash_command(fields), timeout=10)
        assert "status" in (ack.payload or {}).get("text", "")
        assert "ai-signal running in Socket Mode" in app.log()
        assert app.retries() == retries  # no more warnings once connected

        assert app.stop() == 0, app.log()[-4000:]
    assert "Traceback" not in app.log()


def test_sigterm_while_retrying_stops_cleanly(app: Process) -> None:
    app.wait_for_retries(1)
    assert app.stop() == 0, app.log()[-4000:]
    assert "ai-signal stopped" in app.log()
    assert "Traceback" not in app.log()


def test_rejected_app_token_is_one_line_exit_3(app: Process, slack_port: int) -> None:
    app.wait_for_retries(1)
    with slack_on(slack_port) as slack:
        slack.fail_next("apps.connections.open", error="invalid_auth", times=5)
        assert app.popen.wait(20) == 3, app.log()[-4000:]
    [line] = [line for line in app.log().splitlines() if line.startswith("ai-signal:")]
    assert "SLACK_APP_TOKEN" in line and "invalid_auth" in line
    assert "Traceback" not in app.log()
