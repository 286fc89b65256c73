"""The schedule and the timezone, with a clock the test controls: which period a digest covers,
across daylight-saving changes, and how the scheduler is set up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.config import Settings
from bot.jobs.scheduler import (
    DIGEST_CATCH_UP_JOB_ID,
    DIGEST_JOB_ID,
    MISFIRE_GRACE,
    add_digest_job,
    create_scheduler,
    digest_trigger,
)
from bot.services.digest import period_at
from handlers.blocks.digest import build_digest_text, period_sentence
from tests.bot.jobs.digest.conftest import FixedClock, add_signal, make_service
from tests.conftest import make_env

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_weekly_period_in_utc():
    period = period_at("0 9 * * mon", "UTC", utc(2026, 3, 4, 15, 0))  # a Wednesday
    assert (period.start, period.end) == (utc(2026, 2, 23, 9), utc(2026, 3, 2, 9))
    assert period.previous_start == utc(2026, 2, 16, 9)
    assert period.noun == "week"


def test_the_period_moves_on_exactly_at_the_fire_time():
    before = period_at("0 9 * * mon", "UTC", utc(2026, 3, 2, 8, 59, 59))
    at = period_at("0 9 * * mon", "UTC", utc(2026, 3, 2, 9, 0))
    assert before.end == utc(2026, 2, 23, 9)
    assert at.end == utc(2026, 3, 2, 9)
    assert at.start == before.end


def test_berlin_spring_forward_week_is_167_hours():
    # DST began Sun 29 Mar 2026: 09:00 Berlin was 08:00 UTC before, 07:00 UTC after.
    period = period_at("0 9 * * mon", "Europe/Berlin", utc(2026, 3, 30, 8, 0))
    assert period.start == utc(2026, 3, 23, 8)
    assert period.end == utc(2026, 3, 30, 7)
    assert period.previous_start == utc(2026, 3, 16, 8)
    assert period.length == timedelta(hours=167)
    assert period.noun == "week"
    assert (
        period_sentence(period) == "Mon 23 Mar 2026 09:00 – Mon 30 Mar 2026 09:00 (Europe/Berlin)"
    )


def test_berlin_fall_back_week_is_169_hours():
    # DST ended Sun 25 Oct 2026.
    period = period_at("0 9 * * mon", "Europe/Berlin", utc(2026, 10, 26, 9, 30))
    assert (period.start, period.end) == (utc(2026, 10, 19, 7), utc(2026, 10, 26, 8))
    assert period.length == timedelta(hours=169)
    assert period.noun == "week"


def test_berlin_just_before_the_local_fire_time_is_still_the_week_before():
    # 08:59 in Berlin on the Monday after the change is 06:59 UTC.
    period = period_at("0 9 * * mon", "Europe/Berlin", utc(2026, 3, 30, 6, 59))
    assert period.end == utc(2026, 3, 23, 8)


def test_daily_and_other_schedules():
    daily = period_at("30 8 * * *", "America/New_York", utc(2026, 7, 1, 13, 0))
    assert (daily.start, daily.end) == (utc(2026, 6, 30, 12, 30), utc(2026, 7, 1, 12, 30))
    assert daily.noun == "day"
    monthly = period_at("0 9 1 * *", "UTC", utc(2026, 3, 15))
    assert (monthly.start, monthly.end) == (utc(2026, 2, 1, 9), utc(2026, 3, 1, 9))
    assert monthly.noun == "period"


def test_signals_count_in_the_period_of_the_teams_timezone(sqlite_database):
    sessions = sqlite_database.sessions
    # 08:30 Berlin on the Monday (before the 09:00 digest): in the week that just ended.
    add_signal(sessions, ref="SIG-1", created_at=utc(2026, 3, 30, 6, 30))
    # 09:30 Berlin: already the next week. In UTC terms both are before 09:00.
    add_signal(sessions, ref="SIG-2", created_at=utc(2026, 3, 30, 7, 30))
    clock = FixedClock(utc(2026, 3, 30, 8, 0))
    data = make_service(sessions, clock, timezone="Europe/Berlin").gather()
    assert data.new_total == 1
    assert "Covers Mon 23 Mar 2026 09:00 – Mon 30 Mar 2026 09:00 (Europe/Berlin)" in (
        build_digest_text(data)
    )


def test_scheduler_defaults_are_explicit():
    scheduler = create_scheduler()
    assert scheduler.timezone == UTC
    assert scheduler._job_defaults == {
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
    }
    assert MISFIRE_GRACE >= timedelta(hours=1)


class _Runtime:
    def __init__(self, **env: str) -> None:
        self.settings = Settings.from_env(
            make_env(api_url="http://127.0.0.1:9/api/", database_url="sqlite://", **env), http=True
        )


def test_digest_job_fires_on_the_cron_schedule_in_the_teams_timezone():
    runtime = _Runtime(AI_SIGNAL_TIMEZONE="Europe/Berlin", AI_SIGNAL_DIGEST_SCHEDULE="0 9 * * mon")
    scheduler = create_scheduler()
    sender = object()  # the runtime's digest sender; only handed to the job here
    trigger = digest_trigger(runtime.settings)
    add_digest_job(scheduler, sender, trigger=trigger)
    add_digest_job(
        scheduler, sender, trigger=trigger
    )  # replace_existing: stable ids, no duplicates
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {DIGEST_JOB_ID, DIGEST_CATCH_UP_JOB_ID}
    digest = jobs[DIGEST_JOB_ID]
    assert digest.func.__module__ == "bot.jobs.digest" and digest.args == (sender,)
    trigger = digest.trigger
    assert isinstance(trigger, CronTrigger)
    assert str(trigger.timezone) == "Europe/Berlin"
    # Saturday before the change -> Monday 09:00 CEST = 07:00 UTC
    assert trigger.get_next_fire_time(None, utc(2026, 3, 28, 12)) == datetime(
        2026, 3, 30, 9, tzinfo=BERLIN
    )
    assert trigger.get_next_fire_time(None, utc(2026, 3, 28, 12)).astimezone(UTC) == utc(
        2026, 3, 30, 7
    )
    assert trigger.get_next_fire_time(None, utc(2026, 3, 21, 12)).astimezone(UTC) == utc(
        2026, 3, 23, 8
    )
    # The catch-up runs at once when the scheduler starts, then every few minutes.
    assert jobs[DIGEST_CATCH_UP_JOB_ID].next_run_time is not None
    scheduler.start(paused=True)
    try:
        next_run = scheduler.get_job(DIGEST_JOB_ID).next_run_time.astimezone(BERLIN)
        assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 9, 0)
    finally:
        scheduler.shutdown(wait=False)


def test_digest_trigger_matches_the_period_boundaries():
    runtime = _Runtime(AI_SIGNAL_TIMEZONE="Europe/Berlin", AI_SIGNAL_DIGEST_SCHEDULE="15 7 * * fri")
    trigger = digest_trigger(runtime.settings)
    fire = trigger.get_next_fire_time(None, utc(2026, 10, 20)).astimezone(UTC)
    period = period_at(
        runtime.settings.digest_schedule, runtime.settings.timezone, fire + timedelta(seconds=1)
    )
    assert period.end == fire


@pytest.mark.parametrize("schedule", ["0 9 * *", "61 9 * * mon", "every monday"])
def test_a_malformed_schedule_stops_start_up_with_a_clear_message(schedule):
    from bot.config import ConfigError

    with pytest.raises(ConfigError) as error:
        _Runtime(AI_SIGNAL_DIGEST_SCHEDULE=schedule)
    assert error.value.variable == "AI_SIGNAL_DIGEST_SCHEDULE"
    assert "cron" in str(error.value)
