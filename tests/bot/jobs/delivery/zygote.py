"""Start `ai-signal run` many times without paying for its imports each time.

The crash scenarios start the real app again after every SIGKILL; a fresh interpreter spends
about a second of CPU importing Bolt, SQLAlchemy, Alembic … before it serves. The zygote is one
helper process (`python zygote.py`, a plain interpreter with the environment a fresh start would
have) that imports all that once and then forks a child per start. Each child is a separate
process: it takes its own environment, working directory, log file and port, opens its own
database connections and starts its own threads, and runs `bot.cli.main` as `python -m bot`
would. It is killed from the outside with a real SIGKILL.

What makes a fork equal to a fresh start: the zygote has only imported modules and read the
migration scripts (no database, no socket, no thread; checked before every fork), and the
standard library reseeds `random` in a forked child (row ids come from os.urandom).

The test process talks to the zygote over its stdin/stdout, one JSON object a line: `start`
answers the child's pid; `wait` reaps it (the zygote is its parent). On end of input the zygote
kills the children still running and exits.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

# What `ai-signal run --http` imports, also lazily at start or at its first requests.
PRELOAD = (
    "dotenv",
    "bot.cli",
    "bot.logging_setup",
    "bot.runtime",
    "bot.http",
    "bot.jobs.scheduler",
    "bot.jobs.retention",
    "bot.services.export",
    "handlers.client",
    "models.search",
    "alembic.command",
    "alembic.runtime.migration",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
    "encodings.idna",
)


# -- the test process's side ----------------------------------------------------------------------


class Child:
    """A started app, with the part of `subprocess.Popen`'s interface the crash tests use."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self._zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.wait(self.pid, timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._zygote.wait(self.pid, timeout=timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        return self.returncode


class Zygote:
    """The zygote process, started with `env` (PATH and PYTHONPATH: what a fresh `python -m bot`
    would import with) and ready when the constructor returns."""

    def __init__(self, env: dict[str, str]) -> None:
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [sys.executable, __file__],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready = self._process.stdout.readline()  # type: ignore[union-attr]
        if ready.strip() != "ready":
            self.close()
            raise RuntimeError(f"the zygote did not start: {ready!r}")

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            assert self._process.poll() is None, "the zygote has exited"
            self._process.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
            answer = json.loads(self._process.stdout.readline())  # type: ignore[union-attr]
        if "error" in answer:
            raise RuntimeError(f"zygote: {answer['error']}")
        return answer

    def start(self, argv: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Child:
        """A new app process: `bot.cli.main(argv)` with exactly `env` as its environment, in `cwd`,
        stdout and stderr to `log`."""
        answer = self._ask(
            {"op": "start", "argv": argv, "env": env, "cwd": str(cwd), "log": str(log)}
        )
        return Child(self, answer["pid"])

    def wait(self, pid: int, *, timeout: float | None) -> int | None:
        """The child's exit code (negative: the signal that ended it), None if still running
        after `timeout` seconds."""
        return self._ask({"op": "wait", "pid": pid, "timeout": timeout})["returncode"]

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()  # type: ignore[union-attr]
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process.stdout.close()  # type: ignore[union-attr]


# -- the zygote's side ----------------------------------------------------------------------------


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    from bot import db

    db.head_revisions()  # reads the migration scripts (cached per process); opens no database
    # What is loaded now stays as it is: left out of the garbage collector's passes, so that a
    # child's first full collection neither walks it nor copies every page it touches (halved
    # a start's CPU on PostgreSQL, 0.3 -> 0.15 s). The children's own objects are collected.
    gc.collect()
    gc.freeze()


def _check_clean() -> str | None:
    """Why a fork now would not be a fresh start, or None."""
    if threading.active_count() != 1:
        return f"threads running: {threading.enumerate()}"
    for fd in sorted(int(fd) for fd in os.listdir("/proc/self/fd")):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the directory listing's own descriptor, closed by now
        if fd > 2:  # a database file or connection, a socket, a thread's wake-up pipe …
            return f"file descriptor {fd} open ({target})"
    return None


def _reap(pid: int, timeout: float | None) -> int | None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:  # type: ignore[operator]
            return None
        time.sleep(0.005)


def _run_child(request: dict[str, Any]) -> int:
    """In the forked child: become the app."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.chdir(request["cwd"])
    sys.path.insert(0, request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["ai-signal", *request["argv"]]
    from bot.cli import main

    return main(request["argv"])


def _serve() -> int:
    # Not this file's directory on the path; a child puts its working directory first, as
    # `python -m bot` does.
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    _preload()
    print("ready", flush=True)
    children: set[int] = set()
    while line := sys.stdin.readline():
        request = json.loads(line)
        if request["op"] == "start":
            if unclean := _check_clean():
                answer: dict[str, Any] = {"error": unclean}
            else:
                sys.stdout.flush()
                pid = os.fork()
                if pid == 0:
                    return _run_child(request)
                children.add(pid)
                answer = {"pid": pid}
        elif request["op"] == "wait":
            try:
                answer = {"returncode": _reap(request["pid"], request["timeout"])}
            except ChildProcessError:
                answer = {"error": f"no child {request['pid']}"}
            if answer.get("returncode") is not None:
                children.discard(request["pid"])
        else:
            answer = {"error": f"unknown request {request!r}"}
        print(json.dumps(answer), flush=True)
    for pid in children:  # the test process is gone: leave nothing running
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
