"""A thread's replies reach Slack in their order even when the instance that claimed one of them
died with it: the later replies wait for the claim to run out, the claimed one goes first
(looked for in the thread, then sent), then the rest."""

from __future__ import annotations

from datetime import timedelta

from bot.jobs.delivery import DeliveryWorker
from bot.services.delivery import DeliveryService
from bot.services.records import DeliveryTask
from models import OutboxPurpose
from tests.bot.jobs.delivery.conftest import FAST, Pipeline
from tests.conftest import LEAD, TRIAGE, MovableClock

LEASE = timedelta(seconds=60)


def worker_at(pipeline: Pipeline, clock: MovableClock) -> DeliveryWorker:
    delivery = DeliveryService(sessions=pipeline.sessions, clock=clock, lease=LEASE)
    worker = DeliveryWorker(delivery=delivery, send=pipeline.sender, pace=FAST, batch=10)
    pipeline.workers.append(worker)
    return worker


def claim_and_die(pipeline: Pipeline, clock: MovableClock) -> list[DeliveryTask]:
    """What an instance killed after marking its attempts takes with it: everything due it
    could claim, attempts begun, nothing sent or given back."""
    dead = DeliveryService(sessions=pipeline.sessions, clock=clock, lease=LEASE)
    tasks = dead.claim_due(limit=50)
    for task in tasks:
        assert dead.begin_attempt(item_id=task.item_id, attempts=task.attempts)
    return tasks


def test_replies_wait_for_an_earlier_reply_a_dead_instance_held(pipeline):
    clock = MovableClock()
    ref = pipeline.file("drift with a busy thread", anonymous=True)  # no private notes
    worker_at(pipeline, clock).drain()
    parent = pipeline.signal(ref).triage_ts
    assert parent

    pipeline.triage.acknowledge(ref=ref, lead_id=LEAD.id)
    held = claim_and_die(pipeline, clock)
    assert [t.purpose for t in held].count(OutboxPurpose.THREAD_REPLY.value) == 1
    pipeline.triage.ask(ref=ref, lead_id=LEAD.id, question="Since when?")
    pipeline.triage.ask(ref=ref, lead_id=LEAD.id, question="Which segment?")

    # The acknowledgement is in a dead instance's hands: the questions after it wait.
    worker_at(pipeline, clock).drain()
    assert pipeline.standin.thread(TRIAGE, parent) == []

    clock.advance(LEASE.total_seconds() + 1)  # the claim has run out
    worker_at(pipeline, clock).drain()
    replies = [r["text"] for r in pipeline.standin.thread(TRIAGE, parent)]
    assert len(replies) == 3, replies
    assert "acknowledged" in replies[0].lower()
    assert "Since when?" in replies[1] and "Which segment?" in replies[2]
    assert pipeline.standin.calls_to("conversations.replies"), "the held reply was not looked for"
    assert all(item.state == "sent" for item in pipeline.items())


def test_a_reply_waits_for_an_earlier_one_claimed_in_the_same_round(pipeline):
    clock = MovableClock()
    ref = pipeline.file("drift answered twice at once", anonymous=True)
    worker = worker_at(pipeline, clock)
    worker.drain()
    pipeline.triage.acknowledge(ref=ref, lead_id=LEAD.id)
    pipeline.triage.ask(ref=ref, lead_id=LEAD.id, question="Since when?")

    delivery = DeliveryService(sessions=pipeline.sessions, clock=clock, lease=LEASE)
    first = [t for t in delivery.claim_due(limit=50) if t.purpose == "thread_reply"]
    assert len(first) == 1 and first[0].event.action == "acknowledged"
    # Until it is settled, the question is not claimable, by this worker or any other.
    assert not [t for t in delivery.claim_due(limit=50) if t.purpose == "thread_reply"]
    delivery.release(item_ids=[first[0].item_id])
    worker.drain()
    replies = [r["text"] for r in pipeline.standin.thread(TRIAGE, pipeline.signal(ref).triage_ts)]
    assert len(replies) == 2 and "Since when?" in replies[1], replies
