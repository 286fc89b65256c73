"""One `ai-signal demo --keep DIR` run (a subprocess, about 18 s) shared by the demo's tests.

Both modules are in the xdist group "demo" (`--dist loadgroup`, set in the Makefile), so one
worker runs them all and the demo plays once per test run, not once per module.
"""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    kept = tmp_path_factory.mktemp("demo") / "kept"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--keep", str(kept)],
        cwd=tmp_path_factory.mktemp("cwd"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return DemoRun(result=result, kept=kept)
