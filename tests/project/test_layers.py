"""The folders are the layers: which package may import which, read from the source with `ast`.

handlers/ speaks Slack; bot/services/ and bot/jobs/ are the application and speak no Slack;
models/ is storage and knows neither. Only the wiring (runtime, app, HTTP, Socket Mode, the CLI,
the demo) and the stand-in join Slack and the application.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

ROOT = REPO_ROOT
SLACK = ("slack_bolt", "slack_sdk", "handlers")

# Modules allowed to break the rule for now, each with the reason (none today). The test below
# fails if an entry is left behind once its module is clean.
NOT_YET_CLEAN: dict[str, set[str]] = {}
# The wiring and the entry points join the layers; the stand-in plays Slack.
WIRING = {
    "bot/runtime.py",
    "bot/app.py",
    "bot/http.py",
    "bot/socket_mode.py",
    "bot/cli.py",
    "bot/__main__.py",
    "bot/demo.py",
    # Alembic's entry point: it migrates with the app's own engine, URL and upgrade lock.
    "models/migrations/env.py",
}


def imported(path: Path) -> set[str]:
    """Every module `path` imports (absolute names; relative imports are not used here)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_layer_test_sees_imports():
    # A check that found nothing because it read nothing would pass for the wrong reason.
    assert "slack_bolt" in top_level(imported(ROOT / "bot" / "app.py"))
    assert "handlers" in top_level(imported(ROOT / "bot" / "runtime.py"))
    assert sources("bot/services") and sources("bot/jobs") and sources("models")


@pytest.mark.parametrize("folder", ["bot/services", "bot/jobs", "models"])
def test_the_application_and_storage_speak_no_slack(folder):
    offending = {}
    for path in sources(folder):
        found = top_level(imported(path)) & set(SLACK)
        allowed = NOT_YET_CLEAN.get(rel(path), set())
        if found - allowed:
            offending[rel(path)] = sorted(found - allowed)
    assert offending == {}


def test_the_not_yet_clean_list_holds_no_clean_module():
    for name, allowed in NOT_YET_CLEAN.items():
        assert top_level(imported(ROOT / name)) & allowed == allowed, (
            f"{name} no longer imports {sorted(allowed)}: remove it from NOT_YET_CLEAN"
        )


def test_only_the_wiring_and_the_standin_in_bot_speak_slack():
    offending = {}
    for path in sources("bot"):
        name = rel(path)
        if name in WIRING or name.startswith("bot/standin/"):
            continue
        found = top_level(imported(path)) & set(SLACK)
        found -= NOT_YET_CLEAN.get(name, set())
        if found:
            offending[name] = sorted(found)
    assert offending == {}


def test_storage_does_not_import_the_slack_layer_or_the_application():
    offending = {
        rel(path): sorted(n for n in imported(path) if n.split(".")[0] in ("handlers", "bot"))
        for path in sources("models")
        if rel(path) not in WIRING
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_slack_layer_does_not_import_the_jobs_or_the_wiring():
    offending = {}
    for path in sources("handlers"):
        found = {
            n
            for n in imported(path)
            if n == "bot.runtime" or n.startswith("bot.jobs") or n in ("bot.cli", "bot.app")
        }
        if found:
            offending[rel(path)] = sorted(found)
    assert offending == {}


# Where a function of more than a screen and a half is allowed: the stand-in plays all of Slack
# and the demo tells one story from top to bottom.
LONG_FUNCTIONS_ALLOWED = ("bot/standin/", "bot/demo.py")
MAX_FUNCTION_LINES = 100


@pytest.mark.parametrize("folder", ["bot", "models"])
def test_no_function_is_longer_than_a_hundred_lines(folder):
    long = {}
    for path in sources(folder):
        if rel(path).startswith(LONG_FUNCTIONS_ALLOWED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{rel(path)}:{node.name}"] = lines
    assert long == {}
