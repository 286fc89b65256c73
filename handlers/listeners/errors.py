"""The one global error handler: log what broke, never who asked.

Four kinds of trouble end here:

- a domain error from a service (`ServiceError`: a missing field, a code that does not match, an
  action the signal's state does not allow): `str(error)` is the friendly sentence, answered
  privately in the form the request takes — the command's ephemeral ack, the form's field error
  (or a notice that replaces it), a private line next to the button;

- a request no listener handles (an unknown action, callback or command; Bolt raises
  `BoltUnhandledRequestError` because the app sets `raise_error_for_unhandled_request`);
- a signed request a listener cannot read (`handlers.edge.Unreadable`: a field of the wrong JSON type, a
  view without its id, private_metadata that is not the app's, a command without `user_id`);
- anything else (a bug, a database that refuses): logged with its traceback, answered 500.

The first two get a 200 and a short private answer, "Sorry — I couldn't read that; nothing
changed", in the form Slack documents for the request: the ack's ephemeral text for a command,
`response_action: update` with a notice for a form submission, a private message through the
`response_url` for a button (when there is one), an empty 200 otherwise. They are logged as one
WARNING line that names the request type and the field, never the content.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse, Respond
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services.errors import ServiceError
from bot.services.triage import NotAllowed
from handlers import ids
from handlers.blocks import intake, systems
from handlers.blocks.kit import FIELD_LIMIT
from handlers.edge import UNREADABLE_TEXT, Unreadable, state_values
from handlers.formatting import escape

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
            body={"response_action": "update", "view": intake.build_unreadable_view()},
        )
    return BoltResponse(status=200, body="")


def tell(client: WebClient | None, body: dict[str, Any], text: str) -> None:
    """A private line to whoever pressed a button in a channel."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    if client is None or not channel:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)
    except SlackApiError as error:
        logger.warning("could not answer privately: %s", error.response.get("error"))


def _answer_later(respond: Respond | None, text: str = UNREADABLE_TEXT) -> None:
    if respond is None or not respond.response_url:
        return

    def send() -> None:
        try:
            respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception as error:
            # A courtesy message; the request is answered already.
            logger.warning("could not answer privately (%s)", type(error).__name__)

    _answers.submit(send)


# Which block of a lead form a domain error is shown under, by the field it names.
LEAD_FORM_FIELD_BLOCKS = {
    "note": ids.NOTE_BLOCK,
    "reason": ids.REASON_BLOCK,
    "question": ids.QUESTION_BLOCK,
    "done": ids.DONE_BLOCK,
    "assumption": ids.ASSUMPTION_BLOCK,
    "lesson": ids.LESSON_BLOCK,
    "pattern": ids.PATTERN_BLOCK,
    "owner": ids.OWNER_BLOCK,
    "respond_by": ids.RESPOND_BY_BLOCK,
    "tracker": ids.TRACKER_BLOCK,
    "status": ids.STATUS_BLOCK,
    "impact": ids.IMPACT_LEVEL_BLOCK,
    "decision": ids.REVIEW_DECISION_BLOCK,
    "success": ids.REVIEW_SUCCESS_BLOCK,
    "constraint": ids.REVIEW_CONSTRAINT_BLOCK,
    "missed_signal": ids.REVIEW_MISSED_BLOCK,
    "primary": ids.PRIMARY_BLOCK,
}
LEAD_FORMS = frozenset(
    {ids.TRIAGE_MODAL, ids.ASK_MODAL, ids.RESOLVE_MODAL, ids.TRACKER_MODAL, ids.DUPLICATE_MODAL}
)


def first_block(view: Any) -> str:
    """The form's first input block: where an error about the whole form is shown."""
    try:
        return next(iter(state_values(view)), ids.NOTE_BLOCK)
    except Unreadable:
        return ids.NOTE_BLOCK


def _lead_form_errors(error: ServiceError, view: dict[str, Any]) -> dict[str, str]:
    field = error.field
    if field is None and isinstance(error, NotAllowed) and view["callback_id"] == ids.TRIAGE_MODAL:
        field = "reason"  # a triage the signal's state refuses: shown with the reason
    block = LEAD_FORM_FIELD_BLOCKS.get(field or "") or first_block(view)
    return {block: str(error)[:FIELD_LIMIT]}


def view_error_answer(error: ServiceError, view: Any) -> dict[str, Any] | None:
    """The `response_action` answer to a form submission a service refused."""
    callback_id = view.get("callback_id") if isinstance(view, dict) else None
    if callback_id == ids.SIGNAL_MODAL:
        return {"response_action": "errors", "errors": intake.build_field_errors(error)}
    if callback_id == ids.REVEAL_MODAL:
        done = intake.build_reveal_done_view(ref=None, changed=False, problem=str(error))
        return {"response_action": "update", "view": done}
    if callback_id == ids.SYSTEM_MODAL:
        return {"response_action": "errors", "errors": systems.build_system_errors(error)}
    if callback_id in LEAD_FORMS:
        return {"response_action": "errors", "errors": _lead_form_errors(error, view)}
    return None


def answer_service_error(
    error: ServiceError,
    body: dict[str, Any],
    response: BoltResponse | None,
    respond: Respond | None,
    client: WebClient | None,
) -> BoltResponse | None:
    """The private answer to a request a service refused; None once the ack has gone."""
    kind = request_kind(body)
    if kind == "slash_command":
        text = intake.build_error_text(error)
        if response is None:
            _answer_later(respond, text)
            return None
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
    if kind == "view_submission":
        answer = view_error_answer(error, body.get("view"))
        if response is None or answer is None:
            return None
        return BoltResponse(status=200, body=answer)
    if kind == "block_actions":
        tell(client, body, escape(str(error)))
    return BoltResponse(status=200, body="") if response is not None else None


def handle_error(
    error: Exception,
    body: dict,
    response: BoltResponse | None,
    respond: Respond | None,
    client: WebClient | None,
) -> BoltResponse | None:
    """What any listener's error comes to: `response` is None once the ack has gone."""
    if isinstance(error, ServiceError):
        # The sentence is for the person who asked; the log gets the error's type only.
        logger.debug("%s refused a %s request", type(error).__name__, request_kind(body))
        return answer_service_error(error, body, response, respond, client)
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


def register(app: App) -> None:
    # Bolt hands the error handler the arguments its parameters name.
    app.error(handle_error)


# What `answered_after_ack` needs from Bolt besides what the listener itself asks for.
_GUARD_ARGUMENTS = ("ack", "body", "respond", "client")


def answered_after_ack(listener: Callable[..., Any]) -> Callable[..., Any]:
    """`listener`, with an error it raises after its ack answered here instead of by Bolt.

    Bolt's threaded runner, when a listener raises after calling ack(), hands its error handler
    no response and then sets the acknowledged response back to None: the request thread, which
    waits for that response, waits out the whole 3 s ack timeout and gives Slack no answer at
    all (a 500 under load). Many listeners ack first (finding out who is a lead may ask Slack),
    so a refusal after the ack is common: an unknown signal, a state that does not allow the
    action. Before the ack the error still goes to Bolt, whose error handler answers in the ack.
    """
    own = list(inspect.signature(listener).parameters)

    # (No "name: value" text on these lines: a traceback through them is logged, and the log
    # redactor would take it for a Slack user's name.)
    def run(**given: Any) -> Any:
        try:
            return listener(**{key: given[key] for key in own})
        except Exception as error:
            if given["ack"].response is None:
                raise  # not acknowledged: Bolt's error handler answers with the ack
            handle_error(error, given["body"], None, given["respond"], given["client"])
            return None

    # Bolt injects the arguments a listener's signature names (slack_bolt.util.utils).
    run.__signature__ = inspect.Signature(
        [
            inspect.Parameter(key, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            for key in dict.fromkeys([*own, *_GUARD_ARGUMENTS])
        ]
    )
    run.__name__ = getattr(listener, "__name__", "listener")
    run.__qualname__ = getattr(listener, "__qualname__", run.__name__)
    return run


class GuardedApp:
    """The Bolt app as the listener modules register on it: every action, command, shortcut,
    form and options listener goes through `answered_after_ack`. Events are acknowledged by
    Bolt itself before their listener runs, so they need no guard."""

    def __init__(self, app: App) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def _guarded(self, register: Callable[..., Any]) -> Callable[..., Any]:
        def listening(*args: Any, **kwargs: Any) -> Callable[..., Any]:
            decorator = register(*args, **kwargs)
            return lambda listener: decorator(answered_after_ack(listener))

        return listening

    def action(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return self._guarded(self._app.action)(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return self._guarded(self._app.command)(*args, **kwargs)

    def shortcut(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return self._guarded(self._app.shortcut)(*args, **kwargs)

    def view(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return self._guarded(self._app.view)(*args, **kwargs)

    def options(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return self._guarded(self._app.options)(*args, **kwargs)
