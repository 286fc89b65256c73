"""Socket Mode has no HTTP port of its own: AI_SIGNAL_HEALTH_PORT opens a small listener for
/healthz and /metrics. Its report follows the WebSocket: connected, then reconnecting."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request

from tests.bot.socket_mode.test_socket_mode import START_TIMEOUT, STOP_TIMEOUT, cli_env
from tests.bot.socket_mode.ws_standin import SocketModeStandIn
from tests.conftest import migrated_sqlite_url, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None


def test_socket_mode_serves_health_and_metrics_on_its_own_port(standin, tmp_path) -> None:
    port = free_port()
    ws = SocketModeStandIn().start()
    standin.socket_mode_url = ws.url
    env = cli_env(api_url=standin.url, database_url=migrated_sqlite_url(tmp_path / "ai_signal.db"))
    env["AI_SIGNAL_HEALTH_PORT"] = str(port)
    log_path = tmp_path / "app.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        ws.wait_for_connection(timeout=START_TIMEOUT, alive=lambda: process.poll() is None)

        def report() -> dict | None:
            answer = get(port, "/healthz")
            return json.loads(answer[1]) if answer else None

        first = wait_until(
            lambda: (r := report()) and r["slack"].get("connection") == "connected" and r,
            timeout=START_TIMEOUT,
            what=f"connected in /healthz\n{log_path.read_text()[-3000:]}",
        )
        assert first["status"] == "ok" and first["database"] == "ok"
        assert first["slack"]["mode"] == "socket"
        assert first["outbox"]["due"] == 0
        status, metrics = get(port, "/metrics")
        assert status == 200 and b"# TYPE ai_signal_requests_total counter" in metrics
        assert b"ai_signal_slack_connected 1.0" in metrics
        assert get(port, "/slack/events")[0] == 404

        ws.stop()  # Slack goes away: the app is reconnecting
        wait_until(
            lambda: (r := report()) and r["slack"]["connection"] == "reconnecting",
            timeout=15,
            what="reconnecting in /healthz",
        )
        assert b"ai_signal_slack_connected 0.0" in get(port, "/metrics")[1]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(STOP_TIMEOUT)
        ws.stop()
