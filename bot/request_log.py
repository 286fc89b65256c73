"""One DEBUG line per request Slack sent, with its kind, outcome and duration (as JSON fields
with LOG_FORMAT=json), and the same facts for the metrics.

The kind is the envelope's type only (command, view_submission, action, shortcut, event, …):
never the command's text, a callback id, a user or a channel. Named and anonymous filings are
the same kind, so nothing here tells them apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

logger = logging.getLogger("ai_signal.requests")

_TYPES = {
    "block_actions": "action",
    "view_submission": "view_submission",
    "view_closed": "view_closed",
    "shortcut": "shortcut",
    "message_action": "shortcut",
    "event_callback": "event",
    "block_suggestion": "options",
}
KINDS = ("command", *sorted(set(_TYPES.values())), "other")

# kind, outcome, seconds from arrival to the answer (the acknowledgement)
RequestObserver = Callable[[str, str, float], None]


def request_kind(body: Mapping[str, Any] | None) -> str:
    if not isinstance(body, Mapping):
        return "other"
    if isinstance(body.get("command"), str):
        return "command"
    kind = body.get("type")
    return _TYPES.get(kind, "other") if isinstance(kind, str) else "other"


def request_outcome(status: int) -> str:
    if status < 400:
        return "ok"
    return "refused" if status < 500 else "error"


def log_request(kind: str, outcome: str, seconds: float) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return  # the default: nothing to build for a line that is dropped
    duration_ms = round(seconds * 1000, 1)
    logger.debug(
        "%s request answered (%s) in %.1f ms",
        kind,
        outcome,
        duration_ms,
        extra={"kind": kind, "outcome": outcome, "duration_ms": duration_ms},
    )
