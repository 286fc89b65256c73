"""One retry owner: the outbox's client has no slack_sdk retry handlers under the outbox's own
retries, so a post whose answer is lost is not sent a second time behind the outbox's back."""

from __future__ import annotations

import pytest
from slack_sdk.http_retry import ConnectionErrorRetryHandler

from bot.config import Settings
from bot.standin import SlackStandIn
from handlers.client import create_web_client
from tests.conftest import BOT_TOKEN, TRIAGE


def settings_for(standin: SlackStandIn, tmp_path) -> Settings:
    return Settings.from_env(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": standin.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
            "AI_SIGNAL_TRIAGE_CHANNEL": TRIAGE,
        },
        http=True,
    )


def test_the_outbox_client_sends_a_post_whose_answer_was_lost_once(standin, tmp_path):
    client = create_web_client(settings_for(standin, tmp_path), retries=False)
    assert client.retry_handlers == []
    standin.drop_answer_next("chat.postMessage")
    with pytest.raises(OSError):
        client.chat_postMessage(channel=TRIAGE, text="one post")
    assert [m["text"] for m in standin.messages(TRIAGE)] == ["one post"]


def test_the_request_path_client_keeps_slack_sdks_connection_retry(standin, tmp_path):
    """Where no outbox stands behind a call (Bolt's answers, start-up checks) slack_sdk's
    default stays — and it is exactly what would post twice under the outbox."""
    client = create_web_client(settings_for(standin, tmp_path))
    assert any(isinstance(h, ConnectionErrorRetryHandler) for h in client.retry_handlers)
    standin.drop_answer_next("chat.postMessage")
    client.chat_postMessage(channel=TRIAGE, text="one post")
    assert [m["text"] for m in standin.messages(TRIAGE)] == ["one post", "one post"]
