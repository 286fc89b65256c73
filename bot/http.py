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
from waitress import wasyncore
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
            outbox = _outbox_counts(delivery) if database_reachable(engine) else None
            if outbox is None:
                return respond(
                    start_response,
                    "503 Service Unavailable",
                    {"status": "unavailable", "database": "unreachable"},
                )
            return respond(
                start_response, "200 OK", {"status": "ok", "database": "ok", "outbox": outbox}
            )
        return respond(start_response, "404 Not Found", {"error": "not found"})

    return wsgi


def _outbox_counts(delivery: DeliveryService) -> dict[str, int] | None:
    """None when the database answers but cannot be used (e.g. tables missing): a 503, not a 500."""
    try:
        return delivery.health()
    except Exception as error:  # noqa: BLE001 - a health check reports, it does not raise
        logger.warning("health check: the database is not usable (%s)", type(error).__name__)
        return None


def _wake_to_close(server: Any) -> bool:
    """Ask the loop to close every socket from inside (with nothing left to watch, it returns).
    False when the trigger's pipe is gone (EBADF)."""
    try:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    except OSError:
        return False
    return True


class HttpServer:
    """A waitress server on a background thread (so tests and the demo can run it in-process)."""

    def __init__(self, wsgi: Callable[..., Iterable[bytes]], *, host: str, port: int) -> None:
        self._server = create_server(
            wsgi, host=host, port=port, threads=SERVER_THREADS, ident="ai-signal"
        )
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._serve, name="ai-signal-http", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        try:
            self._server.run()
        except OSError:
            # Closing the sockets from outside the loop (see stop) can make its select() fail;
            # that is the end we asked for, not an error.
            if not self._stopping:
                raise

    def stop(self) -> None:
        """Finish the requests being handled, stop the worker threads, then end the loop."""
        server = self._server
        self._stopping = True
        # waitress's close() alone neither stops the worker threads nor ends the loop thread
        # (and closing sockets from another thread breaks the loop's select() with EBADF).
        server.task_dispatcher.shutdown(timeout=5)
        if self._thread is not None and self._thread.is_alive():
            if getattr(server.trigger, "_closed", False) or not _wake_to_close(server):
                # The loop cannot be woken: its trigger is closed already (and writing to its
                # old fd number could reach whatever file reuses it), or its pipe is gone. Close
                # from here: the loop ends at its next turn, or its select() fails on the closed
                # sockets, which ends the thread quietly (see _serve).
                logger.debug("http server: loop trigger unusable at stop; closing from outside")
                wasyncore.close_all(server._map)
            self._thread.join(5)
        else:
            wasyncore.close_all(server._map)
