"""Local stand-ins for Slack, used by the test-suite and the demo."""

from bot.standin.render import render_blocks, render_view
from bot.standin.slack_api import Call, SlackStandIn, validate_blocks, validate_view

__all__ = [
    "Call",
    "SlackStandIn",
    "render_blocks",
    "render_view",
    "validate_blocks",
    "validate_view",
]
