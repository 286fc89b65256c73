"""Escalation: a signal whose last reminder went unanswered for another reminder window is raised
once to the escalation channel (or, with a group, in the triage channel mentioning it), in
blameless words; two instances never raise it twice; the digest counts it. Driven by a clock the
test moves, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from bot import db
from bot.config import ConfigError, Settings
from bot.jobs.reminders import send_reminders
from bot.runtime import digest_service
from handlers import ids
from handlers.blocks.digest import build_digest_text
from tests.conftest import ALICE, LEAD, TRIAGE, MovableClock, make_env
from tests.handlers.listeners.triage.helpers import (
    actions,
    assert_slack_happy,
    file_named,
    posted,
    press,
    settle,
)
from tests.handlers.listeners.triage.test_reminders import instance

HOUR = 3600
ESCALATION = "CESCALATE1"
GROUP = "SESCGROUP1"


def tick(app, clock, seconds=HOUR + 1) -> list[str]:
    """Move the clock on, then run the reminder job once as the scheduler does in `app`."""
    clock.advance(seconds)
    settings = app.runtime.settings
    return send_reminders(
        app.runtime.services.triage,
        every=timedelta(hours=settings.ack_reminder_hours),
        escalate_to=settings.escalation_target,
    )


def posts_in(app, channel) -> list[str]:
    return [m["text"] for m in app.standin.messages(channel) if m["thread_ts"] is None]


def test_the_last_unanswered_reminder_is_escalated_once_to_the_channel(launcher, people):
    people.add_channel(ESCALATION, name="ai-escalations", is_member=True)
    clock = MovableClock()
    app = launcher(
        clock=clock,
        AI_SIGNAL_ACK_REMINDER_HOURS="1",
        AI_SIGNAL_LEADS=LEAD.id,
        AI_SIGNAL_ESCALATION_CHANNEL=ESCALATION,
    )
    waiting = file_named(app, "drift fraud-model: scores creep upward")
    answered = file_named(app, "bias loan-model: approvals skew by region")
    for ref in (waiting, answered):
        posted(app, ref)
    for _ in range(3):
        assert sorted(tick(app, clock)) == sorted([waiting, answered])
    press(app, LEAD, ids.ACKNOWLEDGE_ACTION, answered)  # answered after its last reminder
    settle(app)
    assert "acknowledged" in actions(app, answered)

    assert tick(app, clock, HOUR - 60) == []  # not before another full window
    assert tick(app, clock, 61) == [waiting]
    for _ in range(3):
        assert tick(app, clock) == []  # once
    settle(app)

    [post] = posts_in(app, ESCALATION)
    assert waiting in post and "model drift signal on *fraud-model*" in post
    assert "has waited 4 h" in post and "reminders went unanswered" in post
    assert f"archives/{TRIAGE}/p" in post  # the link to the signal's thread
    # Blameless: no person, no text of the signal.
    assert "<@" not in post and ALICE.id not in post and "creep" not in post
    assert actions(app, waiting) == ["reminded"] * 3 + ["escalated"]
    assert "escalated" not in actions(app, answered)

    digest = digest_service(app.runtime.settings, app.runtime.sessions, clock)
    data = digest.gather(period=digest.period_in_progress(now=clock()))
    assert data.escalated_count == 1
    assert "Escalated after the last reminder this week so far: 1" in build_digest_text(data)
    assert_slack_happy(app)


def test_with_only_a_group_it_is_raised_in_the_triage_channel_mentioning_it(launcher, people):
    clock = MovableClock()
    app = launcher(
        clock=clock,
        AI_SIGNAL_ACK_REMINDER_HOURS="1",
        AI_SIGNAL_LEADS=LEAD.id,
        AI_SIGNAL_ESCALATION_GROUP=GROUP,
    )
    ref = file_named(app)
    post = posted(app, ref)
    for _ in range(3):
        assert tick(app, clock) == [ref]
    assert tick(app, clock) == [ref]
    settle(app)
    [escalation] = [t for t in posts_in(app, TRIAGE) if t.startswith(":rotating_light:")]
    assert escalation.startswith(f":rotating_light: <!subteam^{GROUP}> — ")
    assert f"archives/{TRIAGE}/p{post.triage_ts.replace('.', '')}" in escalation
    assert_slack_happy(app)


def test_without_an_escalation_target_nothing_is_escalated(launcher):
    clock = MovableClock()
    app = launcher(clock=clock, AI_SIGNAL_ACK_REMINDER_HOURS="1", AI_SIGNAL_LEADS=LEAD.id)
    ref = file_named(app)
    posted(app, ref)
    for _ in range(5):
        tick(app, clock)
    settle(app)
    assert actions(app, ref) == ["reminded"] * 3


def test_two_instances_escalate_each_signal_once(launcher, database_url, people):
    people.add_channel(ESCALATION, name="ai-escalations", is_member=True)
    clock = MovableClock()
    app = launcher(
        clock=clock, AI_SIGNAL_ACK_REMINDER_HOURS="1", AI_SIGNAL_ESCALATION_CHANNEL=ESCALATION
    )
    refs = [file_named(app, f"drift model {n} drifts") for n in range(4)]
    for ref in refs:
        posted(app, ref)
    for _ in range(3):
        tick(app, clock)
    clock.advance(HOUR + 1)

    engines = [db.create_db_engine(database_url) for _ in range(3)]
    instances = [instance(engine, clock) for engine in engines]
    barrier = threading.Barrier(len(instances))
    claimed: list[list[str]] = [[] for _ in instances]

    def run(index: int) -> None:
        barrier.wait()
        claimed[index] = instances[index].claim_escalations(
            every=timedelta(hours=1), channel=ESCALATION
        )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(instances))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    finally:
        for engine in engines:
            engine.dispose()
    assert sorted(ref for one in claimed for ref in one) == sorted(refs), claimed
    app.runtime.worker.wake()
    settle(app)
    assert len(posts_in(app, ESCALATION)) == 4
    assert_slack_happy(app)


def test_the_escalation_settings_are_checked():
    env = make_env(api_url="http://127.0.0.1:1/api/", database_url="sqlite://")
    settings = Settings.from_env({**env, "AI_SIGNAL_ESCALATION_CHANNEL": ESCALATION})
    assert settings.escalation_target == ESCALATION
    settings = Settings.from_env({**env, "AI_SIGNAL_ESCALATION_GROUP": GROUP})
    assert (settings.escalation_group, settings.escalation_target) == (
        GROUP,
        env["AI_SIGNAL_TRIAGE_CHANNEL"],
    )
    assert Settings.from_env(env).escalation_target is None
    for name, value in (("CHANNEL", "#escalations"), ("GROUP", "U123")):
        try:
            Settings.from_env({**env, f"AI_SIGNAL_ESCALATION_{name}": value})
        except ConfigError as error:
            assert f"AI_SIGNAL_ESCALATION_{name}" in str(error)
        else:
            raise AssertionError(f"{value!r} was accepted")
