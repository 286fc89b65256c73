"""Delivery after an outage: how fast the outbox drains into a rate-limited channel.

    .venv/bin/python bench/delivery_drain.py                        # 1,000 posts at 1/s: ~17 min
    .venv/bin/python bench/delivery_drain.py --rate 20 --burst 20   # quick variant, ~1 min

The app's runtime (migrations, services, delivery worker; no HTTP) runs in this process against
the Slack Web API stand-in, which enforces a per-channel chat.postMessage limit (token bucket:
`--rate` messages per second, bursts of `--burst`; over it: HTTP 429 with Retry-After). While
the stand-in is down, N named signals are filed through the service (as during a Slack outage);
then Slack comes back, the delivery worker starts, and the clock runs until all N triage posts
are in the channel. The floor is (N - burst) / rate seconds. Then it checks that nothing was
lost (every signal has its triage_ts; the channel holds exactly N posts) and nothing was posted
twice (no signal reference in two top-level posts).

The worker paces itself (`bot.jobs.delivery.Pace`): at Slack's 1/s it uses the app's own default pace
(1/s, bursts of 3); for another `--rate` it paces at that rate (as if Slack's limit were that),
bursts of `--pace-burst`. The figure to watch besides the drain time is how many posts Slack
answered 429.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from _common import (
    REPORTER_IDS,
    TRIAGE,
    app_env,
    posts_made,
    ref_of_post,
    start_standin,
    temp_workdir,
    top_level_posts,
)
from sqlalchemy import func, select

from bot.config import Settings
from bot.jobs.delivery import SLACK_PACE, Pace
from bot.logging_setup import configure_logging
from bot.runtime import build_runtime
from models import OutboxItem, Signal


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000, help="pending triage posts")
    parser.add_argument("--rate", type=float, default=1.0, help="channel limit, messages/s")
    parser.add_argument("--burst", type=int, default=5, help="channel burst (bucket size)")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        help="worker poll interval in s (1.0 is what `ai-signal run` uses)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="give up after this many s (default: 3x the floor + 120 s + 0.5 s per post)",
    )
    parser.add_argument(
        "--pace-burst", type=int, default=None, help="worker's burst (default: min(3, --burst))"
    )
    parser.add_argument("--progress", type=float, default=30.0, help="progress line every N s")
    args = parser.parse_args()
    if args.posts < 1 or args.rate <= 0 or args.burst < 1:
        parser.error("--posts >= 1, --rate > 0 and --burst >= 1 please")

    n = args.posts
    pace = Pace(rate=args.rate, burst=args.pace_burst or min(SLACK_PACE.burst, args.burst))
    floor = max(n - args.burst, 0) / args.rate
    timeout = args.timeout if args.timeout is not None else 3 * floor + 120 + 0.5 * n
    say(
        f"delivery_drain: {n} posts to one channel, limit {args.rate:g}/s burst {args.burst}, "
        f"worker poll {args.poll_interval:g}s, pace {pace.rate:g}/s burst {pace.burst}; floor {floor:.1f}s, giving up after {timeout:.0f}s"
    )

    stand_in = start_standin(channel_rate_limit=(args.rate, float(args.burst)))
    with temp_workdir("bench-drain-") as workdir:
        log_path = Path(workdir) / "app.log"
        log = open(log_path, "w")
        configure_logging("WARNING", stream=log)
        settings = Settings.from_env(
            app_env(
                api_url=stand_in.url, database_url=f"sqlite:///{Path(workdir) / 'ai_signal.db'}"
            ),
            http=True,
        )
        runtime = build_runtime(settings, poll_interval=args.poll_interval, pace=pace)
        try:
            # The outage: Slack answers 503 to everything while the signals come in.
            stand_in.set_down(True)
            filing_started = time.perf_counter()
            refs = []
            for i in range(n):
                filed = runtime.services.signals.file_signal(
                    kind="drift",
                    text=f"scoring-model-{i % 7} approval rate fell 12% since the retrain (#{i})",
                    anonymous=False,
                    reporter_id=REPORTER_IDS[i % len(REPORTER_IDS)],
                    request_key=f"bench-drain-{i}",
                )
                refs.append(filed.ref)
            filing_seconds = time.perf_counter() - filing_started
            say(
                f"filed {n} signals during the outage in {filing_seconds:.1f}s "
                f"({n / filing_seconds:.0f}/s); outbox: {runtime.services.delivery.counts()}"
            )
            stand_in.set_down(False)

            started = time.perf_counter()
            runtime.worker.start()
            deadline = time.monotonic() + timeout
            next_progress = time.monotonic() + args.progress
            posted = 0
            while time.monotonic() < deadline:
                posted = posts_made(stand_in)
                if posted >= n:
                    break
                if time.monotonic() >= next_progress:
                    elapsed = time.perf_counter() - started
                    say(
                        f"  {elapsed:7.0f}s  posted {posted}/{n}  "
                        f"(429s so far: {count_429(stand_in)})"
                    )
                    next_progress += args.progress
                time.sleep(0.1)
            drain_seconds = time.perf_counter() - started
            # Let any post still in flight land before the checks (a duplicate would show here).
            time.sleep(min(2.0, 2.0 / args.rate + 0.5))
        finally:
            runtime.stop()
            stand_in.stop()

        with runtime.sessions() as session:
            without_ts = session.scalar(
                select(func.count()).select_from(Signal).where(Signal.triage_ts.is_(None))
            )
            stored = session.scalar(select(func.count()).select_from(Signal))
            outbox = dict(
                session.execute(
                    select(OutboxItem.state, func.count()).group_by(OutboxItem.state)
                ).all()
            )
        runtime.engine.dispose()
        log.close()
        app_warnings = log_path.read_text(errors="replace").splitlines()

    posts = top_level_posts(stand_in)
    in_channel = stand_in.messages(TRIAGE)
    post_refs = Counter(ref_of_post(m) for m in posts)
    duplicated = {ref: k for ref, k in post_refs.items() if ref and k > 1}
    missing = sorted(set(refs) - set(post_refs))
    unnamed = post_refs.get(None, 0)
    limited = count_429(stand_in)
    attempts = len(stand_in.calls_to("chat.postMessage", include_errors=True))

    complete = len(posts) >= n
    say("")
    say(f"posts                 {n}")
    say(f"channel limit         {args.rate:g}/s, burst {args.burst}")
    say(f"worker pace           {pace.rate:g}/s, burst {pace.burst}")
    say(f"drain time            {drain_seconds:.1f} s{'' if complete else '  (TIMED OUT)'}")
    say(f"floor (N-burst)/rate  {floor:.1f} s")
    say(f"ratio                 {drain_seconds / floor:.2f}x" if floor else "ratio  n/a")
    say(f"achieved rate         {len(posts) / drain_seconds:.2f} posts/s")
    say(f"chat.postMessage      {attempts} calls, {limited} answered 429")
    say(
        f"lost                  {len(missing)} (signals without triage_ts: {without_ts} of "
        f"{stored}; messages in channel: {len(in_channel)}, expected {n})"
    )
    say(f"duplicated            {len(duplicated)} ref(s) in more than one top-level post")
    say(f"outbox at the end     {outbox}")
    if app_warnings:
        say(f"app warnings logged   {len(app_warnings)} (first: {app_warnings[0][:160]})")
    ok = complete and not missing and not duplicated and not unnamed
    ok = ok and without_ts == 0 and len(in_channel) == n
    say(f"RESULT: {'PASS' if ok else 'FAIL'} (zero lost, zero duplicated)")
    return 0 if ok else 1


def count_429(stand_in) -> int:
    return sum(
        1 for c in stand_in.calls_to("chat.postMessage", include_errors=True) if c.status == 429
    )


if __name__ == "__main__":
    sys.exit(main())
