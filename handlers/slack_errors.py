"""What a Slack Web API error means for whoever sent the request: wait, retry, or stop.

One classification for every sender (the delivery worker, the digest): Slack's Retry-After is
read here, and here is the one list of errors that will not go away by themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.services.errors import SendFailure

# Errors that will not go away by themselves: keep the item, report it, stop trying.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "restricted_action",
        "thread_not_found",
        "message_not_found",
        "cant_update_message",
        "user_not_found",
        "cannot_dm_bot",
    }
)

DEFAULT_RETRY_AFTER = 30.0  # seconds, when a 429 carries no readable Retry-After
LONGEST_RETRY_AFTER = timedelta(minutes=15)


def retry_after_seconds(
    headers: Mapping[str, Any] | None, *, longest: timedelta = LONGEST_RETRY_AFTER
) -> float:
    """Seconds to wait after a 429: Slack's Retry-After, at least 1 s, 30 s when it is missing or
    unreadable, and never longer than `longest`."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return min(max(float(value), 1.0), longest.total_seconds())
            except (TypeError, ValueError):
                break
    return min(DEFAULT_RETRY_AFTER, longest.total_seconds())


def classify(error: SlackApiError, *, longest: timedelta = LONGEST_RETRY_AFTER) -> SendFailure:
    response = error.response
    status = response.status_code
    data: Any = response.data
    code = data.get("error") if isinstance(data, dict) else None
    retry_after = None
    if status == 429 or code == "ratelimited":
        retry_after = retry_after_seconds(response.headers, longest=longest)
    permanent = retry_after is None and status < 500 and code in PERMANENT_ERRORS
    return SendFailure(status=status, code=code, retry_after=retry_after, permanent=permanent)
