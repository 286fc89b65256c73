"""The Bolt app factory."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        arrived = time.monotonic()
        with db.request_arrived(arrived):
            response = super().dispatch(req)
        kind, outcome = request_kind(req.body), request_outcome(response.status)
        self.observe_request(kind, outcome, time.monotonic() - arrived)
        return response


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
