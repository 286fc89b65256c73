"""/metrics must not show an anonymous filing: nothing that tells it from any other command moves
until the signal is released, and no label carries a user, a channel or text."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ALICE, MovableClock, start_app

CANARY_TEXT = "canarymetricszeta"
COMMAND_SERIES = ("ai_signal_requests_total", "ai_signal_ack_seconds")
# How long a command's answer took: the same for any command (it is the request, not the signal).
_DURATION = ("ai_signal_ack_seconds_sum",)


def scrape(app) -> tuple[dict[tuple[str, tuple], float], str]:
    with urllib.request.urlopen(f"{app.url}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return samples, text


def changed(before: dict, after: dict) -> set:
    """The series that moved. A latency histogram's buckets count as one series: which of its
    `le` buckets a request lands in depends on how busy the machine is, not on who asked."""
    return {
        _without_bucket_bound(key)
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key)
    }


def _without_bucket_bound(key: tuple[str, tuple]) -> tuple[str, tuple]:
    name, labels = key
    if name.endswith("_bucket"):
        return name, tuple(label for label in labels if label[0] != "le")
    return key


def test_metrics_do_not_move_for_an_anonymous_filing_until_release(standin, database_url) -> None:
    clock = MovableClock()
    app = start_app(standin, database_url, clock=clock, AI_SIGNAL_ANON_DELAY="600-900")
    try:
        # A command that files nothing, for comparison: what any command moves.
        app.sender.command(user=ALICE, text="help")
        before_help, _ = scrape(app)
        app.sender.command(user=ALICE, text="help")
        by_any_command = changed(before_help, scrape(app)[0])

        before, _ = scrape(app)
        reply = app.sender.command(user=ALICE, text=f"anon drift fraud-model {CANARY_TEXT} fell")
        assert "anonymously" in reply.json()["text"]
        after, text = scrape(app)
        moved = changed(before, after)
        assert moved, "the request itself is counted"
        assert {name for name, _ in moved} <= {name for name, _ in by_any_command}, (
            f"an anonymous filing moved more than any command does: {sorted(moved)}"
        )
        assert moved == by_any_command
        assert all(name.startswith(COMMAND_SERIES) for name, _ in moved)
        assert after[("ai_signal_outbox_due", ())] == 0

        # No label value holds the user, the channels or the text.
        for needle in (ALICE.id, ALICE.name, "CGENERAL01", "general", CANARY_TEXT, "fraud-model"):
            assert needle.lower() not in text.lower(), needle
        for (_, labels), _ in after.items():
            for _, value in labels:
                assert ALICE.id not in value and CANARY_TEXT not in value

        # At release the post goes out, and the delivery counters move.
        # The latest release: 900 s of delay, rounded up to the next whole minute.
        clock.advance(900 + 60 + 1)
        app.settle()
        assert standin.calls_to("chat.postMessage")
        released, text = scrape(app)
        assert released[("ai_signal_slack_deliveries_total", (("method", "chat.postMessage"),))]
        assert CANARY_TEXT not in text and ALICE.id not in text
    finally:
        app.stop()


def test_metrics_count_failures_by_slack_error_and_429s(standin, sqlite_url) -> None:
    app = start_app(standin, sqlite_url)
    try:
        standin.fail_next("chat.postMessage", status=429, retry_after=1)
        app.sender.command(user=ALICE, text="drift fraud-model precision fell")
        app.settle(held=True)  # the post waits for Retry-After: counted, not yet delivered
        samples = scrape(app)[0]
        assert samples[("ai_signal_slack_rate_limited_total", ())] == 1
        failures = (
            "ai_signal_slack_delivery_failures_total",
            (("error", "ratelimited"), ("method", "chat.postMessage")),
        )
        assert samples[failures] == 1
        assert samples[("ai_signal_requests_total", (("kind", "command"), ("outcome", "ok")))] == 1
    finally:
        app.stop()
