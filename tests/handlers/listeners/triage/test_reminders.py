"""Reminders for signals nobody acknowledged, driven by a clock the test moves: the job function
(bot.reminders.send_reminders), the thread replies it leads to, and two instances racing."""

from __future__ import annotations

import threading
from datetime import timedelta

from apscheduler.triggers.interval import IntervalTrigger

from bot import db
from bot.jobs.reminders import REMINDER_JOB_ID, add_reminder_job, send_reminders
from bot.jobs.scheduler import create_scheduler
from bot.services.triage import TriageService
from handlers import ids
from tests.conftest import LEAD, MovableClock
from tests.handlers.listeners.triage.helpers import (
    OTHER_LEAD,
    actions,
    assert_slack_happy,
    file_named,
    posted,
    press,
    settle,
    thread,
)

HOUR = 3600


def remind(app) -> list[str]:
    """The reminder job once, as the scheduler runs it in `app`."""
    every = timedelta(hours=app.runtime.settings.ack_reminder_hours)
    return send_reminders(app.runtime.services.triage, every=every)


def reminders_in(app, ref) -> list[str]:
    return [text for text in thread(app, ref) if text.startswith(":alarm_clock:")]


def test_unacknowledged_signals_are_reminded_every_window_at_most_three_times(launcher):
    clock = MovableClock()
    app = launcher(
        clock=clock,
        AI_SIGNAL_ACK_REMINDER_HOURS="1",
        AI_SIGNAL_LEADS=f"{LEAD.id},{OTHER_LEAD.id}",
    )
    waiting = file_named(app, "drift scores creep upward")
    acknowledged = file_named(app, "bias approvals skew by region")
    late = file_named(app, "edge-case empty inputs crash the parser")
    for ref in (waiting, acknowledged, late):
        posted(app, ref)
    press(app, LEAD, ids.ACKNOWLEDGE_ACTION, acknowledged)
    settle(app)
    assert actions(app, acknowledged) == ["acknowledged"]

    assert remind(app) == []
    clock.advance(HOUR - 60)
    assert remind(app) == []  # not before the window is over

    clock.advance(61)
    assert sorted(remind(app)) == sorted([waiting, late])
    assert remind(app) == []  # claimed once
    settle(app)
    [first] = reminders_in(app, waiting)
    assert f"<@{LEAD.id}> <@{OTHER_LEAD.id}>" in first
    assert waiting in first and "reminder 1 of 3" in first
    assert reminders_in(app, acknowledged) == []

    # The late one is acknowledged after its first reminder: no more reminders for it.
    press(app, OTHER_LEAD, ids.ACKNOWLEDGE_ACTION, late)
    settle(app)
    assert "acknowledged" in actions(app, late)

    clock.advance(HOUR / 2)
    assert remind(app) == []  # again only after another full window
    clock.advance(HOUR / 2 + 1)
    assert remind(app) == [waiting]
    clock.advance(HOUR + 1)
    assert remind(app) == [waiting]
    for _ in range(3):
        clock.advance(HOUR + 1)
        assert remind(app) == []  # three at most
    settle(app)

    texts = reminders_in(app, waiting)
    assert [t.split("(reminder ")[1][:6] for t in texts] == ["1 of 3", "2 of 3", "3 of 3"]
    assert len(reminders_in(app, late)) == 1
    assert reminders_in(app, acknowledged) == []
    assert actions(app, waiting) == ["reminded"] * 3
    assert {e for e in actions(app, late)} == {"reminded", "acknowledged"}
    assert_slack_happy(app)


def test_reminders_mention_the_lead_group_and_the_job_is_scheduled(launcher, people):
    people.add_usergroup("SLEADGRP1", users=[OTHER_LEAD.id])
    clock = MovableClock()
    app = launcher(clock=clock, AI_SIGNAL_ACK_REMINDER_HOURS="2", AI_SIGNAL_LEAD_GROUP="SLEADGRP1")
    ref = file_named(app)
    posted(app, ref)
    clock.advance(2 * HOUR + 1)
    assert remind(app) == [ref]
    settle(app)
    [reminder] = reminders_in(app, ref)
    assert "<!subteam^SLEADGRP1>" in reminder
    assert "<@" not in reminder

    scheduler = create_scheduler()
    every = timedelta(hours=app.runtime.settings.ack_reminder_hours)
    add_reminder_job(scheduler, app.runtime.services.triage, every=every)
    job = scheduler.get_job(REMINDER_JOB_ID)
    assert job.func is send_reminders and job.args == (app.runtime.services.triage,)
    assert job.kwargs == {"every": every, "escalate_to": None}
    assert isinstance(job.trigger, IntervalTrigger)
    assert timedelta(seconds=30) <= job.trigger.interval <= timedelta(minutes=30)
    assert_slack_happy(app)


def instance(engine, clock) -> TriageService:
    """Another app instance's triage service on the same database."""
    sessions = db.create_session_factory(engine)
    return TriageService(
        sessions=sessions,
        anon_delay=(0, 0),
        code_key=b"test-code-key",
        triage_channel="C",
        clock=clock,
    )


def race(instances: list[TriageService]) -> list[list[str]]:
    """All instances call claim_reminders at the same moment; what each one claimed."""
    barrier = threading.Barrier(len(instances))
    claimed: list[list[str]] = [[] for _ in instances]

    def run(index: int) -> None:
        barrier.wait()
        claimed[index] = instances[index].claim_reminders(every=timedelta(hours=1))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(instances))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return claimed


def test_two_instances_claim_each_reminder_once(launcher, database_url):
    clock = MovableClock()
    app = launcher(clock=clock, AI_SIGNAL_ACK_REMINDER_HOURS="1")
    refs = [file_named(app, f"drift model {n} drifts") for n in range(4)]
    for ref in refs:
        posted(app, ref)

    engines = [db.create_db_engine(database_url) for _ in range(3)]
    instances = [instance(engine, clock) for engine in engines]
    try:
        for round_number in range(1, 5):
            clock.advance(HOUR + 1)
            claimed = race(instances)
            everything = [ref for refs_of_one in claimed for ref in refs_of_one]
            if round_number <= 3:
                assert sorted(everything) == sorted(refs), (round_number, claimed)
            else:
                assert everything == [], claimed
    finally:
        for engine in engines:
            engine.dispose()

    app.runtime.worker.wake()
    settle(app)
    for ref in refs:
        assert actions(app, ref) == ["reminded"] * 3
        assert [t.split("(reminder ")[1][:1] for t in reminders_in(app, ref)] == ["1", "2", "3"]
    assert_slack_happy(app)
