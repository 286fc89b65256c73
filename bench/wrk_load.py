"""Throughput, latency and CPU per request under `wrk`: ai-signal, bare Bolt and the bare server.

    .venv/bin/python bench/wrk_load.py [--duration 5] [--connections 1,20,50] [--until-sent]
    make bench-wrk          # installs wrk with apt-get if it is missing, then runs this

Three servers run as subprocesses on 127.0.0.1, all behind the same HTTP server
(bot.http.HttpServer: waitress, 16 threads):

- ai-signal: `python -m bot run --http`, SQLite in a temporary folder, the Slack stand-in (in this
  process) as its Web API, delivery worker on, the app's default LOG_LEVEL (INFO);
- bare Bolt: bench/bare_bolt_app.py, a Bolt app that only acks;
- bare HTTP: bench/bare_bolt_app.py --plain, the same server answering 200 without Bolt.

The load generator is `wrk` (a C program, keep-alive connections), driven by
bench/wrk_requests.lua: before each run this script writes a file of pre-signed requests, each
with its own trigger_id and response_url and a timestamp taken when it is written (well within
Slack's 5-minute window), and wrk sends every line at most once for `--duration` seconds.
With `--until-sent` (quick runs, e.g. the smoke test's) a run ends as soon as every request of
its file was sent once, for the bare servers too (instead of cycling through the file), and
`--duration` only bounds it.
Filings are quick slash commands (`/ai-signal drift ...`); clicks are a lead's Acknowledge on
distinct signals that are still new (filed earlier in the run). Slack's per-channel limit is on
in the stand-in (one post a second, bursts of 5), so the delivery worker posts what Slack would
let it. CPU per request is the server process's utime + stime (/proc/PID/stat) over the run,
divided by the requests wrk completed.

Target (this 2-core machine): CPU per request at 20 connections at most 2x bare Bolt's, for
filings and for clicks. Exit status 1 when it is missed, 2 when wrk is not installed.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _common import (
    LEAD_ID,
    REPO,
    REPORTER_IDS,
    SIGNING_SECRET,
    Prepared,
    ServerProcess,
    Signer,
    acknowledge_click,
    command_request,
    cpu_seconds,
    run_load,
    start_app_process,
    start_bare_process,
    start_standin,
    temp_workdir,
)
from slack_sdk.signature import SignatureVerifier

from bot.standin import SlackStandIn

LUA = REPO / "bench" / "wrk_requests.lua"
TARGET = 2.0
SLACK_LIMIT = (1.0, 5)  # Slack: about one chat.postMessage per second per channel
KINDS = ("filings", "clicks")
SERVERS = ("ai-signal", "bare Bolt", "bare HTTP")


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Figures:
    server: str
    kind: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float
    errors: int
    exhausted: bool

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_seconds / self.requests if self.requests else float("nan")


class Requests:
    """Signed request bodies, written as the lines bench/wrk_requests.lua reads."""

    def __init__(self, stand_in: SlackStandIn) -> None:
        self._stand_in = stand_in
        self._verifier = SignatureVerifier(SIGNING_SECRET)
        self._case = 0

    def filing(self, text: str | None = None) -> Prepared:
        self._case += 1
        n = self._case
        return command_request(
            user_id=REPORTER_IDS[n % len(REPORTER_IDS)],
            text=text
            or f"drift scoring-model-{n % 7} approval rate fell 12% since the retrain (case {n})",
            trigger_id=self._stand_in.issue_trigger_id(),
            response_url=self._stand_in.new_response_url(),
        )

    def click(self, ref: str) -> Prepared:
        return acknowledge_click(
            ref=ref,
            user_id=LEAD_ID,
            trigger_id=self._stand_in.issue_trigger_id(),
            response_url=self._stand_in.new_response_url(),
            message_ts="1700000000.000100",
        )

    def write(self, path: Path, requests: list[Prepared]) -> None:
        """One line per request: timestamp, signature, body (form-encoded: no tab, no newline)."""
        ts = str(int(time.time()))
        with open(path, "w") as out:
            for request in requests:
                body = request.body.decode()
                signature = self._verifier.generate_signature(timestamp=ts, body=body)
                out.write(f"{ts}\t{signature}\t{body}\n")


def run_wrk(
    server: ServerProcess,
    path: Path,
    *,
    connections: int,
    duration: float,
    threads: int,
    once: bool,
    until_sent: bool = False,
) -> tuple[dict[str, int], float]:
    """One wrk run; returns its WRK figures and the CPU seconds the server used meanwhile.

    `until_sent`: every request in `path` is sent once, and wrk is stopped (SIGINT: it prints
    its summary and exits) as soon as each of its threads reports it has sent all of its own,
    instead of after `duration` seconds."""
    threads = max(1, min(threads, connections))
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        server.events_url,
        "--",
        str(path),
        str(threads),
        "1" if once else "0",
        "1" if until_sent else "0",
    ]
    before = cpu_seconds(server.pid)
    lines: list[str] = []
    finished: set[str] = set()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as wrk:
        bound = threading.Timer(duration + 60, wrk.kill)
        bound.start()
        try:
            for output in wrk.stdout:
                lines.append(output)
                if output.startswith("SENT "):
                    finished.add(output.split()[1])
                    if len(finished) == threads:
                        wrk.send_signal(signal.SIGINT)
            returncode = wrk.wait()
        finally:
            bound.cancel()
    used = cpu_seconds(server.pid) - before
    line = next((x for x in lines if x.startswith("WRK ")), None)
    if returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({returncode}):\n{''.join(lines)}")
    return {k: int(v) for k, v in (part.split("=") for part in line.split()[1:])}, used


class Bench:
    def __init__(self, args: argparse.Namespace, stand_in: SlackStandIn, workdir: Path) -> None:
        self.args = args
        self.requests = Requests(stand_in)
        self.workdir = workdir
        self.database = workdir / "ai-signal" / "ai_signal.db"
        self._clicked: set[str] = set()
        self._runs = 0

    def send(
        self, server: ServerProcess, requests: list[Prepared], *, connections: int, once: bool
    ) -> tuple[dict[str, int], float]:
        self._runs += 1
        path = self.workdir / f"requests-{self._runs}.txt"
        self.requests.write(path, requests)
        try:
            return run_wrk(
                server,
                path,
                connections=connections,
                duration=self.args.duration,
                threads=self.args.wrk_threads,
                once=once,
                until_sent=self.args.until_sent,
            )
        finally:
            path.unlink()

    @staticmethod
    def send_unmeasured(server: ServerProcess, requests: list[Prepared]) -> None:
        """Set-up traffic (warm-up, signals to click on), sent by this process, not by wrk."""
        run = run_load(Signer(server.events_url), requests, concurrency=20, label="set-up")
        if run.errors:
            raise RuntimeError(f"{server.name}: {run.errors} set-up requests failed")

    def new_refs(self, count: int) -> list[str]:
        """Up to `count` refs of signals still new that no click has been written for."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT ref FROM signals WHERE status = 'new' ORDER BY created_at"
            ).fetchall()
        refs = [ref for (ref,) in rows if ref not in self._clicked][:count]
        self._clicked.update(refs)
        return refs

    def file_at_least(self, app: ServerProcess, count: int) -> None:
        """Unmeasured filings until `count` new signals are there for clicks to acknowledge."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            (new,) = db.execute("SELECT count(*) FROM signals WHERE status = 'new'").fetchone()
        missing = count - (new - len(self._clicked))
        if missing > 0:
            self.send_unmeasured(app, [self.requests.filing() for _ in range(missing)])

    def bodies(self, server: str, kind: str, count: int) -> list[Prepared]:
        if kind == "filings":
            return [self.requests.filing() for _ in range(count)]
        if server == "ai-signal":
            return [self.requests.click(ref) for ref in self.new_refs(count)]
        return [self.requests.click(f"SIG-{n}") for n in range(1, count + 1)]

    def measure(
        self, name: str, server: ServerProcess, kind: str, connections: int, pool: int
    ) -> Figures:
        once = name == "ai-signal"  # the bare servers keep no state: their requests may repeat
        requests = self.bodies(name, kind, pool)
        wrk, cpu = self.send(server, requests, connections=connections, once=once)
        return Figures(
            server=name,
            kind=kind,
            connections=connections,
            requests=wrk["requests"],
            seconds=wrk["duration_us"] / 1e6,
            p50_ms=wrk["p50_us"] / 1000,
            p99_ms=wrk["p99_us"] / 1000,
            cpu_seconds=cpu,
            errors=wrk["status_errors"] + wrk["socket_errors"],
            # Under --until-sent every run uses its file up: that is how it ends.
            exhausted=wrk["exhausted_threads"] > 0 and not self.args.until_sent,
        )

    def warm_up(self, servers: dict[str, ServerProcess]) -> None:
        """Unmeasured: a few hundred filings and clicks through every server."""
        for name, server in servers.items():
            for kind in KINDS:
                if name == "ai-signal" and kind == "clicks":
                    self.file_at_least(server, self.args.warmup)
                self.send_unmeasured(server, self.bodies(name, kind, self.args.warmup))


def print_table(figures: list[Figures]) -> None:
    bolt = {(f.kind, f.connections): f for f in figures if f.server == "bare Bolt"}
    say("")
    say(
        f"{'server':<10} {'kind':<8} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU ms/req':>10} {'CPU/Bolt':>8} {'req/s/Bolt':>10} {'requests':>8} {'errors':>6}"
    )
    for f in figures:
        base = bolt.get((f.kind, f.connections))
        cpu_ratio = f"{f.cpu_ms / base.cpu_ms:.2f}x" if base and base.cpu_ms else "-"
        rate_ratio = f"{f.rate / base.rate:.2f}x" if base and base.rate else "-"
        say(
            f"{f.server:<10} {f.kind:<8} {f.connections:>5} {f.rate:>8.0f} {f.p50_ms:>8.1f} "
            f"{f.p99_ms:>8.1f} {f.cpu_ms:>10.2f} {cpu_ratio:>8} {rate_ratio:>10} "
            f"{f.requests:>8} {f.errors:>6}{'  (pool used up)' if f.exhausted else ''}"
        )


def verdict(figures: list[Figures], connections: int = 20) -> bool:
    by = {(f.server, f.kind, f.connections): f for f in figures}
    ok = True
    say("")
    for kind in KINDS:
        ours, bare = (
            by.get(("ai-signal", kind, connections)),
            by.get(("bare Bolt", kind, connections)),
        )
        if ours is None or bare is None:
            continue
        head = f"CPU per request at {connections} connections, {kind}: "
        if not bare.cpu_ms:  # the CPU clock ticks in 10 ms: a short run may not see one
            ok = False
            say(f"{head}bare Bolt used no measurable CPU in this run: run longer (--duration)")
            continue
        ratio = ours.cpu_ms / bare.cpu_ms
        passed = ratio <= TARGET
        ok = ok and passed
        say(
            f"{head}ai-signal {ours.cpu_ms:.2f} ms / bare Bolt {bare.cpu_ms:.2f} ms = "
            f"{ratio:.2f}x (target <= {TARGET:g}x): {'PASS' if passed else 'FAIL'}"
        )
    errors = sum(f.errors for f in figures)
    say(f"non-2xx answers and socket errors: {errors}")
    return ok and errors == 0


def start_servers(stand_in: SlackStandIn, workdir: Path) -> dict[str, ServerProcess]:
    folders = {name: workdir / name.replace(" ", "-") for name in SERVERS}
    for folder in folders.values():
        folder.mkdir()
    servers = {
        "ai-signal": start_app_process(
            api_url=stand_in.url, workdir=str(folders["ai-signal"]), log_level="INFO"
        ),
        "bare Bolt": start_bare_process(api_url=stand_in.url, workdir=str(folders["bare Bolt"])),
        "bare HTTP": start_bare_process(
            api_url=stand_in.url, workdir=str(folders["bare HTTP"]), plain=True
        ),
    }
    for name, server in servers.items():
        say(f"{name}: pid {server.pid}, ready in {server.wait_ready():.1f}s")
    return servers


def click_pools(figures: list[Figures], args: argparse.Namespace) -> dict[int, int]:
    """How many distinct signals each ai-signal click run gets: twice what its filings managed at
    the same level (each click needs a signal of its own, and signals take time to file)."""
    return {
        f.connections: min(args.pool_ours, max(100, int(2 * f.rate * args.duration)))
        for f in figures
        if f.server == "ai-signal" and f.kind == "filings"
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument(
        "--until-sent",
        action="store_true",
        help="end each run as soon as every request of its pool was sent once (bare servers "
        "included), --duration only bounding it: for quick runs on small pools",
    )
    parser.add_argument("--connections", default="1,20,50", help="comma-separated levels")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured requests per kind")
    parser.add_argument(
        "--pool-ours",
        type=int,
        default=None,
        help="filings written per ai-signal run (clicks: twice what its filings managed)",
    )
    parser.add_argument(
        "--pool-bare", type=int, default=None, help="per bare-server run (sent in a cycle)"
    )
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.connections.split(",")]
    # Enough that a run ends on time, not on an empty file; a run that empties it stops early.
    args.pool_ours = args.pool_ours or int(args.duration * 1200)
    args.pool_bare = args.pool_bare or 2000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        say("wrk is not installed: apt-get install -y wrk (or `make bench-wrk`)")
        return 2
    stand_in = start_standin()
    stand_in.set_channel_rate_limit(SLACK_LIMIT)
    figures: list[Figures] = []
    with temp_workdir("bench-wrk-") as tmp:
        workdir = Path(tmp)
        servers = start_servers(stand_in, workdir)
        try:
            bench = Bench(args, stand_in, workdir)
            bench.warm_up(servers)
            for kind in KINDS:
                pools = click_pools(figures, args) if kind == "clicks" else {}
                if kind == "clicks":
                    bench.file_at_least(servers["ai-signal"], sum(pools.values()))
                for connections in args.levels:
                    for name, server in servers.items():
                        pool = args.pool_bare
                        if name == "ai-signal":
                            pool = pools.get(connections, args.pool_ours)
                        figure = bench.measure(name, server, kind, connections, pool)
                        figures.append(figure)
                        say(
                            f"  {name} {kind} C={connections}: {figure.rate:.0f} req/s, "
                            f"{figure.cpu_ms:.2f} ms CPU/req"
                        )
        finally:
            for server in servers.values():
                server.terminate()
            stand_in.stop()
    per_run = (
        f"until every request was sent, at most {args.duration:g} s per run"
        if args.until_sent
        else f"{args.duration:g} s per run"
    )
    say(f"\nwrk, {per_run}, requests sent once each (keep-alive connections)")
    print_table(figures)
    return 0 if verdict(figures) else 1


if __name__ == "__main__":
    sys.exit(main())
