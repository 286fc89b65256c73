"""How long every lead read takes over many stored signals: the Home overview, a queue page with
each filter (and the pages after and before), and a signal's status.

    .venv/bin/python bench/queue_reads.py                 # 1M: SQLite, and PostgreSQL when one
                                                          # is reachable (seeding takes minutes)
    .venv/bin/python bench/queue_reads.py --sizes 10000 --sqlite-only --runs 5   # quick
    .venv/bin/python bench/queue_reads.py --sizes 100000 --explain              # SQLite plans

The schema comes from the migrations (so the indexes are the ones deployed). Signals are spread
over two years; `--open-share` of them (default 1 %, i.e. 10,000 open signals at 1M — some 250
times the forty a busy team works) are open, the rest resolved or declined. A third of them are anonymous; leads own most
acknowledged and investigating ones; some have a respond-by date, some of those are past. Each
read is the service call the listener makes (`QueueService.overview`, `.page`,
`SignalService.own_signal`, `TriageService.reporter_view` / `.detail`), run `--runs` times after
one warm-up; the table shows p50 and p95 per read per database and whether p95 is within 50 ms.
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import db
from bot.services import codes
from bot.services.queue import QueueService, parse_filters
from bot.services.signals import SignalService
from bot.services.triage import TriageService
from bot.services.vocabulary import KINDS

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PG_URL = os.environ.get(
    "AI_SIGNAL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ai_signal_bench"
)
KEY = b"bench-code-key"
LEAD = "ULEAD00001"
REPORTER = "U00000007"
CHUNK = 20_000
TARGET_MS = 50.0
COLUMNS = (
    "id ref kind system text impact anonymous reporter_id followup_hash status created_at "
    "posted_at triage_channel triage_ts acknowledged_at updated_at owner_id resolved_at "
    "reminders_sent respond_by tracker_url key_lesson"
).split()


def _code(n: int) -> str:
    return f"BENCH-CODE-{n:08d}"


def _rows(count: int, open_share: float, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    kinds = list(KINDS)
    systems = [f"system-{n:03d}" for n in range(500)]
    span = timedelta(days=730).total_seconds()
    for n in range(count):
        posted = NOW - timedelta(seconds=rng.random() * span)
        anonymous = n % 3 == 0
        created = posted - timedelta(minutes=rng.randint(1, 40))
        if anonymous:
            created = created.replace(minute=0, second=0, microsecond=0)
        if rng.random() < open_share:
            status = rng.choices(("new", "acknowledged", "investigating"), (3, 2, 5))[0]
        else:
            status = "resolved" if rng.random() < 0.85 else "declined"
        acknowledged = posted + timedelta(hours=2) if status != "new" else None
        owned = status != "new" and rng.random() < 0.7
        due = None
        if status == "investigating" and rng.random() < 0.4:
            due = NOW + timedelta(days=rng.uniform(-14, 14))
        system = systems[min(int(rng.paretovariate(1.2)) - 1, 499)] if rng.random() < 0.9 else None
        yield (
            f"{n:032x}",
            f"SIG-{n + 1}",
            rng.choice(kinds),
            system,
            "precision fell after the upstream schema change",
            None,
            anonymous,
            None if anonymous else f"U{n % 997:08d}",
            codes.hash_code(_code(n), key=KEY) if anonymous else None,
            status,
            created,
            posted,
            "CTRIAGE001",
            f"{1_700_000_000 + n}.000100",
            acknowledged,
            acknowledged or posted,
            f"U{n % 31:08d}" if owned else None,
            posted + timedelta(days=3) if status in ("resolved", "declined") else None,
            0,
            due,
            "https://tracker.example/ISSUE-1" if n % 50 == 0 else None,
            False,
        )


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):  # SQLAlchemy's SQLite DATETIME storage format
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def seed(url: str, count: int, open_share: float) -> float:
    """Bulk load through the driver: executemany on SQLite, COPY on PostgreSQL."""
    started = time.perf_counter()
    engine = db.create_db_engine(url)
    rows = _rows(count, open_share, random.Random(13))
    if engine.dialect.name == "sqlite":
        insert = (
            f"INSERT INTO signals ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        )
        with engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA cache_size=-1048576")
            chunk: list[tuple[Any, ...]] = []
            for row in rows:
                chunk.append(tuple(_sqlite_value(v) for v in row))
                if len(chunk) == CHUNK:
                    connection.exec_driver_sql(insert, chunk)
                    chunk = []
            if chunk:
                connection.exec_driver_sql(insert, chunk)
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    else:
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY signals ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE signals"))
    engine.dispose()
    return time.perf_counter() - started


def reads(url: str, count: int) -> tuple[list[tuple[str, Callable[[], Any]]], Callable[[], None]]:
    """(label, call) for every read, and a function that closes the engine."""
    engine = db.create_db_engine(url)
    sessions = db.create_session_factory(engine)
    common: dict[str, Any] = {
        "sessions": sessions,
        "code_key": KEY,
        "triage_channel": "CTRIAGE001",
        "anon_delay": (0, 0),
        "clock": lambda: NOW,
    }
    triage = TriageService(**common)
    signals = SignalService(**common)
    queue = QueueService(sessions=sessions, triage=triage, clock=lambda: NOW)
    rng = random.Random(5)
    named = next(n for n in (rng.randrange(count) for _ in range(100)) if n % 3)
    anonymous = next(n for n in (rng.randrange(count) for _ in range(100)) if n % 3 == 0)
    first = queue.page(filters=parse_filters([], me=LEAD))
    second = (
        queue.page(filters=first.filters, after=first.lines[-1].cursor) if first.has_next else first
    )
    third = (
        queue.page(filters=first.filters, after=second.lines[-1].cursor)
        if second.has_next
        else second
    )

    def page(*words: str) -> Callable[[], Any]:
        filters = parse_filters(words, me=f"U{7:08d}")
        return lambda: queue.page(filters=filters)

    out: list[tuple[str, Callable[[], Any]]] = [
        ("home overview (counts + page)", lambda: queue.overview(lead_id=LEAD)),
        ("queue: no filter", page()),
        (
            "queue: next page",
            lambda: queue.page(filters=first.filters, after=second.lines[-1].cursor),
        ),
        (
            "queue: previous page",
            lambda: queue.page(filters=first.filters, before=third.lines[0].cursor),
        ),
        ("queue: status:new", page("status:new")),
        ("queue: status:investigating", page("status:investigating")),
        ("queue: kind:governance", page("kind:governance")),
        ("queue: system:system-000", page("system:system-000")),
        ("queue: system:system-499 (rare)", page("system:system-499")),
        ("queue: owner:me", page("owner:me")),
        ("queue: owner:none", page("owner:none")),
        ("queue: owner:@U09999999 (nobody)", page("owner:@U09999999")),
        ("queue: older:7d", page("older:7d")),
        ("queue: older:3650d (none)", page("older:3650d")),
        ("queue: anonymous", page("anonymous")),
        ("queue: named", page("named")),
        ("queue: overdue", page("overdue")),
        (
            "queue: kind:bias system:system-001 named",
            page("kind:bias", "system:system-001", "named"),
        ),
        (
            "status SIG-n (named reporter)",
            lambda: signals.own_signal(ref=f"SIG-{named + 1}", user_id=f"U{named % 997:08d}"),
        ),
        (
            "status CODE (anonymous reporter)",
            lambda: triage.reporter_view(code=_code(anonymous), requester_id=REPORTER),
        ),
        ("signal detail (lead)", lambda: triage.detail(ref=f"SIG-{named + 1}")),
    ]
    return out, engine.dispose


def measure(call: Callable[[], Any], runs: int) -> tuple[float, float]:
    call()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95


def explain(url: str, count: int) -> None:
    """SQLite's plan for every SELECT the reads run."""
    from sqlalchemy import event

    engine = db.create_db_engine(url)
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and statement not in {
            s for s, _ in seen
        }:
            seen.append((statement, parameters))

    calls, close = reads(url, count)
    event.listen(db.Engine, "before_cursor_execute", capture)
    for _, call in calls:
        call()
    event.remove(db.Engine, "before_cursor_execute", capture)
    close()
    with engine.connect() as connection:
        for statement, parameters in seen:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            print(" ".join(statement.split())[:140])
            for row in plan:
                print("    ", row[-1])
    engine.dispose()


def run(label: str, url: str, sizes: list[int], args: argparse.Namespace, reset) -> bool:
    ok = True
    for size in sizes:
        reset()
        db.upgrade(url)
        seconds = seed(url, size, args.open_share)
        calls, close = reads(url, size)
        print(
            f"\n{label} · {size:,} signals ({args.open_share:.0%} open) · seeded in {seconds:.1f} s"
        )
        print(f"{'read':<44} {'p50 ms':>8} {'p95 ms':>8}  ≤ {TARGET_MS:.0f} ms")
        for name, call in calls:
            p50, p95 = measure(call, args.runs)
            within = p95 <= TARGET_MS
            ok &= within
            print(f"{name:<44} {p50:>8.2f} {p95:>8.2f}  {'yes' if within else 'NO'}", flush=True)
        close()
        if args.explain and label == "sqlite":
            explain(url, size)
    return ok


def _create_pg_database(url: str) -> None:
    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).first()
        if found is None:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--open-share", type=float, default=0.01)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    parser.add_argument("--explain", action="store_true", help="print SQLite query plans")
    args = parser.parse_args()
    ok = True
    if not args.postgres_only:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.db"

            def reset_sqlite() -> None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)

            ok &= run("sqlite", f"sqlite:///{path}", args.sizes, args, reset_sqlite)
    if not args.sqlite_only:
        try:
            _create_pg_database(PG_URL)
        except Exception as error:
            print(f"\npostgresql skipped: not reachable at {PG_URL} ({type(error).__name__})")
        else:

            def reset_postgres() -> None:
                engine = create_engine(PG_URL)
                with engine.begin() as connection:
                    connection.execute(text("DROP SCHEMA public CASCADE"))
                    connection.execute(text("CREATE SCHEMA public"))
                engine.dispose()

            ok &= run("postgresql", PG_URL, args.sizes, args, reset_postgres)
    print(f"\nOVERALL: {'PASS' if ok else 'FAIL'} (every read's p95 ≤ {TARGET_MS:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
