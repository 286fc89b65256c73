"""The container image, compose.yaml and the lock files agree with the code and with each other.

Cheap checks on the files themselves; `make image-check` builds and runs the image for real.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.cli import _parser
from bot.http import HEALTH_PATH
from bot.standin import SlackStandIn
from tests.conftest import BOT_TOKEN, DIGEST, REPO_ROOT, TRIAGE, migrated_sqlite_url, start_app

ROOT = REPO_ROOT
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"


# -- helpers -------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, arguments = text.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form CMD/ENTRYPOINT (shell form is not used: no signal relay)."""
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(x, str) for x in value), arguments
    return value


def env_example_keys() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def locked(path: Path) -> dict[str, tuple[Requirement, list[str]]]:
    """name -> (the pinned requirement with its marker, its hashes)."""
    pins: dict[str, tuple[Requirement, list[str]]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line.startswith(" "):
            requirement = Requirement(stripped.rstrip("\\").strip())
            current = canonicalize_name(requirement.name)
            pins[current] = (requirement, [])
        elif stripped.startswith("--hash=") and current is not None:
            pins[current][1].append(stripped.removeprefix("--hash=").rstrip("\\").strip())
    return pins


def pinned_version(requirement: Requirement) -> str:
    (specifier,) = requirement.specifier
    assert specifier.operator == "==", f"{requirement} is not pinned with =="
    return specifier.version


def declared(*, dev: bool) -> list[Requirement]:
    project = PYPROJECT["project"]
    names = list(project["dependencies"])
    if dev:
        names += project["optional-dependencies"]["dev"]
    return [Requirement(name) for name in names]


# -- Dockerfile ----------------------------------------------------------------------------------


def test_the_image_runs_a_console_script_of_the_project_with_arguments_the_cli_accepts() -> None:
    stage = dict(final_stage())
    entrypoint = exec_form(stage["ENTRYPOINT"])
    command = exec_form(stage["CMD"])
    scripts = PYPROJECT["project"]["scripts"]
    assert entrypoint[0] in scripts, f"{entrypoint[0]} is not in [project.scripts]"
    assert scripts[entrypoint[0]] == "bot.__main__:main"
    args = _parser().parse_args(entrypoint[1:] + command)
    # HTTP mode: the only mode with a /healthz for the HEALTHCHECK to call.
    assert args.command == "run" and args.http


def test_the_image_runs_as_an_unprivileged_user() -> None:
    stage = final_stage()
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users, "the final stage sets no USER, so the app would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    position = {keyword: i for i, (keyword, _) in enumerate(stage)}
    assert position["USER"] < position["ENTRYPOINT"]


def test_the_base_image_is_a_build_argument_used_by_every_stage() -> None:
    instructions = dockerfile()
    first_from = next(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    arguments = [a for keyword, a in instructions[:first_from] if keyword == "ARG"]
    assert any(a.startswith("BASE_IMAGE=python:3.11") for a in arguments), arguments
    for keyword, argument in instructions:
        if keyword == "FROM":
            assert argument.split()[0] == "${BASE_IMAGE}", argument


def test_the_image_installs_the_runtime_lock_with_hashes_and_copies_every_package() -> None:
    runs = " ".join(a for keyword, a in dockerfile() if keyword == "RUN")
    assert re.search(r"pip install --require-hashes -r \S*requirements\.lock", runs), runs
    sources = set()
    for keyword, arguments in dockerfile():
        if keyword == "COPY" and not arguments.startswith("--from"):
            sources.update(arguments.split()[:-1])
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in packages:
        top = package.rstrip("*")
        assert top in sources, f"package {top} is not copied into the image"
    # The build context lets exactly these through (.dockerignore starts by excluding all).
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore
    for source in sources:
        assert f"!{source}" in ignore or f"!{source}/" in ignore, f"{source} is .dockerignored"


def test_settings_the_image_sets_are_documented_settings() -> None:
    documented = env_example_keys()
    for keyword, arguments in final_stage():
        if keyword == "ENV":
            for key in re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", arguments):
                if key == "PATH" or key.startswith("PYTHON"):
                    continue  # the interpreter's, not the app's
                assert key in documented, f"ENV {key} is not a setting in .env.example"


def test_the_healthcheck_calls_healthz_on_the_configured_port() -> None:
    (arguments,) = [a for keyword, a in final_stage() if keyword == "HEALTHCHECK"]
    options, _, command = arguments.partition(" CMD ")
    argv = exec_form(command)
    assert HEALTH_PATH in " ".join(argv)
    assert "PORT" in " ".join(argv), "the health check must follow the PORT setting"


def healthcheck_argv() -> list[str]:
    (arguments,) = [a for keyword, a in final_stage() if keyword == "HEALTHCHECK"]
    argv = exec_form(arguments.partition(" CMD ")[2])
    assert argv[0] in ("python3", "python"), "the image has no curl: the check runs Python"
    return [sys.executable, *argv[1:]]


def test_the_healthcheck_command_passes_against_the_app_and_fails_once_it_is_gone(
    tmp_path: Path,
) -> None:
    stand_in = SlackStandIn(bot_token=BOT_TOKEN)
    stand_in.add_channel(TRIAGE, name="ai-triage", is_member=True)
    stand_in.add_channel(DIGEST, name="ai-digest", is_member=True)
    stand_in.start()
    app = start_app(stand_in, migrated_sqlite_url(tmp_path / "ai_signal.db"))
    env = {**os.environ, "PORT": str(app.server.port)}
    try:
        healthy = subprocess.run(healthcheck_argv(), env=env, capture_output=True, timeout=30)
    finally:
        app.stop()
        stand_in.stop()
        logging.getLogger().handlers.clear()
    assert healthy.returncode == 0, healthy.stderr.decode()
    gone = subprocess.run(healthcheck_argv(), env=env, capture_output=True, timeout=30)
    assert gone.returncode != 0


# -- compose.yaml --------------------------------------------------------------------------------


def test_compose_runs_the_image_in_http_mode_on_postgresql() -> None:
    services = compose()["services"]
    app, db = services["app"], services["db"]
    assert app["build"] == "."
    args = _parser().parse_args(app.get("command", exec_form(dict(final_stage())["CMD"])))
    assert args.command == "run" and args.http
    url = app["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://")
    database = db["environment"]
    assert f"{database['POSTGRES_USER']}:" in url and url.endswith(f"/{database['POSTGRES_DB']}")
    assert "@db:5432/" in url, "the app must reach the database service by its name"
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    published = {str(port).rsplit(":", 1)[-1] for port in app["ports"]}
    assert published == {str(app["environment"]["PORT"])}


def test_compose_passes_only_documented_settings() -> None:
    documented = env_example_keys()
    app = compose()["services"]["app"]
    for key in app["environment"]:
        assert key in documented, f"compose sets {key}, which .env.example does not document"
    env_files = [entry["path"] if isinstance(entry, dict) else entry for entry in app["env_file"]]
    assert env_files == [".env"]


# -- lock files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lock", "dev"), [(RUNTIME_LOCK, False), (DEV_LOCK, True)], ids=["runtime", "dev"]
)
def test_the_lock_pins_every_declared_dependency_with_hashes(lock: Path, dev: bool) -> None:
    pins = locked(lock)
    assert pins, f"{lock.name} is empty"
    for name, (requirement, hashes) in pins.items():
        pinned_version(requirement)
        assert hashes and all(h.startswith("sha256:") for h in hashes), f"{name} has no hash"
    for requirement in declared(dev=dev):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} (pyproject.toml) is not in {lock.name}: make lock"
        version = pinned_version(pins[name][0])
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock.name} pins {name}=={version}, outside {requirement} in pyproject.toml: "
            "run make lock"
        )
        # An extra's own dependencies (psycopg[binary] -> psycopg-binary) are pinned too.
        for extra in requirement.extras:
            for text in importlib.metadata.requires(requirement.name) or []:
                needed = Requirement(text)
                if needed.marker and needed.marker.evaluate({"extra": extra}):
                    assert canonicalize_name(needed.name) in pins, f"{needed} for [{extra}]"
    if not dev:
        dev_only = {canonicalize_name(r.name) for r in declared(dev=True)} - {
            canonicalize_name(r.name) for r in declared(dev=False)
        }
        assert not dev_only & set(pins), "dev tools do not belong in the image's lock"


def test_runtime_and_dev_locks_agree_on_shared_pins() -> None:
    runtime, dev = locked(RUNTIME_LOCK), locked(DEV_LOCK)
    for name, (requirement, _) in runtime.items():
        assert name in dev, f"{name} is in requirements.lock but not requirements-dev.lock"
        assert pinned_version(dev[name][0]) == pinned_version(requirement), name


def test_the_environment_was_installed_from_the_dev_lock() -> None:
    """`make install` installs exactly the lock: a tool upgraded behind its back shows here."""
    environment = default_environment()
    mismatched = []
    for name, (requirement, _) in locked(DEV_LOCK).items():
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != pinned_version(requirement):
            mismatched.append(f"{name}: {installed}, locked {pinned_version(requirement)}")
    assert not mismatched, "run make install: " + "; ".join(mismatched)


def test_make_install_uses_the_dev_lock_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(BIN)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "requirements-dev.lock" in recipe.splitlines()[0], "reinstall when the lock changes"
    installs = [shlex.split(line) for line in recipe.splitlines() if "pip install" in line]
    assert any("--require-hashes" in args and "requirements-dev.lock" in args for args in installs)
    assert all("--no-deps" in args for args in installs if "-e" in args), "the lock decides"
