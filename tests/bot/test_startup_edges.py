"""Start-up edges of the `ai-signal` command line: a DATABASE_URL the app cannot use, several
instances migrating one empty database at once, `--version`. (`run --port 0`, served by a real
process until SIGTERM, is in tests/bot/test_startup.py.)

Most run the CLI's `main` in this process (tests.conftest.run_cli): what it prints and the status
it returns. One configuration error is a real `python -m bot`, where the process is the point:
one line on stderr and nothing else, exit status 2 through `sys.exit`. The concurrent
upgrades are processes of their own forked from one launcher that imported the app once
(tests.forked_cli): separate processes and connections, without nine imports a test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import REPO_ROOT, fresh_postgres, make_env, run_cli, wait_until
from tests.forked_cli import ForkedCli

ROOT = REPO_ROOT
PASSWORD = "pw-never-shown"


def cli_env(*, database_url: str, **overrides: str) -> dict[str, str]:
    """The environment an operator's process would have: make_env's settings, nothing inherited
    that could carry a developer's .env values."""
    env = make_env(api_url="http://127.0.0.1:9/api/", database_url=database_url, **overrides)
    env.update(
        {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": overrides.get("LOG_LEVEL", "INFO"),
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    return env


def ai_signal(
    env: dict[str, str], cwd: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli(tmp_path: Path, monkeypatch, capsys):
    """`ai-signal ARGS` with cli_env's settings, from tmp_path, in this process."""

    def run(
        env: dict[str, str], *args: str, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(
            args,
            environment=env,
            workdir=tmp_path,
            monkeypatch=monkeypatch,
            capsys=capsys,
            timeout=timeout,
        )

    return run


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung database server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


# -- a DATABASE_URL the app cannot use ----------------------------------------------------------

COMMANDS = [("run", "--http", "--port", "0"), ("db", "upgrade"), ("export", "--format", "csv")]


def assert_one_line_naming_database_url(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    [line] = lines
    assert line.startswith("ai-signal: configuration error: DATABASE_URL: "), line
    assert "Traceback" not in result.stderr + result.stdout
    assert PASSWORD not in result.stderr + result.stdout
    return line


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"postgresq://ai:{PASSWORD}@127.0.0.1/x", "unknown database 'postgresq'"),
        (f"mysql://ai:{PASSWORD}@127.0.0.1/x", "unknown database 'mysql'"),
        (f"postgresql://ai:{PASSWORD}@127.0.0.1:5x432/x", "not a valid database URL"),
    ],
    ids=["typo", "dialect", "port"],
)
def test_malformed_database_url_is_one_line_exit_2(cli, command, url, says):
    line = assert_one_line_naming_database_url(cli(cli_env(database_url=url), *command))
    assert says in line


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_sqlite_file_in_missing_folder_is_refused_not_created(cli, tmp_path, command):
    url = f"sqlite:///{tmp_path / 'data' / 'ai_signal.db'}"
    line = assert_one_line_naming_database_url(cli(cli_env(database_url=url), *command))
    assert str(tmp_path / "data") in line and "does not exist" in line
    assert not (tmp_path / "data").exists()


def test_relative_sqlite_path_in_missing_folder_is_refused(cli, tmp_path):
    result = cli(cli_env(database_url="sqlite:///data/ai_signal.db"), "db", "upgrade")
    assert "'data'" in assert_one_line_naming_database_url(result)
    assert not (tmp_path / "data").exists()


def test_default_database_url_works_on_a_fresh_checkout(cli, tmp_path):
    env = cli_env(database_url="")
    del env["DATABASE_URL"]
    result = cli(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ai_signal.db").is_file()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_unreachable_postgresql_names_host_port_and_reason(cli, command):
    port = closed_port()
    url = f"postgresql+psycopg://ai:{PASSWORD}@127.0.0.1:{port}/ai_signal"
    line = assert_one_line_naming_database_url(cli(cli_env(database_url=url), *command))
    assert f"127.0.0.1:{port}" in line and "Connection refused" in line


def test_a_real_process_says_the_configuration_error_in_one_line_and_exits_2(tmp_path):
    """The one configuration error seen from outside a real `python -m bot`: its stderr holds
    that line and nothing else (no warning, no log line, no traceback), and the shell gets 2."""
    port = closed_port()
    url = f"postgresql+psycopg://ai:{PASSWORD}@127.0.0.1:{port}/ai_signal"
    result = ai_signal(cli_env(database_url=url), tmp_path, "run", "--http", "--port", "0")
    line = assert_one_line_naming_database_url(result)
    assert f"127.0.0.1:{port}" in line and "Connection refused" in line


def test_a_port_in_use_is_one_line_and_exit_2_after_a_clean_stop(tmp_path):
    """Another program holds the port: a real `python -m bot run --http` says so in one line
    (no traceback), stops what it had started, and the shell gets 2, as for any configuration
    error."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = cli_env(database_url=f"sqlite:///{tmp_path / 'a.db'}", LOG_LEVEL="ERROR")
        result = ai_signal(
            env, tmp_path, "run", "--http", "--host", "127.0.0.1", "--port", str(port)
        )
    assert result.returncode == 2, result.stderr
    assert f"PORT: 127.0.0.1:{port} is already in use by another program" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_hung_postgresql_server_does_not_hang_start(cli, silent_server):
    url = f"postgresql://ai:{PASSWORD}@127.0.0.1:{silent_server}/ai_signal"
    started = time.monotonic()
    result = cli(cli_env(database_url=url), "run", "--http", timeout=40)
    took = time.monotonic() - started
    line = assert_one_line_naming_database_url(result)
    assert f"127.0.0.1:{silent_server}" in line and "timeout" in line
    assert took < 30


# -- several instances upgrading one empty database at once -------------------------------------


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from bot.db import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def schema_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def forked() -> Iterator[ForkedCli]:
    launcher = ForkedCli(cli_env(database_url="sqlite://"))
    yield launcher
    launcher.close()


def upgrade_at_once(
    forked: ForkedCli, url: str, cwd: Path, count: int = 3
) -> list[subprocess.CompletedProcess[str]]:
    forked.start(["db", "upgrade"], count=count, env=cli_env(database_url=url), cwd=cwd)
    return forked.results()


def test_three_concurrent_upgrades_of_empty_postgresql_all_succeed(forked, postgres_url, tmp_path):
    # The race is a matter of timing: a few rounds on an emptied database make a lost one show.
    for round_number in range(3):
        url = fresh_postgres() if round_number else postgres_url
        for result in upgrade_at_once(forked, url, tmp_path):
            assert result.returncode == 0, result.stderr[-3000:]
            assert "database is up to date" in result.stdout
        assert schema_revision(url) == head_revision()


def test_upgrade_waits_for_the_migration_lock(forked, postgres_url, tmp_path):
    """The lock is pg_advisory_lock on the key env.py uses: while someone else holds it, an
    upgrade waits and migrates nothing; once it is released, the upgrade finishes."""
    from bot.db import MIGRATION_LOCK_KEY

    holder = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with holder.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            forked.start(
                ["db", "upgrade"], count=1, env=cli_env(database_url=postgres_url), cwd=tmp_path
            )
            try:

                def waiting_for_the_lock() -> bool:
                    assert not forked.done(), forked.results()
                    return bool(
                        lock.execute(
                            text(
                                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND NOT granted AND pid <> pg_backend_pid()"
                            )
                        ).scalar()
                    )

                wait_until(waiting_for_the_lock, timeout=30, what="the upgrade to wait")
                tables = lock.execute(
                    text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                ).scalar()
                assert tables == 0  # nothing migrated while the lock is held elsewhere
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            [result] = forked.results(timeout=60)
    finally:
        holder.dispose()
    assert result.returncode == 0, result.stderr
    assert schema_revision(postgres_url) == head_revision()


def test_concurrent_upgrades_of_a_fresh_sqlite_file_all_succeed(forked, tmp_path):
    # As on PostgreSQL, a few rounds.
    for round_number in range(3):
        url = f"sqlite:///{tmp_path / f'round{round_number}.db'}"
        for result in upgrade_at_once(forked, url, tmp_path):
            assert result.returncode == 0, result.stderr[-3000:]
        assert schema_revision(url) == head_revision()


# -- --version ---------------------------------------------------------------------------------


def test_version(cli):
    from importlib.metadata import version

    result = cli({}, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ai-signal {version('ai-signal')}"
