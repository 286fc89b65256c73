"""The one global error handler: log what broke, never who asked.

Three kinds of trouble end here:

- a request no listener handles (an unknown action, callback or command; Bolt raises
  `BoltUnhandledRequestError` because the app sets `raise_error_for_unhandled_request`);
- a signed request a listener cannot read (`blocks.Unreadable`: a field of the wrong JSON type, a
  view without its id, private_metadata that is not the app's, a command without `user_id`);
- anything else (a bug, a database that refuses): logged with its traceback, answered 500.

The first two get a 200 and a short private answer, "Sorry — I couldn't read that; nothing
changed", in the form Slack documents for the request: the ack's ephemeral text for a command,
`response_action: update` with a notice for a form submission, a private message through the
`response_url` for a button (when there is one), an empty 200 otherwise. They are logged as one
WARNING line that names the request type and the field, never the content.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse, Respond
from slack_bolt.error import BoltUnhandledRequestError

from handlers.blocks import intake as blocks
from handlers.blocks.intake import UNREADABLE_TEXT, Unreadable

logger = logging.getLogger("ai_signal.errors")

_KNOWN_TYPES = frozenset(
    {
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "block_suggestion",
        "event_callback",
        "url_verification",
        "interactive_message",
        "dialog_submission",
    }
)

# Answers sent after the ack (through a response_url) go out on these threads, not the request's.
_answers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ai-signal-answer")


def request_kind(body: Any) -> str:
    """What kind of request `body` is, from a fixed vocabulary (safe to log)."""
    if not isinstance(body, dict):
        return "unknown"
    kind = body.get("type")
    if isinstance(kind, str) and kind in _KNOWN_TYPES:
        return kind
    if "command" in body:
        return "slash_command"
    return "other" if kind is not None else "unknown"


def log_unreadable(body: Any, what: str) -> None:
    """One line, no user data: `what` is a field name chosen by the code, never by the request."""
    logger.warning("could not read a %s request (%s); nothing changed", request_kind(body), what)


def unreadable_response(body: Any) -> BoltResponse:
    """The 200 answer to a request the app cannot read or does not handle."""
    kind = request_kind(body)
    if kind == "slash_command":
        return BoltResponse(
            status=200, body={"response_type": "ephemeral", "text": UNREADABLE_TEXT}
        )
    if kind == "view_submission":
        return BoltResponse(
            status=200,
            body={"response_action": "update", "view": blocks.build_unreadable_view()},
        )
    return BoltResponse(status=200, body="")


def _answer_later(respond: Respond | None) -> None:
    if respond is None or not respond.response_url:
        return

    def send() -> None:
        try:
            respond(text=UNREADABLE_TEXT, response_type="ephemeral", replace_original=False)
        except Exception as error:
            logger.warning("could not answer privately (%s)", type(error).__name__)

    _answers.submit(send)


def register(app: App) -> None:
    def handle_unexpected_error(
        error: Exception, body: dict, response: BoltResponse | None, respond: Respond | None
    ) -> BoltResponse | None:
        if isinstance(error, (BoltUnhandledRequestError, Unreadable)):
            what = error.what if isinstance(error, Unreadable) else "no listener for it"
            log_unreadable(body, what)
            kind = request_kind(body)
            if kind == "block_actions" or (response is None and kind == "slash_command"):
                # A button's ack carries no message; a command acked already needs another way.
                _answer_later(respond)
            # After the ack (response is None) the HTTP answer has gone already.
            return unreadable_response(body) if response is not None else None
        # Only the request type and the exception: the body holds user ids, names and channels.
        logger.error(
            "unexpected %s while handling a %s request",
            type(error).__name__,
            request_kind(body),
            exc_info=error,
        )
        return None

    app.error(handle_unexpected_error)
