"""Nothing lost: retries on 429/5xx/outages, permanent refusals kept, restarts, anonymous delay."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from models import OutboxItem, Signal
from tests.conftest import (
    ALICE,
    LEAD,
    TRIAGE,
    MovableClock,
    count_rows,
    outbox_rows,
    signal_rows,
    start_app,
    start_app_with_clock,
    wait_until,
)

# These scenarios are about the worker posting, retrying and waking up on its own thread.
pytestmark = pytest.mark.worker


def file(app, text: str, user=ALICE) -> str:
    reply = app.sender.command(user=user, text=text)
    assert reply.status == 200, reply.text
    return reply.json()["text"]


def posts_mentioning(app, words: str) -> list[dict]:
    return [m for m in app.standin.messages(TRIAGE) if words in json.dumps(m)]


def post_calls(app, *, ok_only: bool) -> list:
    return app.standin.calls_to("chat.postMessage", include_errors=not ok_only)


@pytest.fixture
def apps(standin, database_url):
    """Start (and restart) apps on one database; all are stopped at the end."""
    started = []

    def start(**env):
        app = start_app(standin, database_url, worker=True, **env)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()
    logging.getLogger().handlers.clear()


def test_rate_limited_post_waits_for_retry_after_and_posts_once(running_app):
    slack = running_app.standin
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    file(running_app, "drift first while limited")
    file(running_app, "drift second while limited")
    oks = slack.wait_for("chat.postMessage", 2, timeout=8)
    [limited] = [c for c in post_calls(running_app, ok_only=False) if c.status == 429]
    for ok in oks:  # the whole channel waited as Slack asked, not only the refused message
        assert ok.at - limited.at >= 0.95, ok.at - limited.at
    assert len(posts_mentioning(running_app, "first while limited")) == 1
    assert len(posts_mentioning(running_app, "second while limited")) == 1
    # Nothing more goes out: a later signal is the third and last post.
    file(running_app, "drift third")
    slack.wait_for("chat.postMessage", 3)
    assert len(slack.messages(TRIAGE)) == 3
    wait_until(lambda: {o.state for o in outbox_rows(running_app)} == {"sent"}, what="all sent")


def test_server_error_is_retried_and_posted_once(running_app):
    slack = running_app.standin
    slack.fail_next("chat.postMessage", status=500)
    file(running_app, "drift during a 500")
    slack.wait_for("chat.postMessage", timeout=6)
    assert [c.status for c in post_calls(running_app, ok_only=False)] == [500, 200]
    file(running_app, "drift after")
    slack.wait_for("chat.postMessage", 2)
    assert len(posts_mentioning(running_app, "during a 500")) == 1
    assert len(slack.messages(TRIAGE)) == 2


def test_slack_down_for_a_while(running_app):
    slack = running_app.standin
    slack.set_down(True)
    file(running_app, "drift while slack is down")
    wait_until(lambda: len(post_calls(running_app, ok_only=False)) >= 2, what="two failed posts")
    assert count_rows(running_app, Signal) == 1  # stored before Slack was called
    [item] = outbox_rows(running_app)
    assert item.state == "pending" and item.last_error
    slack.set_down(False)
    slack.wait_for("chat.postMessage", timeout=8)
    assert len(posts_mentioning(running_app, "while slack is down")) == 1
    wait_until(lambda: outbox_rows(running_app)[0].state == "sent", what="outbox item sent")
    [row] = signal_rows(running_app)
    assert row.triage_ts and row.triage_channel == TRIAGE


def test_permanent_refusal_is_kept_and_reported(running_app):
    slack = running_app.standin
    slack.fail_next("chat.postMessage", error="channel_not_found")
    receipt = file(running_app, "drift into the void")
    assert "SIG-1" in receipt
    item = wait_until(
        lambda: next((o for o in outbox_rows(running_app) if o.state == "failed"), None),
        what="the outbox item to be marked failed",
    )
    assert "channel_not_found" in item.last_error
    [row] = signal_rows(running_app)
    assert row.ref == "SIG-1" and row.text == "into the void" and row.triage_ts is None
    # The worker logs the refusal just after it records it.
    errors = wait_until(
        lambda: [
            line
            for line in running_app.log.getvalue().splitlines()
            if " ERROR " in line and "channel_not_found" in line
        ],
        what="the refusal in the log",
    )
    assert "SIG-1" in errors[0] and TRIAGE in errors[0]
    assert post_calls(running_app, ok_only=True) == []
    # It stays failed (not retried in a loop) while the app runs.
    file(running_app, "drift a later one")
    slack.wait_for("chat.postMessage")
    assert [o.state for o in outbox_rows(running_app) if o.id == item.id] == ["failed"]
    assert len(post_calls(running_app, ok_only=False)) == 2


def test_restart_delivers_what_was_queued_exactly_once(apps, standin):
    first = apps()
    standin.set_down(True)
    texts = [f"queued while down {i}" for i in range(3)]
    for text in texts:
        file(first, f"drift {text}")
    # One failed attempt is enough: each later one holds the channel twice as long (1, 2, 4 s),
    # and the next start waits that out too (the pause is kept in the database).
    wait_until(lambda: post_calls(first, ok_only=False), what="a failed attempt")
    first.stop()
    attempts_before = len(post_calls(first, ok_only=False))

    standin.set_down(False)
    second = apps()
    standin.wait_for("chat.postMessage", 3, timeout=8)
    for text in texts:
        assert len(posts_mentioning(second, text)) == 1, (
            text,
            [(c.method, c.status, str(c.params.get("text"))[:60]) for c in standin.calls],
            [(o.state, o.purpose, o.attempts, o.due_at, o.last_error) for o in outbox_rows(second)],
        )
    wait_until(lambda: {o.state for o in outbox_rows(second)} == {"sent"}, what="all sent")
    # A new signal after the restart is the fourth and last post.
    file(second, "drift after restart")
    standin.wait_for("chat.postMessage", 4)
    assert len(standin.messages(TRIAGE)) == 4
    assert len(post_calls(second, ok_only=False)) == attempts_before + 4
    assert count_rows(second, OutboxItem) == 4


def _anonymous_item(app) -> OutboxItem:
    anonymous = {s.id for s in signal_rows(app) if s.anonymous}
    [item] = [o for o in outbox_rows(app) if o.signal_id in anonymous]
    return item


@pytest.fixture
def clocked_apps(standin, database_url):
    """Apps on a clock just past a whole minute: the anonymous delay (up to 2 s here) is rounded
    up to the next one, so an anonymous post is held for most of a minute, not, filed in the
    last seconds of one, released before the test looks."""
    clock = MovableClock()
    now = clock()
    clock.advance(61 - now.second - now.microsecond / 1e6)  # hh:mm:01
    started = []

    def start():
        app = start_app_with_clock(
            standin, database_url, clock, worker=True, AI_SIGNAL_ANON_DELAY="2"
        )
        started.append(app)
        return app

    yield clock, start
    for app in started:
        app.stop()
    logging.getLogger().handlers.clear()


def _named_probe(app, text: str, count: int) -> None:
    """File a named signal (posted at once) and wait for it: the worker has had its chance."""
    file(app, f"drift {text}")
    app.standin.wait_for("chat.postMessage", count)


def test_anonymous_post_waits_for_the_delay(clocked_apps):
    clock, start = clocked_apps
    app = start()
    before_filing = clock()
    file(app, "anon bias held back for a while")
    item = _anonymous_item(app)
    assert item.due_at >= before_filing + timedelta(seconds=2)
    _named_probe(app, "probe one", 1)
    assert posts_mentioning(app, "held back") == []
    clock.advance(1)  # less than the configured delay
    _named_probe(app, "probe two", 2)
    assert posts_mentioning(app, "held back") == []
    clock.advance(62)  # past the delay (released on whole minutes, in batches)
    app.standin.wait_for("chat.postMessage", 3)
    [post] = posts_mentioning(app, "held back")
    assert "Anonymous" in json.dumps(post)
    _named_probe(app, "probe three", 4)
    assert len(posts_mentioning(app, "held back")) == 1


def test_anonymous_delay_survives_a_restart(clocked_apps, standin):
    clock, start = clocked_apps
    first = start()
    file(first, "anon drift survives restarts")
    _named_probe(first, "before restart", 1)
    first.stop()

    second = start()
    _named_probe(second, "after restart", 2)
    assert posts_mentioning(second, "survives restarts") == []
    clock.advance(63)
    standin.wait_for("chat.postMessage", 3)
    _named_probe(second, "later", 4)
    assert len(posts_mentioning(second, "survives restarts")) == 1


def test_the_services_wake_the_idle_worker(standin, database_url):
    """The worker's thread would look at the outbox again only in an hour: what reaches Slack
    within seconds does so because the service woke it after committing (a filing, then a
    lead's acknowledgement from its listener thread)."""
    from tests.handlers.listeners.triage.helpers import acknowledge

    app = start_app(standin, database_url, worker=True, poll_interval=3600)
    try:
        file(app, "drift wakes the worker")
        [post] = standin.wait_for("chat.postMessage", timeout=10)
        # Its round records the post after Slack's answer: wait for that round (drain takes
        # turns with it), so the button below is pressed on the recorded post.
        app.drain()
        [row] = signal_rows(app)
        assert row.triage_ts == post.response["ts"]
        acknowledge(app, LEAD, row.ref)
        [update] = standin.wait_for("chat.update", timeout=10)
        assert update.params["ts"] == row.triage_ts
        assert "Acknowledged" in json.dumps(update.params["blocks"])
    finally:
        app.stop()
