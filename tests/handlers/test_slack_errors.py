"""One reading of Slack's refusals for every sender: wait (429), retry (5xx, unknown), or stop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from handlers.slack_errors import classify


def refusal(status: int, body: dict, headers: dict | None = None) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="http://127.0.0.1/api/chat.postMessage",
        req_args={},
        data=body,
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("refused", response)


@pytest.mark.parametrize(
    ("status", "body", "headers", "label", "permanent", "retry_after"),
    [
        (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}, "ratelimited", False, 7),
        (200, {"ok": False, "error": "ratelimited"}, {}, "ratelimited", False, 30),
        (200, {"ok": False, "error": "not_in_channel"}, {}, "200 not_in_channel", True, None),
        (200, {"ok": False, "error": "internal_error"}, {}, "200 internal_error", False, None),
        (500, {"ok": False, "error": "not_in_channel"}, {}, "500 not_in_channel", False, None),
        (503, {}, {}, "503 None", False, None),
    ],
)
def test_classify(status, body, headers, label, permanent, retry_after):
    failure = classify(refusal(status, body, headers))
    assert (failure.label, failure.permanent, failure.retry_after) == (
        label,
        permanent,
        retry_after,
    )


def test_the_longest_wait_is_the_callers():
    error = refusal(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "86400"})
    assert classify(error).retry_after == 900
    assert classify(error, longest=timedelta(minutes=30)).retry_after == 1800
