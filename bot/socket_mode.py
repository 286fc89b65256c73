"""Socket Mode serving: open the WebSocket connection to Slack, and keep trying while Slack cannot
be reached (as HTTP mode keeps serving while it cannot post).

slack-sdk's client asks apps.connections.open for a WebSocket URL and lets the exception out when
that call fails, so an unreachable Slack at start ended the process with a traceback. Here the URL
is fetched first, with one warning per failed attempt and a growing pause between attempts; a
WebSocket that cannot be opened with that URL is one more failed attempt. Once connected,
slack-sdk's own monitor reconnects after later drops.
"""

from __future__ import annotations

import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.client import CLIENT_TIMEOUT_SECONDS, StartupError

logger = logging.getLogger("ai_signal.socket_mode")

FIRST_RETRY_SECONDS = 1.0
# slack-sdk's close joins its receiving thread; one blocked reading a connection the monitor has
# already replaced does not return. A clean close takes about 3.2 s (its 3 s receive timeout);
# shutdown waits this long for it, then goes on (its threads are daemons).
CLOSE_TIMEOUT_SECONDS = 4.0
MAX_RETRY_SECONDS = 60.0
# Answers that no retry will change: the app-level token itself is wrong.
_TOKEN_REJECTED = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "account_inactive", "not_allowed_token_type"}
)

# The client that opens connections logs nothing itself: each failed attempt is one warning below
# (slack-sdk would add an ERROR line, and a retry of its own, per attempt).
_QUIET = logging.Logger("ai_signal.socket_mode.open", level=logging.CRITICAL + 1)


def start_socket_mode(
    app: App,
    *,
    app_token: str,
    api_url: str,
    stop: threading.Event,
    first_retry: float = FIRST_RETRY_SECONDS,
    max_retry: float = MAX_RETRY_SECONDS,
) -> SocketModeHandler | None:
    """A connected handler; None when `stop` was set before Slack could be reached.

    Raises StartupError when Slack rejects SLACK_APP_TOKEN.
    """
    handler = SocketModeHandler(app, app_token)
    opener = WebClient(
        base_url=api_url, timeout=CLIENT_TIMEOUT_SECONDS, logger=_QUIET, retry_handlers=[]
    )
    delay, attempt = first_retry, 1
    while True:
        pause = delay
        try:
            url = opener.apps_connections_open(app_token=app_token)["url"]
        except SlackApiError as error:
            code = error.response.get("error")
            if code in _TOKEN_REJECTED:
                handler.close()
                raise StartupError(
                    f"Slack rejected SLACK_APP_TOKEN ({code}). Create an app-level token with the "
                    "connections:write scope (Basic Information → App-Level Tokens)."
                ) from None
            reason = f"Slack answered {code or error.response.status_code}"
            if code == "ratelimited":
                pause = max(delay, float(error.response.headers.get("Retry-After", delay)))
        except (SlackClientError, OSError) as error:  # URLError, timeouts, refused connections
            reason = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
        else:
            handler.client.wss_uri = url
            try:
                # slack-sdk logs a failed WebSocket and leaves the session closed; other clients
                # may raise. Either way this attempt failed: retry with a fresh URL.
                handler.connect()
            except Exception as error:
                reason = f"the WebSocket could not be opened ({type(error).__name__})"
            else:
                if handler.client.is_connected():
                    if attempt > 1:
                        logger.info("connected to Slack (Socket Mode) at attempt %d", attempt)
                    return handler
                reason = "the WebSocket could not be opened"
        logger.warning(
            "Slack cannot be reached for Socket Mode (%s); attempt %d failed, next in %gs",
            reason,
            attempt,
            pause,
        )
        if stop.wait(pause):
            handler.close()
            return None
        delay, attempt = min(delay * 2, max_retry), attempt + 1


def close_socket_mode(
    handler: SocketModeHandler, *, timeout: float = CLOSE_TIMEOUT_SECONDS
) -> bool:
    """Close the connection; False (with a warning) when slack-sdk's close did not finish within
    `timeout` seconds: its threads are left to end with the process instead of holding it."""
    closer = threading.Thread(target=handler.close, name="socket-mode-close", daemon=True)
    closer.start()
    closer.join(timeout)
    if closer.is_alive():
        logger.warning("the Socket Mode connection did not close within %gs; left behind", timeout)
        return False
    return True
