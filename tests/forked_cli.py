"""`ai-signal` commands in processes of their own, several at once, without each paying the
imports: a launcher process imports the CLI and what `db upgrade` uses once, then forks one child
per command. Each child is a separate process with its own database connections, and runs the
command as `python -m bot` would (`bot.cli.main`, an operator's environment, a working directory);
the children start together, released at one moment, so they race as hard as they can.

A `python -m bot` costs about a second of CPU for its imports; the concurrent-upgrade tests start
nine each. The launcher is single-threaded when it forks (the test process is not: xdist's and
the stand-in's threads), so a child never inherits a lock some other thread held."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path


class ForkedCli:
    """The test side: `start` hands the launcher one batch of commands, `results` waits for it."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._process: subprocess.Popen[str] | None = None
        self._pending = False  # a batch was started and its results not read

    def start(self, args: list[str], *, count: int, env: dict[str, str], cwd: Path) -> None:
        """`count` children run `ai-signal ARGS` with exactly `env` (nothing else), from `cwd`.
        A batch whose results a failed test never read is stopped, launcher and all: its
        results must not be taken for this one's."""
        if self._pending:
            self.close()
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.forked_cli"],
                env=self._env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its children too are stopped with it (close)
            )
        request = {"args": args, "count": count, "env": env, "cwd": str(cwd)}
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        self._pending = True

    def done(self) -> bool:
        """Whether every child of the batch started last has exited."""
        assert self._process is not None and self._process.stdout is not None
        readable, _, _ = select.select([self._process.stdout], [], [], 0)
        return bool(readable)

    def results(self, timeout: float = 120) -> list[subprocess.CompletedProcess[str]]:
        """Each child's exit status and what it wrote, once all have exited."""
        assert self._process is not None and self._process.stdout is not None
        readable, _, _ = select.select([self._process.stdout], [], [], timeout)
        assert readable, f"the forked commands did not finish within {timeout:g}s"
        line = self._process.stdout.readline()
        assert line, f"the launcher exited ({self._process.wait()})"
        self._pending = False
        return [
            subprocess.CompletedProcess(["ai-signal", *each["args"]], each["code"], *each["output"])
            for each in json.loads(line)
        ]

    def close(self) -> None:
        if self._process is None:
            return
        try:  # the launcher and any child of it left (a session of their own)
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait()
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.close()
        self._process.stdout.close()
        self._process = None
        self._pending = False


# -- the launcher (python -m tests.forked_cli) ---------------------------------------------------


def _launch() -> None:
    import tempfile

    # What `ai-signal db upgrade` imports on its way (alembic's env.py and revision scripts are
    # read by each command itself, as in a process of its own).
    import alembic.command
    import alembic.runtime.migration
    import alembic.script  # noqa: F401
    import dotenv  # noqa: F401
    import psycopg  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg
    import sqlalchemy.dialects.sqlite  # noqa: F401

    import bot.cli
    import bot.db
    import bot.logging_setup
    import models  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryDirectory(prefix="ai_signal_forked_") as scratch:
            go_read, go_write = os.pipe()
            children = []
            for number in range(request["count"]):
                out_path, err_path = Path(scratch, f"{number}.out"), Path(scratch, f"{number}.err")
                pid = os.fork()
                if pid == 0:
                    os.close(go_write)
                    _child(bot.cli.main, request, go_read, out_path, err_path)  # never returns
                children.append((pid, out_path, err_path))
            os.close(go_read)
            os.close(go_write)  # every child reads end-of-file now: they start together
            results = []
            for pid, out_path, err_path in children:
                _, status = os.waitpid(pid, 0)
                output = [
                    path.read_text(encoding="utf-8", errors="replace")
                    for path in (out_path, err_path)
                ]
                results.append(
                    {
                        "args": request["args"],
                        "code": os.waitstatus_to_exitcode(status),
                        "output": output,
                    }
                )
        print(json.dumps(results), flush=True)


def _child(main, request: dict, go: int, out_path: Path, err_path: Path) -> None:
    code = 1
    try:
        out = open(out_path, "w", encoding="utf-8")
        err = open(err_path, "w", encoding="utf-8")
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdin = open(os.devnull)
        sys.stdout, sys.stderr = out, err
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        os.read(go, 1)  # blocks until the launcher has forked every child
        os.close(go)
        code = main(request["args"])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    _launch()
