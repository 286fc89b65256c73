"""One digest per channel and period: concurrent senders, a second send, --force, a failed post
retried (not duplicated), a sender that died. On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from bot.services.digest import ClaimOutcome, SendStatus
from models import DigestRun
from tests.bot.jobs.digest.conftest import (
    FixedClock,
    add_signal,
    digest_posts,
    make_sender,
    make_service,
    open_database,
)
from tests.conftest import DIGEST


def runs(database) -> list[DigestRun]:
    with database.sessions() as session:
        return list(
            session.scalars(select(DigestRun).order_by(DigestRun.period_start, DigestRun.attempt))
        )


def race(senders) -> list:
    """Every sender calls send() at the same moment, each on its own thread."""
    barrier = threading.Barrier(len(senders))
    results = [None] * len(senders)

    def send(i: int) -> None:
        barrier.wait()
        results[i] = senders[i].send()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(senders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_concurrent_senders_post_one_digest(database, standin):
    """Two instances (own engine, own Slack client) start sending at the same moment."""
    clock = FixedClock()
    add_signal(database.sessions)
    other = open_database(database.url, migrate=False)
    try:
        senders = [
            make_sender(make_service(database.sessions, clock), standin),
            make_sender(make_service(other.sessions, clock), standin),
        ]
        rounds = 10
        for round_ in range(rounds):
            results = race(senders)
            statuses = sorted(r.status for r in results)
            assert statuses.count(SendStatus.SENT) == 1, statuses
            assert set(statuses) - {SendStatus.SENT} <= {
                SendStatus.ALREADY_SENT,
                SendStatus.IN_PROGRESS,
            }
            assert len(digest_posts(standin)) == round_ + 1
            clock.advance(days=7)  # the next period
    finally:
        other.engine.dispose()
    assert [r.state for r in runs(database)] == ["sent"] * rounds
    assert len(standin.calls_to("chat.postMessage", include_errors=True)) == rounds


def test_a_claim_sent_between_the_first_look_and_the_lock_is_not_taken_over(database, clock):
    """PostgreSQL (read committed) can see "not sent" first and then the row marked sent by the
    time it locks it: the row's state decides, not the first look."""
    service = make_service(database.sessions, clock)
    period = service.current_period()
    claim = service.claim(channel=DIGEST, period=period)
    service.mark_sent(run_id=claim.run_id, ts="1.2")
    with database.sessions.begin() as session:
        run = session.get(DigestRun, claim.run_id)
        again = service._take_over(run, period, clock.now, take_failed=True, lease=timedelta(1))
    assert (again.outcome, again.ts) == (ClaimOutcome.ALREADY_SENT, "1.2")


def test_a_second_send_posts_nothing_and_force_sends_again(database, standin, clock):
    sender = make_sender(make_service(database.sessions, clock), standin)
    first = sender.send()
    assert first.status is SendStatus.SENT and first.ts
    again = sender.send(manual=True)
    assert again.status is SendStatus.ALREADY_SENT
    assert again.ts == first.ts
    assert len(digest_posts(standin)) == 1

    forced = sender.send(force=True, manual=True)
    assert (forced.status, forced.attempt) == (SendStatus.SENT, 1)
    assert len(digest_posts(standin)) == 2
    assert sender.send().status is SendStatus.ALREADY_SENT
    assert sender.catch_up().status is SendStatus.NOT_DUE
    assert [(r.attempt, r.state) for r in runs(database)] == [(0, "sent"), (1, "sent")]


def test_a_failed_post_is_retried_later_and_posted_once(database, standin, clock):
    add_signal(database.sessions)
    sender = make_sender(make_service(database.sessions, clock), standin)
    standin.fail_next("chat.postMessage", status=500)
    failed = sender.send()
    assert failed.status is SendStatus.FAILED
    assert failed.error == "500 internal_error"
    assert digest_posts(standin) == []
    [run] = runs(database)
    assert (run.state, run.last_error) == ("claimed", "500 internal_error")

    # Another instance (or the scheduled job) right away: the retry time has not come.
    assert sender.send().status is SendStatus.RETRY_LATER
    assert sender.catch_up().status is SendStatus.RETRY_LATER
    assert digest_posts(standin) == []

    clock.advance(minutes=2)
    retried = sender.catch_up()
    assert retried.status is SendStatus.SENT
    assert len(digest_posts(standin)) == 1
    assert sender.catch_up().status is SendStatus.NOT_DUE
    assert sender.send().status is SendStatus.ALREADY_SENT
    assert len(digest_posts(standin)) == 1
    [run] = runs(database)
    assert (run.state, run.last_error, run.ts) == ("sent", None, retried.ts)


def test_slack_down_then_back_manual_send_retries_at_once(database, standin, clock):
    sender = make_sender(make_service(database.sessions, clock), standin)
    standin.set_down(True)
    failed = sender.send()
    assert failed.status is SendStatus.FAILED
    assert failed.error == "503 service_unavailable"
    standin.set_down(False)
    # `ai-signal digest send` does not wait for the retry time of a failed claim.
    assert sender.send(manual=True).status is SendStatus.SENT
    assert sender.send(manual=True).status is SendStatus.ALREADY_SENT
    assert len(digest_posts(standin)) == 1


def test_rate_limited_post_waits_as_long_as_slack_asks(database, standin, clock):
    sender = make_sender(make_service(database.sessions, clock), standin)
    standin.fail_next("chat.postMessage", status=429, retry_after=120)
    failed = sender.send()
    assert failed.status is SendStatus.FAILED and failed.error == "ratelimited"
    assert failed.retry_at == clock.now + timedelta(seconds=120)
    clock.advance(seconds=119)
    assert sender.catch_up().status is SendStatus.RETRY_LATER
    clock.advance(seconds=1)
    assert sender.catch_up().status is SendStatus.SENT
    assert len(digest_posts(standin)) == 1


def test_a_sender_that_died_holding_the_claim_is_taken_over_after_its_lease(
    database, standin, clock
):
    service = make_service(database.sessions, clock)
    period = service.current_period()
    dead = service.claim(channel=DIGEST, period=period)  # claimed, then the process died
    assert dead.outcome is ClaimOutcome.CLAIMED
    sender = make_sender(service, standin)
    assert sender.send().status is SendStatus.IN_PROGRESS
    assert sender.send(manual=True).status is SendStatus.IN_PROGRESS  # it may be posting now
    clock.advance(minutes=6)
    assert sender.send().status is SendStatus.SENT
    assert len(digest_posts(standin)) == 1


def test_restart_at_the_scheduled_minute_does_not_post_twice(database, standin, clock):
    """The old process posted at 09:00:00; the new one starts at 09:00:30 and catches up."""
    add_signal(database.sessions)
    old = make_sender(make_service(database.sessions, clock), standin)
    assert old.send().status is SendStatus.SENT
    clock.advance(seconds=30)
    restarted = open_database(database.url)
    try:
        new = make_sender(make_service(restarted.sessions, clock), standin)
        assert new.catch_up().status is SendStatus.NOT_DUE
        assert new.send().status is SendStatus.ALREADY_SENT
    finally:
        restarted.engine.dispose()
    assert len(digest_posts(standin)) == 1
