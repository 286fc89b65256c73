"""Duplicates: a lead closes a signal as "duplicate of SIG-x" from a form that checks the primary
(it exists, is not the signal itself, leads to no loop). The reporter is thanked and follows the
primary's outcome — a named one by private notes, an anonymous one through `status <code>`; the
duplicate still counts as raised and once in the digest's trends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.runtime import digest_service
from bot.services.digest import Period
from handlers import ids
from handlers.blocks.digest import build_digest_message
from tests.conftest import ALICE, LEAD, TRIAGE
from tests.handlers.listeners.triage.helpers import (
    BOB,
    NOT_A_LEAD,
    ONLY_LEADS,
    assert_slack_happy,
    command,
    dms_to,
    ephemerals_to,
    field_text,
    file_anonymous,
    file_named,
    open_modal,
    parent,
    posted,
    press,
    settle,
    signal,
    submit,
    thread,
)


def mark_duplicate(app, ref: str, primary: str) -> dict | None:
    view = open_modal(app, LEAD, ids.DUPLICATE_ACTION, ref)
    answer = submit(app, LEAD, view, {ids.PRIMARY_BLOCK: primary})
    settle(app)
    return answer


def resolve(app, ref: str) -> None:
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    answers = {
        ids.DONE_BLOCK: "Retrained on this quarter",
        ids.PATTERN_BLOCK: "data-optimism",
        ids.LESSON_BLOCK: "Watch precision weekly",
    }
    assert submit(app, LEAD, view, answers) is None
    settle(app)


def test_a_named_reporter_follows_the_primary(app):
    primary = file_named(app, "drift system:fraud-model precision fell", user=BOB)
    dup = file_named(app, "drift system:fraud-model precision is down")
    for ref in (primary, dup):
        posted(app, ref)

    # The form refuses what cannot be a primary, under its field.
    for wrong, says in (
        ("SIG-999", "There is no signal SIG-999."),
        (dup, f"{dup} cannot be a duplicate of itself."),
        ("fraud", "Give the earlier signal's reference"),
    ):
        answer = mark_duplicate(app, dup, wrong)
        assert answer is not None and answer["response_action"] == "errors", wrong
        assert says in answer["errors"][ids.PRIMARY_BLOCK], answer
    assert signal(app, dup).status == "new"

    assert mark_duplicate(app, dup, primary.lower()) is None
    row = signal(app, dup)
    assert row.status == "duplicate" and row.duplicate_of == signal(app, primary).id
    fields = field_text(parent(app, dup))
    assert f"Duplicate of <https://standin.slack.test/archives/{TRIAGE}/p" in fields
    assert f"|{primary}>" in fields
    lead_row = [
        b for b in parent(app, dup)["blocks"] if b.get("block_id") == ids.TRIAGE_ACTIONS_BLOCK
    ]
    assert [e["action_id"] for e in lead_row[0]["elements"]] == [
        ids.REOPEN_ACTION,
        ids.TRACKER_ACTION,
    ]
    assert any(
        f"marked {dup} as a duplicate of {primary}" in t and "Thank you" in t
        for t in thread(app, dup)
    )
    [note] = [t for t in dms_to(app, ALICE) if "same concern" in t]
    assert f"*{dup}*" in note and f"*{primary}*" in note and "still counts" in note

    # A loop is refused: the primary cannot become a duplicate of its own duplicate.
    answer = mark_duplicate(app, primary, dup)
    assert answer is not None and "cannot be a duplicate of itself" in str(answer)

    # When the primary is resolved, the duplicate's reporter hears its outcome.
    resolve(app, primary)
    settle(app)
    outcome = [t for t in dms_to(app, ALICE) if "here is its outcome" in t]
    assert len(outcome) == 1, dms_to(app, ALICE)
    assert f"*{dup}*, which you raised, is a duplicate of *{primary}*" in outcome[0]
    assert "Retrained on this quarter" in outcome[0] and "Watch precision weekly" in outcome[0]
    # Nothing of the primary's reporter or words reaches the duplicate's reporter.
    assert BOB.id not in outcome[0] and "precision fell" not in outcome[0]
    assert_slack_happy(app)


def test_an_anonymous_reporter_reads_the_primary_outcome_with_the_code(app):
    primary = file_named(app, "bias system:loan-model approvals skew by age")
    dup, code = file_anonymous(app, "bias system:loan-model older applicants rejected")
    for ref in (primary, dup):
        posted(app, ref)
    assert mark_duplicate(app, dup, primary) is None
    status = command(app, f"status {code}")
    assert "Duplicate" in status and f"same concern as *{primary}*" in status
    assert "reply <code>" not in status  # closed: nothing to add
    resolve(app, primary)
    status = command(app, f"status {code}")
    assert "Retrained on this quarter" in status and "Watch precision weekly" in status
    assert "approvals skew" not in status and ALICE.id not in status
    # The anonymous reporter gets no DM: nothing is sent to anyone for them.
    assert dms_to(app, BOB) == []
    assert any(f"a duplicate of {primary}" in t and "(anonymous)" in t for t in thread(app, dup))

    # Reopening clears it; a non-lead cannot mark duplicates.
    press(app, LEAD, ids.REOPEN_ACTION, dup)
    settle(app)
    assert signal(app, dup).status != "duplicate"
    assert signal(app, dup).duplicate_of is None
    press(app, NOT_A_LEAD, ids.DUPLICATE_ACTION, dup)
    settle(app)
    [told] = ephemerals_to(app, NOT_A_LEAD)
    assert ONLY_LEADS in told
    assert_slack_happy(app)


def test_a_duplicate_counts_as_raised_and_once_in_trends(app):
    primary = file_named(app, "drift system:fraud-model precision fell")
    dup = file_named(app, "drift system:fraud-model precision down", user=BOB)
    other = file_named(app, "bias system:loan-model skew")
    for ref in (primary, dup, other):
        posted(app, ref)
    assert mark_duplicate(app, dup, primary) is None
    now = datetime.now(UTC)
    period = Period(
        start=now - timedelta(days=7),
        end=now + timedelta(hours=1),
        previous_start=now - timedelta(days=14),
        timezone="UTC",
    )
    runtime = app.runtime
    data = digest_service(runtime.settings, runtime.sessions, runtime.clock).gather(
        period=period, now=now
    )
    assert data.new_total == 3  # raised: the duplicate counts
    assert data.new_duplicates == 1
    assert {k.kind: k.count for k in data.new_by_kind} == {"drift": 1, "bias": 1}
    text = str(build_digest_message(data, links={}))
    assert "New signals" in text and "1 of them the same concern as an earlier signal" in text
