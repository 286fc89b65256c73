"""Resident memory of `ai-signal run --http`: idle after start-up, and after N quick filings.

    .venv/bin/python bench/memory.py [--filings 10000] [--concurrency 20]

The app runs as a subprocess (SQLite in a temporary folder) against the Slack Web API stand-in
in this process. Memory is read from /proc/<pid>/status: VmRSS (resident now) and VmHWM (the
peak resident size so far). The idle figure is taken a few seconds after /healthz first answers;
the loaded one after the N signed `/ai-signal drift ...` filings have all been answered and their
triage posts delivered (the outbox is empty), and again after a short rest.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from _common import (
    REPORTER_IDS,
    Prepared,
    Signer,
    command_request,
    posts_made,
    rss_kib,
    run_load,
    start_app_process,
    start_standin,
    temp_workdir,
    wait_until,
)


def mib(kib: int) -> str:
    return f"{kib / 1024:7.1f} MiB"


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--settle", type=float, default=3.0, help="s to wait before idle reading")
    parser.add_argument("--samples", type=int, default=10, help="readings during the filings")
    parser.add_argument("--time-limit", type=float, default=900.0, help="bound on the filings")
    args = parser.parse_args()
    if args.filings < 1 or args.concurrency < 1:
        parser.error("--filings and --concurrency must be >= 1")

    stand_in = start_standin()
    failures = 0
    statuses: Counter[int] = Counter()
    try:
        with temp_workdir("bench-mem-") as workdir:
            # Posted as fast as the stand-in answers (it has no rate limit here): at Slack's
            # pace of one post a second the triage posts of 10,000 filings take hours.
            app = start_app_process(
                api_url=stand_in.url,
                workdir=workdir,
                settings={"AI_SIGNAL_CHANNEL_POSTS_PER_SECOND": "1000"},
            )
            try:
                say(f"ai-signal (pid {app.pid}) ready in {app.wait_ready():.1f}s")
                time.sleep(args.settle)
                idle = rss_kib(app.pid)
                say(f"idle after start-up: VmRSS {mib(idle['VmRSS'])}  VmHWM {mib(idle['VmHWM'])}")

                signer = Signer(app.events_url)
                chunk = max(1, -(-args.filings // max(args.samples, 1)))
                done = 0
                deadline = time.monotonic() + args.time_limit
                trajectory = []
                while done < args.filings and time.monotonic() < deadline:
                    count = min(chunk, args.filings - done)
                    requests: list[Prepared] = [
                        command_request(
                            user_id=REPORTER_IDS[(done + i) % len(REPORTER_IDS)],
                            text=f"drift scoring-model-{(done + i) % 7} approval rate fell 12% "
                            f"since the retrain (case {done + i})",
                            trigger_id=stand_in.issue_trigger_id(),
                            response_url=stand_in.new_response_url(),
                        )
                        for i in range(count)
                    ]
                    run = run_load(
                        signer,
                        requests,
                        concurrency=args.concurrency,
                        label="filings",
                        time_limit=max(1.0, deadline - time.monotonic()),
                    )
                    failures += run.errors
                    statuses.update(r.status for r in run.results if r.status != 200)
                    done += len(run.results)
                    reading = rss_kib(app.pid)
                    trajectory.append((done, reading["VmRSS"]))
                    say(
                        f"  after {done:>6} filings: VmRSS {mib(reading['VmRSS'])}  "
                        f"({run.rate:.0f} req/s, {run.errors} failed)"
                    )
                drained = wait_until(
                    lambda: posts_made(stand_in) >= done - failures,
                    timeout=120 + 0.02 * done,
                    interval=0.5,
                )
                loaded = rss_kib(app.pid)
                time.sleep(args.settle)
                rested = rss_kib(app.pid)
                outbox = app.health().get("outbox")
            finally:
                app.terminate()
    finally:
        stand_in.stop()

    grown = loaded["VmRSS"] - idle["VmRSS"]
    say("")
    say(f"{'reading':<44}{'VmRSS':>12}{'VmHWM (peak)':>16}")
    say(f"{'idle after start-up':<44}{mib(idle['VmRSS']):>12}{mib(idle['VmHWM']):>16}")
    say(
        f"{f'after {done} filings (all posted)':<44}{mib(loaded['VmRSS']):>12}"
        f"{mib(loaded['VmHWM']):>16}"
    )
    say(
        f"{f'  and {args.settle:g}s later':<44}{mib(rested['VmRSS']):>12}{mib(rested['VmHWM']):>16}"
    )
    say(
        f"growth: {grown / 1024:.1f} MiB over {done} filings ({grown * 1024 / max(done, 1):.0f} B each)"
    )
    if len(trajectory) >= 3:
        half = len(trajectory) // 2
        (n0, r0), (n1, r1) = trajectory[half], trajectory[-1]
        if n1 > n0:
            say(
                f"slope over the second half: {(r1 - r0) * 1024 / (n1 - n0):.0f} B per filing "
                "(a steady climb here would suggest a leak; a flat line, caches that filled up)"
            )
    shown = ", ".join(f"HTTP {k or 'no answer'} x{v}" for k, v in statuses.items())
    say(
        f"failed requests: {failures}{f' ({shown})' if shown else ''}; outbox at the end: "
        f"{outbox}; all posted: {bool(drained)}"
    )
    if statuses.get(404):
        say(
            "  HTTP 404 is Bolt's answer when the listener did not ack() within 3 s: Slack shows "
            "the person an error, yet the filing was stored (see the outbox count)."
        )
    return 0 if failures == 0 and drained else 1


if __name__ == "__main__":
    sys.exit(main())
