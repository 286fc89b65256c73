"""One engine per process, one session per unit of work, migrations applied through Alembic."""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from bot.config import ConfigError, check_database_url
from models import migrations

T = TypeVar("T")  # what a transaction's `begin()` yields: a Session or a Connection

SQLITE_BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_SECONDS = 5  # for the start-up check of a PostgreSQL server
WRITE_OPTION = "ai_signal_writes"
DEFAULT_DEADLINE_MS = 2000
# SQLite connections kept open between units of work: one per listener thread (bot.app's
# LISTENER_THREADS) and a few for the HTTP server's threads, the delivery worker and the jobs.
# SQLAlchemy's default keeps 5 and closes every connection beyond them when it is returned, so
# under concurrent requests most units of work opened a new connection, which reads and parses
# the whole schema (indexes, triggers) and prepares every statement again.
SQLITE_POOL_SIZE = 20
# The monotonic time by which the current thread's unit of work must be done (None: no bound).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "ai_signal_db_deadline", default=None
)
# The monotonic time at which the request being handled on this thread arrived (None: not a
# request). Set by the Bolt app at dispatch and carried into the listener's thread.
_REQUEST_ARRIVED: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "ai_signal_request_arrived", default=None
)
# PostgreSQL reports a lock wait or statement cut short by these SQLSTATEs.
_PG_BUSY = frozenset({"55P03", "57014"})  # lock_not_available, query_canceled


class DeadlineExceeded(Exception):
    """The database could not finish a unit of work within its deadline; nothing was kept."""


def create_db_engine(url: str) -> Engine:
    """An engine that never echoes statement parameters (they may hold user text)."""
    engine = _new_engine(_driver_url_of(url))
    hooks = _SqliteHooks() if engine.dialect.name == "sqlite" else _PostgresqlHooks()
    engine.__dict__[_HOOKS] = hooks

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        hooks.begin(connection, writes=bool(connection.get_execution_options().get(WRITE_OPTION)))

    event.listen(engine, "commit", hooks.release)
    event.listen(engine, "rollback", hooks.release)
    return engine


def _driver_url_of(url: str) -> str:
    """`url` with the PostgreSQL driver this app installs (psycopg 3) when it names another."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # psycopg 3 is the driver this project ships with.
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _new_engine(url: str) -> Engine:
    """The engine and pool for `url`, with the connection settings (no connection events)."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=SQLITE_POOL_SIZE,
        )
        event.listen(engine, "connect", _prepare_sqlite_connection)  # a pool event
        return engine
    return create_engine(url, hide_parameters=True, pool_pre_ping=True)


# Where an engine keeps its _Hooks and its Core twin (see core_twin).
_HOOKS = "_ai_signal_hooks"
_TWIN = "_ai_signal_core_twin"
_TWIN_LOCK = threading.Lock()


class _Hooks:
    """What every transaction of an engine does at its start and end: the engine's begin,
    commit and rollback events call these, and so does `connection_unit` on the Core twin,
    which has no events. `error_seen` hears of every database error of both."""

    def __init__(self) -> None:
        self.error_seen: list[Callable[[object], None]] = []

    def begin(self, connection: Connection, *, writes: bool) -> None:
        raise NotImplementedError

    def release(self, connection: Connection) -> None:
        """After the commit or rollback."""


class _PostgresqlHooks(_Hooks):
    def begin(self, connection: Connection, *, writes: bool) -> None:
        remaining = _remaining_ms()
        if remaining is None:
            return
        # Local to this transaction: waits for locks and each statement end at the deadline.
        connection.exec_driver_sql(
            "SELECT set_config('lock_timeout', %(ms)s, true), "
            "set_config('statement_timeout', %(ms)s, true)",
            {"ms": f"{remaining}ms"},
        )


class _SqliteHooks(_Hooks):
    """SQLite has one writer at a time. Writers in this process queue on a Python lock (fair,
    no sleeping) before they take SQLite's own lock; SQLite's busy timeout still covers other
    processes. Readers use a deferred BEGIN and, with WAL, never wait for writers."""

    def __init__(self) -> None:
        super().__init__()
        self._writers = threading.RLock()

    def begin(self, connection: Connection, *, writes: bool) -> None:
        if not writes:
            _set_busy_timeout(connection, _wait_ms())
            connection.exec_driver_sql("BEGIN")
            return
        if not self._writers.acquire(timeout=_wait_ms() / 1000):
            raise OperationalError("BEGIN IMMEDIATE", None, TimeoutError("database is busy"))
        connection.info["holds_write_lock"] = True
        try:
            # Another process may hold SQLite's lock: wait for it no longer than the deadline.
            _set_busy_timeout(connection, _wait_ms())
            # Take SQLite's write lock up front: a deferred transaction that later writes can
            # fail with "database is locked" without waiting for the busy timeout.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except Exception:
            self.release(connection)
            raise

    def release(self, connection: Connection) -> None:
        if connection.info.pop("holds_write_lock", False):
            self._writers.release()


def _remaining_ms() -> int | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return None
    return max(int((deadline - time.monotonic()) * 1000), 1)


def _wait_ms() -> int:
    """How long SQLite may wait for a lock now: what is left of the deadline, or the default."""
    remaining = _remaining_ms()
    return SQLITE_BUSY_TIMEOUT_MS if remaining is None else remaining


def _prepare_sqlite_connection(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the SQLAlchemy
    # SQLite docs, "Serializable isolation / Savepoints / Transactional DDL").
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")  # erased text is zeroed, not left in free space
    # Statement journals in memory: an INSERT or UPDATE of `signals` (triggers, ON CONFLICT)
    # keeps one while it runs, and with temporary files each filing and each lead action
    # created, wrote and deleted a file (about a fifth of SQLite's CPU for a filing).
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _set_busy_timeout(connection: Connection, busy_ms: int) -> None:
    # Set at every begin, readers included: a request's short timeout must not stay on the
    # pooled connection for the next user (a background job expects the full 10 s).
    if connection.info.get("busy_timeout_ms", SQLITE_BUSY_TIMEOUT_MS) != busy_ms:
        # Straight to the driver: requests set it at almost every begin (their deadlines
        # differ), and a PRAGMA that sets a number needs none of SQLAlchemy's execution.
        connection.connection.dbapi_connection.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        connection.info["busy_timeout_ms"] = busy_ms


def on_database_error(engine: Engine, callback: Callable[[object], None]) -> None:
    """Call `callback` at every database error of `engine`'s units of work, those of its Core
    twin (`connection_unit`) included: the engine's `handle_error` event, and the twin's
    units, which have no events, when they end with one."""
    event.listen(engine, "handle_error", callback)
    engine.__dict__[_HOOKS].error_seen.append(callback)


def core_twin(engine: Engine) -> Engine:
    """A second engine on the same database, with a pool of its own and no connection events,
    for `connection_unit`: SQLAlchemy runs the events of every statement (before and after
    execute, before and after the cursor, on the writer engine through a joined dispatch) as
    soon as an engine has any connection event, and the hot paths' statements paid for that
    about a sixth of their CPU. `connection_unit` does what the events would (`_Hooks`); the
    twin is disposed of with `engine`."""
    twin = engine.__dict__.get(_TWIN)
    if twin is not None:
        return twin
    with _TWIN_LOCK:
        twin = engine.__dict__.get(_TWIN)
        if twin is None:
            twin = _new_engine(engine.url.render_as_string(hide_password=False))
            event.listen(engine, "engine_disposed", lambda _engine: twin.dispose())
            engine.__dict__[_TWIN] = twin
    return twin


class AppSession(Session):
    """A session that tells the engine whether it is a unit of work that writes.

    `sessions.begin()` (explicit begin) marks a writing unit of work; a plain `sessions()` used
    for reading begins lazily and stays a reader. Only SQLite acts on the difference.
    """

    def begin(self, nested: bool = False):
        self.info["writes"] = True
        return super().begin(nested=nested)

    def get_bind(self, mapper=None, *, clause=None, **kwargs):
        bind = super().get_bind(mapper, clause=clause, **kwargs)
        if self.info.get("writes") and isinstance(bind, Engine):
            return _writer_engine(bind)
        return bind


def _writer_engine(engine: Engine) -> Engine:
    writer = engine.__dict__.get("_ai_signal_writer")
    if writer is None:
        writer = engine.execution_options(**{WRITE_OPTION: True})
        engine.__dict__["_ai_signal_writer"] = writer
    return writer


def insert_ignoring_duplicates(session: Session | Connection, table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the primary key, on SQLite and PostgreSQL.

    A duplicate key leaves the row as it was and returns no row, without failing the transaction
    (no SAVEPOINT needed). Check `.first() is not None`: rowcount is not reliable here (psycopg
    reports -1)."""
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    return _insert_ignoring_duplicates(dialect.name, table)


@functools.cache
def _insert_ignoring_duplicates(dialect: str, table: Table) -> Insert:
    if dialect == "sqlite":
        statement = sqlite_insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql_insert(table).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"no duplicate-ignoring insert for {dialect}")
    return statement.returning(*table.primary_key.columns)


@contextmanager
def unit_of_work(sessions: sessionmaker[Session], *, deadline_ms: int | None) -> Iterator[Session]:
    """`sessions.begin()` for a request: done within `deadline_ms`, or rolled back.

    Every wait is bounded by what is left of the deadline: the in-process writer lock and
    SQLite's busy timeout, PostgreSQL's lock and statement timeouts (set for this transaction
    only). When the work is done after the deadline, it is rolled back instead of committed: the
    answer would reach Slack too late for anyone to see it. Either way `DeadlineExceeded` is
    raised and nothing is kept. Inside a request (`request_arrived`), the deadline counts from
    the request's arrival, so a unit of work that starts late gets only what is left.
    `deadline_ms=None` is a plain `sessions.begin()` (background jobs, which may wait longer).
    """
    with _within_deadline(sessions.begin, deadline_ms, before_commit=Session.flush) as session:
        yield session


@contextmanager
def connection_unit(
    sessions: sessionmaker[Session], *, deadline_ms: int | None
) -> Iterator[Connection]:
    """`unit_of_work` on a Core connection of the engine's twin (`core_twin`), for a request
    whose writes are all Core statements (filing a signal, a lead's quick action): the same
    writer lock, deadline and rollback, without the ORM session's bookkeeping around every
    statement, begin and commit, and without the engine's per-statement events."""
    engine = sessions.kw["bind"]
    with _within_deadline(lambda: _core_transaction(engine), deadline_ms) as connection:
        yield connection


@contextmanager
def _core_transaction(engine: Engine) -> Iterator[Connection]:
    """`engine.begin()` on the twin, doing at begin and end what `engine`'s events do."""
    hooks: _Hooks = engine.__dict__[_HOOKS]
    try:
        with core_twin(engine).connect() as connection:
            try:
                with connection.begin():  # committed, or rolled back, before the release
                    hooks.begin(connection, writes=True)
                    yield connection
            finally:
                hooks.release(connection)
    except DBAPIError as error:
        for seen in hooks.error_seen:
            seen(error)
        raise


@contextmanager
def _within_deadline(
    begin: Callable[[], AbstractContextManager[T]],
    deadline_ms: int | None,
    *,
    before_commit: Callable[[T], object] | None = None,
) -> Iterator[T]:
    """The transaction `begin()` opens, bounded by `deadline_ms` (see `unit_of_work`); with no
    deadline, just the transaction. `before_commit` runs inside it, before the deadline check
    (the session's flush, so its statements count against the deadline too)."""
    if deadline_ms is None:
        with begin() as unit:
            yield unit
        return
    with _bounded(deadline_ms) as end, begin() as unit:
        yield unit
        if before_commit is not None:
            before_commit(unit)
        if time.monotonic() > end:
            raise DeadlineExceeded("the unit of work ran past its deadline")


@contextmanager
def _bounded(deadline_ms: int) -> Iterator[float]:
    """Every database wait inside ends at the request's deadline (the monotonic time yielded);
    a wait cut short, or a request already too old, raises `DeadlineExceeded`."""
    end = _deadline_end(deadline_ms)
    if time.monotonic() >= end:
        raise DeadlineExceeded("the request was already too old for its answer to be seen")
    token = _DEADLINE.set(end)
    try:
        yield end
    except OperationalError as error:
        if not _is_busy(error):
            raise
        raise DeadlineExceeded("the database was busy") from None
    finally:
        _DEADLINE.reset(token)


@contextmanager
def read_unit(sessions: sessionmaker[Session], *, deadline_ms: int | None) -> Iterator[Session]:
    """A reading session for a request: its waits end with the deadline, like `unit_of_work`.

    PostgreSQL gets the same per-transaction lock and statement timeouts (a reader waits behind
    an ACCESS EXCLUSIVE lock); SQLite's busy timeout is bounded too (in WAL mode readers do not
    wait for writers). A wait cut short raises `DeadlineExceeded`; nothing is written either way.
    `deadline_ms=None` is a plain `sessions()`.
    """
    if deadline_ms is None:
        with sessions() as session:
            yield session
        return
    with _bounded(deadline_ms), sessions() as session:
        yield session


@contextmanager
def request_arrived(at: float) -> Iterator[None]:
    """Within this block (and in contexts copied from it), a request's unit of work must end
    `deadline_ms` after `at` (a `time.monotonic()` reading), not after its own start: time the
    request spent before the transaction (authorization, waiting for a listener thread) counts."""
    token = _REQUEST_ARRIVED.set(at)
    try:
        yield
    finally:
        _REQUEST_ARRIVED.reset(token)


def _deadline_end(deadline_ms: int) -> float:
    now = time.monotonic()
    end = now + deadline_ms / 1000
    arrived = _REQUEST_ARRIVED.get()
    if arrived is not None:
        end = min(end, arrived + deadline_ms / 1000)
    return end


def _is_busy(error: OperationalError) -> bool:
    orig = error.orig
    if isinstance(orig, TimeoutError):  # the in-process writer lock
        return True
    if getattr(orig, "sqlite_errorcode", None) in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
        return True
    if "database is locked" in str(orig):
        return True
    return getattr(orig, "sqlstate", None) in _PG_BUSY


def empty_sqlite_wal(engine: Engine) -> bool:
    """SQLite: copy the WAL into the database file and truncate it, so no old frame keeps text
    that was just overwritten (secure_delete zeroed the pages themselves). False if a reader
    kept it from being emptied; True on success and on other databases (nothing to do)."""
    if engine.dialect.name != "sqlite":
        return True
    # Outside any transaction (the pooled DBAPI connection is in autocommit mode): a
    # checkpoint cannot empty the WAL past a read transaction of its own.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        busy, _, _ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        connection.close()
    return not busy


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, class_=AppSession, expire_on_commit=False)


def database_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


# pg_advisory_lock key under which models/migrations/env.py upgrades: one upgrade at a time. Fixed, so
# every instance and every version agrees on it.
MIGRATION_LOCK_KEY = 0x61695F7369676E  # "ai_sign" in ASCII


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (the `ai-signal db upgrade` command and `run` at start).

    Checks first that the database can be used at all (`check_database`); several processes may
    upgrade at once (models/migrations/env.py serialises them).
    """
    check_database(url)
    if revision == "head" and at_head(url):
        # Every start of every instance comes here; Alembic's own path loads and runs env.py and
        # every revision script even when there is nothing to do.
        return
    from alembic import command

    command.upgrade(alembic_config(url), revision)


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions the code expects the schema at (read from the scripts once per process)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def schema_revisions(url: str) -> frozenset[str]:
    """The revisions the database at `url` says it is at (empty when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(_driver_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return frozenset(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def at_head(url: str) -> bool:
    """True when nothing is left to migrate. A database that cannot say (busy: another process
    is migrating it right now) is not at head: Alembic's path then waits for that upgrade."""
    try:
        return schema_revisions(url) == head_revisions()
    except DBAPIError:
        return False


def _driver_url(url: str) -> str:
    """`_driver_url_of` a URL that `check_database_url` accepts (ConfigError otherwise)."""
    return _driver_url_of(check_database_url(url))


def check_database(url: str, *, connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> None:
    """Raise ConfigError (one line naming DATABASE_URL) unless the database answers.

    A SQLite file may be created, its folder is not: a missing folder is far more often a typo
    than a wish. A PostgreSQL server gets `connect_timeout` seconds to answer.
    """
    parsed = make_url(check_database_url(url))
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return
        path = Path(parsed.database).expanduser()
        if not path.parent.is_dir():
            raise ConfigError(
                "DATABASE_URL",
                f"the folder {str(path.parent)!r} for the SQLite file does not exist "
                "(ai-signal creates the file, not its folder)",
            )
        connect_args: dict[str, object] = {}
        where = f"the SQLite file {str(path)!r}"
    else:
        url = _driver_url(url)
        connect_args = {"connect_timeout": connect_timeout}
        where = f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}"
    probe = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        raise ConfigError("DATABASE_URL", f"cannot connect to {where}: {_reason(error)}") from None
    finally:
        probe.dispose()


def _reason(error: DBAPIError) -> str:
    """The driver's own words, on one line, without the "connection to server at …" preamble."""
    lines = [line.strip() for line in str(error.orig).splitlines() if line.strip()]
    first = lines[0] if lines else type(error.orig).__name__
    first = first.rsplit(" failed: ", 1)[-1]
    return first.removeprefix("FATAL:").strip()
