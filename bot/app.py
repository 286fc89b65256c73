"""The Bolt app factory."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.error import URLError

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import (
    warning_client_prioritized_and_token_skipped,
    warning_token_skipped,
)
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.crowd import CrowdGauge
from bot.leads import LeadDirectory
from bot.services import Services
from handlers import register

LISTENER_THREADS = 16
AUTH_RETRY_SECONDS = 30.0


def create_app(
    *,
    settings: Settings,
    services: Services,
    client: WebClient,
    leads: LeadDirectory,
    crowd: CrowdGauge,
) -> App:
    app = App(
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
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS),
        authorize=bot_authorization(client),
    )
    register(app, services, leads=leads, crowd=crowd)
    return app


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


def bot_authorization(client: WebClient) -> Callable[..., AuthorizeResult]:
    """Bolt's own single-workspace authorization calls auth.test on the first request and refuses
    every request ("reinstall this app") while that call fails. A Slack hiccup must not stop people
    from filing signals (they are stored and posted when Slack is back), so: learn the bot's ids
    from auth.test once it answers, and until then authorize with the token alone."""
    learned: list[AuthorizeResult] = []
    lock = threading.Lock()
    next_try = [0.0]

    def token_only(enterprise_id: str | None, team_id: str | None, user_id: str | None):
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=client.token, user_id=user_id
        )

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None):
        if not learned:
            # Never make a request wait for Slack here: one request at a time tries auth.test,
            # and after a failure nobody tries again for a while.
            if time.monotonic() < next_try[0] or not lock.acquire(blocking=False):
                return token_only(enterprise_id, team_id, user_id)
            try:
                if not learned:
                    learned.append(
                        AuthorizeResult.from_auth_test_response(
                            bot_token=client.token, auth_test_response=client.auth_test()
                        )
                    )
            except (SlackApiError, URLError, OSError) as error:
                next_try[0] = time.monotonic() + AUTH_RETRY_SECONDS
                logging.getLogger("ai_signal.startup").warning(
                    "auth.test failed (%s); handling requests without the bot's ids",
                    type(error).__name__,
                )
                return token_only(enterprise_id, team_id, user_id)
            finally:
                lock.release()
        result = learned[0]
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

    return authorize
