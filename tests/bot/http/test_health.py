"""/healthz in HTTP mode: the database, Slack (the outbox's last Web API call), the outbox
backlog and the scheduler's last runs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from bot.jobs.scheduler import start_scheduler
from tests.conftest import ALICE, start_app, wait_until


def health(app) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{app.url}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_health_reports_slack_and_the_backlog(standin, database_url) -> None:
    app = start_app(standin, database_url, worker=True)  # it resends after a real backoff
    try:
        status, report = health(app)
        assert status == 200 and report["slack"] == {"mode": "http", "api": "unknown"}
        app.sender.command(user=ALICE, text="drift fraud-model precision fell")
        wait_until(lambda: health(app)[1]["slack"]["api"] == "ok", what="a delivered post")
        # The call is counted when Slack answers; the outbox row is marked sent just after.
        wait_until(lambda: health(app)[1]["outbox"]["due"] == 0, what="the post marked sent")
        assert health(app)[1]["outbox"] == {"due": 0, "failed": 0, "oldest_due_seconds": 0}

        standin.set_down(True)  # every Web API call answers 503
        app.sender.command(user=ALICE, text="drift fraud-model recall fell")
        report = wait_until(
            lambda: (r := health(app)[1])["slack"]["api"] == "failing" and r, what="failing"
        )
        assert report["status"] == "ok"  # the app still takes signals; posts wait
        assert report["outbox"]["due"] == 1
        standin.set_down(False)
        wait_until(lambda: health(app)[1]["outbox"]["due"] == 0, timeout=15, what="the resend")
        assert health(app)[1]["slack"]["api"] == "ok"
    finally:
        standin.set_down(False)
        app.stop()


def test_health_reports_the_schedulers_last_runs(standin, sqlite_url) -> None:
    app = start_app(standin, sqlite_url)
    scheduler = start_scheduler(app.runtime)  # the digest catch-up runs at once
    try:
        report = wait_until(
            lambda: (r := health(app)[1])["scheduler"]["last_run"] and r, what="a job run"
        )
        assert report["scheduler"]["jobs"]["digest-catch-up"]["outcome"] == "ok"
        metrics = urllib.request.urlopen(f"{app.url}/metrics", timeout=5).read().decode()
        assert 'ai_signal_job_runs_total{job="digest-catch-up",outcome="ok"}' in metrics
        assert "ai_signal_scheduler_heartbeat_timestamp_seconds" in metrics
    finally:
        scheduler.shutdown(wait=False)
        app.stop()
