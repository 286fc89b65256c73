"""Ack latency and throughput: `ai-signal run --http` against a bare Bolt app that only acks.

    .venv/bin/python bench/ack_latency.py [--requests 1000] [--concurrency 20] [--warmup 50]
        [--rate R] [--unthrottled]

The Slack Web API stand-in runs in this process; the real app runs as a subprocess
(`python -m bot run --http`, SQLite in a temporary folder, delivery worker on) and so does
bench/bare_bolt_app.py, behind the same HTTP server (bot.http.HttpServer, waitress, 16 threads).

Each load level (--loads: closed loop, or open loops at fixed rates) runs on a fresh app and
database, so no level inherits the Slack backlog of the one before. Set-up (not measured):
warm-up + N quick filings, whose triage posts are delivered before anything is timed; they are
the signals the clicks acknowledge. Then Slack's per-channel limit
is switched on in the stand-in (about one chat.postMessage per second per channel with a burst
of 5, as real Slack has; `--unthrottled` leaves it off, so the delivery worker posts as fast as
it can on the same cores), and the measured phases run: N signed `/ai-signal drift ...` quick
filings, then N signed Acknowledge clicks, with C requests in flight. The bare app gets the
same request bodies. Each request is timed from connect to the last byte of the answer, on a
fresh connection.

Targets (this 2-core machine): p99 <= 250 ms at C=20, and at most 1.5x bare Bolt
(p99 ours/bare, throughput bare/ours).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from _common import (
    LEAD_ID,
    REPORTER_IDS,
    Prepared,
    Run,
    ServerProcess,
    Signer,
    acknowledge_click,
    command_request,
    posts_made,
    ref_of_post,
    run_load,
    start_app_process,
    start_bare_process,
    start_standin,
    temp_workdir,
    top_level_posts,
    wait_until,
)

from bot.standin import SlackStandIn

P99_TARGET_MS = 250.0
RATIO_TARGET = 1.5
# Slack: about one chat.postMessage per second per channel, short bursts tolerated.
SLACK_LIMIT = (1.0, 5)
_REF_IN_RECEIPT = re.compile(r"\*(SIG-\d+)\*")


def filings(stand_in: SlackStandIn, count: int, offset: int = 0) -> list[Prepared]:
    return [
        command_request(
            user_id=REPORTER_IDS[(offset + i) % len(REPORTER_IDS)],
            text=f"drift scoring-model-{(offset + i) % 7} approval rate fell 12% since the "
            f"retrain (case {offset + i})",
            trigger_id=stand_in.issue_trigger_id(),
            response_url=stand_in.new_response_url(),
        )
        for i in range(count)
    ]


def clicks(stand_in: SlackStandIn, refs: list[str], ts_of: dict[str, str]) -> list[Prepared]:
    return [
        acknowledge_click(
            ref=ref,
            user_id=LEAD_ID,
            trigger_id=stand_in.issue_trigger_id(),
            response_url=stand_in.new_response_url(),
            message_ts=ts_of.get(ref, "1700000000.000100"),
        )
        for ref in refs
    ]


def refs_from(run: Run) -> list[str]:
    refs = []
    for result in run.results:
        match = _REF_IN_RECEIPT.search(result.body.decode("utf-8", "replace"))
        if match:
            refs.append(match.group(1))
    return refs


def say(text: str) -> None:
    print(text, flush=True)


Load = float | None  # requests/s for an open loop; None: closed loop (back to back)


def load_name(load: Load) -> str:
    return "closed loop" if load is None else f"{load:g} req/s"


@dataclass
class Phase:
    """One load level: the exact filings and clicks sent (the same bodies go to both apps)."""

    load: Load
    filings: list[Prepared]
    clicks: list[Prepared]
    runs: dict[str, Run] = field(default_factory=dict)


def measure_ours(
    stand_in: SlackStandIn,
    *,
    n: int,
    warmup: int,
    concurrency: int,
    time_limit: float,
    loads: list[Load],
    slack_limit: tuple[float, float] | None,
) -> tuple[list[Phase], dict[str, str]]:
    """Run the real app at every load level, each on a fresh app and database (so no level
    inherits the Slack backlog of the one before); return the phases and notes."""
    notes: dict[str, str] = {}
    phases: list[Phase] = []
    offset = 0
    for load in loads:
        stand_in.reset()
        stand_in.set_channel_rate_limit(None)
        phase, level_notes = measure_level(
            stand_in,
            load=load,
            n=n,
            warmup=warmup,
            concurrency=concurrency,
            time_limit=time_limit,
            slack_limit=slack_limit,
            offset=offset,
        )
        offset += warmup + 2 * n
        phases.append(phase)
        notes.update({f"{load_name(load)}: {key}": value for key, value in level_notes.items()})
    return phases, notes


def measure_level(
    stand_in: SlackStandIn,
    *,
    load: Load,
    n: int,
    warmup: int,
    concurrency: int,
    time_limit: float,
    slack_limit: tuple[float, float] | None,
    offset: int,
) -> tuple[Phase, dict[str, str]]:
    notes: dict[str, str] = {}
    with temp_workdir("bench-ack-") as workdir:
        app = start_app_process(api_url=stand_in.url, workdir=workdir)
        try:
            ready = app.wait_ready()
            say(f"{load_name(load)}: ai-signal (pid {app.pid}) ready in {ready:.1f}s")
            signer = Signer(app.events_url)
            # Set-up, not measured: the signals the clicks will acknowledge (the first `warmup`
            # of them warm the app up), posted to the triage channel before any limit is on.
            seed = run_load(
                signer,
                filings(stand_in, warmup + n, offset=offset),
                concurrency=concurrency,
                label="set-up",
            )
            seed_refs = refs_from(seed)
            posted = wait_until(
                lambda: posts_made(stand_in) >= len(seed_refs), timeout=60 + 0.2 * len(seed_refs)
            )
            posts = top_level_posts(stand_in)
            say(
                f"  set-up: {seed.ok}/{len(seed.results)} filed, {len(posts)} posted"
                f"{'' if posted else ' (timeout)'}"
            )
            ts_of = {ref: m["ts"] for m in posts if (ref := ref_of_post(m))}
            warm = run_load(
                signer,
                clicks(stand_in, seed_refs[:warmup], ts_of),
                concurrency=concurrency,
                label="warm-up",
            )
            say(f"  warm-up clicks: {warm.ok}/{len(warm.results)} ok")
            if slack_limit is not None:
                stand_in.set_channel_rate_limit(slack_limit)
            calls_before = len(stand_in.calls)

            phase = Phase(
                load=load,
                filings=filings(stand_in, n, offset=offset + warmup + n),
                clicks=clicks(stand_in, seed_refs[warmup:], ts_of),
            )
            for kind, requests in (("filings", phase.filings), ("clicks", phase.clicks)):
                run = run_load(
                    signer,
                    requests,
                    concurrency=concurrency,
                    label=f"ai-signal {kind}",
                    time_limit=time_limit,
                    rate=load,
                    server_pid=app.pid,
                )
                phase.runs[kind] = run
                say(f"  {kind}: {run.ok}/{len(run.results)} ok in {run.wall_seconds:.1f}s")
            received = len(refs_from(phase.runs["filings"]))
            if received != phase.runs["filings"].ok:
                notes["refs"] = f"only {received} receipts named a reference"

            # Not timed: what the filings and clicks queued for Slack. Without a limit it all
            # drains in seconds; with Slack's limit the triage channel takes about one post a
            # second, so the backlog is reported, not waited for (bench/delivery_drain.py
            # measures that drain).
            if slack_limit is None:
                wait_until(
                    lambda: app.health().get("outbox", {}).get("due", 1) == 0,
                    timeout=60 + 0.05 * n,
                    interval=0.5,
                )
            notes["outbox at the end"] = str(app.health().get("outbox"))
            during = stand_in.calls[calls_before:]
            limited = sum(1 for call in during if call.status == 429)
            notes["Slack calls while measured"] = (
                f"{len(during) - limited} answered, {limited} rate limited (429)"
            )
            ephemerals = len(stand_in.calls_to("chat.postEphemeral", include_errors=True))
            notes["ephemeral error answers to clicks"] = str(ephemerals)
        finally:
            app.terminate()
            lines = app.log_path.read_text(errors="replace").splitlines()
            queue = sum("Task queue depth" in line for line in lines)
            notes["app log"] = f"{len(lines)} line(s), {queue} of them waitress 'Task queue depth'"
            if lines:
                notes["app log, last line"] = lines[-1][:200]
    return phase, notes


def measure_bare(
    stand_in: SlackStandIn,
    *,
    phases: list[Phase],
    warmup: int,
    concurrency: int,
    time_limit: float,
) -> list[Phase]:
    """The same request bodies, phase by phase, against the bare Bolt app."""
    measured: list[Phase] = []
    with temp_workdir("bench-bare-") as workdir:
        bare: ServerProcess = start_bare_process(api_url=stand_in.url, workdir=workdir)
        try:
            say(f"bare Bolt (pid {bare.pid}) ready in {bare.wait_ready():.1f}s on port {bare.port}")
            signer = Signer(bare.events_url)
            warm = phases[0].filings[:warmup] + phases[0].clicks[:warmup]
            warm_run = run_load(signer, warm, concurrency=concurrency, label="warm-up")
            say(f"warm-up: {warm_run.ok}/{len(warm_run.results)} ok")
            for phase in phases:
                copy = Phase(load=phase.load, filings=phase.filings, clicks=phase.clicks)
                for kind, requests in (("filings", phase.filings), ("clicks", phase.clicks)):
                    copy.runs[kind] = run_load(
                        signer,
                        requests,
                        concurrency=concurrency,
                        label=f"bare {kind}",
                        time_limit=time_limit,
                        rate=phase.load,
                        server_pid=bare.pid,
                    )
                say(
                    f"bare, {load_name(phase.load)}: filings {copy.runs['filings'].ok} ok, "
                    f"clicks {copy.runs['clicks'].ok} ok"
                )
                measured.append(copy)
        finally:
            bare.terminate()
    return measured


def combined(label: str, a: Run, b: Run) -> Run:
    run = Run(label=label, results=a.results + b.results)
    run.wall_seconds = a.wall_seconds + b.wall_seconds
    if a.server_cpu_seconds is not None and b.server_cpu_seconds is not None:
        run.server_cpu_seconds = a.server_cpu_seconds + b.server_cpu_seconds
    return run


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_percent(run: Run) -> float:
    """The server process's CPU use during the run (100 = one core busy)."""
    if run.server_cpu_seconds is None or not run.wall_seconds:
        return float("nan")
    return 100 * run.server_cpu_seconds / run.wall_seconds


def cpu_ms_per_request(run: Run) -> float:
    if run.server_cpu_seconds is None or not run.results:
        return float("nan")
    return 1000 * run.server_cpu_seconds / len(run.results)


def with_all(runs: dict[str, Run], who: str) -> list[tuple[str, Run]]:
    return [
        ("filings", runs["filings"]),
        ("clicks", runs["clicks"]),
        ("all", combined(f"{who} all", runs["filings"], runs["clicks"])),
    ]


def report_phase(ours: Phase, bare: Phase | None, concurrency: int) -> bool:
    """Print one load level's table and checks; True when every target is met there."""
    say("")
    say(f"== {load_name(ours.load)}, C={concurrency} ==")
    header = (
        f"{'scenario':<22}{'requests':>9}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'req/s':>8}{'srv CPU%':>9}{'CPU ms/req':>11}"
    )
    say(header)
    say("-" * len(header))
    rows = list(
        zip(
            with_all(ours.runs, "ai-signal"),
            with_all(bare.runs, "bare")
            if bare
            else [(k, None) for k in ("filings", "clicks", "all")],
            strict=True,
        )
    )
    for (_, o), (_, b) in rows:
        for run in (o, b):
            if run is None:
                continue
            lat = run.latencies_ms()
            say(
                f"{run.label:<22}{len(run.results):>9}{run.errors:>7}"
                f"{run.percentile(50):>9.1f}{run.percentile(95):>9.1f}{run.percentile(99):>9.1f}"
                f"{(lat[-1] if lat else float('nan')):>9.1f}{run.rate:>8.1f}"
                f"{cpu_percent(run):>9.0f}{cpu_ms_per_request(run):>11.2f}"
            )
    all_pass = True
    for (kind, o), (_, b) in rows:
        p99 = o.percentile(99)
        checks = [(f"p99 {p99:.1f} ms <= {P99_TARGET_MS:.0f} ms", p99 <= P99_TARGET_MS)]
        if o.errors:
            statuses = Counter(r.status for r in o.results if r.status != 200)
            shown = ", ".join(f"HTTP {k or 'no answer'} x{v}" for k, v in statuses.items())
            checks.append((f"{o.errors} request(s) failed ({shown})", False))
        if b is not None:
            p99_ratio = p99 / b.percentile(99)
            slow_ratio = b.rate / o.rate if o.rate else float("inf")
            checks.append(
                (f"p99 ours/bare {p99_ratio:.2f}x <= {RATIO_TARGET}x", p99_ratio <= RATIO_TARGET)
            )
            checks.append(
                (
                    f"throughput bare/ours {slow_ratio:.2f}x <= {RATIO_TARGET}x "
                    f"({o.rate:.0f} vs {b.rate:.0f} req/s)",
                    slow_ratio <= RATIO_TARGET,
                )
            )
            # /proc counts CPU in clock ticks (10 ms): a short run may read 0 for the bare app.
            base = cpu_ms_per_request(b)
            cpu = cpu_ms_per_request(o) / base if base > 0 else float("nan")
            say(f"  {kind:<8} info  server CPU per request ours/bare {cpu:.2f}x")
        for text, passed in checks:
            all_pass &= passed
            say(f"  {kind:<8} {'PASS' if passed else 'FAIL'}  {text}")
    return all_pass


def report(ours: list[Phase], bare: list[Phase] | None, concurrency: int) -> bool:
    say("")
    say(
        f"Targets: p99 <= {P99_TARGET_MS:.0f} ms at C=20; at most {RATIO_TARGET}x bare Bolt "
        "(p99 ours/bare, throughput bare/ours)."
    )
    verdicts = []
    for index, phase in enumerate(ours):
        verdicts.append(report_phase(phase, bare[index] if bare else None, concurrency))
    say("")
    for phase, passed in zip(ours, verdicts, strict=True):
        say(f"{load_name(phase.load):>12}: {'PASS' if passed else 'FAIL'}")
    if concurrency != 20:
        say(f"  (note: targets are stated for C=20; this run used C={concurrency})")
    all_pass = all(verdicts)
    say(f"OVERALL: {'PASS' if all_pass else 'FAIL'}")
    return all_pass


def parse_loads(text: str) -> list[Load]:
    """'closed,100,200' -> [None, 100.0, 200.0]."""
    loads: list[Load] = []
    for word in text.split(","):
        word = word.strip().lower()
        if word in ("closed", "c"):
            loads.append(None)
        else:
            value = float(word)
            if value <= 0:
                raise ValueError(f"a rate must be above 0, not {word}")
            loads.append(value)
    if not loads:
        raise ValueError("no load given")
    return loads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per kind")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight at most")
    parser.add_argument("--warmup", type=int, default=50, help="uncounted requests per kind")
    parser.add_argument(
        "--loads",
        default="closed,100,200,400",
        help="comma-separated load levels, each measured in turn: 'closed' (back to back, C in "
        "flight) or an open-loop rate in requests/s, latency counted from when each request was "
        "due; e.g. closed,50,100,200",
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="shorthand for --loads RATE (one open loop)"
    )
    parser.add_argument(
        "--unthrottled",
        action="store_true",
        help="no per-channel limit in the stand-in during the measured phases: the delivery "
        "worker posts everything at once, competing with the acks for the same cores",
    )
    parser.add_argument("--skip-bare", action="store_true", help="only measure ai-signal")
    parser.add_argument(
        "--time-limit", type=float, default=600.0, help="give up a load phase after this many s"
    )
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 1:
        parser.error("--requests, --concurrency and --warmup must be >= 1")
    try:
        loads = [args.rate] if args.rate else parse_loads(args.loads)
    except ValueError as error:
        parser.error(f"--loads: {error}")

    started = time.monotonic()
    slack = (
        "no Slack rate limit"
        if args.unthrottled
        else f"Slack-like limit of {SLACK_LIMIT[0]:g}/s per channel, burst {SLACK_LIMIT[1]}"
    )
    say(
        f"ack_latency: {args.requests} filings + {args.requests} clicks per app and load "
        f"({', '.join(load_name(x) for x in loads)}), C={args.concurrency}, {slack}, "
        f"{args.warmup} warm-up each; load average {load_average()}"
    )
    stand_in = start_standin()
    try:
        ours, notes = measure_ours(
            stand_in,
            n=args.requests,
            warmup=args.warmup,
            concurrency=args.concurrency,
            time_limit=args.time_limit,
            loads=loads,
            slack_limit=None if args.unthrottled else SLACK_LIMIT,
        )
        bare = None
        if not args.skip_bare:
            bare = measure_bare(
                stand_in,
                phases=ours,
                warmup=args.warmup,
                concurrency=args.concurrency,
                time_limit=args.time_limit,
            )
    finally:
        stand_in.stop()
    passed = report(ours, bare, args.concurrency)
    for key, value in notes.items():
        say(f"note: {key}: {value}")
    say(
        f"(benchmark took {time.monotonic() - started:.0f}s; load average now {load_average()}; "
        "the load generator and the Slack stand-in share this machine's cores with the server)"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
