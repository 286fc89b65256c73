"""One `ai-signal demo --keep DIR` run (a subprocess, about 18 s) shared by the demo's tests.

Under xdist the first worker that needs it runs the demo while holding a lock on a file in the
run's shared temporary folder and writes what it printed there; the other workers wait on the
lock and read that. (`--dist loadgroup` would do this by grouping, but with pytest 9.2 and
pytest-xdist 3.8 it silently stops grouping: pytest-dev/pytest-xdist#1386.)
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@dataclass(frozen=True)
class DemoRun:
    result: subprocess.CompletedProcess[str]
    kept: Path  # the --keep folder: the database and the review report stay there


def _play(folder: Path) -> DemoRun:
    kept = folder / "kept"
    cwd = folder / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--keep", str(kept)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return DemoRun(result=result, kept=kept)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # the same in every worker of a run
    if os.environ.get("PYTEST_XDIST_WORKER") is None or run_id is None:
        return _play(tmp_path_factory.mktemp("demo"))  # no xdist: this process is the only one
    shared = tmp_path_factory.getbasetemp().parent / f"demo-{run_id}"
    shared.mkdir(exist_ok=True)
    record = shared / "result.json"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            run = _play(shared)
            saved = {"returncode": run.result.returncode, "stdout": run.result.stdout}
            record.write_text(json.dumps(saved | {"stderr": run.result.stderr}))
    saved = json.loads(record.read_text())
    result = subprocess.CompletedProcess(
        args=["ai-signal", "demo"],
        returncode=saved["returncode"],
        stdout=saved["stdout"],
        stderr=saved["stderr"],
    )
    return DemoRun(result=result, kept=shared / "kept")
