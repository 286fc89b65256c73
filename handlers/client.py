"""The Web API client and the start-up checks against it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.metrics import error_label

if TYPE_CHECKING:
    from bot.health import Monitor

logger = logging.getLogger("ai_signal.startup")

CLIENT_TIMEOUT_SECONDS = 10


def create_web_client(settings: Settings, *, retries: bool = True) -> WebClient:
    """Honours SLACK_API_URL for every call.

    `retries=False` is for calls an outbox (or the digest's claim) stands behind: they retry with
    back-off, honour Retry-After and check whether an unanswered post reached Slack before sending
    it again. slack_sdk's own connection-error retry underneath would re-send a post whose
    answer was lost, so that client has no retry handlers at all. With `retries=True` (Bolt's
    calls on the request path, the start-up checks) slack_sdk's defaults stay.
    """
    return WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        timeout=CLIENT_TIMEOUT_SECONDS,
        **({} if retries else {"retry_handlers": []}),
    )


class StartupError(Exception):
    """Something the operator must fix before the app can work; str() says what to do."""


@dataclass(frozen=True)
class Identity:
    bot_user_id: str
    team: str


def check_slack(client: WebClient, settings: Settings) -> Identity:
    """auth.test, then make sure the app can post to the triage and digest channels."""
    try:
        auth = client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error")
        raise StartupError(
            f"Slack rejected SLACK_BOT_TOKEN ({code}). Copy the Bot User OAuth Token (xoxb-…) from "
            "your app's OAuth & Permissions page, and reinstall the app if it was revoked."
        ) from None
    identity = Identity(bot_user_id=auth.get("user_id", ""), team=auth.get("team", ""))
    for variable, channel in (
        ("AI_SIGNAL_TRIAGE_CHANNEL", settings.triage_channel),
        ("AI_SIGNAL_DIGEST_CHANNEL", settings.digest_channel),
    ):
        ensure_member(client, variable=variable, channel=channel)
    return identity


def ensure_member(client: WebClient, *, variable: str, channel: str) -> None:
    try:
        info = client.conversations_info(channel=channel)["channel"]
    except SlackApiError as error:
        code = error.response.get("error")
        if code == "channel_not_found":
            raise StartupError(
                f"{variable}={channel}: no such channel visible to the app. Use the channel id "
                "(channel details → bottom of the About tab); for a private channel, first "
                "/invite the app there."
            ) from None
        raise StartupError(
            f"{variable}={channel}: Slack answered {code} to conversations.info."
        ) from None
    if info.get("is_member"):
        return
    if info.get("is_private"):
        raise StartupError(
            f"{variable}={channel}: the app is not in this private channel. In Slack, open the "
            "channel and type /invite @ai-signal, then start again."
        )
    try:
        client.conversations_join(channel=channel)
        logger.info("joined %s (%s)", channel, variable)
    except SlackApiError as error:
        raise StartupError(
            f"{variable}={channel}: could not join the channel ({error.response.get('error')}). "
            "Invite the app with /invite @ai-signal."
        ) from None


DELIVERING = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})


def count_calls(client: WebClient, monitor: Monitor) -> None:
    """Count the outcome of every Web API call `client` (the outbox's and the digest's) makes,
    for /healthz and /metrics. Labels carry the method and Slack's error code, never a channel,
    a user or text."""
    call = client.api_call
    metrics = monitor.metrics

    def api_call(api_method: str, **kwargs: Any) -> Any:
        try:
            response = call(api_method, **kwargs)
        except SlackApiError as error:
            status = getattr(error.response, "status_code", 200)
            if status == 429:
                metrics.rate_limited.inc()
            monitor.api_outcome("failing" if status >= 500 else "ok")
            code = error.response.get("error") if status != 429 else "ratelimited"
            metrics.delivery_failures.labels(api_method, error_label(code)).inc()
            raise
        except Exception:
            monitor.api_outcome("failing")
            metrics.delivery_failures.labels(api_method, "unreachable").inc()
            raise
        monitor.api_outcome("ok")
        if api_method in DELIVERING:
            metrics.deliveries.labels(api_method).inc()
        return response

    client.api_call = api_call
