"""Local stand-ins for Slack, used by the test-suite and the demo.

Three jobs, three modules: `blocks` validates Block Kit (pure functions), `workspace` holds the
workspace's state and answers the Web API methods against it, `server` serves them over HTTP and
records every call. `sender` signs requests into the app as Slack does; `render` prints blocks.
"""

from bot.standin.blocks import validate_blocks, validate_options, validate_view
from bot.standin.render import render_blocks, render_view
from bot.standin.server import SlackStandIn
from bot.standin.workspace import Call

__all__ = [
    "Call",
    "SlackStandIn",
    "render_blocks",
    "render_view",
    "validate_blocks",
    "validate_options",
    "validate_view",
]
