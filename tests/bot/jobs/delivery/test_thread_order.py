"""A thread's replies reach Slack in their order even when the instance that claimed one of them
died with it: the later replies wait for the claim to run out, the claimed one goes first
(looked for in the thread, then sent), then the rest. And two steps on one signal written at
once by two instances are stamped, and posted, in the order they commit."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select, text

from bot.clock import utc_now
from bot.jobs.delivery import DeliveryWorker
from bot.services.delivery import DeliveryService
from bot.services.records import DeliveryTask
from bot.services.triage import TriageService
from models import OutboxPurpose, SignalEvent
from tests.bot.jobs.delivery.conftest import FAST, Pipeline, pipeline_on
from tests.conftest import LEAD, TRIAGE, MovableClock, migrated_postgres, wait_until

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


class GatedClock:
    """The real clock, except that the first read from the thread `gate` names waits until the
    test opens the gate: a step held there keeps the locks it has taken."""

    def __init__(self) -> None:
        self.gate: threading.Thread | None = None
        self.reached = threading.Event()
        self.opened = threading.Event()

    def __call__(self) -> datetime:
        if threading.current_thread() is self.gate:
            self.gate = None
            self.reached.set()
            assert self.opened.wait(30), "the test never opened the gate"
        return utc_now()


def lock_waiters(pipeline: Pipeline) -> int:
    with pipeline.engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
        )


def test_an_answer_written_during_a_lead_step_comes_after_it(standin):
    """PostgreSQL (SQLite's writers queue on one lock already): a lead acknowledges while the
    anonymous reporter answers. The lead's step holds the signal's row; the answer waits for it,
    then is stamped after it in the history and posted after it in the thread."""
    with pipeline_on(standin, migrated_postgres()) as pipeline:
        clock = GatedClock()
        triage = TriageService(
            sessions=pipeline.sessions,
            code_key=b"k",
            triage_channel=TRIAGE,
            anon_delay=(0, 0),
            clock=clock,
        )
        filed = pipeline.signals.file_signal(
            kind="drift", text="churn model drifts", anonymous=True, reporter_id="UALICE0001"
        )
        worker_at(pipeline, MovableClock()).drain()

        lead = threading.Thread(
            target=triage.acknowledge, kwargs={"ref": filed.ref, "lead_id": LEAD.id}
        )
        clock.gate = lead
        lead.start()
        assert clock.reached.wait(10), "the acknowledgement did not start"
        answer = threading.Thread(
            target=triage.reply_anonymously,
            kwargs={"code": filed.code, "text": "It began on Monday.", "requester_id": None},
        )
        answer.start()
        wait_until(lambda: lock_waiters(pipeline) >= 1, "the answer to wait for the lead's step")
        clock.opened.set()
        lead.join(10)
        answer.join(10)

        with pipeline.sessions() as session:
            history = session.execute(
                select(SignalEvent.action, SignalEvent.created_at).order_by(SignalEvent.created_at)
            ).all()
        assert [action for action, _ in history][-2:] == ["acknowledged", "replied"], history
        worker_at(pipeline, MovableClock()).drain()
        parent = pipeline.signal(filed.ref).triage_ts
        assert parent
        replies = [r["text"] for r in pipeline.standin.thread(TRIAGE, parent)]
        assert len(replies) == 2 and "It began on Monday." in replies[1], replies


def test_a_reply_slack_failed_keeps_its_place_before_the_replies_after_it(pipeline):
    """Slack refused the acknowledgement's reply for a reason that may pass (not a rate limit,
    not for good): it is tried again after a back-off, and the question asked meanwhile waits
    for it instead of going first."""
    clock = MovableClock()
    ref = pipeline.file("drift whose reply fails once", anonymous=True)
    worker_at(pipeline, clock).drain()
    parent = pipeline.signal(ref).triage_ts
    pipeline.triage.acknowledge(ref=ref, lead_id=LEAD.id)
    pipeline.standin.fail_next("chat.postMessage", error="fatal_error")
    worker_at(pipeline, clock).drain()
    [failed] = [i for i in pipeline.items() if i.state == "pending"]
    assert failed.last_error and "fatal_error" in failed.last_error

    pipeline.triage.ask(ref=ref, lead_id=LEAD.id, question="Since when?")
    worker_at(pipeline, clock).drain()
    assert pipeline.standin.thread(TRIAGE, parent) == []  # the question waits its turn

    clock.advance(2)  # past the first back-off (1 s, ±20 %)
    worker_at(pipeline, clock).drain()
    replies = [r["text"] for r in pipeline.standin.thread(TRIAGE, parent)]
    assert len(replies) == 2, replies
    assert "acknowledged" in replies[0].lower() and "Since when?" in replies[1]
