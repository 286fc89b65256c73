"""How long the worker holds a channel after Slack answers 429."""

from __future__ import annotations

import pytest

from handlers.slack_errors import retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "7"}, 7.0),  # header names are case-insensitive
        ({"Retry-After": "0"}, 1.0),  # at least a second
        ({}, 30.0),  # missing: a cautious default
        ({"Retry-After": "soon"}, 30.0),  # unreadable: the same
        ({"Retry-After": "86400"}, 900.0),  # never longer than the outbox's longest wait
    ],
)
def test_retry_after_seconds(headers, seconds):
    assert retry_after_seconds(headers) == seconds
