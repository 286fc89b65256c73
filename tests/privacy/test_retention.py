"""Retention: the free text of signals closed longer than AI_SIGNAL_RETENTION_DAYS is erased from
the database, and on SQLite from its files (free pages and WAL frames included)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.jobs.retention import run_retention
from bot.runtime import build_runtime
from bot.services.retention import ERASED_TEXT
from models import Signal, SignalEvent
from tests.conftest import MovableClock, make_env, start_app
from tests.privacy.canaries import database_leaks

DAY = 24 * 3600
LEAD = "ULEAD00001"
REPORTER = "UREPORT001"


def _file_and_close(runtime, tag: str, *, decline: bool = False) -> str:
    signals, triage = runtime.services.signals, runtime.services.triage
    filed = signals.file_signal(
        kind="drift",
        text=f"observation canary-{tag}-text the model drifted",
        system="fraud-model",
        impact=f"impact canary-{tag}-impact",
        anonymous=False,
        reporter_id=REPORTER,
    )
    triage.ask(ref=filed.ref, lead_id=LEAD, question=f"question canary-{tag}-ask")
    triage.reply_as_reporter(ref=filed.ref, user_id=REPORTER, text=f"reply canary-{tag}-reply")
    if decline:
        triage.triage(
            ref=filed.ref,
            lead_id=LEAD,
            status="declined",
            impact=None,
            owner_id=None,
            note=None,
            reason=f"reason canary-{tag}-decline",
        )
    else:
        triage.resolve(
            ref=filed.ref,
            lead_id=LEAD,
            done=f"done canary-{tag}-done",
            assumption=f"assumption lesson-{tag}-assumption",
            pattern="data-optimism",
            lesson=f"lesson lesson-{tag}-lesson",
        )
    return filed.ref


def _free_text(tag: str) -> list[str]:
    return [f"canary-{tag}-{part}" for part in ("text", "impact", "ask", "reply", "done")]


def _row(runtime, ref: str) -> Signal:
    with runtime.sessions() as session:
        return session.scalar(select(Signal).where(Signal.ref == ref))


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.mark.parametrize("keep_lessons", ["true", "false"])
def test_old_closed_text_is_erased_from_rows_and_files(
    standin, database_url, clock, keep_lessons
) -> None:
    app = start_app(
        standin,
        database_url,
        clock=clock,
        AI_SIGNAL_RETENTION_DAYS="30",
        AI_SIGNAL_RETENTION_KEEP_LESSONS=keep_lessons,
    )
    try:
        runtime = app.runtime
        old = _file_and_close(runtime, "old")
        declined = _file_and_close(runtime, "gone", decline=True)
        clock.advance(29 * DAY)
        recent = _file_and_close(runtime, "recent")
        still_open = runtime.services.signals.file_signal(
            kind="drift",
            text="observation canary-open-text",
            impact="impact canary-open-impact",
            anonymous=True,
            reporter_id=None,
        ).ref
        clock.advance(2 * DAY)  # old and declined: closed 31 days ago; recent: 2 days ago

        run = run_retention(runtime.retention)
        assert run is not None and run.signals == 2

        erased = _free_text("old") + _free_text("gone")[:4] + ["canary-gone-decline"]
        assert database_leaks(database_url, erased) == []
        lessons = ["lesson-old-assumption", "lesson-old-lesson"]
        if keep_lessons == "true":
            row = _row(runtime, old)
            assert row.lesson == "lesson lesson-old-lesson"
            assert row.failed_assumption == "assumption lesson-old-assumption"
        else:
            assert database_leaks(database_url, lessons) == []
        for ref in (old, declined):
            row = _row(runtime, ref)
            assert row.text == ERASED_TEXT and row.impact is None
            assert (row.kind, row.system) == ("drift", "fraud-model")
            assert row.resolved_at is not None and row.created_at is not None
        assert _row(runtime, old).pattern == "data-optimism"

        # Open and recently closed signals are untouched.
        assert _row(runtime, recent).text == "observation canary-recent-text the model drifted"
        assert _row(runtime, still_open).text == "observation canary-open-text"
        with runtime.sessions() as session:
            notes = set(session.scalars(select(SignalEvent.note)))
        assert {"question canary-recent-ask", "reply canary-recent-reply"} <= notes
        assert "reply canary-old-reply" not in notes

        assert run_retention(runtime.retention) is None  # once a day
    finally:
        app.stop()


def test_retention_is_off_unless_set(standin, database_url, clock) -> None:
    app = start_app(standin, database_url, clock=clock)
    try:
        ref = _file_and_close(app.runtime, "kept")
        clock.advance(400 * DAY)
        assert run_retention(app.runtime.retention) is None
        assert _row(app.runtime, ref).text.startswith("observation canary-kept-text")
    finally:
        app.stop()


def test_two_instances_run_it_once_a_day(standin, database_url, clock) -> None:
    first = start_app(standin, database_url, clock=clock, AI_SIGNAL_RETENTION_DAYS="7")
    settings = Settings.from_env(
        make_env(api_url=standin.url, database_url=database_url, AI_SIGNAL_RETENTION_DAYS="7"),
        http=True,
    )
    second = build_runtime(settings, clock=clock, migrate=False)
    try:
        _file_and_close(first.runtime, "twice")
        clock.advance(8 * DAY)
        results: list[object] = []
        start = threading.Barrier(2)

        def run(runtime) -> None:
            start.wait()
            results.append(run_retention(runtime.retention))

        threads = [threading.Thread(target=run, args=(r,)) for r in (first.runtime, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(results) == 2
        assert sorted(r is None for r in results) == [False, True]
        clock.advance(DAY)
        ran = [run_retention(r.retention) for r in (second, first.runtime)]
        assert ran[0] is not None and ran[1] is None  # the next day: again exactly one
    finally:
        second.stop()
        first.stop()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AI_SIGNAL_RETENTION_DAYS", "0"),
        ("AI_SIGNAL_RETENTION_DAYS", "ten"),
        ("AI_SIGNAL_RETENTION_KEEP_LESSONS", "maybe"),
    ],
)
def test_bad_retention_settings_name_the_variable(name: str, value: str) -> None:
    from bot.config import ConfigError

    env = make_env(api_url="http://127.0.0.1:1/api/", database_url="sqlite:///x.db")
    with pytest.raises(ConfigError) as error:
        Settings.from_env({**env, name: value}, http=True)
    assert error.value.variable == name


def test_erased_text_leaves_the_lessons_index_and_duplicates_are_erased_too(
    standin, database_url, clock
) -> None:
    """An erased resolution is gone from the search index's files too (its words are merged out
    of the FTS5 segments), and a duplicate, closed like any other, is erased as well."""
    app = start_app(
        standin,
        database_url,
        clock=clock,
        AI_SIGNAL_RETENTION_DAYS="30",
        AI_SIGNAL_RETENTION_KEEP_LESSONS="false",
    )
    try:
        runtime = app.runtime
        triage = runtime.services.triage
        primary = runtime.services.signals.file_signal(
            kind="drift", text="primary text", anonymous=False, reporter_id=REPORTER
        )
        triage.resolve(
            ref=primary.ref,
            lead_id=LEAD,
            done="zqxdoneword retrained",
            assumption="zqxassumptionword held",
            pattern="none",
            lesson="zqxlessonword watch",
        )
        dup = runtime.services.signals.file_signal(
            kind="drift", text="zqxduplicatetext again", anonymous=False, reporter_id=REPORTER
        )
        with runtime.sessions.begin() as session:  # the duplicate's post is out
            row = session.scalar(select(Signal).where(Signal.ref == dup.ref))
            row.triage_ts, row.triage_channel = "1700000000.000100", "CTRIAGE001"
        triage.mark_duplicate(ref=dup.ref, lead_id=LEAD, primary_ref=primary.ref)
        assert (
            runtime.services.lessons.search(query=runtime_query("zqxdoneword")).lessons[0].ref
            == primary.ref
        )
        clock.advance(31 * DAY)
        run = run_retention(runtime.retention)
        assert run is not None and run.signals == 2
        words = ["zqxdoneword", "zqxassumptionword", "zqxlessonword", "zqxduplicatetext"]
        assert database_leaks(database_url, words) == []
        assert runtime.services.lessons.search(query=runtime_query("zqxdoneword")).lessons == []
    finally:
        app.stop()


def runtime_query(text: str):
    from bot.services.lessons import parse_lessons_query

    return parse_lessons_query(text)
