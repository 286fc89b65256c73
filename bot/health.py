"""What /healthz and /metrics report, in both connection modes.

`Monitor` gathers, per runtime: the database (reachable and usable), the Slack connection
(Socket Mode: connected, reconnecting or still connecting; both modes: whether the last Web API
call of the outbox and the digest reached Slack), the outbox backlog and the scheduler's last
runs, plus the Prometheus metrics (`bot.metrics`). HTTP mode serves it on the app's port
(`bot.http`); `HealthServer` serves it on AI_SIGNAL_HEALTH_PORT (Socket Mode has no HTTP port of
its own), with the standard library's HTTP server on a thread.

The backlog counts what the existing health rule counts (`DeliveryService.health`): anonymous
posts still inside their release delay are left out, so no number moves when one is filed.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.db import database_reachable, on_database_error
from bot.metrics import CONTENT_TYPE, Metrics
from bot.request_log import log_request
from bot.services.delivery import DeliveryService
from models import OutboxItem, OutboxState

logger = logging.getLogger("ai_signal.health")

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
# Web API methods that deliver something (a post, an update); others (history lookups) only
# tell whether Slack answers.

_MONITORS: weakref.WeakKeyDictionary[object, Monitor] = weakref.WeakKeyDictionary()


def monitor_for(app: object) -> Monitor | None:
    """The monitor `build_runtime` attached to this Bolt app, if any."""
    return _MONITORS.get(app)


class Monitor:
    def __init__(
        self,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        delivery: DeliveryService,
        clock: Clock = utc_now,
    ) -> None:
        self.metrics = Metrics()
        self._engine = engine
        self._sessions = sessions
        self._delivery = delivery
        self._clock = clock
        self._lock = threading.Lock()
        self._api: str = "unknown"  # last outbox/digest Web API call: ok | failing | unknown
        self._connection: Callable[[], str] | None = None  # Socket Mode only
        self._runs: dict[str, tuple[datetime, str]] = {}
        self.metrics.watch_outbox(self.backlog)
        on_database_error(engine, self._database_error)

    def attach(self, app: object) -> None:
        """Hear of every request `app` answers, and be found by `monitor_for(app)`."""
        _MONITORS[app] = self
        if hasattr(app, "observe_request"):
            app.observe_request = self.observe_request  # type: ignore[attr-defined]

    # -- what is watched ----------------------------------------------------------------------

    def observe_request(self, kind: str, outcome: str, seconds: float) -> None:
        log_request(kind, outcome, seconds)
        self.metrics.request(kind, outcome, seconds)

    def _database_error(self, context: Any) -> None:
        self.metrics.database_errors.inc()

    def set_connection(self, state: Callable[[], str] | None) -> None:
        """Socket Mode: a function answering "connected", "reconnecting" or "connecting"."""
        self._connection = state

    def api_outcome(self, state: str) -> None:
        """The last Web API call of the outbox's client: "ok" or "failing" (handlers.client)."""
        with self._lock:
            self._api = state

    def watch_scheduler(self, scheduler: Any) -> None:
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

        scheduler.add_listener(self._job_finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _job_finished(self, job_event: Any) -> None:
        ok = getattr(job_event, "exception", None) is None
        with self._lock:
            self._runs[job_event.job_id] = (datetime.now(UTC), "ok" if ok else "error")
        self.metrics.job_ran(job_event.job_id, ok)

    # -- what is reported ---------------------------------------------------------------------

    def backlog(self) -> tuple[int, int, float] | None:
        """(due, failed, age of the oldest due post in seconds); None when the database cannot
        be used. Due: pending and past its due time, so unreleased anonymous posts are not in."""
        try:
            counts = self._delivery.health()
            now = self._clock()
            with self._sessions() as session:
                oldest = session.scalar(
                    select(func.min(OutboxItem.due_at)).where(
                        OutboxItem.state == OutboxState.PENDING.value, OutboxItem.due_at <= now
                    )
                )
        except Exception as error:
            logger.warning("health check: the database is not usable (%s)", type(error).__name__)
            return None
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        return counts["due"], counts["failed"], age

    def slack(self) -> dict[str, str]:
        with self._lock:
            report = {"mode": "http" if self._connection is None else "socket", "api": self._api}
        if self._connection is not None:
            report["connection"] = self._connection()
        reached = report.get("connection", "connected") == "connected"
        self.metrics.slack_connected.set(1 if reached and report["api"] != "failing" else 0)
        return report

    def scheduler(self) -> dict[str, Any]:
        with self._lock:
            runs = dict(self._runs)
        last = max((at for at, _ in runs.values()), default=None)
        return {
            "last_run": last.isoformat(timespec="seconds") if last else None,
            "jobs": {
                job: {"last_run": at.isoformat(timespec="seconds"), "outcome": outcome}
                for job, (at, outcome) in sorted(runs.items())
            },
        }

    def health(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, payload) for /healthz: 503 when the database cannot be used."""
        backlog = self.backlog() if database_reachable(self._engine) else None
        extra = {"slack": self.slack(), "scheduler": self.scheduler()}
        if backlog is None:
            return 503, {"status": "unavailable", "database": "unreachable", **extra}
        due, failed, oldest = backlog
        outbox = {"due": due, "failed": failed, "oldest_due_seconds": round(oldest)}
        return 200, {"status": "ok", "database": "ok", "outbox": outbox, **extra}

    def metrics_text(self) -> bytes:
        self.slack()  # refreshes the connection gauge
        return self.metrics.exposition()


class HealthServer:
    """/healthz and /metrics on their own port (AI_SIGNAL_HEALTH_PORT), on a thread."""

    def __init__(self, monitor: Monitor, *, host: str = "127.0.0.1", port: int = 0) -> None:
        class Handler(BaseHTTPRequestHandler):
            server_version = "ai-signal"

            def do_GET(self) -> None:
                if self.path.split("?")[0] == HEALTH_PATH:
                    status, payload = monitor.health()
                    self._answer(status, "application/json", json.dumps(payload).encode())
                elif self.path.split("?")[0] == METRICS_PATH:
                    self._answer(200, CONTENT_TYPE, monitor.metrics_text())
                else:
                    self._answer(404, "application/json", b'{"error": "not found"}')

            def _answer(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # no access log: a scraper every few seconds is noise

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ai-signal-health", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
