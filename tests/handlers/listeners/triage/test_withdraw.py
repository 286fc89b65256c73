"""A reporter withdraws their own signal until a lead acknowledges it: named by its reference,
anonymous with the follow-up code. The triage post then says "withdrawn by the reporter" and
what the reporter wrote is erased from the database — on SQLite from the database file and
from its WAL, byte for byte. Signed requests, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from bot.runtime import digest_service
from bot.services.triage import WITHDRAWN_TEXT
from handlers import ids
from tests.conftest import ALICE, BOB, LEAD
from tests.handlers.listeners.triage.helpers import (
    actions,
    assert_slack_happy,
    buttons,
    command,
    dumps,
    events,
    field_text,
    file_anonymous,
    file_named,
    parent,
    posted,
    press,
    settle,
    signal,
    thread,
)

CANARY = "quokkacanary7731"
# Long enough to spill into overflow pages, which are freed when the text is erased: without
# secure_delete their bytes would stay in the database file.
LONG = "the scores creep upward every night " * 60 + CANARY


def raw_files(app) -> bytes:
    """The SQLite database file and its WAL, as bytes ("" on PostgreSQL)."""
    engine = app.runtime.engine
    if engine.dialect.name != "sqlite":
        return b""
    main = Path(engine.url.database or "")
    return b"".join(p.read_bytes() for p in (main, Path(f"{main}-wal")) if p.exists())


def assert_erased(app, ref: str) -> None:
    row = signal(app, ref)
    assert (row.status, row.text, row.impact) == ("withdrawn", WITHDRAWN_TEXT, None)
    assert row.resolved_at is not None
    assert CANARY.encode() not in raw_files(app)
    assert not [e for e in events(app, ref) if e.note and CANARY in e.note]


def test_a_named_reporter_withdraws_their_signal_and_its_text_is_erased(app):
    ref = file_named(app, f"drift fraud-model: {CANARY} precision fell {LONG}")
    posted(app, ref)
    assert "Thanks" in command(app, f"reply {ref} also {CANARY} in the replies")
    settle(app)
    if app.runtime.engine.dialect.name == "sqlite":
        assert CANARY.encode() in raw_files(app)  # the check below can fail

    # Someone else cannot, and learns nothing about the signal.
    answer = command(app, f"withdraw {ref}", user=BOB)
    assert "can't find a signal" in answer and signal(app, ref).status == "new"

    answer = command(app, f"withdraw {ref}")
    assert f"*{ref}* is withdrawn" in answer and "erased" in answer
    settle(app)
    assert_erased(app, ref)
    message = parent(app, ref)
    assert "Withdrawn by the reporter" in field_text(message)
    assert CANARY not in dumps(message) and buttons(message) == []
    assert "withdrawn by the reporter" in thread(app, ref)[-1]
    assert [(e.action, e.actor_id) for e in events(app, ref)][-1] == ("withdrawn", ALICE.id)

    # Again: nothing changes; a lead's old button does nothing; no reply is added any more.
    assert "already withdrawn" in command(app, f"withdraw {ref}")
    press(app, LEAD, ids.ACKNOWLEDGE_ACTION, ref)
    settle(app)
    assert len(app.standin.ephemerals()) == 1
    assert "withdrawn" in command(app, f"reply {ref} one more thing")
    assert actions(app, ref) == ["replied", "withdrawn"]
    assert "Withdrawn by the reporter" in command(app, f"status {ref}")
    assert_slack_happy(app)


def test_an_anonymous_reporter_withdraws_with_their_code(app):
    ref, code = file_anonymous(app, f"bias loan-model: {CANARY} rejects older applicants {LONG}")
    posted(app, ref)
    assert "withdraw <code>" in command(app, f"status {code}", user=BOB)
    answer = command(app, f"withdraw {code}", user=BOB)
    assert f"*{ref}* is withdrawn" in answer and "short delay" in answer
    settle(app)
    assert_erased(app, ref)
    assert CANARY not in dumps(parent(app, ref))
    [withdrawn] = [e for e in events(app, ref) if e.action == "withdrawn"]
    assert withdrawn.actor_id is None
    assert (withdrawn.created_at.minute, withdrawn.created_at.second) == (0, 0)  # coarse
    status = command(app, f"status {code}", user=BOB)
    assert "Withdrawn by the reporter" in status and "You withdrew it" in status
    assert_slack_happy(app)


def test_wrong_codes_get_the_generic_answer_and_count_against_the_throttle(app):
    ref, code = file_anonymous(app)
    posted(app, ref)
    wrong = "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"
    assert "doesn't match a signal" in command(app, f"withdraw {wrong}", user=ALICE)
    for _ in range(19):
        command(app, f"withdraw {wrong}", user=ALICE)
    assert "Too many follow-up codes" in command(app, f"withdraw {code}", user=ALICE)
    assert signal(app, ref).status == "new"
    # Another person's throttle is their own.
    assert "is withdrawn" in command(app, f"withdraw {code}", user=BOB)


def test_after_a_lead_acknowledged_it_a_withdrawal_is_refused_clearly(app):
    ref = file_named(app, f"drift fraud-model: {CANARY} precision fell")
    posted(app, ref)
    press(app, LEAD, ids.ACKNOWLEDGE_ACTION, ref)
    settle(app)
    assert "acknowledged" in actions(app, ref)
    answer = command(app, f"withdraw {ref}")
    assert "already acknowledged by a lead" in answer and "reply" in answer
    row = signal(app, ref)
    assert row.status == "acknowledged" and CANARY in row.text


def test_a_withdrawn_signal_counts_as_withdrawn_in_the_digest(app):
    kept = file_named(app, "drift fraud-model: precision fell")
    taken = file_named(app, "bias loan-model: approvals skew")
    for ref in (kept, taken):
        posted(app, ref)
    command(app, f"withdraw {taken}")
    settle(app)
    digest = digest_service(app.runtime.settings, app.runtime.sessions, app.runtime.clock)
    data = digest.gather(period=digest.period_in_progress())
    assert data.withdrawn_count == 1 and data.open_counts["new"] == 1
