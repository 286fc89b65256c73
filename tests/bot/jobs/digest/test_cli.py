"""`ai-signal digest preview|send`, `ai-signal export` and `ai-signal run`'s digest, as an
operator runs them: an explicit environment, a working directory of their own, Slack played by
the stand-in. `cli(...)` calls the CLI's `main` in this process (tests.conftest.run_cli): what
it prints and the exit status it returns (that `python -m bot` hands that status to the shell is
tests/bot/test_startup*.py's). `run`, stopped by SIGTERM, is a process of its own."""

from __future__ import annotations

import csv
import io
import json
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.services.digest import period_at
from tests.bot.jobs.digest.conftest import (
    LEAD,
    PEOPLE,
    REPORTER,
    add_event,
    add_signal,
    digest_posts,
    open_database,
)
from tests.conftest import DIGEST, make_env, migrated_sqlite_url, run_cli


@pytest.fixture
def cli(tmp_path: Path, standin, monkeypatch, capsys):
    url = migrated_sqlite_url(tmp_path / "ai_signal.db")
    workdir = tmp_path / "work"
    workdir.mkdir()

    def environment(**env_overrides: str) -> dict[str, str]:
        env = make_env(api_url=standin.url, database_url=url, PYTHONIOENCODING="utf-8")
        env.update(env_overrides)
        return {k: v for k, v in env.items() if v != "<unset>"}

    def run(*args: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            args,
            environment=environment(**env_overrides),
            workdir=workdir,
            monkeypatch=monkeypatch,
            capsys=capsys,
        )

    run.url = url
    run.environment = environment
    run.workdir = workdir
    return run


def test_preview_prints_the_digest_and_posts_nothing(cli, standin):
    result = cli("digest", "preview", AI_SIGNAL_TIMEZONE="Europe/Berlin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("AI signal digest · ")
    assert "(Europe/Berlin)" in result.stdout
    assert "No new signals this week so far." in result.stdout
    assert "Response health" in result.stdout
    assert standin.calls == []


def test_send_posts_once_then_says_already_sent_and_force_sends_again(cli, standin):
    first = cli("digest", "send")
    assert first.returncode == 0, first.stderr
    assert f"sent to {DIGEST}" in first.stdout
    assert len(digest_posts(standin)) == 1

    second = cli("digest", "send")
    assert second.returncode == 0, second.stderr
    assert "was already sent" in second.stdout and "nothing posted" in second.stdout
    assert len(digest_posts(standin)) == 1
    assert len(standin.calls_to("chat.postMessage", include_errors=True)) == 1

    forced = cli("digest", "send", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "(attempt 1)" in forced.stdout
    assert len(digest_posts(standin)) == 2


def test_send_that_slack_refuses_exits_1_and_the_next_send_posts_once(cli, standin):
    standin.fail_next("chat.postMessage", status=500)
    failed = cli("digest", "send")
    assert failed.returncode == 1
    assert "500 internal_error" in failed.stderr and "retried" in failed.stderr
    assert digest_posts(standin) == []

    retried = cli("digest", "send")
    assert retried.returncode == 0, retried.stderr
    assert len(digest_posts(standin)) == 1


def _seed_for_export(url: str) -> None:
    database = open_database(url)
    now = datetime.now(UTC).replace(microsecond=0)
    named = add_signal(
        database.sessions,
        ref="SIG-1",
        system="fraud-model",
        text='=HYPERLINK("http://evil") precision fell',
        status="resolved",
        created_at=now - timedelta(days=3),
        acknowledged_at=now - timedelta(days=2),
        resolved_at=now - timedelta(days=1),
        owner_id=LEAD,
        failed_assumption="labels were current",
        pattern="data-optimism",
        lesson="date-check labels",
    )
    anonymous = add_signal(
        database.sessions,
        ref="SIG-AB2CDE",
        kind="bias",
        system="loan-model",
        anonymous=True,
        created_at=(now - timedelta(days=2)).replace(minute=0, second=0),
    )
    add_signal(
        database.sessions,
        ref="SIG-OLD",
        created_at=datetime(2025, 1, 6, 10, tzinfo=UTC),
    )
    add_event(database.sessions, named, "acknowledged", at=now - timedelta(days=2))
    add_event(database.sessions, named, "resolved", at=now - timedelta(days=1), note="retrained it")
    add_event(database.sessions, anonymous, "asked", at=now - timedelta(hours=30), note="which?")
    add_event(
        database.sessions,
        anonymous,
        "replied",
        at=now - timedelta(hours=29),
        actor_id=None,
        note="applicants over 60",
    )
    database.engine.dispose()


def test_export_csv_to_a_file_with_history_and_no_person(cli):
    _seed_for_export(cli.url)
    result = cli("export", "--format", "csv", "--output", "review.csv")
    assert result.returncode == 0, result.stderr
    assert "exported 3 signal(s)" in result.stderr
    content = (cli.workdir / "review.csv").read_text(encoding="utf-8")
    for person in PEOPLE:
        assert person not in content
    rows = {row["ref"]: row for row in csv.DictReader(io.StringIO(content))}
    assert set(rows) == {"SIG-1", "SIG-AB2CDE", "SIG-OLD"}
    assert not any(name in rows["SIG-1"] for name in ("reporter_id", "owner_id", "actor_id"))
    assert rows["SIG-1"]["anonymous"] == "false" and rows["SIG-AB2CDE"]["anonymous"] == "true"
    assert rows["SIG-1"]["text"].startswith("'=HYPERLINK")  # no formula in a spreadsheet
    assert rows["SIG-1"]["lesson"] == "date-check labels"
    assert "acknowledged (lead)" in rows["SIG-1"]["history"]
    assert "resolved (lead): retrained it" in rows["SIG-1"]["history"]
    assert "replied (reporter): applicants over 60" in rows["SIG-AB2CDE"]["history"]


def test_export_json_since_a_date_to_stdout(cli):
    _seed_for_export(cli.url)
    since = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    result = cli("export", "--format", "json", "--since", since)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["since"].startswith(since)
    assert "No user ids" in document["note"]
    signals = {s["ref"]: s for s in document["signals"]}
    assert set(signals) == {"SIG-1", "SIG-AB2CDE"}  # SIG-OLD is from 2025
    anonymous = signals["SIG-AB2CDE"]
    assert anonymous["anonymous"] is True
    assert [(e["action"], e["by"]) for e in anonymous["history"]] == [
        ("asked", "lead"),
        ("replied", "reporter"),
    ]
    assert set(anonymous["history"][0]) == {"at", "action", "by", "note"}
    for person in PEOPLE:
        assert person not in result.stdout
    assert REPORTER not in json.dumps(document)


def test_export_of_an_empty_database_is_valid(cli):
    result = cli("export", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["signals"] == []
    result = cli("export", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("ref,kind,system,status,anonymous,")


@pytest.mark.parametrize(
    "args",
    [
        ("export", "--format", "xml"),
        ("export", "--format", "csv", "--since", "2026-13-01"),
        ("digest",),
        ("digest", "send", "--now"),
    ],
)
def test_bad_arguments_exit_2(cli, args):
    result = cli(*args)
    assert result.returncode == 2
    assert "usage: ai-signal" in result.stderr


def test_digest_without_configuration_names_the_missing_variable(cli, standin):
    result = cli("digest", "send", SLACK_BOT_TOKEN="<unset>")
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert standin.calls == []


def test_run_starts_the_scheduler_and_catches_up_a_missed_digest(cli, standin):
    """`ai-signal run` (HTTP mode here; Socket Mode shares the code path) starts the scheduler:
    the digest of the week it missed goes out at once, and SIGTERM stops everything cleanly."""
    database = open_database(cli.url)
    period = period_at("0 9 * * mon", "UTC", datetime.now(UTC))
    add_signal(database.sessions, created_at=period.start + timedelta(hours=1))
    database.engine.dispose()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--http", "--host", "127.0.0.1", "--port", str(port)],
        cwd=cli.workdir,
        env=cli.environment(LOG_LEVEL="INFO"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        standin.wait_for("chat.postMessage", timeout=30)
        [post] = digest_posts(standin)
        assert "New signals this week: 1" in post["text"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "ai-signal stopped" in stderr
    assert len(digest_posts(standin)) == 1
