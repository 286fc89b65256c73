"""How long the lessons library takes over many resolved signals: `/ai-signal lessons` search
(target ≤ 100 ms) and the "seen before" look-up each new triage post makes (target ≤ 20 ms).

    .venv/bin/python bench/lessons_search.py                 # 100k: SQLite, and PostgreSQL
                                                             # when one is reachable
    .venv/bin/python bench/lessons_search.py --sizes 2000 --sqlite-only --queries 5

Lessons, failed assumptions and what was done are drawn from a vocabulary of 3,000 words with a
Zipf-like spread (a few words are in most lessons, most words in few), over 500 systems; 2% of
the lessons are key lessons. The search figure is `LessonsService.search` (page 1 and page 3,
with and without filters, and with no words); "seen before" is `related_signals` for a new
signal on a common system with a long text. Medians and p95 after one warm-up pass. Not a
test: it prints figures, and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import itertools
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
from bot.services.lessons import LessonsService, parse_lessons_query, related_signals
from bot.services.vocabulary import KINDS, PATTERNS
from models import Signal

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PG_URL = os.environ.get(
    "AI_SIGNAL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ai_signal_bench"
)
CHUNK = 10_000
SEARCH_TARGET_MS = 100.0
SEEN_TARGET_MS = 20.0
SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "do", "fe", "gi")


VOCABULARY = 20_000


def vocabulary(rng: random.Random, size: int = VOCABULARY) -> list[str]:
    """Made-up words in a random order: a word's frequency rank says nothing of its length."""
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5))))
    ordered = sorted(words)
    rng.shuffle(ordered)
    return ordered


# Zipf's law over the vocabulary: the word of rank r is drawn with weight 1/r, so the commonest
# words are in most lessons (as "model" or "data" would be) and most words in very few.
_CUMULATIVE = list(itertools.accumulate(1 / rank for rank in range(1, VOCABULARY + 1)))


def sentence(rng: random.Random, words: list[str], length: int) -> str:
    return " ".join(rng.choices(words, cum_weights=_CUMULATIVE, k=length))


def _rows(count: int, rng: random.Random, words: list[str]):
    kinds = list(KINDS)
    patterns = list(PATTERNS)
    systems = [f"system-{n:03d}" for n in range(500)]
    year = timedelta(days=365).total_seconds()
    for n in range(count):
        created = NOW - timedelta(seconds=rng.random() * year)
        resolved = created + timedelta(days=rng.expovariate(1 / 5))
        yield {
            "id": f"{n:032x}",
            "ref": f"SIG-{n + 1}",
            "kind": rng.choice(kinds),
            "system": systems[min(int(rng.paretovariate(1.2)) - 1, 499)],
            "text": sentence(rng, words, 20),
            "anonymous": n % 3 == 0,
            "reporter_id": None if n % 3 == 0 else f"U{n % 997:08d}",
            "status": "resolved",
            "created_at": created,
            "posted_at": created + timedelta(minutes=5),
            "triage_channel": "CTRIAGE001",
            "triage_ts": f"{1_700_000_000 + n}.000100",
            "acknowledged_at": created + timedelta(hours=2),
            "updated_at": resolved,
            "resolved_at": resolved,
            "resolution_done": sentence(rng, words, 12),
            "failed_assumption": sentence(rng, words, 10),
            "pattern": rng.choice(patterns),
            "lesson": sentence(rng, words, 16),
            "key_lesson": rng.random() < 0.02,
            "reminders_sent": 0,
        }


def seed(url: str, count: int, words: list[str]) -> float:
    """Bulk insert through the driver (the triggers fill the SQLite index as they go)."""
    started = time.perf_counter()
    engine = db.create_db_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    rows = list(_rows(count, random.Random(11), words))
    columns = list(rows[0])
    marker = "?" if sqlite else "%s"
    statement = (
        f"INSERT INTO signals ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    )

    def value(v):
        if isinstance(v, datetime) and sqlite:  # SQLAlchemy's SQLite DATETIME storage format
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return v

    with engine.begin() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA cache_size=-524288")
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            connection.exec_driver_sql(
                statement, [tuple(value(row[c]) for c in columns) for row in chunk]
            )
    if sqlite:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO lessons_fts(lessons_fts) VALUES ('optimize')")
            connection.exec_driver_sql("ANALYZE")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))  # as autovacuum would, all tables
    engine.dispose()
    return time.perf_counter() - started


def queries(rng: random.Random, words: list[str], count: int) -> list[str]:
    """Typical questions: one to three words, common and rare, some with filters."""
    asked = []
    for n in range(count):
        picked = rng.choices(words, cum_weights=_CUMULATIVE, k=1 + n % 3)
        extra = ("", " system:system-000", " pattern:data-optimism", " since:2026-09-01")[n % 4]
        asked.append(" ".join(picked) + extra)
    return asked + ["", "system:system-001", "pattern:governance-lag since:2026-06-01"]


def stats(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def measure_search(url: str, asked: list[str]) -> dict[str, tuple[float, float]]:
    engine = db.create_db_engine(url)
    service = LessonsService(sessions=db.create_session_factory(engine), deadline_ms=None)
    figures = {}
    for page in (0, 2):
        times = []
        for warm in (True, False):
            for question in asked:
                started = time.perf_counter()
                service.search(query=parse_lessons_query(question), page=page)
                if not warm:
                    times.append(time.perf_counter() - started)
        figures[f"search page {page + 1}"] = stats(times)
    engine.dispose()
    return figures


def measure_seen_before(url: str, words: list[str], count: int) -> tuple[float, float]:
    engine = db.create_db_engine(url)
    sessions = db.create_session_factory(engine)
    rng = random.Random(5)
    new = [
        Signal(
            id=f"new{n:029x}",
            ref=f"SIG-N{n}",
            kind="drift",
            system=f"system-{n % 3:03d}",  # the busiest systems
            text=sentence(rng, words, 40),
            posted_at=NOW,
            status="new",
        )
        for n in range(count)
    ]
    times = []
    with sessions() as session:
        for warm in (True, False):
            for signal in new:
                started = time.perf_counter()
                found = related_signals(session, signal)
                if not warm:
                    times.append(time.perf_counter() - started)
                assert len(found) <= 3
    engine.dispose()
    return stats(times)


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


def run(label: str, url: str, sizes: list[int], *, reset, count: int) -> bool:
    ok = True
    words = vocabulary(random.Random(3))
    asked = queries(random.Random(9), words, count)
    for size in sizes:
        reset()
        db.upgrade(url)
        seconds = seed(url, size, words)
        print(f"{label:<10} {size:>9,} resolved signals   seeded in {seconds:6.1f} s", flush=True)
        for name, (median, p95) in measure_search(url, asked).items():
            print(
                f"{label:<10} {size:>9,}   {name:<14} median {median:7.1f} ms   p95 {p95:7.1f} ms"
            )
            ok &= p95 <= SEARCH_TARGET_MS
        median, p95 = measure_seen_before(url, words, count)
        print(
            f"{label:<10} {size:>9,}   seen before    median {median:7.1f} ms   p95 {p95:7.1f} ms"
        )
        ok &= p95 <= SEEN_TARGET_MS
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=40, help="searches and new posts timed")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"

        def reset_sqlite() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        sizes = [] if args.postgres_only else args.sizes
        ok &= run("sqlite", f"sqlite:///{path}", sizes, reset=reset_sqlite, count=args.queries)
    if not args.sqlite_only:
        try:
            _create_pg_database(PG_URL)
        except Exception as error:
            print(f"postgresql skipped: not reachable at {PG_URL} ({type(error).__name__})")
        else:

            def reset_postgres() -> None:
                engine = create_engine(PG_URL)
                with engine.begin() as connection:
                    connection.execute(text("DROP SCHEMA public CASCADE"))
                    connection.execute(text("CREATE SCHEMA public"))
                engine.dispose()

            ok &= run("postgresql", PG_URL, args.sizes, reset=reset_postgres, count=args.queries)
    print(
        f"targets: search p95 ≤ {SEARCH_TARGET_MS:.0f} ms, seen before p95 ≤ "
        f"{SEEN_TARGET_MS:.0f} ms: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
