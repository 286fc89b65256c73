"""`ai-signal review` and `ai-signal export --until` as an operator runs them: the CLI's `main`
with their arguments, an explicit environment (nothing else of the test process's), a working
directory of their own, what they print and their exit status; on SQLite and PostgreSQL.

In this process, not a subprocess: the process itself (imports, `python -m bot`, exit codes
through `sys.exit`) is what tests/bot/test_startup*.py and tests/bot/jobs/digest/test_cli.py
check, and a subprocess per test cost about a second of CPU each."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.bot.jobs.digest.conftest import LEAD, PEOPLE, REPORTER, add_signal, open_database
from tests.conftest import make_env, run_cli

# Q4 2026: Thursday 1 October to Thursday 31 December.
Q4 = datetime(2026, 10, 5, 10, tzinfo=UTC)


@pytest.fixture
def review_cli(tmp_path: Path, database_url: str, monkeypatch, capsys):
    workdir = tmp_path / "work"
    workdir.mkdir()

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = make_env(api_url="http://127.0.0.1:9/api/", database_url=database_url, **env)
        return run_cli(
            args, environment=environment, workdir=workdir, monkeypatch=monkeypatch, capsys=capsys
        )

    run.url = database_url
    run.workdir = workdir
    return run


def seed_quarter(url: str) -> None:
    """Twelve fraud-model signals over Q4 (resolved, half anonymous), one lone loan-model
    signal (a small cell), one duplicate, one declined, and one from September."""
    database = open_database(url)
    for i in range(12):
        filed = Q4 + timedelta(days=5 * i)
        anonymous = i % 2 == 0
        add_signal(
            database.sessions,
            kind=("drift", "bias", "edge-case")[i % 3],
            system="fraud-model" if i % 5 else " fraud-model ",  # one system, however spaced
            created_at=filed,
            anonymous=anonymous,
            reporter_id=None if anonymous else REPORTER,
            owner_id=LEAD,
            acknowledged_at=filed + timedelta(minutes=10 + 60 * (i + 1)),
            status="resolved",
            resolved_at=filed + timedelta(days=2),
            pattern="data-optimism",
            failed_assumption="labels were current" if i < 6 else f"assumption {i} by {REPORTER}",
            lesson=f"check label dates ({i})",
            key_lesson=i == 3,
            review_decision="which card payments to hold",
            review_constraint=f"label delay, said <@{LEAD}>",
        )
    add_signal(database.sessions, kind="bias", system="loan-model", created_at=Q4, anonymous=True)
    add_signal(database.sessions, kind="drift", system=None, created_at=Q4, status="duplicate")
    add_signal(database.sessions, kind="drift", system=None, created_at=Q4, status="declined")
    add_signal(database.sessions, kind="drift", created_at=datetime(2026, 9, 20, tzinfo=UTC))
    database.engine.dispose()


def test_review_json_aggregates_the_quarter_and_names_no_person(review_cli):
    seed_quarter(review_cli.url)
    result = review_cli("review", "--from", "2026-10-01", "--to", "2026-12-31", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["period"] == {
        "from": "2026-10-01",
        "to": "2026-12-31",
        "label": "2026-Q4",
        "grain": "week",
    }
    assert report["signals"] == 15  # September's is outside
    assert report["statuses"]["duplicate"] == 1
    assert report["duplicate_share"] == pytest.approx(1 / 15)
    assert report["declined_share"] == pytest.approx(1 / 15)
    # Trends count a duplicate once (through its primary): 12 + 1 + 1 declined, not 15.
    assert sum(sum(v) for v in report["kinds_over_time"].values()) == 14
    assert len(report["buckets"]) == 14 and report["buckets"][0] == "2026-09-28"
    # Aliases of one system typed differently are one row; the lone loan-model bias signal is
    # merged into "other".
    assert report["systems_by_kind"]["fraud-model"] == {"bias": 4, "drift": 4, "edge-case": 4}
    assert "loan-model" not in result.stdout
    assert report["systems_by_kind"]["other"] == {"other": 1}
    assert report["recurring_patterns"] == [
        {"system": "fraud-model", "pattern": "data-optimism", "signals": 12}
    ]
    assert report["recurring_assumptions"] == [{"assumption": "labels were current", "signals": 6}]
    named = report["time_to_acknowledge"]["named"]
    anonymous = report["time_to_acknowledge"]["anonymous"]
    assert (named["acknowledged"], anonymous["acknowledged"]) == (6, 6)
    # Anonymous (i even) waited 1, 3, 5, 7, 9, 11 hours after the post; named 2, 4, ... 12 hours.
    assert anonymous["median_seconds"] == 5 * 3600 and anonymous["p90_seconds"] == 11 * 3600
    assert named["median_seconds"] == 6 * 3600 and named["p90_seconds"] == 12 * 3600
    [lesson] = report["key_lessons"]["data-optimism"]
    assert (lesson["system"], lesson["lesson"]) == ("fraud-model", "check label dates (3)")
    assert list(report["key_lessons"]) == ["data-optimism"]
    [system] = report["systems"]
    assert system["stage"] == "not on record" and system["resolved"] == 12
    assert system["answers"]["decision"] == ["which card payments to hold"]
    assert system["answers"]["constraint"][0].startswith("label delay, said @[someone]")
    for person in PEOPLE:
        assert person not in result.stdout


def test_review_html_to_a_file_for_one_system(review_cli):
    seed_quarter(review_cli.url)
    result = review_cli(
        "review",
        "--from",
        "2026-10-01",
        "--to",
        "2026-12-31",
        "--system",
        "FRAUD-model",
        "--format",
        "html",
        "--output",
        "q4.html",
    )
    assert result.returncode == 0, result.stderr
    assert "review of 2026-Q4 (12 signal(s)) written to q4.html" in result.stdout
    page = (review_cli.workdir / "q4.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    assert "AI signals review, 2026-Q4 — FRAUD-model" in page
    assert "@media print" in page
    for person in PEOPLE:
        assert person not in page


def test_review_markdown_to_stdout(review_cli):
    seed_quarter(review_cli.url)
    result = review_cli("review", "--from", "2026-10-01", "--to", "2026-10-31", "--format", "md")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# AI signals review, 2026-10-01 to 2026-10-31\n")
    assert "| fraud-model |" in result.stdout
    assert "| Anonymous | " in result.stdout
    assert "Stage: not on record." in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--from", "2026-13-01", "--to", "2026-12-31"), "--from must be a date as YYYY-MM-DD"),
        (("--from", "2026-10-01", "--to", "tomorrow"), "--to must be a date as YYYY-MM-DD"),
        (("--from", "2026-12-01", "--to", "2026-10-31"), "starts after it ends"),
    ],
)
def test_review_bad_dates_exit_2_with_one_line(review_cli, args, says):
    result = review_cli("review", *args, "--format", "json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and says in result.stderr


def test_export_until_a_day_keeps_that_day_and_carries_the_system_fields(review_cli):
    seed_quarter(review_cli.url)
    result = review_cli(
        "export", "--format", "json", "--since", "2026-10-01", "--until", "2026-10-05"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["until"].startswith("2026-10-06")
    refs = {s["ref"]: s for s in document["signals"]}
    assert len(refs) == 4  # the first fraud-model signal, loan-model, the duplicate, declined
    fraud = next(s for s in refs.values() if s["system"] == " fraud-model ")
    assert fraud["system_name"] == "fraud-model" and fraud["system_stage"] is None
    csv_result = review_cli("export", "--format", "csv", "--until", "2026-09-30")
    assert csv_result.returncode == 0, csv_result.stderr
    lines = csv_result.stdout.splitlines()
    assert "system_name,system_stage,history" in lines[0]
    assert len(lines) == 2  # September's only


def test_export_since_after_until_exits_2(review_cli):
    result = review_cli(
        "export", "--format", "csv", "--since", "2026-10-02", "--until", "2026-10-01"
    )
    assert result.returncode == 2 and "--since is after --until" in result.stderr


def test_a_system_on_record_gives_the_report_and_the_export_its_stage(review_cli):
    from bot.services.vocabulary import system_key
    from models import System

    seed_quarter(review_cli.url)
    database = open_database(review_cli.url)
    with database.sessions.begin() as session:
        session.add(
            System(
                name="Fraud-Model",
                name_key=system_key("Fraud-Model"),
                stage="production",
                created_at=Q4,
                updated_at=Q4,
            )
        )
    database.engine.dispose()
    report = json.loads(
        review_cli(
            "review", "--from", "2026-10-01", "--to", "2026-12-31", "--format", "json"
        ).stdout
    )
    [system] = report["systems"]
    assert system["stage"] == "production"
    document = json.loads(review_cli("export", "--format", "json", "--until", "2026-10-05").stdout)
    fraud = [s for s in document["signals"] if (s["system"] or "").strip() == "fraud-model"]
    assert fraud and {(s["system_name"], s["system_stage"]) for s in fraud} == {
        ("Fraud-Model", "production")
    }
