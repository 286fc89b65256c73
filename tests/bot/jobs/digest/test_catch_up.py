"""The scheduler in a running app: a digest missed while no instance was up is posted when one
starts, once; a restart does not post it again; a fresh installation does not post one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

from bot.config import Settings
from bot.jobs.scheduler import (
    DIGEST_CATCH_UP_JOB_ID,
    DIGEST_JOB_ID,
    add_digest_job,
    create_scheduler,
    digest_trigger,
    start_scheduler,
)
from bot.runtime import Runtime, build_runtime
from tests.bot.jobs.digest.conftest import NOW, FixedClock, add_signal, digest_posts
from tests.conftest import make_env


class JobWatcher:
    """Lets a test wait until the scheduler has run a job (n times)."""

    def __init__(self, scheduler) -> None:
        self._runs: dict[str, list[JobExecutionEvent]] = {}
        self._changed = threading.Condition()
        scheduler.add_listener(self._seen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _seen(self, event: JobExecutionEvent) -> None:
        with self._changed:
            self._runs.setdefault(event.job_id, []).append(event)
            self._changed.notify_all()

    def wait(self, job_id: str, count: int = 1, timeout: float = 10) -> JobExecutionEvent:
        with self._changed:
            ok = self._changed.wait_for(lambda: len(self._runs.get(job_id, ())) >= count, timeout)
        assert ok, f"job {job_id} did not run {count} time(s) within {timeout}s"
        event = self._runs[job_id][count - 1]
        assert event.exception is None, repr(event.exception)
        return event


@pytest.fixture
def runtimes(standin, database_url) -> Iterator:
    """Build runtimes (app instances) against one database and the stand-in; stop them after."""
    built: list[Runtime] = []
    schedulers = []

    def start(clock: FixedClock, *, catch_up_now: bool = True, seed=None):
        """An instance starting: migrations, runtime, then (after `seed`) its scheduler."""
        settings = Settings.from_env(
            make_env(api_url=standin.url, database_url=database_url), http=True
        )
        runtime = build_runtime(settings, clock=clock)
        built.append(runtime)
        if seed is not None:
            seed(runtime.sessions)
        scheduler = create_scheduler()
        watcher = JobWatcher(scheduler)
        add_digest_job(
            scheduler,
            runtime.digest,
            trigger=digest_trigger(runtime.settings),
            catch_up_now=catch_up_now,
        )
        scheduler.start()
        schedulers.append(scheduler)
        return runtime, scheduler, watcher

    yield start
    for scheduler in schedulers:
        if scheduler.running:
            scheduler.shutdown(wait=True)
    for runtime in built:
        runtime.stop()


def in_use(sessions) -> None:
    add_signal(sessions, created_at=NOW - timedelta(days=3))  # filed before Monday 09:00


def test_a_missed_digest_is_caught_up_on_start_and_not_again_after_a_restart(runtimes, standin):
    clock = FixedClock(NOW + timedelta(hours=5))  # down at 09:00; the first instance starts 15:00
    _, scheduler, watcher = runtimes(clock, seed=in_use)
    assert watcher.wait(DIGEST_CATCH_UP_JOB_ID).retval.status == "sent"
    [post] = digest_posts(standin)
    assert "New signals this week: 1" in post["text"]
    scheduler.shutdown(wait=True)

    clock.advance(minutes=1)  # restart
    _, _, watcher = runtimes(clock)
    assert watcher.wait(DIGEST_CATCH_UP_JOB_ID).retval.status == "not_due"
    assert len(digest_posts(standin)) == 1


def test_two_instances_starting_after_downtime_post_the_missed_digest_once(runtimes, standin):
    clock = FixedClock(NOW + timedelta(days=2))  # Wednesday: Monday's digest never went out
    _, scheduler, _ = runtimes(clock, catch_up_now=False, seed=in_use)
    scheduler.shutdown(wait=True)

    # Two instances come up together and both catch up.
    _, _, one = runtimes(clock)
    _, _, two = runtimes(clock)
    statuses = {one.wait(DIGEST_CATCH_UP_JOB_ID).retval.status}
    statuses.add(two.wait(DIGEST_CATCH_UP_JOB_ID).retval.status)
    assert "sent" in statuses
    assert statuses <= {"sent", "already_sent", "in_progress", "not_due"}
    [post] = digest_posts(standin)
    assert "Covers Mon 23 Feb 2026 09:00 – Mon 2 Mar 2026 09:00 (UTC)" in post["text"]


def test_a_fresh_installation_posts_no_catch_up_digest(runtimes, standin):
    _, _, watcher = runtimes(FixedClock())
    assert watcher.wait(DIGEST_CATCH_UP_JOB_ID).retval.status == "not_due"
    assert standin.calls_to("chat.postMessage", include_errors=True) == []


def test_the_scheduled_job_posts_and_a_second_run_does_not(runtimes, standin):
    _, scheduler, watcher = runtimes(FixedClock(), catch_up_now=False)
    scheduler.modify_job(DIGEST_JOB_ID, next_run_time=datetime.now(UTC))  # "09:00"
    assert watcher.wait(DIGEST_JOB_ID).retval.status == "sent"
    [post] = digest_posts(standin)
    assert "No new signals this week." in post["text"]  # the empty week still gets one
    scheduler.modify_job(DIGEST_JOB_ID, next_run_time=datetime.now(UTC))
    assert watcher.wait(DIGEST_JOB_ID, 2).retval.status == "already_sent"
    assert len(digest_posts(standin)) == 1


def test_start_scheduler_runs_the_digest_and_the_reminders(standin, sqlite_url):
    settings = Settings.from_env(make_env(api_url=standin.url, database_url=sqlite_url), http=True)
    runtime = build_runtime(settings, clock=FixedClock())
    scheduler = start_scheduler(runtime)
    try:
        assert {job.id for job in scheduler.get_jobs()} >= {
            DIGEST_JOB_ID,
            DIGEST_CATCH_UP_JOB_ID,
            "ack-reminders",
        }
        assert scheduler.running
    finally:
        scheduler.shutdown(wait=True)
        runtime.stop()
    assert not scheduler.running
