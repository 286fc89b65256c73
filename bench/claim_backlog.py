"""Claim round time while one channel is paused with a backlog behind it.

    .venv/bin/python bench/claim_backlog.py                 # 1k / 20k / 80k, SQLite and PostgreSQL
    .venv/bin/python bench/claim_backlog.py --sizes 80 80000 --sqlite-only

For each size N: N pending triage posts for a channel that Slack holds back (its row in
`channel_budget` paused for an hour) and 5 due posts for another channel. One claim round is
`DeliveryService.claim_due(limit=5)` (it takes the other channel's 5 items, which are then given
back for the next round). Printed: the median and p95 of `--rounds` rounds, and for comparison
the single query the claim used before per-channel pause state (every pending item, oldest first,
the held channel filtered out row by row). The figure should not grow with N.
PostgreSQL: `AI_SIGNAL_BENCH_PG_URL` names the server (default postgres@127.0.0.1:5432); the
script creates a database of its own there and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from _common import TRIAGE, temp_workdir
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from bot import db
from bot.clock import utc_now
from bot.services.delivery import DeliveryService
from models import ChannelBudget, OutboxItem, Signal

OTHER = "COTHER0001"
BASE_PG_URL = os.environ.get(
    "AI_SIGNAL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def say(text_: str) -> None:
    print(text_, flush=True)


def seed(url: str, n: int) -> None:
    engine = db.create_db_engine(url)
    now = utc_now()
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox"))
        connection.execute(text("DELETE FROM channel_budget"))
        connection.execute(text("DELETE FROM signals"))
        signal_id = uuid.uuid4().hex
        connection.execute(
            insert(Signal.__table__).values(
                id=signal_id,
                ref="SIG-1",
                kind="drift",
                text="bench",
                anonymous=False,
                status="new",
                created_at=now,
                updated_at=now,
            )
        )
        rows = [
            {
                "id": uuid.uuid4().hex,
                "signal_id": signal_id,
                "purpose": "triage_post",
                "channel": TRIAGE if i < n else OTHER,
                "state": "pending",
                "due_at": now - timedelta(seconds=n + 10 - i),
                "attempts": 0,
            }
            for i in range(n + 5)
        ]
        for start in range(0, len(rows), 10_000):
            connection.execute(insert(OutboxItem.__table__), rows[start : start + 10_000])
        connection.execute(
            insert(ChannelBudget.__table__).values(
                channel=TRIAGE, paused_until=now + timedelta(hours=1)
            )
        )
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
        connection.commit()
    engine.dispose()


def measure(url: str, rounds: int) -> tuple[list[float], list[float]]:
    engine = db.create_db_engine(url)
    sessions = db.create_session_factory(engine)
    delivery = DeliveryService(sessions=sessions)
    claim_times, old_times = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        tasks = delivery.claim_due(limit=5)
        claim_times.append((time.perf_counter() - started) * 1000)
        assert len(tasks) == 5 and {t.channel for t in tasks} == {OTHER}, tasks
        delivery.release(item_ids=[t.item_id for t in tasks])
        old = (
            select(OutboxItem.id)
            .where(
                OutboxItem.state == "pending",
                OutboxItem.due_at <= utc_now(),
                OutboxItem.claimed_until.is_(None),
                OutboxItem.channel.not_in([TRIAGE]),
            )
            .order_by(OutboxItem.due_at)
            .limit(5)
        )
        started = time.perf_counter()
        with sessions() as session:
            found = session.scalars(old).all()
        old_times.append((time.perf_counter() - started) * 1000)
        assert len(found) == 5
    engine.dispose()
    return claim_times, old_times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def run(backend: str, url: str, sizes: list[int], rounds: int) -> None:
    db.upgrade(url)
    for n in sizes:
        seed(url, n)
        claim, old = measure(url, rounds)
        say(
            f"{backend:10s} {n:>7,} held  claim round median {statistics.median(claim):6.2f} ms "
            f"p95 {p95(claim):6.2f} ms   | old single query median {statistics.median(old):7.2f} ms"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[80, 1000, 20000, 80000])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    say(f"claim_backlog: claim_due(limit=5) behind a paused channel, {args.rounds} rounds per size")
    with temp_workdir("bench-claim-") as workdir:
        run("sqlite", f"sqlite:///{Path(workdir) / 'claim.db'}", args.sizes, args.rounds)
    if args.sqlite_only:
        return 0
    name = f"ai_signal_bench_claim_{os.getpid()}"
    admin = create_engine(BASE_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        say(f"postgresql skipped ({type(error).__name__})")
        return 0
    try:
        url = make_url(BASE_PG_URL).set(database=name).render_as_string(hide_password=False)
        run("postgresql", url, args.sizes, args.rounds)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
