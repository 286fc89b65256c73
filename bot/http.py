"""HTTP mode: Bolt behind waitress (a multi-threaded production WSGI server).

Routes: POST /slack/events (commands, interactivity, events), GET /healthz.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine
from waitress.server import create_server

from bot.db import database_reachable
from bot.services.delivery import DeliveryService

logger = logging.getLogger("ai_signal.http")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
SERVER_THREADS = 16

StartResponse = Callable[..., Any]


def create_wsgi_app(
    *, app: App, engine: Engine, delivery: DeliveryService
) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app)

    def respond(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
        body = json.dumps(payload).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH:
            if method != "POST":
                return respond(start_response, "405 Method Not Allowed", {"error": "POST only"})
            return slack(environ, start_response)
        if path == HEALTH_PATH:
            if not database_reachable(engine):
                return respond(
                    start_response,
                    "503 Service Unavailable",
                    {"status": "unavailable", "database": "unreachable"},
                )
            return respond(
                start_response,
                "200 OK",
                {"status": "ok", "database": "ok", "outbox": delivery.counts()},
            )
        return respond(start_response, "404 Not Found", {"error": "not found"})

    return wsgi


class HttpServer:
    """A waitress server on a background thread (so tests and the demo can run it in-process)."""

    def __init__(self, wsgi: Callable[..., Iterable[bytes]], *, host: str, port: int) -> None:
        self._server = create_server(
            wsgi, host=host, port=port, threads=SERVER_THREADS, ident="ai-signal"
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._server.run, name="ai-signal-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.close()
        if self._thread is not None:
            self._thread.join(5)
