"""No duplicate after a lost answer or a crash: every post carries its outbox item's random id in
its metadata, and an item whose last attempt may have reached Slack is looked for in the
channel's history (thread replies: the thread) before it is sent again."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from sqlalchemy import update

from bot.services.delivery import wall_now
from models import OutboxItem, OutboxPurpose
from tests.bot.jobs.delivery.conftest import Pipeline
from tests.conftest import LEAD, REPO_ROOT, TRIAGE, wait_until


def drained(pipeline: Pipeline) -> bool:
    return all(item.state == "sent" for item in pipeline.items())


def test_a_post_whose_answer_was_lost_is_found_in_history_not_posted_again(pipeline):
    slack = pipeline.standin
    slack.drop_answer_next("chat.postMessage")
    ref = pipeline.file("drift whose answer got lost")
    pipeline.worker().start()
    wait_until(lambda: drained(pipeline), timeout=10, what="the item recorded as sent")

    [post] = pipeline.posts()
    assert pipeline.signal(ref).triage_ts == post["ts"]  # the ts found in the history
    assert len(slack.calls_to("chat.postMessage", include_errors=True)) == 1
    [lookup] = slack.calls_to("conversations.history")
    assert lookup.params["include_all_metadata"] in ("1", "true", True)
    assert float(lookup.params["oldest"]) < float(post["ts"])


def test_an_answer_that_comes_too_late_is_not_a_second_post(pipeline):
    slack = pipeline.standin
    slack.delay_answer_next("chat.postMessage", delay=2.0)  # the client gives up after 1 s
    pipeline.file("drift answered late")
    pipeline.worker().start()
    wait_until(lambda: drained(pipeline), timeout=10, what="the item recorded as sent")
    assert len(pipeline.posts()) == 1
    assert len(slack.calls_to("chat.postMessage", include_errors=True)) == 1


def test_thread_replies_after_a_lost_answer_stay_once_and_in_order(pipeline):
    slack = pipeline.standin
    worker = pipeline.worker()
    ref = pipeline.file("drift with a thread", anonymous=True)  # no private notes to race with
    worker.start()
    wait_until(lambda: pipeline.signal(ref).triage_ts, what="the triage post")
    slack.drop_answer_next("chat.postMessage")  # the first reply lands, its answer does not
    pipeline.triage.acknowledge(ref=ref, lead_id=LEAD.id)
    pipeline.triage.ask(ref=ref, lead_id=LEAD.id, question="Since when?")
    worker.wake()
    wait_until(lambda: drained(pipeline), timeout=10, what="every item sent")

    parent = pipeline.signal(ref).triage_ts
    replies = slack.thread(TRIAGE, parent)
    assert len(replies) == 2, [r["text"] for r in replies]
    assert "acknowledged" in replies[0]["text"].lower()
    assert "Since when?" in replies[1]["text"]
    assert slack.calls_to("conversations.replies"), "the thread was not checked"


def test_a_crash_before_the_post_reached_slack_posts_it_once(pipeline):
    """The attempt mark is there but Slack never got the request: looked for, not found, sent."""
    ref = pipeline.file("drift after a crash before sending")
    with pipeline.sessions.begin() as session:
        session.execute(update(OutboxItem).values(attempt_started_at=wall_now()))
    pipeline.worker().start()
    wait_until(lambda: drained(pipeline), timeout=10, what="the item sent")
    assert len(pipeline.posts()) == 1 and pipeline.signal(ref).triage_ts
    assert len(pipeline.standin.calls_to("conversations.history")) == 1


def test_a_crash_after_the_post_reached_slack_records_it_without_posting(pipeline):
    """What a kill -9 between Slack's accepting the post and the commit leaves behind."""
    ref = pipeline.file("drift after a crash after sending")
    [item] = pipeline.items()
    started = wall_now() - timedelta(seconds=1)
    posted = pipeline.client.chat_postMessage(
        channel=TRIAGE,
        text="the post of the process that died",
        metadata={"event_type": "ai_signal_outbox", "event_payload": {"item": item.id}},
    )
    with pipeline.sessions.begin() as session:
        session.execute(update(OutboxItem).values(attempt_started_at=started))
    pipeline.worker().start()
    wait_until(lambda: drained(pipeline), timeout=10, what="the item recorded as sent")
    assert len(pipeline.posts()) == 1
    assert pipeline.signal(ref).triage_ts == posted["ts"]


def test_the_tag_is_the_outbox_items_random_id_and_nothing_else(pipeline):
    for n in range(3):
        pipeline.file(f"drift tagged {n}")
    pipeline.worker().start()
    wait_until(lambda: drained(pipeline), timeout=10, what="all sent")
    ids = {item.id for item in pipeline.items()}
    tags = [c.params["metadata"] for c in pipeline.standin.calls_to("chat.postMessage")]
    assert all(t["event_type"] == "ai_signal_outbox" for t in tags)
    assert all(set(t["event_payload"]) == {"item"} for t in tags)
    assert {t["event_payload"]["item"] for t in tags} == ids
    # uuid4 hex: random, no time order to date an anonymous filing by.
    assert all(re.fullmatch(r"[0-9a-f]{12}4[0-9a-f]{19}", i) for i in ids)


def test_the_parent_update_carries_no_tag_and_a_repeat_is_harmless(pipeline):
    slack = pipeline.standin
    worker = pipeline.worker()
    ref = pipeline.file("drift updated twice")
    worker.start()
    wait_until(lambda: pipeline.signal(ref).triage_ts, what="the triage post")
    slack.drop_answer_next("chat.update")
    pipeline.triage.acknowledge(ref=ref, lead_id=LEAD.id)
    worker.wake()
    wait_until(lambda: drained(pipeline), timeout=10, what="every item sent")
    updates = slack.calls_to("chat.update")
    assert len(updates) == 2 and all("metadata" not in u.params for u in updates)
    [parent] = pipeline.posts()
    assert parent["metadata"]["event_type"] == "ai_signal_outbox"  # kept by the update
    assert [i.purpose for i in pipeline.items() if i.purpose == OutboxPurpose.PARENT_UPDATE]


def test_without_the_history_scopes_the_item_is_sent_again_with_a_warning(pipeline, caplog):
    slack = pipeline.standin
    slack.scopes = frozenset({"chat:write", "channels:read"})
    slack.drop_answer_next("chat.postMessage")
    pipeline.file("drift on an old install")
    pipeline.worker().start()
    wait_until(lambda: drained(pipeline), timeout=10, what="the item sent")
    assert [c.error for c in slack.calls_to("conversations.history", include_errors=True)] == [
        "missing_scope"
    ]
    assert len(pipeline.posts()) == 2  # the old behaviour, said out loud
    assert any("history scopes" in r.getMessage() for r in caplog.records)


def test_manifest_asks_for_the_history_scopes_it_uses():

    manifest = (REPO_ROOT / "manifest.yml").read_text()
    scopes = set(re.findall(r"^      - ([a-z:.]+)$", manifest, flags=re.MULTILINE))
    assert {"chat:write", "channels:history", "groups:history"} <= scopes


def test_a_worker_whose_claim_ran_out_does_not_send_what_another_took_over(pipeline):
    from bot.services.delivery import DeliveryService

    short = DeliveryService(sessions=pipeline.sessions, lease=timedelta(milliseconds=1))
    pipeline.file("drift taken over")
    [first] = short.claim_due(limit=5)
    time.sleep(0.01)
    [second] = short.claim_due(limit=5)  # the first claim ran out: another worker takes it
    assert second.item_id == first.item_id and second.attempts == first.attempts + 1
    assert short.begin_attempt(item_id=first.item_id, attempts=first.attempts) is False
    assert short.begin_attempt(item_id=second.item_id, attempts=second.attempts) is True
