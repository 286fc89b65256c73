"""The redacting log formatter, on its own: a Slack request body that reaches any logger, at any
level, in any of the shapes code tends to log it in, comes out without the reporter in it.

The end-to-end tests show that today's code paths log nothing identifying. This one guards the
last line of defence for the next code path: a `logger.info(body)` (what Bolt's own docs
suggest), an exception message that carries a body, a library that logs a request.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from bot.logging_setup import configure_logging
from tests.privacy.canaries import (
    CANARY_CHANNEL,
    CANARY_CHANNEL_NAME,
    CANARY_TEAM_DOMAIN,
    CANARY_USER_ID,
    CANARY_USER_NAME,
    FIXED_NEEDLES,
    assert_no_leaks,
    find_in,
)

TRIGGER_ID = "1712345678.123456789.canarytrig0a1b2c3d4e5f6a7b"
REAL_TRIGGER_ID = "13345224609.738474920.8088930838d88f008e0"  # Slack's own shape
RESPONSE_URL = "https://hooks.slack.com/commands/TSTANDIN/123456/canaryresp9Zq"

COMMAND = {
    "token": "verification-token-unused",
    "team_id": "TSTANDIN",
    "team_domain": CANARY_TEAM_DOMAIN,
    "channel_id": CANARY_CHANNEL,
    "channel_name": CANARY_CHANNEL_NAME,
    "user_id": CANARY_USER_ID,
    "user_name": CANARY_USER_NAME,
    "command": "/ai-signal",
    "text": "anon drift fraud-model precision fell",
    "api_app_id": "ASTANDIN",
    "is_enterprise_install": "false",
    "response_url": RESPONSE_URL,
    "trigger_id": TRIGGER_ID,
}
VIEW_SUBMISSION = {
    "type": "view_submission",
    "team": {"id": "TSTANDIN", "domain": CANARY_TEAM_DOMAIN},
    "user": {
        "id": CANARY_USER_ID,
        "username": CANARY_USER_NAME,
        "name": CANARY_USER_NAME,
        "team_id": "TSTANDIN",
    },
    "trigger_id": REAL_TRIGGER_ID,
    "view": {"id": "V0A1B2C3D4", "callback_id": "signal_modal"},
}
SHAPES = {
    "form-encoded command": urlencode(COMMAND),
    "command as JSON": json.dumps(COMMAND),
    "command as a Python dict": repr(COMMAND),
    "view_submission as JSON": json.dumps(VIEW_SUBMISSION),
    "view_submission as a Python dict": repr(VIEW_SUBMISSION),
    "payload= form field": urlencode({"payload": json.dumps(VIEW_SUBMISSION)}),
}
NEEDLES = list(FIXED_NEEDLES) + [TRIGGER_ID, REAL_TRIGGER_ID, RESPONSE_URL]
LOGGERS = (
    # the app's own loggers: only field-level redaction applies to them
    "ai_signal.errors",
    "ai_signal.delivery",
    "handlers.listeners.commands",
    "bot.anything",
    # libraries: whole payloads are blanked as well
    "ai_signal.bolt",
    "slack_bolt.RequestVerification",
    "slack_sdk.web.base_client",
    "waitress",
)


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The log output in each LOG_FORMAT; in JSON, every line must be one JSON object."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream, fmt=request.param)
    yield stream
    if request.param == "json":
        lines = stream.getvalue().splitlines()
        assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize("logger_name", LOGGERS)
def test_bodies_are_redacted_at_every_level(captured, logger_name, request):
    log = logging.getLogger(logger_name)
    # Every level reaches the handler whatever an earlier test left on this logger (Bolt sets a
    # logger it creates to the root's level of that moment).
    saved = log.level
    log.setLevel(logging.NOTSET)
    request.addfinalizer(lambda: log.setLevel(saved))
    for shape, body in SHAPES.items():
        for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
            log.log(level, "%s: %s", shape, body)
        log.info(body)
        log.info(COMMAND)
        try:
            raise KeyError(body)
        except KeyError:
            log.exception("unexpected error while handling %s", shape)
    output = captured.getvalue()
    assert output.count("\n") > 5 * len(SHAPES)  # the lines were written
    assert_no_leaks(find_in(output, NEEDLES, f"log of {logger_name}"))


def test_operator_facts_survive(captured):
    """Redaction must not blank what an operator needs: the triage channel, refs, error codes."""
    logging.getLogger("ai_signal.delivery").error(
        "%s: Slack refused the post to %s with %r.", "SIG-12", "CTRIAGE001", "channel_not_found"
    )
    line = captured.getvalue()
    assert "SIG-12" in line and "CTRIAGE001" in line and "channel_not_found" in line
