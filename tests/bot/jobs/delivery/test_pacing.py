"""Pace, don't collide: a per-channel send budget in the database, shared by every worker, keeps
a drain under Slack's limit; a 429's Retry-After still holds the channel. Flat under a backlog:
a claim round reads past none of a paused channel's items, and other channels keep flowing."""

from __future__ import annotations

import time
from datetime import timedelta

from bot.jobs.delivery import Pace
from bot.services.delivery import DeliveryService, wall_now
from models import ChannelBudget
from tests.bot.jobs.delivery.conftest import Pipeline
from tests.conftest import TRIAGE, wait_until

# The stand-in's limit and the worker's pace, scaled up from Slack's 1/s so the test is short.
RATE = 10.0
LIMIT = (RATE, 5.0)
PACE = Pace(rate=RATE, burst=3, max_wait=0.5)
OTHER = "COTHER0001"


def answered_429(pipeline: Pipeline) -> int:
    return sum(
        1
        for c in pipeline.standin.calls_to("chat.postMessage", include_errors=True)
        if c.status == 429
    )


def test_a_drain_keeps_to_the_channel_limit_instead_of_hitting_it(pipeline):
    pipeline.standin.set_channel_rate_limit(LIMIT)
    n = 30
    for i in range(n):
        pipeline.file(f"drift backlog {i}")
    started = time.monotonic()
    pipeline.worker(pace=PACE).start()
    wait_until(lambda: len(pipeline.posts()) == n, timeout=20, what="the backlog drained")
    elapsed = time.monotonic() - started
    assert answered_429(pipeline) <= 1
    floor = (n - LIMIT[1]) / RATE
    assert elapsed >= (n - PACE.burst) / RATE * 0.9  # paced, not a burst
    assert elapsed < floor * 2 + 2


def test_three_workers_share_one_budget(pipeline, standin, database_url):
    """Three instances (own engine, own worker) drain one channel: together at its pace."""
    from tests.bot.jobs.delivery.conftest import make_pipeline

    standin.set_channel_rate_limit(LIMIT)
    others = [make_pipeline(standin, database_url) for _ in range(2)]
    try:
        n = 30
        for i in range(n):
            pipeline.file(f"drift shared {i}")
        for each in (pipeline, *others):
            each.worker(pace=PACE).start()
        wait_until(lambda: len(pipeline.posts()) == n, timeout=20, what="the backlog drained")
        assert answered_429(pipeline) <= 2
        refs = [m["text"] for m in pipeline.posts()]
        assert len(set(refs)) == n
    finally:
        for each in others:
            for worker in each.workers:
                worker.stop()
            each.engine.dispose()


def test_retry_after_holds_the_channel(pipeline):
    slack = pipeline.standin
    slack.fail_next("chat.postMessage", status=429, retry_after=2)
    pipeline.file("drift rate limited")
    limited_at = time.monotonic()
    pipeline.worker(pace=PACE).start()
    for i in range(3):
        pipeline.file(f"drift while held {i}")
    wait_until(lambda: len(pipeline.posts()) == 4, timeout=10, what="all four posted")
    first_ok = slack.calls_to("chat.postMessage")[0].at
    assert first_ok - slack.calls_to("chat.postMessage", include_errors=True)[0].at >= 1.9
    assert time.monotonic() - limited_at >= 1.9
    # Held in the database, where every instance sees it, and in queue order afterwards.
    assert [m["text"].split(":")[0] for m in pipeline.posts()] == [
        "SIG-1",
        "SIG-2",
        "SIG-3",
        "SIG-4",
    ]


def test_a_paused_channel_does_not_hold_the_others(pipeline, standin):
    standin.add_channel(OTHER, name="other", is_member=True)
    for i in range(50):
        pipeline.file(f"drift held {i}")
    other = type(pipeline.signals)(
        sessions=pipeline.sessions, code_key=b"k", triage_channel=OTHER, anon_delay=(0, 0)
    )
    with pipeline.sessions.begin() as session:
        session.add(ChannelBudget(channel=TRIAGE, paused_until=wall_now() + timedelta(minutes=5)))
    other.file_signal(kind="drift", text="on the other channel", anonymous=False, reporter_id="U1")
    pipeline.worker(pace=PACE).start()
    wait_until(lambda: standin.messages(OTHER), timeout=5, what="the other channel's post")
    assert standin.messages(TRIAGE) == []


def claim_statements(pipeline: Pipeline, delivery: DeliveryService) -> list[tuple[str, tuple]]:
    from sqlalchemy import event

    seen: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM outbox" in statement and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(pipeline.engine, "before_cursor_execute", record)
    try:
        delivery.claim_due(limit=5)
    finally:
        event.remove(pipeline.engine, "before_cursor_execute", record)
    return seen


def test_a_claim_behind_a_paused_channel_reads_only_the_free_channels(pipeline, standin):
    """The plan of every claim query: index searches by channel, no scan of the outbox (which
    would read past the paused channel's backlog); bench/claim_backlog.py times it."""
    for i in range(20):
        pipeline.file(f"drift held {i}")
    other = type(pipeline.signals)(
        sessions=pipeline.sessions, code_key=b"k", triage_channel=OTHER, anon_delay=(0, 0)
    )
    other.file_signal(kind="drift", text="on the other channel", anonymous=False, reporter_id="U1")
    with pipeline.sessions.begin() as session:
        session.add(ChannelBudget(channel=TRIAGE, paused_until=wall_now() + timedelta(minutes=5)))
    statements = claim_statements(pipeline, pipeline.delivery)
    assert len(statements) == 2, statements  # the channels, then the free channels' items
    explain = "EXPLAIN QUERY PLAN" if pipeline.engine.dialect.name == "sqlite" else "EXPLAIN"
    with pipeline.engine.connect() as connection:
        for statement, parameters in statements:
            rows = connection.exec_driver_sql(f"{explain} {statement}", parameters).all()
            plan = " ".join(str(row[-1]) for row in rows)
            assert "ix_outbox_state_channel_due_at" in plan, plan
            assert "SCAN outbox " not in plan + " " and "Seq Scan on outbox" not in plan, plan
