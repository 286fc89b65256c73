"""A bare Bolt app that only acks, served by the app's own HTTP server (the baseline for
bench/ack_latency.py and bench/wrk_load.py).

    SLACK_SIGNING_SECRET=... SLACK_BOT_TOKEN=xoxb-... SLACK_API_URL=http://127.0.0.1:PORT/api/ \
        .venv/bin/python bench/bare_bolt_app.py --port 3100

Same server (bot.http.HttpServer: waitress, 16 threads) wrapping slack_bolt's WSGI
SlackRequestHandler, same Bolt defaults as the app (process_before_response=False), no database.
GET /healthz answers 200 so the benchmark knows when it is up.

With `--plain` there is no Bolt at all: the same HttpServer answers every request 200 with an
empty body (the floor: what waitress and the WSGI call cost).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.http import HttpServer


def build_app() -> App:
    client = WebClient(
        token=os.environ.get("SLACK_BOT_TOKEN", "xoxb-standin"),
        base_url=os.environ.get("SLACK_API_URL", "http://127.0.0.1:9/api/"),
    )
    app = App(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token_verification_enabled=False,
    )

    @app.command("/ai-signal")
    def on_command(ack: Ack) -> None:
        ack()

    @app.action(re.compile(".*"))
    def on_action(ack: Ack) -> None:
        ack()

    return app


def build_wsgi(app: App) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status":"ok"}']
        return slack(environ, start_response)

    return wsgi


def plain_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read the body (as any server must) and answer 200, nothing else."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--plain", action="store_true", help="no Bolt: answer everything 200")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    wsgi = plain_wsgi if args.plain else build_wsgi(build_app())
    server = HttpServer(wsgi, host=args.host, port=args.port).start()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
