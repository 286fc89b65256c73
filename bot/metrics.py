"""Prometheus metrics, one `CollectorRegistry` per runtime (tests run many apps in one process).

Rules that keep the anonymity promise (see PRIVACY.md):

- no label carries a user, a channel, a reference or text: labels are fixed words (request
  kind, outcome, Slack method, Slack error code, job name);
- nothing moves when an anonymous signal is filed that does not move the same way for any other
  command or form: requests are counted by envelope type only (`bot.request_log.request_kind`),
  and the outbox gauges leave out posts still inside their release delay (the /healthz rule,
  `DeliveryService.health`), so anonymous signals appear in the numbers at release, not before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)
# Slack error codes are short snake_case words; anything else is reported as "other".
_MAX_CODE = 48


def error_label(code: object) -> str:
    text = str(code or "unknown")
    if len(text) > _MAX_CODE or not all(c.islower() or c.isdigit() or c == "_" for c in text):
        return "other"
    return text


# What the outbox gauges read at each scrape: (due now, failed for good, age of the oldest due
# post in seconds); None when the database cannot be read.
Backlog = Callable[[], tuple[int, int, float] | None]


class _OutboxCollector(Collector):
    def __init__(self, backlog: Backlog) -> None:
        self._backlog = backlog

    def collect(self) -> Iterable[GaugeMetricFamily]:
        backlog = self._backlog()
        if backlog is None:
            return []
        return _outbox_families(*backlog)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # The names, for the registry's duplicate check at registration: without this it would
        # call collect() there, a database read at every start.
        return _outbox_families(0, 0, 0.0)


def _outbox_families(due: int, failed: int, oldest: float) -> list[GaugeMetricFamily]:
    return [
        GaugeMetricFamily(
            "ai_signal_outbox_due",
            "Posts due now and not yet sent (anonymous posts count from their release)",
            value=due,
        ),
        GaugeMetricFamily(
            "ai_signal_outbox_failed", "Posts Slack refused for good (retried at start)", failed
        ),
        GaugeMetricFamily(
            "ai_signal_outbox_oldest_due_seconds",
            "How long the oldest due post has waited (0 when none is due)",
            value=oldest,
        ),
    ]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "ai_signal_requests",
            "Requests from Slack by envelope kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            "ai_signal_ack_seconds",
            "Time from a request's arrival to its answer (Slack waits 3 s)",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.deliveries = Counter(
            "ai_signal_slack_deliveries",
            "Posts and updates Slack accepted from the outbox and the digest, by method",
            ["method"],
            registry=r,
        )
        self.delivery_failures = Counter(
            "ai_signal_slack_delivery_failures",
            "Web API calls of the outbox and the digest that failed, by method and Slack error",
            ["method", "error"],
            registry=r,
        )
        self.rate_limited = Counter(
            "ai_signal_slack_rate_limited", "Answers 429 (rate limited) from Slack", registry=r
        )
        self.job_runs = Counter(
            "ai_signal_job_runs",
            "Scheduled job runs (digest, digest catch-up, reminders, retention) by outcome",
            ["job", "outcome"],
            registry=r,
        )
        self.heartbeat = Gauge(
            "ai_signal_scheduler_heartbeat_timestamp_seconds",
            "When the scheduler last finished a job (Unix time)",
            registry=r,
        )
        self.database_errors = Counter(
            "ai_signal_database_errors",
            "Errors the database driver raised (busy, unreachable, refused statements)",
            registry=r,
        )
        self.slack_connected = Gauge(
            "ai_signal_slack_connected",
            "1 when the Socket Mode connection is open or the last outbox call reached Slack",
            registry=r,
        )

    def watch_outbox(self, backlog: Backlog) -> None:
        self.registry.register(_OutboxCollector(backlog))

    def request(self, kind: str, outcome: str, seconds: float) -> None:
        self.requests.labels(kind=kind, outcome=outcome).inc()
        self.ack_seconds.labels(kind=kind).observe(seconds)

    def job_ran(self, job: str, ok: bool) -> None:
        self.job_runs.labels(job=job, outcome="ok" if ok else "error").inc()
        self.heartbeat.set(time.time())

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
