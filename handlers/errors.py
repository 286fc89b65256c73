"""The one global error handler: log what broke, never who asked."""

from __future__ import annotations

import logging

from slack_bolt import App

logger = logging.getLogger("ai_signal.errors")


def register(app: App) -> None:
    def handle_unexpected_error(error: Exception, body: dict) -> None:
        # Only the request type and the exception: the body holds user ids, names and channels.
        logger.error(
            "unexpected %s while handling a %s request",
            type(error).__name__,
            body.get("type") or ("slash_command" if "command" in body else "unknown"),
            exc_info=error,
        )

    app.error(handle_unexpected_error)
