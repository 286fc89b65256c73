"""Running a bench/ script the way `python bench/NAME.py ARGS` does, in the test process.

A fresh interpreter costs about a second of CPU in imports before a script does anything; the
smoke tests check that each script runs end to end and prints its report, which needs no
interpreter of its own. The script runs as `__main__` (runpy) on a thread of its own, bounded
in time, with what the interpreter would give it: `sys.argv`, its folder first on `sys.path`,
the repository as working directory. Whatever it changes of the process — the argument list,
the import path, the environment, the working directory, logging's handlers and levels — is
put back afterwards. Servers a script starts as subprocesses (that is its job) stay processes.
"""

from __future__ import annotations

import io
import os
import runpy
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from tests.conftest import REPO_ROOT, _logging_state, _restore_logging

BENCH = REPO_ROOT / "bench"


@contextmanager
def script_process_state(script: Path, args: list[str]) -> Iterator[None]:
    """sys.argv, sys.path, os.environ, the working directory and logging as the interpreter
    would set them for `script ARGS` (started from the repository), restored on the way out."""
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    saved_environ, saved_cwd = dict(os.environ), os.getcwd()
    saved_logging = _logging_state()
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.parent))
    os.chdir(REPO_ROOT)
    try:
        yield
    finally:
        _restore_logging(saved_logging)
        os.chdir(saved_cwd)
        if dict(os.environ) != saved_environ:
            os.environ.clear()
            os.environ.update(saved_environ)
        sys.path[:] = saved_path
        sys.argv = saved_argv


def _exit_status(exit_: SystemExit, stderr: io.StringIO) -> int:
    """What the interpreter makes of `sys.exit(code)`."""
    if exit_.code is None:
        return 0
    if isinstance(exit_.code, int):
        return exit_.code
    print(exit_.code, file=stderr)
    return 1


def run_script(name: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """`python bench/NAME ARGS` from the repository, in this process: its exit status and what it
    printed. An exception it does not catch is printed to its stderr with status 1, as the
    interpreter would; a script still running after `timeout` seconds fails the test."""
    script = BENCH / name
    stdout, stderr = io.StringIO(), io.StringIO()
    status: list[int] = []

    def main() -> None:
        try:
            runpy.run_path(str(script), run_name="__main__")
            status.append(0)
        except SystemExit as exit_:
            status.append(_exit_status(exit_, stderr))
        except BaseException:
            traceback.print_exc(file=stderr)
            status.append(1)

    with script_process_state(script, list(args)), redirect_stdout(stdout), redirect_stderr(stderr):
        thread = threading.Thread(target=main, name=f"bench {name}", daemon=True)
        thread.start()
        thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(
            f"bench/{name} {' '.join(args)} still running after {timeout:g} s:\n"
            f"{stdout.getvalue()[-2000:]}\n{stderr.getvalue()[-2000:]}"
        )
    return subprocess.CompletedProcess(
        [sys.executable, str(script), *args], status[0], stdout.getvalue(), stderr.getvalue()
    )
