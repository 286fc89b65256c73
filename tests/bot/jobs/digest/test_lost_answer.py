"""The digest post carries its run's random id in its metadata; a digest whose answer was lost is
found in the channel's history and recorded, not posted a second time."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.services.digest import SendStatus
from handlers.digest_sender import DigestSender
from tests.bot.jobs.digest.conftest import FixedClock, add_signal, digest_posts, make_service
from tests.conftest import BOT_TOKEN, DIGEST, TRIAGE


def sender(database, standin, clock) -> DigestSender:
    return DigestSender(
        digest=make_service(database.sessions, clock),
        client=WebClient(token=BOT_TOKEN, base_url=standin.url, timeout=1, retry_handlers=[]),
        channel=DIGEST,
        triage_channel=TRIAGE,
    )


def test_a_digest_whose_answer_was_lost_is_not_posted_twice(database, standin):
    clock = FixedClock()
    add_signal(database.sessions)
    standin.drop_answer_next("chat.postMessage")
    first = sender(database, standin, clock).send(manual=True)
    assert first.status is SendStatus.FAILED  # no answer: the sender cannot know
    assert len(digest_posts(standin)) == 1  # … but Slack has it

    second = sender(database, standin, clock).send(manual=True)
    assert second.status is SendStatus.SENT
    [post] = digest_posts(standin)
    assert second.ts == post["ts"]
    assert post["metadata"]["event_type"] == "ai_signal_digest"
    assert set(post["metadata"]["event_payload"]) == {"run"}
    assert sender(database, standin, clock).send().status is SendStatus.ALREADY_SENT
    assert len(standin.calls_to("chat.postMessage", include_errors=True)) == 1
