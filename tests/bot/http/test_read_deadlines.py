"""Look-ups someone waits for (status, reveal, lessons) answer within Slack's 3 s while the
database is locked: a private "busy" answer instead of Bolt's 404."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from bot.services.transactions import NOT_ANSWERED_BUSY
from tests.conftest import ALICE, DEFAULT_DB_DEADLINE_MS, RunningApp, start_app
from tests.handlers.listeners.triage.helpers import BOB, file_anonymous, file_named

SLACK_LIMIT = 3.0


@pytest.fixture
def postgres_app(standin, postgres_url) -> Iterator[RunningApp]:
    app = start_app(standin, postgres_url, AI_SIGNAL_DB_DEADLINE_MS=DEFAULT_DB_DEADLINE_MS)
    yield app
    app.stop()


@pytest.fixture
def signals_locked(postgres_app) -> Iterator[None]:
    """Another connection holds ACCESS EXCLUSIVE on `signals` and on the lessons search's
    documents: even readers wait for them."""
    engine = create_engine(postgres_app.runtime.settings.database_url)
    connection = engine.connect()
    transaction = connection.begin()
    connection.execute(text("LOCK TABLE signals, lesson_documents IN ACCESS EXCLUSIVE MODE"))
    try:
        yield
    finally:
        transaction.rollback()
        connection.close()
        engine.dispose()


def answer_in_time(app: RunningApp, text: str, user) -> str:
    started = time.monotonic()
    reply = app.sender.command(user=user, text=text)
    elapsed = time.monotonic() - started
    assert reply.status == 200 and elapsed < SLACK_LIMIT, (reply.status, elapsed)
    return reply.json()["text"]


@pytest.fixture
def filed(postgres_app):
    ref, code = file_anonymous(postgres_app)
    return {"named": file_named(postgres_app), "ref": ref, "code": code}


@pytest.mark.parametrize(
    ("words", "user"),
    [
        ("status {code}", BOB),
        ("reveal {code}", BOB),
        ("status {named}", ALICE),
        ("lessons drift", ALICE),
    ],
)
def test_a_look_up_behind_a_lock_answers_busy_in_time(
    postgres_app, filed, signals_locked, words, user
):
    answer = answer_in_time(postgres_app, words.format(**filed), user)
    assert NOT_ANSWERED_BUSY in answer
    assert filed["ref"] not in answer


def test_a_look_up_works_again_once_the_lock_is_gone(postgres_app, filed):
    answer = answer_in_time(postgres_app, f"status {filed['code']}", BOB)
    assert NOT_ANSWERED_BUSY not in answer and filed["ref"] in answer
