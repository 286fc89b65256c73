"""Shared helpers for the benchmark scripts (not a test module; nothing here is collected).

Everything talks to 127.0.0.1 only: the Slack Web API stand-in runs in the benchmark process, the
app (or the bare Bolt app) runs as a subprocess bound to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bot.standin import SlackStandIn  # noqa: E402

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-standin"
TRIAGE = "CTRIAGE001"
DIGEST = "CDIGEST001"
GENERAL = "CGENERAL01"
LEAD_ID = "ULEAD00001"
REPORTER_IDS = tuple(f"UREP{n:06d}" for n in range(1, 21))
HOST = "127.0.0.1"

_REF_IN_TEXT = re.compile(r"\bSIG-\d+\b")


# -- the stand-in ------------------------------------------------------------------------------


def start_standin(channel_rate_limit: tuple[float, float] | None = None) -> SlackStandIn:
    """The Slack Web API stand-in with the app's channels (the app is a member) and users."""
    stand_in = SlackStandIn(bot_token=BOT_TOKEN, channel_rate_limit=channel_rate_limit)
    stand_in.add_channel(TRIAGE, name="ai-triage", is_member=True)
    stand_in.add_channel(DIGEST, name="ai-digest", is_member=True)
    stand_in.add_channel(GENERAL, name="general", is_member=False)
    stand_in.add_user(LEAD_ID, name="lead.person")
    for user_id in REPORTER_IDS:
        stand_in.add_user(user_id, name=user_id.lower())
    return stand_in.start()


def top_level_posts(stand_in: SlackStandIn, channel: str = TRIAGE) -> list[dict[str, Any]]:
    """The channel's top-level messages. `messages()` deep-copies every message under the
    stand-in's lock: call this once at the end, and poll with `posts_made()` instead."""
    return [m for m in stand_in.messages(channel) if m["thread_ts"] is None]


def posts_made(stand_in: SlackStandIn, channel: str = TRIAGE) -> int:
    """How many top-level chat.postMessage calls to `channel` succeeded (cheap to poll)."""
    return sum(
        1
        for call in stand_in.calls_to("chat.postMessage")
        if call.params.get("channel") == channel and not call.params.get("thread_ts")
    )


def ref_of_post(message: dict[str, Any]) -> str | None:
    """The signal reference a triage post announces (from its text, else its blocks)."""
    for source in (message.get("text") or "", json.dumps(message.get("blocks") or [])):
        match = _REF_IN_TEXT.search(source)
        if match:
            return match.group(0)
    return None


# -- settings ----------------------------------------------------------------------------------


def app_env(*, api_url: str, database_url: str, log_level: str = "WARNING") -> dict[str, str]:
    """The app's settings, the way an operator sets them (environment variables)."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "AI_SIGNAL_TRIAGE_CHANNEL": TRIAGE,
        "AI_SIGNAL_DIGEST_CHANNEL": DIGEST,
        "AI_SIGNAL_LEADS": LEAD_ID,
        "AI_SIGNAL_ANON_DELAY": "0",
        "LOG_LEVEL": log_level,
    }


def _clean_environ() -> dict[str, str]:
    """os.environ without anything that would configure the app behind our back."""
    drop = ("SLACK_", "AI_SIGNAL_")
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and k not in ("DATABASE_URL", "PORT", "LOG_LEVEL")
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- subprocesses ------------------------------------------------------------------------------


class ServerProcess:
    """A server subprocess on 127.0.0.1:port, ready once GET /healthz answers 200.

    `argv` names the port as `--port PORT`. A port from `free_port()` may be taken by another
    socket before the server binds it (the test suite runs the benchmarks beside thousands of
    connections); a server that exits for that is started again on another port, up to
    PORT_RETRIES times, before `wait_ready` answers."""

    PORT_RETRIES = 3

    def __init__(
        self, argv: Sequence[str], *, env: dict[str, str], cwd: str, port: int, name: str
    ) -> None:
        self.port = port
        self.name = name
        self.log_path = Path(cwd) / f"{name}.log"
        self._argv = list(argv)
        self._env = {**_clean_environ(), **env}
        self._cwd = cwd
        self._retries = 0
        self._launch()

    def _launch(self) -> None:
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            self._argv,
            env=self._env,
            cwd=self._cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _relaunched_on_another_port(self) -> bool:
        """After an exit because the port was taken: start again on a fresh one."""
        if self._retries >= self.PORT_RETRIES or "already in use" not in self.tail():
            return False
        self._retries += 1
        self._log.close()
        at = self._argv.index("--port") + 1
        self.port = free_port()
        self._argv[at] = str(self.port)
        self._launch()
        return True

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def events_url(self) -> str:
        return f"http://{HOST}:{self.port}/slack/events"

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds until /healthz answered 200; raises with the log tail if it never does."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if self._relaunched_on_another_port():
                    continue
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
                connection.request("GET", "/healthz")
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:g}s:\n{self.tail()}")

    def health(self) -> dict[str, Any]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            return json.loads(connection.getresponse().read() or b"{}")
        finally:
            connection.close()

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """A graceful stop (SIGTERM, as an operator's), SIGKILL after `timeout` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()

    def terminate(self) -> None:
        """Stop the server at once (SIGKILL), for when nothing more is wanted from it: a
        benchmark has read its figures, and a graceful stop (waitress waits for its threads to
        finish, some 0.3-0.5 s) would add to the run and measure nothing."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


def start_app_process(
    *,
    api_url: str,
    workdir: str,
    log_level: str = "WARNING",
    settings: dict[str, str] | None = None,
) -> ServerProcess:
    """`python -m bot run --http` with SQLite in `workdir` (also its working directory);
    `settings`: more environment variables for the app."""
    port = free_port()
    database_url = f"sqlite:///{Path(workdir) / 'ai_signal.db'}"
    return ServerProcess(
        [sys.executable, "-m", "bot", "run", "--http", "--host", HOST, "--port", str(port)],
        env={
            **app_env(api_url=api_url, database_url=database_url, log_level=log_level),
            **(settings or {}),
        },
        cwd=workdir,
        port=port,
        name="ai-signal",
    )


def start_bare_process(*, api_url: str, workdir: str, plain: bool = False) -> ServerProcess:
    """bench/bare_bolt_app.py: a Bolt app that only acks, behind the same HttpServer (`plain`:
    no Bolt, the server answering 200)."""
    port = free_port()
    return ServerProcess(
        [sys.executable, str(REPO / "bench" / "bare_bolt_app.py"), "--port", str(port)]
        + (["--plain"] if plain else []),
        env={
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url,
            "PYTHONPATH": str(REPO),
        },
        cwd=workdir,
        port=port,
        name="bare-http" if plain else "bare-bolt",
    )


def temp_workdir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=prefix)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process in KiB, from /proc/<pid>/status."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


# -- signed requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A request body ready to send (signed at send time, so the timestamp is fresh)."""

    body: bytes
    content_type: str = "application/x-www-form-urlencoded"


@dataclass
class Result:
    status: int
    seconds: float
    body: bytes = b""


@dataclass
class Run:
    label: str
    results: list[Result] = field(default_factory=list)
    wall_seconds: float = 0.0
    server_cpu_seconds: float | None = None  # CPU the server process used during the run

    @property
    def ok(self) -> int:
        return sum(1 for r in self.results if r.status == 200)

    @property
    def errors(self) -> int:
        return len(self.results) - self.ok

    def latencies_ms(self) -> list[float]:
        return sorted(r.seconds * 1000 for r in self.results)

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms(), q)

    @property
    def rate(self) -> float:
        return len(self.results) / self.wall_seconds if self.wall_seconds else 0.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Signer:
    def __init__(self, url: str, secret: str = SIGNING_SECRET, timeout: float = 30.0) -> None:
        parts = url.split("/", 3)
        host, _, port = parts[2].partition(":")
        if host != HOST:
            raise ValueError(f"benchmarks only send traffic to {HOST}, not {host}")
        self.host = host
        self.port = int(port)
        self.path = "/" + parts[3]
        self.timeout = timeout
        self._verifier = SignatureVerifier(secret)

    def send(self, request: Prepared) -> Result:
        """One signed POST on a fresh connection (as Slack's requests arrive); timed end to end
        from connect to the last byte of the answer (signing happens before the clock starts)."""
        ts = str(int(time.time()))
        headers = {
            "Content-Type": request.content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self._verifier.generate_signature(timestamp=ts, body=request.body),
            "Connection": "close",
        }
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            connection.request("POST", self.path, body=request.body, headers=headers)
            response = connection.getresponse()
            body = response.read()
            status = response.status
            connection.close()
        except OSError:
            return Result(status=0, seconds=time.perf_counter() - started)
        return Result(status=status, seconds=time.perf_counter() - started, body=body)


def run_load(
    signer: Signer,
    requests: Sequence[Prepared],
    *,
    concurrency: int,
    label: str,
    time_limit: float = 600.0,
    on_result: Callable[[int, Result], None] | None = None,
    server_pid: int | None = None,
    rate: float | None = None,
) -> Run:
    """Send `requests` with `concurrency` threads; bounded by count and by `time_limit` seconds.

    Closed loop by default (each thread sends its next request as soon as it has an answer).
    With `rate`, request i is due at start + i/rate (open loop, at most `concurrency` in flight),
    and its latency counts from when it was due, so a server falling behind shows in the figures.
    """
    run = Run(label=label)
    results: list[Result | None] = [None] * len(requests)
    deadline = time.monotonic() + time_limit
    lock = threading.Lock()
    next_index = iter(range(len(requests)))

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            late = 0.0
            if rate:
                due = started + index / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                late = max(0.0, time.perf_counter() - due)
            result = signer.send(requests[index])
            result.seconds += late
            results[index] = result
            if on_result is not None:
                on_result(index, result)

    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    run.wall_seconds = time.perf_counter() - started
    if server_pid:
        run.server_cpu_seconds = cpu_seconds(server_pid) - cpu_before
    run.results = [r for r in results if r is not None]
    return run


# -- what Slack sends --------------------------------------------------------------------------


def command_request(
    *, user_id: str, text: str, trigger_id: str, response_url: str, channel_id: str = GENERAL
) -> Prepared:
    fields = {
        "token": "verification-token-unused",
        "team_id": "TSTANDIN",
        "team_domain": "standin",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/ai-signal",
        "text": text,
        "api_app_id": "ASTANDIN",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return Prepared(urlencode(fields).encode())


def acknowledge_click(
    *, ref: str, user_id: str, trigger_id: str, response_url: str, message_ts: str
) -> Prepared:
    """A lead pressing Acknowledge on the triage post of `ref` (a block_actions payload)."""
    from handlers import ids

    payload = {
        "type": "block_actions",
        "team": {"id": "TSTANDIN", "domain": "standin"},
        "user": {"id": user_id, "username": "lead", "name": "lead", "team_id": "TSTANDIN"},
        "api_app_id": "ASTANDIN",
        "trigger_id": trigger_id,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": TRIAGE,
            "is_ephemeral": False,
        },
        "channel": {"id": TRIAGE, "name": "ai-triage"},
        "message": {"type": "message", "ts": message_ts, "text": ref},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": ids.ACKNOWLEDGE_ACTION,
                "block_id": ids.TRIAGE_ACTIONS_BLOCK,
                "value": ref,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return Prepared(urlencode({"payload": json.dumps(payload)}).encode())


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.2) -> Any:
    """Poll until `predicate()` is truthy; returns its value, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def fmt_ms(value: float) -> str:
    return f"{value:8.1f}"
