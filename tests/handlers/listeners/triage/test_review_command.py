"""`/ai-signal review [2026-Q4]`, sent signed as Slack does: leads get the quarter's report
shared in the triage channel through Slack's external upload flow; anyone else the private
refusal; nothing names a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.listeners.triage import NOT_A_LEAD
from tests.bot.jobs.digest.conftest import add_signal
from tests.conftest import ALICE, LEAD, TRIAGE, RunningApp


def seed(app: RunningApp) -> None:
    start = datetime(2026, 10, 5, 10, tzinfo=UTC)
    for i in range(6):
        add_signal(
            app.runtime.sessions,
            kind=("drift", "bias")[i % 2],
            system="fraud-model",
            created_at=start + timedelta(days=9 * i),
            anonymous=i % 2 == 0,
            reporter_id=None if i % 2 == 0 else ALICE.id,
            acknowledged_at=start + timedelta(days=9 * i, hours=2),
            status="resolved",
            resolved_at=start + timedelta(days=9 * i + 1),
            pattern="data-optimism",
            lesson="check label dates",
        )


def command(app: RunningApp, text: str, user=LEAD) -> str:
    reply = app.sender.command(user=user, text=text)
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    return body["text"]


def test_a_lead_gets_the_quarter_report_shared_in_triage(running_app):
    seed(running_app)
    answer = command(running_app, "review 2026-Q4")
    assert "review of 2026-Q4" in answer and f"<#{TRIAGE}>" in answer

    [complete] = running_app.standin.wait_for("files.completeUploadExternal", timeout=30)
    [asked] = running_app.standin.calls_to("files.getUploadURLExternal")
    assert asked.params["filename"] == "ai-signal-review-2026-Q4.html"
    [stored] = running_app.standin.files()
    page = stored.data.decode("utf-8")
    assert int(asked.params["length"]) == len(stored.data)
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    assert complete.params["channel_id"] == TRIAGE
    [shared] = running_app.standin.messages(TRIAGE)
    assert shared["files"][0]["title"] == "AI signals review, 2026-Q4"
    summary = shared["text"]
    assert summary.startswith("*AI signals review, 2026-Q4* — the full report is attached.")
    assert "6 signal(s) filed · 6 resolved" in summary
    assert "Recurring: Data optimism in fraud-model (6 signals)" in summary
    for person in (ALICE.id, ALICE.name, LEAD.id, LEAD.name):
        assert person not in page and person not in summary


def test_without_a_quarter_the_quarter_in_progress_is_reported(running_app):
    command(running_app, "review")
    running_app.standin.wait_for("files.completeUploadExternal", timeout=30)
    [stored] = running_app.standin.files()
    now = datetime.now(UTC)
    assert stored.filename == f"ai-signal-review-{now.year}-Q{(now.month - 1) // 3 + 1}.html"


def test_anyone_else_gets_the_private_refusal_and_nothing_is_built(running_app):
    seed(running_app)
    assert command(running_app, "review 2026-Q4", user=ALICE) == NOT_A_LEAD
    running_app.finish_listeners()
    assert running_app.standin.calls_to("files.getUploadURLExternal", include_errors=True) == []
    assert running_app.standin.messages(TRIAGE) == []


def test_a_quarter_that_is_not_one_is_answered_privately(running_app):
    answer = command(running_app, "review 2026-Q5")
    assert "Name a quarter like 2026-Q4" in answer
    running_app.finish_listeners()
    assert running_app.standin.calls_to("files.getUploadURLExternal", include_errors=True) == []


def test_when_slack_refuses_the_file_the_lead_is_told_privately(running_app):
    seed(running_app)
    running_app.standin.fail_next("files.completeUploadExternal", error="not_in_channel")
    command(running_app, "review 2026-Q4")
    [told] = running_app.standin.wait_for("response_url", timeout=30)
    assert "did not take the review of 2026-Q4 (not_in_channel)" in told.params["text"]
    assert running_app.standin.messages(TRIAGE) == []
