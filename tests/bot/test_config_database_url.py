"""DATABASE_URL: a URL the app cannot use is refused with one line naming the setting."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from bot import db
from bot.config import ConfigError, Settings, check_database_url, database_url_from_env

BASE = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_SIGNING_SECRET": "secret",
    "AI_SIGNAL_TRIAGE_CHANNEL": "CTRIAGE001",
}
PASSWORD = "s3cr3t-pw"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///ai_signal.db",
        "sqlite:////var/lib/ai-signal/ai_signal.db",
        "sqlite+pysqlite:///ai_signal.db",
        "sqlite://",
        "postgresql://u@db/x",
        "postgresql+psycopg://u:pw@db.internal:5433/x",
        "postgresql+psycopg2://u@db/x",
    ],
)
def test_usable_urls_pass(url):
    assert check_database_url(url) == url
    assert Settings.from_env({**BASE, "DATABASE_URL": url}).database_url == url
    assert database_url_from_env({"DATABASE_URL": url}) == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ai_signal.db", "SQLAlchemy URL"),
        ("sqlite:/ai_signal.db", "SQLAlchemy URL"),
        ("postgresq://u@db/x", "unknown database 'postgresq'"),  # a typo
        ("postgres://u@db/x", "unknown database 'postgres'"),
        ("mysql://u@db/x", "unknown database 'mysql'"),
        ("postgresql+asyncpg://u@db/x", "driver 'postgresql+asyncpg'"),
        ("sqlite+aiosqlite:///x.db", "driver 'sqlite+aiosqlite'"),
        (f"postgresql://u:{PASSWORD}@db:54x32/x", "not a valid database URL"),
        (f"postgresql://u:{PASSWORD}@db:99999/x", "port 99999"),
    ],
)
def test_unusable_urls_name_the_setting_in_one_line(url, says):
    for check in (
        lambda: Settings.from_env({**BASE, "DATABASE_URL": url}),
        lambda: database_url_from_env({"DATABASE_URL": url}),
    ):
        with pytest.raises(ConfigError) as info:
            check()
        message = str(info.value)
        assert info.value.variable == "DATABASE_URL"
        assert message.startswith("DATABASE_URL: ")
        assert says in message
        assert "\n" not in message
        assert PASSWORD not in message


def test_sqlite_file_in_a_missing_folder_is_refused_and_no_folder_created(tmp_path: Path):
    missing = tmp_path / "no" / "such"
    with pytest.raises(ConfigError) as info:
        db.check_database(f"sqlite:///{missing / 'ai_signal.db'}")
    assert info.value.variable == "DATABASE_URL"
    assert str(missing) in str(info.value) and "does not exist" in str(info.value)
    with pytest.raises(ConfigError):
        db.upgrade(f"sqlite:///{missing / 'ai_signal.db'}")
    assert not (tmp_path / "no").exists()


def test_sqlite_file_in_an_existing_folder_is_created(tmp_path: Path):
    db.check_database(f"sqlite:///{tmp_path / 'ai_signal.db'}")
    db.check_database("sqlite://")  # in memory


def test_sqlite_path_that_is_a_folder_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        db.check_database(f"sqlite:///{tmp_path}")
    assert "cannot connect to the SQLite file" in str(info.value)
    assert "\n" not in str(info.value)


def test_closed_postgresql_port_names_host_port_and_reason():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends
    with pytest.raises(ConfigError) as info:
        db.check_database(f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:{port}/x")
    message = str(info.value)
    assert message.startswith("DATABASE_URL: ")
    assert f"127.0.0.1:{port}" in message and "refused" in message.lower()
    assert "\n" not in message and PASSWORD not in message


def test_silent_postgresql_server_does_not_hang():
    """A server that accepts the connection and never answers: the connect timeout ends it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ConfigError) as info:
            db.check_database(f"postgresql://u@127.0.0.1:{port}/x", connect_timeout=2)
        took = time.monotonic() - started
    assert f"127.0.0.1:{port}" in str(info.value) and "timeout" in str(info.value)
    assert took < 10
