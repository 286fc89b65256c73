"""How long the quarterly review-board report takes over many stored signals.

    .venv/bin/python bench/review_report.py              # 10k and 100k: SQLite, and PostgreSQL
                                                         # when one is reachable
    .venv/bin/python bench/review_report.py --million    # 1M too (seeding takes minutes)
    .venv/bin/python bench/review_report.py --sqlite-only --sizes 2000   # quick
    .venv/bin/python bench/review_report.py --sizes 1000000 --runs 1 --keep /tmp/review-bench
                                                         # seed once, reuse on the next runs

With `--keep DIR` the SQLite file of each size stays in DIR and the PostgreSQL database of each
size (ai_signal_review_bench_<size>) is kept; a later run with the same DIR finds them holding
that many signals and only migrates them (so a new migration's backfill runs over them) instead
of seeding again. `--drop` removes the kept PostgreSQL databases and exits. `--seed-revision
0012` seeds before the roll-up's migration and then migrates (its backfill is timed): a bulk
load through the roll-up's triggers in one transaction is slow on PostgreSQL (every count row
is rewritten once per signal, and no old version can be pruned before the commit).

Every signal is filed inside the quarter reported on (2025-Q4: all of them count), with the
digest benchmark's mix of kinds, 500 systems, statuses, anonymous signals and resolutions. "report"
is `ReviewService.report` (the roll-up tables' counts, migration 0013); "with HTML" adds the
self-contained page with its three inline SVG charts (matplotlib). Figures are the median of a
few runs after one warm-up run (`--warmup N` for another count; the smoke test passes 0). Not a
test: it prints figures.
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
from sqlalchemy.engine import make_url

from bot import db
from bot.services.report_render import render
from bot.services.review import ReviewPeriod, ReviewService
from models import ROLLUP_TABLES

QUARTER = ReviewPeriod(first=date(2025, 10, 1), last=date(2025, 12, 31))
# Filings spread over the whole quarter (its 92 days, up to the last second of the 31st).
QUARTER_END = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
BUDGET_SECONDS = 5.0


def measure(url: str, *, runs: int, warmup: int = 1) -> tuple[float, float, int, int]:
    """Median seconds of the report and of the report with its HTML page over `runs` runs after
    `warmup` untimed ones, the quarter's total and the page's length."""
    engine = db.create_db_engine(url)
    sessions = db.create_session_factory(engine)
    service = ReviewService(sessions=sessions)
    queries, pages = [], []
    total = size = 0
    for _ in range(warmup + runs):
        started = time.perf_counter()
        report = service.report(period=QUARTER)
        middle = time.perf_counter()
        page = render(report, "html")
        pages.append(time.perf_counter() - started)
        queries.append(middle - started)
        total, size = report.total, len(page)
    engine.dispose()
    return (
        statistics.median(queries[warmup:]),
        statistics.median(pages[warmup:]),
        total,
        size,
    )


def _holds(url: str, size: int) -> bool:
    """Whether the database at `url` was seeded with `size` signals already (a kept one)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM signals")).scalar() == size
    except Exception:
        return False
    finally:
        engine.dispose()


def _vacuum_rollup(url: str) -> None:
    """PostgreSQL: the seeding's one transaction upserted every roll-up row once per signal, and
    left as many dead row versions; autovacuum clears them in time (ordinary filings are small
    transactions), the benchmark at once, so that the report reads what a live database holds."""
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in ROLLUP_TABLES:
                connection.execute(text(f"VACUUM ANALYZE {table.name}"))
    engine.dispose()


def run(
    label: str,
    url_of,
    sizes: list[int],
    *,
    reset,
    runs: int,
    warmup: int,
    keep: bool,
    seed_revision: str,
) -> None:
    for size in sizes:
        url = url_of(size)
        if keep and _holds(url, size):
            started = time.perf_counter()
            db.upgrade(url)  # a migration added since the seeding runs over the kept rows
            prepared = f"kept, migrated in {time.perf_counter() - started:6.1f} s"
        else:
            reset(size)
            db.upgrade(url, seed_revision)
            prepared = f"seeded in {seed(url, size, now=QUARTER_END, span_days=92):6.1f} s"
            if seed_revision != "head":
                started = time.perf_counter()
                db.upgrade(url)
                prepared += f", migrated in {time.perf_counter() - started:6.1f} s"
        _vacuum_rollup(url)
        report, page, total, length = measure(url, runs=runs, warmup=warmup)
        verdict = "PASS" if page <= BUDGET_SECONDS else "FAIL"
        print(
            f"{label:<10} {size:>9,} signals   {prepared}   "
            f"report {report * 1000:8.1f} ms   with HTML {page * 1000:8.1f} ms   "
            f"({total:,} in the quarter, {length // 1024} KiB)   <= {BUDGET_SECONDS:.0f} s: "
            f"{verdict}",
            flush=True,
        )


def _pg_url(size: int, keep: bool) -> str:
    if not keep:
        return PG_URL
    return (
        make_url(PG_URL)
        .set(database=f"ai_signal_review_bench_{size}")
        .render_as_string(hide_password=False)
    )


def _drop_kept_pg(sizes: list[int]) -> None:
    target = make_url(PG_URL)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        for size in sizes:
            name = make_url(_pg_url(size, True)).database
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            print(f"dropped {name}")
    server.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="add 1,000,000 signals")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per size (median)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs per size before the timed ones"
    )
    parser.add_argument("--keep", metavar="DIR", help="keep the seeded databases, reuse them")
    parser.add_argument("--drop", action="store_true", help="drop the kept PostgreSQL databases")
    parser.add_argument(
        "--seed-revision",
        default="head",
        help="seed at this migration (e.g. 0012), then migrate to the newest (its backfill)",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be >= 1 and --warmup >= 0")
    if args.million and 1_000_000 not in args.sizes:
        args.sizes.append(1_000_000)
    if args.drop:
        _drop_kept_pg(args.sizes)
        return 0
    keep = args.keep is not None

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)

        def path_of(size: int) -> Path:
            return folder / (f"review-{size}.db" if keep else "bench.db")

        def reset_sqlite(size: int) -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path_of(size)}{suffix}").unlink(missing_ok=True)

        run(
            "sqlite",
            lambda size: f"sqlite:///{path_of(size)}",
            args.sizes,
            reset=reset_sqlite,
            runs=args.runs,
            warmup=args.warmup,
            keep=keep,
            seed_revision=args.seed_revision,
        )

    if not args.sqlite_only:
        try:
            for size in args.sizes if keep else [0]:
                _create_pg_database(_pg_url(size, keep))
        except Exception as error:
            print(f"postgresql skipped: not reachable at {PG_URL} ({type(error).__name__})")
            return 0

        def reset_postgres(size: int) -> None:
            engine = create_engine(_pg_url(size, keep))
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            engine.dispose()

        run(
            "postgresql",
            lambda size: _pg_url(size, keep),
            args.sizes,
            reset=reset_postgres,
            runs=args.runs,
            warmup=args.warmup,
            keep=keep,
            seed_revision=args.seed_revision,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
