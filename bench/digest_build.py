"""How long building the weekly digest takes over many stored signals.

    .venv/bin/python bench/digest_build.py              # 10k and 100k: SQLite, and PostgreSQL
                                                        # when one is reachable
    .venv/bin/python bench/digest_build.py --million    # 1M too (seeding takes a few minutes)
    .venv/bin/python bench/digest_build.py --sqlite-only --sizes 5000 --explain
                                                        # with the SQLite query plans

Signals are spread over a year (so a week holds about 2% of them), with a realistic mix of
statuses, kinds, systems, anonymous signals, resolutions and a backlog of stalled ones. "build" is
`DigestService.gather` plus the Block Kit and text builders, i.e. everything but the Slack call;
the figure is the median of several runs after one warm-up run. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bot import db
from bot.services.digest import DigestService
from bot.services.vocabulary import KINDS, PATTERNS
from handlers.blocks.digest import build_digest_message

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, an hour after the digest was due
SCHEDULE = "0 9 * * mon"
# A database of its own (created when missing): the bench drops and refills its schema.
PG_URL = os.environ.get(
    "AI_SIGNAL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ai_signal_bench"
)
CHUNK = 20_000


def _rows(count: int, rng: random.Random, *, now: datetime = NOW, span_days: int = 365):
    kinds = list(KINDS)
    patterns = list(PATTERNS)
    systems = [f"system-{n:03d}" for n in range(500)]
    year = timedelta(days=span_days).total_seconds()
    for n in range(count):
        created = now - timedelta(seconds=rng.random() * year)
        anonymous = rng.random() < 0.3
        if anonymous:
            created = created.replace(minute=0, second=0, microsecond=0)
        posted = created + timedelta(minutes=rng.randint(1, 40))
        age = now - created
        roll = rng.random()
        row = {
            "id": f"{n:032x}",
            "ref": f"SIG-{n + 1}",
            "kind": rng.choice(kinds),
            "system": systems[min(int(rng.paretovariate(1.2)) - 1, 499)]
            if rng.random() < 0.9
            else None,
            "text": "precision fell after the upstream schema change",
            "impact": None,
            "anonymous": anonymous,
            "reporter_id": None if anonymous else f"U{n % 997:08d}",
            "followup_hash": None,
            "created_at": created,
            "posted_at": posted,
            "triage_channel": "CTRIAGE001",
            "triage_ts": f"{1_700_000_000 + n}.000100",
            "acknowledged_at": None,
            "updated_at": posted,
            "owner_id": None,
            "resolved_at": None,
            "failed_assumption": None,
            "pattern": None,
            "lesson": None,
            "reminders_sent": 0,
        }
        if age > timedelta(days=30) and roll < 0.95:
            status = "resolved" if roll < 0.85 else "declined"
        elif age > timedelta(days=30):
            status = "investigating"  # the stalled backlog
        else:
            status = rng.choice(("new", "acknowledged", "investigating", "resolved", "declined"))
        row["status"] = status
        if status != "new":
            acknowledged = posted + timedelta(hours=rng.expovariate(1 / 20))
            row["acknowledged_at"] = acknowledged
            row["owner_id"] = f"U{n % 31:08d}"
            row["updated_at"] = acknowledged
            if status in ("resolved", "declined"):
                resolved = acknowledged + timedelta(days=rng.expovariate(1 / 5))
                row["resolved_at"] = resolved
                row["updated_at"] = resolved
                if status == "resolved":
                    row["pattern"] = rng.choice(patterns)
                    row["failed_assumption"] = "the training data matched production"
                    row["lesson"] = "monitor input distributions, not only accuracy"
        yield row


def seed(
    url: str, count: int, *, seed_value: int = 7, now: datetime = NOW, span_days: int = 365
) -> float:
    """Bulk insert in one transaction, through the driver's executemany (no ORM, no types).
    Signals are filed over the `span_days` before `now`."""
    started = time.perf_counter()
    engine = db.create_db_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    rows = _rows(count, random.Random(seed_value), now=now, span_days=span_days)
    first = next(rows)
    columns = list(first)
    marker = "?" if sqlite else "%s"
    statement = (
        f"INSERT INTO signals ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    )

    def value(v):
        if isinstance(v, datetime) and sqlite:  # SQLAlchemy's SQLite DATETIME storage format
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return v

    def chunks():
        pending = [first]
        for row in rows:
            pending.append(row)
            if len(pending) == CHUNK:
                yield pending
                pending = []
        if pending:
            yield pending

    with engine.begin() as connection:
        if sqlite:  # a bigger page cache: random-order index inserts stay in memory
            connection.exec_driver_sql("PRAGMA cache_size=-524288")
        for chunk in chunks():
            connection.exec_driver_sql(
                statement, [tuple(value(row[c]) for c in columns) for row in chunk]
            )
    if not sqlite:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE signals"))
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


def measure(url: str, *, runs: int = 5) -> tuple[float, int]:
    engine = db.create_db_engine(url)
    sessions = db.create_session_factory(engine)
    service = DigestService(
        sessions=sessions,
        schedule=SCHEDULE,
        timezone="Europe/Berlin",
        reminder_hours=48,
        clock=lambda: NOW,
    )
    blocks = 0
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        data = service.gather()
        message = build_digest_message(data)
        times.append(time.perf_counter() - started)
        blocks = len(message["blocks"])
    engine.dispose()
    return statistics.median(times[1:]), blocks


def explain(url: str) -> None:
    """Print SQLite's plan for every statement the digest runs."""
    engine = db.create_db_engine(url)
    statements: list[tuple[str, object]] = []
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sessions = db.create_session_factory(engine)
    DigestService(
        sessions=sessions,
        schedule=SCHEDULE,
        timezone="Europe/Berlin",
        reminder_hours=48,
        clock=lambda: NOW,
    ).gather()
    event.remove(engine, "before_cursor_execute", _capture)
    with engine.connect() as connection:
        for statement, parameters in statements:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            print(" ".join(statement.split())[:110])
            for row in plan:
                print("    ", row[-1])
    engine.dispose()


def _create_pg_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).first()
        if found is None:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()


def run(label: str, url: str, sizes: list[int], *, reset, show_plan: bool) -> None:
    for size in sizes:
        reset()
        db.upgrade(url)
        seconds = seed(url, size)
        build, blocks = measure(url)
        print(
            f"{label:<10} {size:>9,} signals   seeded in {seconds:6.1f} s   "
            f"digest build {build * 1000:7.1f} ms   ({blocks} blocks)",
            flush=True,
        )
        if show_plan and label == "sqlite":
            explain(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="add 1,000,000 signals")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--explain", action="store_true", help="print SQLite query plans")
    args = parser.parse_args()
    if args.million and 1_000_000 not in args.sizes:
        args.sizes.append(1_000_000)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite:///{path}"

        def reset_sqlite() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        run("sqlite", url, args.sizes, reset=reset_sqlite, show_plan=args.explain)

    if not args.sqlite_only:
        try:
            _create_pg_database(PG_URL)
        except Exception as error:
            print(f"postgresql skipped: not reachable at {PG_URL} ({type(error).__name__})")
            return 0

        def reset_postgres() -> None:
            engine = create_engine(PG_URL)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            engine.dispose()

        run("postgresql", PG_URL, args.sizes, reset=reset_postgres, show_plan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
