"""Duplicates and losses after N crashes: the real app killed with SIGKILL at random points of a
delivery burst, restarted, again and again; then it drains and every message is checked.

    .venv/bin/python bench/crash_delivery.py                          # 100 kills, SQLite
    .venv/bin/python bench/crash_delivery.py --kills 100 --slow 0.4   # Slack answers 0.4 s late
    .venv/bin/python bench/crash_delivery.py --postgres --instances 3 --kills 30

The same machinery as tests/bot/jobs/delivery/test_scenario_exactly_once_delivery.py (which runs a few kills in the
normal suite): `ai-signal run --http` processes (forked from a zygote that imported the app once)
against the Slack stand-in in this process, a seeded random schedule of filings,
acknowledgements, anonymous answers and kills, each kill just after a post of the burst reached
Slack. Prints how many filings were acked, how many messages reached the channel, how many kills
found delivery under way, how many posts were looked up in history and how many of those were
found there instead of being sent again, and how many items were posted twice or lost (both
must be 0).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import _common  # noqa: F401 - puts the repository on sys.path
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import db
from bot.standin import SlackStandIn
from tests.bot.jobs.delivery.test_scenario_exactly_once_delivery import BOB, Cluster, crash_run
from tests.conftest import ALICE, BOT_TOKEN, DIGEST, LEAD, TRIAGE

PG_URL = os.environ.get(
    "AI_SIGNAL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--filings", type=int, default=6, help="filings per burst")
    parser.add_argument("--slow", type=float, default=0.0, help="answer delay after storing, s")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()

    slack = SlackStandIn(bot_token=BOT_TOKEN)
    slack.add_channel(TRIAGE, name="ai-triage", is_member=True)
    slack.add_channel(DIGEST, name="ai-digest", is_member=True)
    for user in (ALICE, BOB, LEAD):
        slack.add_user(user.id, name=user.name)
    slack.start()
    if args.slow:
        slack.set_answer_delay(args.slow)
    admin = None
    name = f"ai_signal_bench_crash_{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-crash-") as workdir:
            if args.postgres:
                admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
                url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
                db.upgrade(url)
            else:
                url = f"sqlite:///{Path(workdir) / 'ai_signal.db'}"
            backend = "postgresql" if args.postgres else "sqlite"
            print(
                f"crash_delivery: {args.kills} kills of {args.instances} instance(s) on {backend}, "
                f"{args.filings} filings per burst, Slack answer delay {args.slow:g}s, "
                f"seed {args.seed}",
                flush=True,
            )
            cluster = Cluster(
                slack=slack, database_url=url, workdir=Path(workdir), size=args.instances
            )
            try:
                figures = crash_run(
                    cluster,
                    seed=args.seed,
                    kills=args.kills,
                    filings=args.filings,
                    drain_timeout=120 + 4 * args.kills * args.filings,
                )
            except AssertionError as error:
                print(f"RESULT: FAIL ({error})")
                return 1
    finally:
        slack.stop()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"kills                 {args.kills}")
    print(f"acked filings         {figures['filings']}")
    print(f"thread replies        {figures['replies']}")
    print(f"messages in channel   {figures['messages']}")
    print(f"kills mid-delivery    {figures['kills mid-delivery']}")
    print(f"history lookups       {figures['history lookups']} (unanswered posts checked)")
    print(f"found in Slack        {figures['found in Slack']} (not sent again)")
    print("duplicated            0")
    print("lost                  0")
    print(f"time                  {time.monotonic() - started:.0f} s")
    print("RESULT: PASS (zero lost, zero duplicated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
