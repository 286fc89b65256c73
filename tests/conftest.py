"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), the Slack stand-in, and
the real app served over HTTP with signed requests going in."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from bot import db
from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.http import EVENTS_PATH, HttpServer, runtime_wsgi_app
from bot.jobs.delivery import Pace
from bot.logging_setup import configure_logging
from bot.runtime import Runtime, build_runtime
from bot.standin import SlackStandIn
from bot.standin.sender import SlackSender, SlackUser, WsgiTransport, http_transport

# The repository (tests live in tests/, mirroring bot/, handlers/ and models/).
REPO_ROOT = Path(__file__).resolve().parents[1]

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-standin"
TRIAGE = "CTRIAGE001"
DIGEST = "CDIGEST001"
TEST_PACE = Pace(rate=100.0, burst=50)
TEST_DB_DEADLINE_MS = 30_000  # see start_app
# AI_SIGNAL_DB_DEADLINE_MS's default, what operators run with: for the tests of the deadline.
DEFAULT_DB_DEADLINE_MS = "2000"
BASE_PG_URL = os.environ.get(
    "AI_SIGNAL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Every test run works in a database of its own on that server (created on first use, dropped
# when the run ends), so two runs against one server never touch each other's tables.
PG_URL = make_url(BASE_PG_URL).set(database=f"ai_signal_test_{os.getpid()}_{uuid.uuid4().hex[:8]}")
_pg_created = False


def _pg_reachable() -> str | None:
    url = make_url(BASE_PG_URL)
    host, port = url.host or "127.0.0.1", url.port or 5432
    try:
        with socket.create_connection((host, port), timeout=1):
            pass
    except OSError as error:
        return f"no PostgreSQL server at {host}:{port} ({error})"
    try:
        engine = create_engine(BASE_PG_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        return f"PostgreSQL at {host}:{port} refused the test database ({type(error).__name__})"
    return None


PG_SKIP_REASON = _pg_reachable()


def _admin(statement: str) -> None:
    engine = create_engine(BASE_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def _run_database() -> str:
    global _pg_created
    if not _pg_created:
        _admin(f'CREATE DATABASE "{PG_URL.database}"')
        # A commit need not wait for its WAL to reach the disk: this database is thrown away at
        # the end of the run, and only a crash of the server itself could lose a commit.
        _admin(f'ALTER DATABASE "{PG_URL.database}" SET synchronous_commit = off')
        _pg_created = True
    return PG_URL.render_as_string(hide_password=False)


def drop_run_database() -> None:
    """Called when the run ends (tests/conftest.py: pytest_sessionfinish)."""
    global _pg_created
    if _pg_created:
        if _reset_engine.cache_info().currsize:
            _reset_engine(_run_database()).dispose()
            _reset_engine.cache_clear()
        _admin(f'DROP DATABASE IF EXISTS "{PG_URL.database}" WITH (FORCE)')
        _pg_created = False


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_run_database()
    if _sqlite_template.cache_info().currsize:
        shutil.rmtree(_sqlite_template().parent, ignore_errors=True)


def reset_postgres() -> None:
    engine = create_engine(_run_database())
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test that takes this runs on SQLite and on PostgreSQL (skipped when unreachable).

    The database is empty and already at the migrations' head: migrating takes longer than most
    tests, so each worker migrates once (a template SQLite file; for PostgreSQL its run database,
    emptied between tests). `empty_database_url` and `postgres_url` start from nothing."""
    if request.param == "sqlite":
        return migrated_sqlite_url(tmp_path / "ai_signal.db")
    return migrated_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Like `database_url` but never migrated: for the tests of the migrations themselves."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ai_signal.db'}"
    return fresh_postgres()


@functools.cache
def _sqlite_template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="ai_signal_template_")) / "template.db"
    db.upgrade(f"sqlite:///{path}")
    return path


def migrated_sqlite_url(path: Path) -> str:
    """A SQLite file at `path`, already at the migrations' head (a copy of the worker's template),
    for tests that hand the URL to a process of their own."""
    copy_sqlite(_sqlite_template(), path)
    return f"sqlite:///{path}"


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API (journal mode and FTS tables included)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


_migrated_schema: str | None = None  # the fingerprint of the run database right after migrating


def _schema_fingerprint(connection) -> str:
    """Tables, columns, indexes, triggers and functions of `public`: a test that changed the
    schema (a downgrade, a trigger of its own) makes the next one start from scratch."""
    rows = connection.execute(
        text(
            "SELECT 't ' || table_name || '.' || column_name || ' ' || data_type"
            " FROM information_schema.columns WHERE table_schema = 'public'"
            " UNION ALL SELECT 'i ' || indexdef FROM pg_indexes WHERE schemaname = 'public'"
            " UNION ALL SELECT 'g ' || tgname FROM pg_trigger WHERE NOT tgisinternal"
            " UNION ALL SELECT 'f ' || p.proname FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            " UNION ALL SELECT 'v ' || version_num FROM alembic_version"
        )
    ).scalars()
    return "\n".join(sorted(rows))


def migrated_postgres() -> str:
    """The run database at the migrations' head with every table empty."""
    global _migrated_schema
    if PG_SKIP_REASON:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have PostgreSQL: {PG_SKIP_REASON}")
        pytest.skip(PG_SKIP_REASON)
    url = _run_database()
    engine = _reset_engine(url)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL lock_timeout = '20s'"))
        tables = (
            connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            .scalars()
            .all()
        )
        if (
            _migrated_schema is not None
            and "alembic_version" in tables
            and _schema_fingerprint(connection) == _migrated_schema
        ):
            _empty(connection, tables)
            return url
    reset_postgres()
    db.upgrade(url)
    with engine.connect() as connection:
        _migrated_schema = _schema_fingerprint(connection)
    return url


@functools.cache
def _reset_engine(url: str) -> Engine:
    """One connection kept (idle, holding nothing) between the worker's resets: a new one
    would cost a server process and cold catalog caches, about half of a reset's time."""
    return create_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True)


def _empty(connection, tables: list[str]) -> None:
    """Every row of every table but alembic_version gone, every sequence back at its start.
    DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes new files for every
    table and index (0.3-0.5 s a time here, against about 10 ms). Foreign keys and triggers
    are held off meanwhile (replica role): every table is emptied, so none is left dangling."""
    connection.execute(text("SET LOCAL session_replication_role = replica"))
    for table in sorted(tables):
        if table != "alembic_version":
            connection.execute(text(f'DELETE FROM "{table}"'))
    sequences = connection.execute(
        text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
    ).scalars()
    for sequence in sequences.all():
        connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))


@pytest.fixture
def postgres_url() -> str:
    """For the few tests about PostgreSQL alone (row locks): an empty test database."""
    return fresh_postgres()


def fresh_postgres() -> str:
    if PG_SKIP_REASON:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have PostgreSQL: {PG_SKIP_REASON}")
        pytest.skip(PG_SKIP_REASON)
    reset_postgres()
    return _run_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ai_signal.db'}"


@contextlib.contextmanager
def migrated_sessions(url: str) -> Iterator[Any]:
    """A session factory on `url`, migrated to head; its engine is disposed of afterwards."""
    db.upgrade(url)
    engine = db.create_db_engine(url)
    try:
        yield db.create_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn(bot_token=BOT_TOKEN)
    stand_in.add_channel(TRIAGE, name="ai-triage", is_member=True)
    stand_in.add_channel(DIGEST, name="ai-digest", is_member=True)
    stand_in.add_channel("CGENERAL01", name="general", is_member=False)
    stand_in.start()
    yield stand_in
    stand_in.stop()


def make_env(*, api_url: str, database_url: str, **overrides: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "AI_SIGNAL_TRIAGE_CHANNEL": TRIAGE,
        "AI_SIGNAL_DIGEST_CHANNEL": DIGEST,
        "AI_SIGNAL_LEADS": "ULEAD00001",
        "AI_SIGNAL_ANON_DELAY": "0",
        "AI_SIGNAL_CODE_KEY": "test-code-key",
        # The stand-in has no rate limit unless a test sets one (as TEST_PACE in process):
        # posts that wait on Slack's 1/s would make a process test wait on them too.
        "AI_SIGNAL_CHANNEL_POSTS_PER_SECOND": "20",
        "LOG_LEVEL": "DEBUG",
    }
    env.update(overrides)
    return env


# What configures the app besides the SLACK_ and AI_SIGNAL_ variables.
_APP_VARIABLES = ("DATABASE_URL", "PORT", "LOG_LEVEL", "LOG_FORMAT")


def run_cli(
    args: Iterable[str],
    *,
    environment: dict[str, str],
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """`ai-signal ARGS` through the CLI's `main`, in this process, as an operator's shell would
    run it: only `environment` configures it (the app's variables of the test process are
    removed for the call), from `workdir`; what it printed and its exit status come back as a
    CompletedProcess. For the commands whose process is not the point: a subprocess costs
    about a second of CPU (the tests of start-up, exit through `sys.exit` and `run` start one).

    Afterwards os.environ is exactly as before (what the command set itself too: python-dotenv
    loads the working directory's .env into it), and so are the working directory and logging.
    A warning the command raises is printed on its stderr as a fresh interpreter would (Python's
    default filters), not recorded by pytest: "one line on stderr" counts it.
    With `timeout` (seconds) `main` runs on a thread of its own and the test fails if it has not
    returned by then: for commands that could hang (a database server that never answers). A
    `run` that got as far as serving fails there at once: signal handlers are the main thread's."""
    from bot import cli

    args = list(args)
    saved_logging = _logging_state()
    saved_environ = dict(os.environ)
    with monkeypatch.context() as patch:
        for key in list(os.environ):
            if key.startswith(("SLACK_", "AI_SIGNAL_")) or key in _APP_VARIABLES:
                patch.delenv(key)
        for key, value in environment.items():
            patch.setenv(key, value)
        patch.chdir(workdir)
        capsys.readouterr()
        try:
            with _warnings_as_a_process_shows_them():
                code = _call_main(cli.main, args, timeout)
        finally:
            _restore_logging(saved_logging)
            _restore_environ(saved_environ)
        out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["ai-signal", *args], code, out, err)


def _call_main(main: Callable[[list[str]], int], args: list[str], timeout: float | None) -> int:
    def call() -> int:
        try:
            return main(args)
        except SystemExit as exit_:  # argparse's usage errors, --version
            return exit_.code if isinstance(exit_.code, int) else 2

    if timeout is None:
        return call()
    outcome: dict[str, Any] = {}

    def on_thread() -> None:
        try:
            outcome["code"] = call()
        except BaseException as error:  # handed to the test's thread below
            outcome["error"] = error

    thread = threading.Thread(target=on_thread, name="ai-signal main", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"ai-signal {' '.join(args)} did not return within {timeout:g}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["code"]


# A fresh interpreter's warning filters (python -c "import warnings; print(warnings.filters)").
_PROCESS_WARNING_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
)


@contextlib.contextmanager
def _warnings_as_a_process_shows_them() -> Iterator[None]:
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.resetwarnings()
        for action, category, module in reversed(_PROCESS_WARNING_FILTERS):
            warnings.filterwarnings(action, category=category, module=module)
        warnings.showwarning = show
        yield


def _restore_environ(saved: dict[str, str]) -> None:
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _logging_state() -> tuple[list[logging.Handler], int, dict[str, int]]:
    loggers = logging.Logger.manager.loggerDict.items()
    levels = {name: each.level for name, each in loggers if isinstance(each, logging.Logger)}
    root = logging.getLogger()
    return list(root.handlers), root.level, levels


def _restore_logging(state: tuple[list[logging.Handler], int, dict[str, int]]) -> None:
    """Logging as it was before a command configured it: the root's handlers and level, and
    every logger's level. Bolt copies the root's level into each logger it creates, so a
    command's WARNING would otherwise stay on those loggers for the rest of the worker."""
    handlers, level, levels = state
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, each in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(each, logging.Logger):
            each.setLevel(levels.get(name, logging.NOTSET))


@dataclass
class RunningApp:
    """The real app: `sender` signs requests into it as Slack does.

    With the "wsgi" transport (the default) the sender calls the app's WSGI callable in the test
    thread, so the edge (signature check, parsing) and Bolt run exactly as behind waitress but no
    socket is opened; `server` and `url` start waitress on a free port the first time a test asks
    for them (health checks, raw HTTP). With "http" waitress serves from the start and the sender
    posts over the socket."""

    runtime: Runtime
    wsgi: Callable[..., Iterable[bytes]]
    sender: SlackSender
    standin: SlackStandIn
    log: io.StringIO
    _server: HttpServer | None = None

    @property
    def server(self) -> HttpServer:
        if self._server is None:
            self._server = HttpServer(self.wsgi, host="127.0.0.1", port=0).start()
        return self._server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def finish_listeners(self, timeout: float = 30.0) -> None:
        """Return once every listener Bolt had started (they run after the ack, on its executor)
        has finished: one barrier task per executor thread runs only when each thread is free,
        so "nothing changed afterwards" can be checked without a sleep."""
        executor = self.runtime.app.listener_runner.listener_executor
        threads = executor._max_workers  # ThreadPoolExecutor's size; no public accessor
        barrier = threading.Barrier(threads + 1)
        for _ in range(threads):
            executor.submit(barrier.wait, timeout)
        barrier.wait(timeout)

    def drain(self) -> int:
        """Deliver what is due now, in the test thread (`DeliveryWorker.drain`): afterwards
        nothing due is left pending, so "nothing more was posted" can be checked at once."""
        return self.runtime.worker.drain()

    def settle(self, *, held: bool = False, rounds: int = 50) -> None:
        """Let everything the requests so far set off happen, then return: every listener has
        finished and everything due is delivered, in the test thread. No polling: listeners
        are the only thing that queue deliveries, and a delivery may let a listener's follow-up
        (a thread reply waiting for its parent post) become due, so the two alternate until a
        round does nothing.

        Afterwards nothing pending is due, unless `held`: a test that made Slack refuse or
        hold a post back (a 429, a 5xx) expects items to wait for their channel."""
        for _ in range(rounds):
            self.finish_listeners()
            if not self.drain():
                break
        else:
            raise AssertionError(f"still delivering after {rounds} rounds")
        if not held:
            due = self.due_items()
            assert not due, f"due but not delivered: {due}"

    def due_items(self) -> list[tuple[str, str | None]]:
        """(purpose, last error) of the outbox items a worker would claim now: pending, due by
        the app's clock, and (for thread replies and updates) with their parent post made."""
        from sqlalchemy import or_, select

        from models import OutboxItem, OutboxPurpose, OutboxState, Signal

        parent_posted = select(Signal.id).where(
            Signal.id == OutboxItem.signal_id, Signal.triage_ts.is_not(None)
        )
        query = select(OutboxItem.purpose, OutboxItem.last_error).where(
            OutboxItem.state == OutboxState.PENDING.value,
            OutboxItem.due_at <= self.runtime.clock(),
            or_(OutboxItem.purpose == OutboxPurpose.TRIAGE_POST.value, parent_posted.exists()),
        )
        with self.runtime.sessions() as session:
            return [tuple(row) for row in session.execute(query)]

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self.runtime.stop()


Transport = Literal["wsgi", "http"]


def start_app(
    standin: SlackStandIn,
    database_url: str,
    *,
    clock: Clock | None = None,
    transport: Transport = "wsgi",
    worker: bool = False,
    poll_interval: float = 0.05,
    **env_overrides: str,
) -> RunningApp:
    """The real app (migrations, Bolt, the HTTP edge, delivery worker); `clock` replaces the wall
    clock (delayed release, reminders, schedules). `transport="http"` serves it with waitress on a
    free port and sends over the socket (where the socket is the point); see `RunningApp`.

    The delivery worker's thread runs only with `worker=True` (for tests about the worker waking
    up and retrying by itself). Otherwise nothing races the test: `RunningApp.settle()` delivers
    in the test thread, and what Slack has seen afterwards is all there will be.

    Requests get 30 s to finish their database work, not the 2 s an operator may set at most:
    no Slack is waiting here, and on a loaded machine 2 s answer "database busy" where a test
    is not about that. Tests of the deadline pass AI_SIGNAL_DB_DEADLINE_MS themselves."""
    log = io.StringIO()
    settings = Settings.from_env(
        make_env(api_url=standin.url, database_url=database_url, **env_overrides), http=True
    )
    if "AI_SIGNAL_DB_DEADLINE_MS" not in env_overrides:
        settings = dataclasses.replace(settings, db_deadline_ms=TEST_DB_DEADLINE_MS)
    configure_logging("DEBUG", stream=log)
    # Slack's pace (1/s per channel) would make every multi-post test take seconds; the stand-in
    # has no rate limit unless a test sets one, and tests/bot/jobs/delivery checks the real pace.
    runtime = build_runtime(
        settings, poll_interval=poll_interval, pace=TEST_PACE, **({"clock": clock} if clock else {})
    )
    if worker:
        runtime.worker.start()
    wsgi = runtime_wsgi_app(runtime, signing_secret=SIGNING_SECRET)
    server = None
    if transport == "http":
        server = HttpServer(wsgi, host="127.0.0.1", port=0).start()
        events_url, send = f"http://127.0.0.1:{server.port}/slack/events", http_transport
    else:
        events_url, send = f"http://in-process{EVENTS_PATH}", WsgiTransport(wsgi)
    sender = SlackSender(
        url=events_url,
        signing_secret=SIGNING_SECRET,
        trigger_ids=standin.issue_trigger_id,
        response_urls=standin.new_response_url,
        transport=send,
    )
    return RunningApp(
        runtime=runtime, wsgi=wsgi, sender=sender, standin=standin, log=log, _server=server
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "worker: `running_app` runs the delivery worker's thread (retries after real waits)",
    )


@pytest.fixture
def running_app(
    request: pytest.FixtureRequest, standin: SlackStandIn, database_url: str
) -> Iterator[RunningApp]:
    """The app; with `@pytest.mark.worker` its delivery worker runs on its own thread."""
    app = start_app(
        standin, database_url, worker=request.node.get_closest_marker("worker") is not None
    )
    yield app
    app.stop()
    logging.getLogger().handlers.clear()


ALICE = SlackUser(id="UALICE0001", name="alice.w")
LEAD = SlackUser(id="ULEAD00001", name="lead.person")


# -- shared helpers ------------------------------------------------------------------------------

BOB = SlackUser(id="UBOB000002", name="bob.k")


class MovableClock:
    """Real time plus an offset the test moves: `clock.advance(seconds)` (negative is fine)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return utc_now() + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def start_app_with_clock(
    standin: SlackStandIn,
    database_url: str,
    clock: Clock,
    *,
    worker: bool = False,
    **env_overrides: str,
) -> RunningApp:
    """Like `start_app`, with the app's clock given (delayed anonymous release, schedules)."""
    return start_app(standin, database_url, clock=clock, worker=worker, **env_overrides)


def wait_until(
    predicate: Callable[[], Any],
    what: str = "",
    timeout: float = 8.0,
    *,
    interval: float = 0.01,
) -> Any:
    """Check `predicate` until it returns something truthy and return that; fail after `timeout`
    seconds. For conditions no event announces (rows in the database, log lines); for calls
    reaching Slack prefer `standin.wait_for`, which blocks on the stand-in's condition."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what or predicate}")
        time.sleep(interval)


def count_rows(app: RunningApp, model) -> int:
    from sqlalchemy import func, select

    with app.runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def signal_rows(app: RunningApp) -> list:
    from sqlalchemy import select

    from models import Signal

    with app.runtime.sessions() as session:
        return list(session.scalars(select(Signal)))


def outbox_rows(app: RunningApp) -> list:
    from sqlalchemy import select

    from models import OutboxItem

    with app.runtime.sessions() as session:
        return list(session.scalars(select(OutboxItem)))


def followup_code(receipt: str) -> str:
    """The follow-up code in an anonymous receipt (shown in backticks)."""
    import re

    match = re.search(r"`([A-Z2-7]{4}(?:-[A-Z2-7]{4}){5,})`", receipt)
    assert match, f"no follow-up code in {receipt!r}"
    return match.group(1)
