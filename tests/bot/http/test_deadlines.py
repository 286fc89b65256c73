"""The 3-second promise when the database is slow.

Another process holds SQLite's write lock (or a second PostgreSQL connection holds a table lock)
while a signed request comes in. The answer must arrive before Slack's 3 s, say that nothing was
filed, and nothing may be stored: no signal whose receipt nobody saw. After the lock is gone, a
retry files exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from handlers import ids
from models import OutboxItem, Signal, SignalEvent
from tests.conftest import (
    ALICE,
    DEFAULT_DB_DEADLINE_MS,
    LEAD,
    RunningApp,
    count_rows,
    start_app,
)
from tests.db_locks import LockHolder, hold_postgres_lock, hold_sqlite_lock
from tests.handlers.listeners.triage.helpers import (
    BOB,
    actions,
    ephemerals_to,
    file_anonymous,
    file_named,
    open_modal,
    posted,
    press,
    settle,
    state_values,
)

SLACK_LIMIT = 3.0
NOT_FILED = "Not filed — the database was busy; please try again."


@pytest.fixture
def sqlite_app(standin, sqlite_url) -> Iterator[RunningApp]:
    app = start_app(standin, sqlite_url, AI_SIGNAL_DB_DEADLINE_MS=DEFAULT_DB_DEADLINE_MS)
    yield app
    app.stop()


@pytest.fixture
def postgres_app(standin, postgres_url) -> Iterator[RunningApp]:
    app = start_app(standin, postgres_url, AI_SIGNAL_DB_DEADLINE_MS=DEFAULT_DB_DEADLINE_MS)
    yield app
    app.stop()


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def command_in_time(app: RunningApp, text: str, user=ALICE) -> str:
    reply, elapsed = timed(lambda: app.sender.command(user=user, text=text))
    assert reply.status == 200, reply.text
    assert elapsed < SLACK_LIMIT, elapsed
    return reply.json()["text"]


def filing_modal_values(text_value: str) -> dict:
    def option(value: str) -> dict:
        return {"text": {"type": "plain_text", "text": value}, "value": value}

    return {
        ids.KIND_BLOCK: {ids.KIND_INPUT: {"selected_option": option("drift")}},
        ids.SYSTEM_BLOCK: {ids.SYSTEM_INPUT: {"value": "fraud-model"}},
        ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"value": text_value}},
        ids.IMPACT_BLOCK: {ids.IMPACT_INPUT: {"value": ""}},
        ids.IDENTITY_BLOCK: {
            ids.IDENTITY_INPUT: {"selected_option": option(ids.IDENTITY_ANONYMOUS)}
        },
    }


def assert_filing_refused_then_retried(app: RunningApp, holder: LockHolder) -> None:
    try:
        answer = command_in_time(app, "anon bias loan-model rejects older applicants", user=BOB)
        assert NOT_FILED in answer
        assert "follow-up code" not in answer
    finally:
        holder.release()
    # Once the lock is gone nothing shows up late: the transaction was rolled back.
    app.finish_listeners()
    app.drain()
    assert count_rows(app, Signal) == 0 and count_rows(app, OutboxItem) == 0
    answer = command_in_time(app, "anon bias loan-model rejects older applicants", user=BOB)
    assert "follow-up code" in answer
    assert count_rows(app, Signal) == 1


def test_sqlite_locked_by_another_process_filing_is_refused_in_time(sqlite_app):
    assert_filing_refused_then_retried(
        sqlite_app, hold_sqlite_lock(sqlite_app.runtime.settings.database_url)
    )


def test_postgres_table_locked_filing_is_refused_in_time(postgres_app):
    holder = hold_postgres_lock(postgres_app.runtime.settings.database_url, "signals")
    assert_filing_refused_then_retried(postgres_app, holder)


def test_sqlite_locked_form_submission_keeps_the_text(sqlite_app):
    app = sqlite_app
    assert app.sender.command(user=ALICE, text="").status == 200
    view = app.standin.wait_for("views.open")[0].params["view"]
    holder = hold_sqlite_lock(app.runtime.settings.database_url)
    try:
        reply, elapsed = timed(
            lambda: app.sender.view_submission(
                user=ALICE,
                view=view,
                values=filing_modal_values("precision fell"),
                view_id="VFORM1",
            )
        )
    finally:
        holder.release()
    assert reply.status == 200 and elapsed < SLACK_LIMIT, (reply.status, elapsed)
    # Field errors keep the form open with what was typed; the same form can be sent again.
    assert reply.json() == {"response_action": "errors", "errors": {ids.TEXT_BLOCK: NOT_FILED}}
    assert count_rows(app, Signal) == 0
    again = app.sender.view_submission(
        user=ALICE, view=view, values=filing_modal_values("precision fell"), view_id="VFORM1"
    )
    assert again.json()["response_action"] == "update"
    assert count_rows(app, Signal) == 1


def test_sqlite_locked_lead_actions_and_replies_change_nothing(sqlite_app):
    app = sqlite_app
    ref, code = file_anonymous(app)
    posted(app, ref)
    ask = open_modal(app, LEAD, ids.ASK_ACTION, ref)
    events_before = count_rows(app, SignalEvent)
    holder = hold_sqlite_lock(app.runtime.settings.database_url)
    try:
        reply, elapsed = timed(
            lambda: app.sender.view_submission(
                user=LEAD,
                view=ask,
                values=state_values(ask, {ids.QUESTION_BLOCK: "Since when?"}),
                view_id=ask["id"],
            )
        )
        assert reply.status == 200 and elapsed < SLACK_LIMIT, (reply.status, elapsed)
        errors = reply.json()["errors"]
        assert list(errors.values()) == [
            "Nothing changed — the database was busy; please try again."
        ]
        answer = command_in_time(app, f"reply {code} since March", user=BOB)
        assert "Your reply was not added — the database was busy" in answer
        press(app, LEAD, ids.ACKNOWLEDGE_ACTION, ref)
        app.finish_listeners()
        assert any("database was busy" in t for t in ephemerals_to(app, LEAD))
    finally:
        holder.release()
    app.finish_listeners()
    assert count_rows(app, SignalEvent) == events_before
    # After the lock: the same form goes through once.
    reply = app.sender.view_submission(
        user=LEAD,
        view=ask,
        values=state_values(ask, {ids.QUESTION_BLOCK: "Since when?"}),
        view_id=ask["id"],
    )
    assert reply.status == 200 and not reply.body
    settle(app)
    assert actions(app, ref) == ["asked"]


def test_postgres_locked_lead_action_is_refused_in_time(postgres_app):
    app = postgres_app
    ref = file_named(app)
    posted(app, ref)
    ask = open_modal(app, LEAD, ids.ASK_ACTION, ref)
    holder = hold_postgres_lock(app.runtime.settings.database_url, "signals")
    try:
        reply, elapsed = timed(
            lambda: app.sender.view_submission(
                user=LEAD,
                view=ask,
                values=state_values(ask, {ids.QUESTION_BLOCK: "Since when?"}),
                view_id=ask["id"],
            )
        )
    finally:
        holder.release()
    assert reply.status == 200 and elapsed < SLACK_LIMIT, (reply.status, elapsed)
    assert "database was busy" in str(reply.json()["errors"])
    app.finish_listeners()
    assert actions(app, ref) == []
