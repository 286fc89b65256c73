"""`ai-signal run --http` and `ai-signal db upgrade` as an operator runs them.

An explicit environment and a scratch working directory; the Slack Web API stand-in runs in the
test process. A start that stops with an exit status runs the CLI's `main` in this process
(tests.conftest.run_cli); the app serving until SIGTERM stops it is a real `python -m bot`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot.standin import SlackStandIn
from bot.standin.sender import SlackSender
from tests.conftest import (
    ALICE,
    BOT_TOKEN,
    DIGEST,
    REPO_ROOT,
    SIGNING_SECRET,
    TRIAGE,
    run_cli,
    wait_until,
)

ROOT = REPO_ROOT


def app_env(slack: SlackStandIn, tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ai_signal.db'}",
        "AI_SIGNAL_TRIAGE_CHANNEL": TRIAGE,
        "AI_SIGNAL_DIGEST_CHANNEL": DIGEST,
        "AI_SIGNAL_ANON_DELAY": "0",
        "LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return env


@pytest.fixture
def run_to_exit(monkeypatch, capsys):
    """`ai-signal ARGS` with `env`, from `cwd`, through the CLI's `main` in this process."""

    def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            args, environment=env, workdir=cwd, monkeypatch=monkeypatch, capsys=capsys, timeout=60
        )

    return run


@pytest.fixture
def slack():
    stand_in = SlackStandIn(bot_token=BOT_TOKEN)
    stand_in.add_channel(TRIAGE, name="ai-triage", is_member=True)
    stand_in.add_channel(DIGEST, name="ai-digest", is_member=True)
    stand_in.start()
    yield stand_in
    stand_in.stop()


def ai_signal_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ai-signal:")]


def test_bad_token_exits_3_with_one_clear_line(run_to_exit, tmp_path):
    with SlackStandIn(bot_token="xoxb-a-different-token") as other:
        other.add_channel(TRIAGE)
        result = run_to_exit(app_env(other, tmp_path), tmp_path, "run", "--http", "--port", "0")
        assert [c.method for c in other.calls] == ["auth.test"]
    assert result.returncode == 3, result.stderr
    [line] = ai_signal_lines(result.stderr)
    assert "SLACK_BOT_TOKEN" in line and "invalid_auth" in line
    assert result.stderr.rstrip().endswith(line)
    assert "Traceback" not in result.stderr + result.stdout
    assert BOT_TOKEN not in result.stderr


def test_private_channel_without_the_app_gets_invite_instruction(run_to_exit, slack, tmp_path):
    slack.add_channel(TRIAGE, name="ai-triage", is_private=True, is_member=False)
    result = run_to_exit(app_env(slack, tmp_path), tmp_path, "run", "--http", "--port", "0")
    assert result.returncode == 3, result.stderr
    [line] = ai_signal_lines(result.stderr)
    assert "AI_SIGNAL_TRIAGE_CHANNEL" in line and TRIAGE in line
    assert "/invite" in line
    assert "Traceback" not in result.stderr + result.stdout
    assert slack.calls_to("conversations.join", include_errors=True) == []


def test_unknown_channel_gets_clear_line(run_to_exit, slack, tmp_path):
    env = app_env(slack, tmp_path, AI_SIGNAL_DIGEST_CHANNEL="CNOSUCH001")
    result = run_to_exit(env, tmp_path, "run", "--http", "--port", "0")
    assert result.returncode == 3, result.stderr
    [line] = ai_signal_lines(result.stderr)
    assert "AI_SIGNAL_DIGEST_CHANNEL" in line and "CNOSUCH001" in line
    assert "Traceback" not in result.stderr


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def test_run_joins_a_public_channel_serves_on_the_port_0_picked_and_stops_on_sigterm(
    slack, tmp_path
):
    """The one `run --http` of a real process here: it joins the public triage channel, binds
    the free port `--port 0` picked (PORT names a taken one: only --port 0 lets it start) and
    logs it, serves Slack there, and SIGTERM stops it with exit status 0."""
    slack.add_channel(TRIAGE, name="ai-triage", is_private=False, is_member=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        env = app_env(slack, tmp_path, PORT=str(taken.getsockname()[1]))
        log_path = tmp_path / "app.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    "--http",
                    "--port",
                    "0",
                    "--host",
                    "127.0.0.1",
                ],
                env=env,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:

            def listening() -> re.Match[str] | None:
                assert process.poll() is None, log_path.read_text()
                return re.search(
                    r" INFO ai_signal: ai-signal listening on http://127\.0\.0\.1:(\d+)/slack/events",
                    log_path.read_text(),
                )

            port = int(wait_until(listening, timeout=30, what="the listening line").group(1))
            assert port not in (0, taken.getsockname()[1])
            base = f"http://127.0.0.1:{port}"
            status, body = http_get(base + "/healthz")
            assert status == 200, body
            assert json.loads(body)["status"] == "ok"
            [join] = slack.calls_to("conversations.join")
            assert join.params["channel"] == TRIAGE

            # It serves Slack: a signed command is filed and posted to the channel it joined.
            sender = SlackSender(
                url=base + "/slack/events",
                signing_secret=SIGNING_SECRET,
                trigger_ids=slack.issue_trigger_id,
                response_urls=slack.new_response_url,
            )
            reply = sender.command(user=ALICE, text="drift from the real process")
            assert reply.status == 200 and "SIG-1" in reply.json()["text"]
            slack.wait_for("chat.postMessage", timeout=10)
            assert "from the real process" in json.dumps(slack.messages(TRIAGE))

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0, log_path.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = log_path.read_text()
    assert "Traceback" not in output
    assert "ai-signal stopped" in output


def test_db_upgrade(run_to_exit, tmp_path):
    db_file = tmp_path / "fresh.db"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{db_file}",
    }
    result = run_to_exit(env, tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"signals", "outbox", "alembic_version", "counters", "seen_requests"} <= tables
    # Running it again is harmless.
    assert run_to_exit(env, tmp_path, "db", "upgrade").returncode == 0
