"""`ai-signal digest preview` shows the period in progress, says which one it is, and counts what
was filed so far; `digest send` keeps sending the period that just ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services.digest import period_at, period_in_progress
from handlers.blocks.digest import build_digest_text
from tests.bot.jobs.digest.conftest import PERIOD_END, add_signal, make_service, open_database
from tests.bot.jobs.digest.test_cli import cli  # noqa: F401 - the fixture

WEDNESDAY = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # mid-week in [Mon 2 Mar, Mon 9 Mar)
NEXT_MONDAY = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def test_the_period_in_progress_runs_from_the_last_fire_time_to_the_next():
    period = period_in_progress("0 9 * * mon", "UTC", WEDNESDAY)
    assert (period.start, period.end) == (PERIOD_END, NEXT_MONDAY)
    assert period.previous_start == PERIOD_END - timedelta(days=7)
    assert period.in_progress and period.noun == "week"
    # At the fire time itself the new period has begun; the digest sends the one that ended.
    at_fire = period_in_progress("0 9 * * mon", "UTC", PERIOD_END)
    assert (at_fire.start, at_fire.end) == (PERIOD_END, NEXT_MONDAY)
    ended = period_at("0 9 * * mon", "UTC", WEDNESDAY)
    assert ended.end == PERIOD_END and not ended.in_progress
    berlin = period_in_progress("0 9 * * mon", "Europe/Berlin", WEDNESDAY)
    assert berlin.start == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_a_mid_week_preview_counts_what_was_filed_that_day(database, clock):
    clock.now = WEDNESDAY
    for n in range(13):
        add_signal(database.sessions, created_at=WEDNESDAY - timedelta(hours=2, minutes=n))
    add_signal(database.sessions, kind="bias", created_at=PERIOD_END - timedelta(days=2))
    service = make_service(database.sessions, clock)

    preview = build_digest_text(service.gather(period=service.period_in_progress()))
    assert "AI signal digest · 2 Mar – 9 Mar 2026 (preview, in progress)" in preview
    assert (
        "Preview of the week in progress: Mon 2 Mar 2026 09:00 – now, Wed 4 Mar 2026 15:30 "
        "(UTC). Its digest is posted Mon 9 Mar 2026 09:00" in preview
    )
    assert "New signals this week so far: 13 (the whole previous week: 1)" in preview
    assert "No new signals" not in preview

    # The scheduled digest still covers the week that ended on Monday.
    sent = build_digest_text(service.gather())
    assert "Covers Mon 23 Feb 2026 09:00 – Mon 2 Mar 2026 09:00 (UTC)" in sent
    assert "New signals this week: 1 (+1 on the previous week: 0)" in sent
    assert "preview" not in sent.lower()


def test_an_empty_period_in_progress_says_so(database, clock):
    clock.now = WEDNESDAY
    service = make_service(database.sessions, clock)
    preview = build_digest_text(service.gather(period=service.period_in_progress()))
    assert "No new signals this week so far." in preview


def test_the_preview_command_shows_the_signals_filed_today(cli, standin):  # noqa: F811
    database = open_database(cli.url)
    now = datetime.now(UTC)
    try:
        for n in range(3):
            add_signal(database.sessions, created_at=now - timedelta(seconds=30 + n))
    finally:
        database.engine.dispose()
    result = cli("digest", "preview")
    assert result.returncode == 0, result.stderr
    assert "Preview of the week in progress:" in result.stdout
    assert "New signals this week so far: 3" in result.stdout
    assert standin.calls == []
