"""How long the quarterly review-board report takes over many stored signals.

    .venv/bin/python bench/review_report.py              # 10k and 100k: SQLite, and PostgreSQL
                                                         # when one is reachable
    .venv/bin/python bench/review_report.py --million    # 1M too (seeding takes minutes)
    .venv/bin/python bench/review_report.py --sqlite-only --sizes 2000   # the smoke run

Every signal is filed inside the quarter reported on (2025-Q4: all of them count), with the
digest benchmark's mix of kinds, 500 systems, statuses, anonymous signals and resolutions. "report"
is `ReviewService.report` (every query: GROUP BY in the database); "with HTML" adds rendering the
self-contained page with its three inline SVG charts (matplotlib). Figures are the median of a
few runs after one warm-up run. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digest_build import PG_URL, _create_pg_database, seed
from sqlalchemy import create_engine, text

from bot import db
from bot.services.report_render import render
from bot.services.review import ReviewPeriod, ReviewService

QUARTER = ReviewPeriod(first=date(2025, 10, 1), last=date(2025, 12, 31))
# Filings spread over the whole quarter (its 92 days, up to the last second of the 31st).
QUARTER_END = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
BUDGET_SECONDS = 5.0


def measure(url: str, *, runs: int) -> tuple[float, float, int, int]:
    engine = db.create_db_engine(url)
    sessions = db.create_session_factory(engine)
    service = ReviewService(sessions=sessions)
    queries, pages = [], []
    total = size = 0
    for _ in range(runs + 1):
        started = time.perf_counter()
        report = service.report(period=QUARTER)
        middle = time.perf_counter()
        page = render(report, "html")
        pages.append(time.perf_counter() - started)
        queries.append(middle - started)
        total, size = report.total, len(page)
    engine.dispose()
    return statistics.median(queries[1:]), statistics.median(pages[1:]), total, size


def run(label: str, url: str, sizes: list[int], *, reset, runs: int) -> None:
    for size in sizes:
        reset()
        db.upgrade(url)
        seeded = seed(url, size, now=QUARTER_END, span_days=92)
        report, page, total, length = measure(url, runs=runs)
        verdict = "PASS" if page <= BUDGET_SECONDS else "FAIL"
        print(
            f"{label:<10} {size:>9,} signals   seeded in {seeded:6.1f} s   "
            f"report {report * 1000:8.1f} ms   with HTML {page * 1000:8.1f} ms   "
            f"({total:,} in the quarter, {length // 1024} KiB)   <= {BUDGET_SECONDS:.0f} s: "
            f"{verdict}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="add 1,000,000 signals")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per size (median)")
    args = parser.parse_args()
    if args.million and 1_000_000 not in args.sizes:
        args.sizes.append(1_000_000)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"

        def reset_sqlite() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        run("sqlite", f"sqlite:///{path}", args.sizes, reset=reset_sqlite, runs=args.runs)

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

        run("postgresql", PG_URL, args.sizes, reset=reset_postgres, runs=args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
