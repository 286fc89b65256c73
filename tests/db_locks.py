"""Another process or connection holding the database's lock: the slow database of the
deadline tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# Holds SQLite's write lock from another process until stdin closes (at most 20 s).
_HOLDER = """
import select, sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
select.select([sys.stdin], [], [], 20.0)
connection.rollback()
connection.close()
"""


class LockHolder:
    def __init__(self, release) -> None:
        self._release = release

    def release(self) -> None:
        self._release()


def hold_sqlite_lock(database_url: str) -> LockHolder:
    path = Path(make_url(database_url).database or "")
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"

    def release() -> None:
        if process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
        process.wait(timeout=10)

    return LockHolder(release)


def hold_postgres_lock(database_url: str, table: str) -> LockHolder:
    engine = create_engine(database_url)
    connection = engine.connect()
    transaction = connection.begin()
    connection.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))

    def release() -> None:
        transaction.rollback()
        connection.close()
        engine.dispose()

    return LockHolder(release)
