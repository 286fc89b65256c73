"""The Bolt app factory."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.error import URLError

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.listener_matcher import ListenerMatcher
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher
from slack_bolt.logger.messages import (
    warning_client_prioritized_and_token_skipped,
    warning_token_skipped,
)
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import db
from bot.config import Settings
from bot.request_log import log_request, request_kind, request_outcome
from bot.services import Services
from handlers.crowd import CrowdGauge
from handlers.leads import LeadDirectory
from handlers.listeners import register

LISTENER_THREADS = 16
AUTH_RETRY_SECONDS = 30.0


def create_app(
    *,
    settings: Settings,
    services: Services,
    client: WebClient,
    leads: LeadDirectory,
    crowd: CrowdGauge,
    authorization: BotAuthorization | None = None,
) -> App:
    app = _RequestClockApp(
        # Named here: without a name Bolt takes its caller's file name from inspect.stack(),
        # which reads the source of every frame on the stack (tens of ms per app built).
        name="ai-signal",
        client=client,
        # Socket Mode requests are not signed, and in HTTP mode the edge (bot.http.SlackEdge)
        # checks every signature on the raw bytes before Bolt sees the parsed body: Bolt would
        # check against the JSON text it is handed instead. Bolt still wants a value.
        signing_secret=settings.signing_secret or "unused-in-socket-mode",
        request_verification_enabled=False,
        # Unknown actions, callbacks and commands reach the error handler, which answers 200
        # and "nothing changed" (Bolt's default is a 404 that Slack shows as an error).
        raise_error_for_unhandled_request=True,
        # The runtime runs auth.test itself, with a clear message when the token is wrong.
        token_verification_enabled=False,
        logger=_bolt_logger(),
        process_before_response=False,
        # Bolt's default is 5 threads; requests would queue behind a few slow listeners.
        listener_executor=_ContextExecutor(max_workers=LISTENER_THREADS),
        authorize=(authorization or BotAuthorization(client)).as_bolt_authorize(),
    )
    register(app, services, leads=leads, crowd=crowd)
    _call_matchers_with_body(app)
    return app


# The registration methods whose first argument, a plain string, is the one field their matcher
# compares: a slash command's name, an action's id, a form's or a shortcut's callback id, an
# options request's action id, an event's type. Each requires its own kind of request (a slash
# command, or a payload `type`, or an `event`), so a listener registered with one of them can
# match only the request of its kind that carries that string.
_KEYED_REGISTRATIONS = (
    "command",
    "action",
    "block_action",
    "shortcut",
    "global_shortcut",
    "message_shortcut",
    "view",
    "view_submission",
    "view_closed",
    "options",
    "block_suggestion",
    "event",
)
_NOW_DISPATCHING: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "ai_signal_dispatching", default=None
)


def _request_key(body: dict) -> tuple[str, str] | None:
    """(registration, string) for the two kinds of request Slack sends most, a slash command
    and a button press; None for any other (every listener is tried, as Bolt does)."""
    if "event" in body:
        return None
    if "type" not in body:
        command = body.get("command")
        return ("command", command) if isinstance(command, str) else None
    if body.get("type") != "block_actions" or "command" in body:
        return None
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        action_id = actions[0].get("action_id")
        if isinstance(action_id, str):
            return ("action", action_id)
    return None


class _IndexedListeners(list):
    """The app's listeners, in their order. While a request is dispatched, iterating yields only
    the listeners that can match it: those registered for exactly its command name or action id
    (`action` and `block_action` alike) and every listener whose matching is not known here.
    A listener registered for another command, another action id or another kind of request
    would not match (its matcher compares that one string, after checking the request's kind),
    so Bolt's answer is the same; it just does not check and log each of them per request."""

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[int, tuple[str, str]] = {}
        self._candidates: dict[tuple[str, str], tuple[int, list]] = {}

    def key(self, listener: object, registration: str, constraint: str) -> None:
        kind = "action" if registration == "block_action" else registration
        self._keys[id(listener)] = (kind, constraint)

    def __iter__(self):
        body = _NOW_DISPATCHING.get()
        key = _request_key(body) if body is not None else None
        if key is None:
            return super().__iter__()
        cached = self._candidates.get(key)
        if cached is None or cached[0] != len(self):
            everyone = list(super().__iter__())
            keys = self._keys
            fitting = [each for each in everyone if keys.get(id(each), key) == key]
            cached = self._candidates[key] = (len(everyone), fitting)
        return iter(cached[1])


class _BodyMatcher(ListenerMatcher):
    """One of Bolt's own matchers (command name, action id, callback id, event type), called
    with the request body it asks for, as Bolt calls it, without first building every other
    argument a listener could ask for."""

    def __init__(self, func: Callable[..., bool]) -> None:
        self.func = func

    def matches(self, req: BoltRequest, resp: BoltResponse) -> bool:
        return self.func(body=req.body)


def _call_matchers_with_body(app: App) -> None:
    """Bolt tries the listeners in order, and each matcher of each listener builds the whole
    set of listener arguments (payload views of the body, say, respond, …) before it looks at
    the one field it compares: with the app's dozens of listeners that was most of Bolt's time
    per request. The matchers that read only the body get it directly; the answer is the same."""
    for listener in app._listeners:
        listener.matchers = [
            _BodyMatcher(matcher.func)
            if type(matcher) is BuiltinListenerMatcher and matcher.arg_names == ["body"]
            else matcher
            for matcher in listener.matchers
        ]


class _RequestClockApp(App):
    """Bolt's App, with the request's arrival time known to its units of work.

    The clock starts when the request reaches dispatch, before Bolt's own middleware
    (authorization) and before a listener thread takes it: a transaction that starts late only
    gets what is left of the deadline, so nothing is stored whose answer reaches Slack too late
    to be shown."""

    # Told each request's kind, outcome and time to the answer (the log line; metrics add theirs).
    observe_request: Callable[[str, str, float], None] = staticmethod(log_request)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        indexed = _IndexedListeners()
        indexed.extend(self._listeners)
        self._listeners = indexed

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        arrived = time.monotonic()
        body = req.body if isinstance(req.body, dict) else None
        with db.request_arrived(arrived):
            token = _NOW_DISPATCHING.set(body)
            try:
                response = super().dispatch(req)
            finally:
                _NOW_DISPATCHING.reset(token)
        kind, outcome = request_kind(req.body), request_outcome(response.status)
        self.observe_request(kind, outcome, time.monotonic() - arrived)
        return response


def _keyed(registration: str) -> Callable[..., Any]:
    """Bolt's registration method `registration`, keying in the app's listener index the
    listeners it registers when its one argument is a plain string (no extra matchers or
    middleware decide whether they match)."""
    bolts = getattr(App, registration)

    def register(self: App, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        decorator = bolts(self, *args, **kwargs)
        if len(args) != 1 or not isinstance(args[0], str) or kwargs:
            return decorator

        def decorating(*functions: Any, **options: Any) -> Any:
            listeners = self._listeners
            before = len(listeners)
            result = decorator(*functions, **options)
            for listener in listeners[before:]:
                listeners.key(listener, registration, args[0])
            return result

        return decorating

    register.__name__ = register.__qualname__ = registration
    register.__doc__ = bolts.__doc__
    return register


for _registration in _KEYED_REGISTRATIONS:
    setattr(_RequestClockApp, _registration, _keyed(_registration))


class _ContextExecutor(ThreadPoolExecutor):
    """Runs each listener in a copy of the submitting (dispatching) thread's context, so the
    request's arrival time goes along to the listener thread, and goes away with it."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)


_TOKEN_NOTICES = frozenset(
    {warning_token_skipped(), warning_client_prioritized_and_token_skipped()}
)


class _IgnoredTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns that, with an
    `authorize` function and a `client`, it ignores that token. The app passes the token through
    its client on purpose; the warnings would only confuse operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in _TOKEN_NOTICES


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("ai_signal.bolt")
    if not any(isinstance(f, _IgnoredTokenNotice) for f in logger.filters):
        logger.addFilter(_IgnoredTokenNotice())
    return logger


class BotAuthorization:
    """Bolt's own single-workspace authorization calls auth.test on the first request and refuses
    every request ("reinstall this app") while that call fails. A Slack hiccup must not stop people
    from filing signals (they are stored and posted when Slack is back), and no request may wait
    for Slack here (it would eat into the 3 s its answer has): the bot's ids are learned from
    auth.test in the background (`learn_in_background`, at start), and until then requests are
    authorized with the token alone."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._learned: AuthorizeResult | None = None
        self._lock = threading.Lock()
        self._next_try = 0.0

    def learn_in_background(self) -> threading.Thread | None:
        """Start one auth.test in a thread, unless one is running or failed a short while ago."""
        if self._learned is not None or time.monotonic() < self._next_try:
            return None
        if not self._lock.acquire(blocking=False):
            return None
        thread = threading.Thread(target=self._learn, name="ai-signal-auth-test", daemon=True)
        thread.start()
        return thread

    def _learn(self) -> None:
        try:
            if self._learned is None:
                self._learned = AuthorizeResult.from_auth_test_response(
                    bot_token=self._client.token, auth_test_response=self._client.auth_test()
                )
        except (SlackApiError, URLError, OSError) as error:
            # After a failure nobody tries again for a while.
            self._next_try = time.monotonic() + AUTH_RETRY_SECONDS
            logging.getLogger("ai_signal.startup").warning(
                "auth.test failed (%s); handling requests without the bot's ids",
                type(error).__name__,
            )
        finally:
            self._lock.release()

    def as_bolt_authorize(self) -> Callable[..., AuthorizeResult]:
        """The function for Bolt's `authorize=` (Bolt passes arguments by name: no `self`)."""

        def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None):
            return self.authorize(enterprise_id, team_id, user_id)

        return authorize

    def authorize(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        result = self._learned
        if result is None:
            self.learn_in_background()
            return AuthorizeResult(
                enterprise_id=enterprise_id,
                team_id=team_id,
                bot_token=self._client.token,
                user_id=user_id,
            )
        return AuthorizeResult(
            enterprise_id=result.enterprise_id,
            team_id=result.team_id,
            team=result.team,
            url=result.url,
            bot_id=result.bot_id,
            bot_user_id=result.bot_user_id,
            bot_token=result.bot_token,
            user_id=user_id,
        )
