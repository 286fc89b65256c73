"""Canary tests: every anonymous path through the real app (HTTP, Bolt, waitress, worker), on
SQLite and PostgreSQL. Each test plants the reporter's identifiers in what "Slack" sends and then
searches the database (rows and, on SQLite, the raw -wal/-shm/main files), the app's DEBUG log and
every request the app sent to the Slack stand-in for them.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from bot.services import codes
from bot.services.signals import GENERIC_CODE_ANSWER
from handlers import ids
from models import OutboxItem, Signal, SignalEvent
from tests.conftest import ALICE, LEAD, TRIAGE
from tests.handlers.listeners.triage import helpers as triage
from tests.privacy.canaries import (
    CANARY_TRIGGER_MARK,
    CANARY_USER,
    CODE,
    Canaries,
    assert_no_leaks,
    file_anonymous,
    find_in,
    modal_values,
    receipt,
    triage_post,
)

# ---- helpers --------------------------------------------------------------------------------------


def signals(database_url: str) -> list[Signal]:
    engine = create_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return list(session.scalars(select(Signal)))
    finally:
        engine.dispose()


def outbox(database_url: str) -> list[OutboxItem]:
    engine = create_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return list(session.scalars(select(OutboxItem)))
    finally:
        engine.dispose()


def assert_receipt_only_in_http_response(canaries: Canaries) -> None:
    """The reporter hears back only through the HTTP response: no ephemeral, DM or response_url."""
    methods = {c.method for c in canaries.standin.calls}
    assert not methods & {"chat.postEphemeral", "conversations.open", "response_url"}, methods
    for call in canaries.standin.calls_to("chat.postMessage", include_errors=True):
        assert call.params.get("channel") == TRIAGE, call.params


def assert_reply_clean(canaries: Canaries, *replies) -> None:
    for reply in replies:
        assert_no_leaks(find_in(reply.text, canaries.identity_needles(), "HTTP reply"))


def assert_coarse_anonymous_row(row: Signal, code: str, key: bytes = b"test-code-key") -> None:
    assert row.anonymous is True
    assert row.reporter_id is None
    for stamp in (row.created_at, row.updated_at):
        assert (stamp.minute, stamp.second, stamp.microsecond) == (0, 0, 0), stamp
    normalized = codes.normalize_code(code)
    assert row.followup_hash and re.fullmatch(r"[0-9a-f]{64}", row.followup_hash)
    assert normalized.lower() not in row.followup_hash.lower()
    assert row.followup_hash != hashlib.sha256(normalized.encode()).hexdigest(), "not keyed"
    assert row.followup_hash == codes.hash_code(code, key=key)


def open_modal(canaries: Canaries) -> dict[str, Any]:
    """`/ai-signal` alone, with a trigger id the stand-in issued (views.open must succeed)."""
    before = len(canaries.standin.calls_to("views.open"))
    reply = canaries.command("", sender=canaries.modal_sender)
    assert reply.status == 200, reply.text
    # Bolt answers after ack(); views.open follows from the listener thread.
    opened = canaries.standin.wait_for("views.open", count=before + 1)
    assert opened[-1].params["trigger_id"] in canaries.modal_triggers
    return opened[-1].params["view"]


REDACTION_MARKS = re.compile(r"\[(?:redacted|id|payload redacted|trigger_id|response_url|email)\]")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.MULTILINE)


def error_reports(log: str, logger_name: str) -> list[str]:
    """The records a logger wrote, each with its traceback (up to the next record)."""
    starts = [m.start() for m in LOG_LINE.finditer(log)] + [len(log)]
    records = [log[a:b] for a, b in zip(starts, starts[1:], strict=False)]
    return [r for r in records if f" ERROR {logger_name}: " in r.splitlines()[0]]


# ---- the paths --------------------------------------------------------------------------------------


def test_anonymous_quick_command(running_app, canaries, database_url):
    for text_ in ("drift churn-model recall fell", "bias cv-screener prefers one school"):
        assert running_app.sender.command(user=ALICE, text=text_).status == 200
    ref, code, reply = file_anonymous(canaries)
    named_after = running_app.sender.command(user=ALICE, text="edge-case ocr fails on receipts")

    # Anonymous references are random, and do not use up a number of the named sequence.
    assert ref not in {"SIG-1", "SIG-2", "SIG-3", "SIG-4"}
    assert "SIG-3" in named_after.json()["text"]

    post = triage_post(canaries, ref)
    reporter = [f["text"] for b in post["blocks"] for f in b.get("fields", [])]
    assert "*Reporter*\nAnonymous" in reporter
    assert "<@" not in json.dumps(post)
    triage_post(canaries, "SIG-3")

    (row,) = [s for s in signals(database_url) if s.anonymous]
    assert row.ref == ref
    assert_coarse_anonymous_row(row, code)
    assert_receipt_only_in_http_response(canaries)
    assert_reply_clean(canaries, reply)
    assert_no_leaks(canaries.all_leaks(database_url))

    # No reveal path: the reporter's own App Home lists named signals only. (Publishing a Home
    # carries the viewer's user id by nature, which is why this runs after the search above.)
    canaries.sender.event(
        {"type": "app_home_opened", "user": CANARY_USER.id, "tab": "home", "event_ts": "1.2"}
    )
    (home,) = canaries.standin.wait_for("views.publish")
    assert home.params["user_id"] == CANARY_USER.id
    assert ref not in json.dumps(home.params) and "fraud-model" not in json.dumps(home.params)


def test_anonymous_modal(running_app, canaries, database_url):
    view = open_modal(canaries)
    reply = canaries.sender.view_submission(user=CANARY_USER, view=view, values=modal_values())
    assert reply.status == 200, reply.text
    answer = reply.json()
    assert answer["response_action"] == "update"
    ref, code = receipt(answer)
    canaries.remember_code(code)

    post = triage_post(canaries, ref)
    assert "Anonymous" in json.dumps(post["blocks"])
    (row,) = signals(database_url)
    assert (row.ref, row.kind, row.system) == (ref, "bias", "loan-model")
    assert_coarse_anonymous_row(row, code)
    assert_receipt_only_in_http_response(canaries)
    assert_reply_clean(canaries, reply)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_status_with_right_and_wrong_code(running_app, canaries, database_url):
    ref, code, _ = file_anonymous(canaries, "anon data-quality feature store has null ages")
    triage_post(canaries, ref)

    right = canaries.command(f"status {code}")
    assert right.status == 200
    assert ref in right.json()["text"] and "Data quality" in right.json()["text"]
    # Pasted back in any case, without dashes: the same signal.
    relaxed = canaries.command(f"status {codes.normalize_code(code).lower()}")
    assert ref in relaxed.json()["text"]

    wrong_answers = set()
    for wrong in (codes.new_code(), code[:-1] + ("A" if code[-1] != "A" else "B"), "NOPE"):
        canaries.remember_code(wrong)
        reply = canaries.command(f"status {wrong}")
        assert reply.status == 200
        wrong_answers.add(reply.json()["text"])
    assert len(wrong_answers) == 1 and GENERIC_CODE_ANSWER in wrong_answers.pop()

    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_errors_on_anonymous_paths(running_app, canaries, database_url):
    commands = {
        "anon frobnicate the model is odd": "don't know the kind",
        "anon drift": "empty",
        "anon drift " + "x" * 3001: "limit is 3,000",
    }
    for command, expected in commands.items():
        reply = canaries.command(command)
        assert reply.status == 200, reply.text
        assert reply.json()["response_type"] == "ephemeral"
        assert expected in reply.json()["text"], reply.json()
        assert_reply_clean(canaries, reply)

    view = open_modal(canaries)
    for values in (
        modal_values(kind="frobnicate"),
        modal_values(text="   "),
        modal_values(text="y" * 3001),
    ):
        reply = canaries.sender.view_submission(user=CANARY_USER, view=view, values=values)
        assert reply.status == 200, reply.text
        assert reply.json()["response_action"] == "errors", reply.json()
        assert_reply_clean(canaries, reply)

    assert signals(database_url) == []
    assert "Traceback" not in running_app.log.getvalue()
    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


@pytest.mark.worker  # the retry comes after a real backoff: the worker's thread waits it out
def test_slack_down_while_delivering(running_app, canaries, database_url):
    standin = canaries.standin
    standin.set_down(True)
    ref, code, _ = file_anonymous(canaries, "anon governance no model card for scorer")
    running_app.settle(held=True)
    assert standin.calls_to("chat.postMessage", include_errors=True), "no delivery attempt"
    assert "service_unavailable" in running_app.log.getvalue()
    standin.set_down(False)
    standin.wait_for("chat.postMessage", timeout=10)
    triage_post(canaries, ref)
    assert [c.status for c in standin.calls_to("chat.postMessage", include_errors=True)][0] == 503

    assert_coarse_anonymous_row(signals(database_url)[0], code)
    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


@pytest.mark.worker  # Retry-After is waited out in real time, by the worker's thread
def test_rate_limited_delivery(running_app, canaries, database_url):
    canaries.standin.fail_next("chat.postMessage", status=429, retry_after=1)
    ref, _, _ = file_anonymous(canaries, "anon adoption agents bypass the triage bot")
    canaries.standin.wait_for("chat.postMessage", timeout=10)
    triage_post(canaries, ref)
    statuses = [
        c.status for c in canaries.standin.calls_to("chat.postMessage", include_errors=True)
    ]
    assert statuses == [429, 200]
    assert "rate limited" in running_app.log.getvalue()
    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


@pytest.mark.worker  # the look-up follows a real backoff: the worker's thread waits it out
def test_lost_answer_and_history_lookup(running_app, canaries, database_url):
    """Slack stores the anonymous post and the answer is lost: the outbox looks the post up in
    the channel's history by its tag. The tag, the lookup and its log lines carry nothing about
    the reporter, and no time of filing (the tag is the outbox item's random id)."""
    standin = canaries.standin
    standin.drop_answer_next("chat.postMessage")
    ref, _, _ = file_anonymous(canaries, "anon drift the lookup must not leak anything")
    standin.wait_for("conversations.history", timeout=10)
    triage_post(canaries, ref)
    [post] = [m for m in standin.messages(TRIAGE) if m["thread_ts"] is None]
    [item] = [o for o in outbox(database_url) if o.purpose == "triage_post"]
    assert post["metadata"] == {
        "event_type": "ai_signal_outbox",
        "event_payload": {"item": item.id},
    }
    assert re.fullmatch(r"[0-9a-f]{12}4[0-9a-f]{19}", item.id)  # uuid4: random, undated
    assert len(standin.calls_to("chat.postMessage", include_errors=True)) == 1
    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_permanent_delivery_error(running_app, canaries, database_url):
    canaries.standin.fail_next("chat.postMessage", error="channel_not_found")
    ref, _, _ = file_anonymous(canaries, "anon problem-fit the chatbot answers the wrong question")

    def error_lines() -> list[str]:
        return [line for line in running_app.log.getvalue().splitlines() if " ERROR " in line]

    running_app.settle()
    errors = error_lines()
    assert any("channel_not_found" in line and ref in line for line in errors), errors
    assert_no_leaks(canaries.log_leaks("\n".join(errors), "ERROR log"))
    assert not REDACTION_MARKS.search("\n".join(errors)), errors  # nothing to hide there at all
    (item,) = outbox(database_url)
    assert item.state == "failed"  # kept, not dropped
    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_bad_signature_and_stale_request(running_app, canaries, database_url):
    fields = canaries.command_fields("anon bias hiring-model ranks women lower")
    bad = canaries.sender.post_form(fields, signature="v0=" + "0" * 64)
    stale = canaries.sender.post_form(fields, timestamp=int(time.time()) - 600)
    payload = canaries.sender.post_payload(
        {
            "type": "view_submission",
            "user": {"id": CANARY_USER.id, "name": CANARY_USER.name},
            "team": {"id": "TSTANDIN", "domain": CANARY_USER.team_domain},
            "trigger_id": fields["trigger_id"],
            "view": {"id": "VBAD", "callback_id": ids.SIGNAL_MODAL},
        },
        signature="v0=" + "1" * 64,
    )
    assert (bad.status, stale.status, payload.status) == (401, 401, 401)

    log = running_app.log.getvalue()
    # The edge refuses before parsing: one counted line for the three, none of their content.
    refusals = [line for line in log.splitlines() if "without a valid Slack signature" in line]
    assert len(refusals) == 1 and "refused 1 request" in refusals[0], log
    assert signals(database_url) == []
    assert canaries.standin.calls == []
    assert_reply_clean(canaries, bad, stale, payload)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_replayed_anonymous_command_and_submission(running_app, canaries, database_url):
    body = urllib.parse.urlencode(canaries.command_fields("anon drift pricing-model overshoots"))
    stamp = int(time.time())
    first, again = (
        canaries.sender.post(
            body.encode(), content_type="application/x-www-form-urlencoded", timestamp=stamp
        )
        for _ in range(2)
    )
    assert (first.status, again.status) == (200, 200)
    ref, code = receipt(first.json())
    canaries.remember_code(code)
    assert "already handled" in again.json()["text"] and not CODE.search(again.text)

    view = open_modal(canaries)
    submissions = [
        canaries.sender.view_submission(
            user=CANARY_USER, view=view, values=modal_values(), view_id="VREPLAY001"
        )
        for _ in range(2)
    ]
    modal_ref, modal_code = receipt(submissions[0].json())
    canaries.remember_code(modal_code)
    assert "Already filed" in submissions[1].text and not CODE.search(submissions[1].text)

    triage_post(canaries, ref)
    triage_post(canaries, modal_ref)
    running_app.drain()  # a second post would go out now
    assert len(canaries.standin.calls_to("chat.postMessage")) == 2
    assert len(signals(database_url)) == 2
    assert_receipt_only_in_http_response(canaries)
    assert_no_leaks(canaries.all_leaks(database_url))


@pytest.fixture
def refusing_writes(database_url: str) -> Iterator[Callable[[], None]]:
    """Make the database refuse new signals (as a read-only or broken database would)."""
    engine = create_engine(database_url)
    sqlite = engine.dialect.name == "sqlite"

    def refuse() -> None:
        with engine.begin() as connection:
            if sqlite:
                connection.execute(
                    text(
                        "CREATE TRIGGER refuse_signals BEFORE INSERT ON signals "
                        "BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END"
                    )
                )
            else:
                connection.execute(
                    text(
                        "CREATE FUNCTION refuse_signals() RETURNS trigger AS $$ BEGIN "
                        "RAISE EXCEPTION 'cannot execute INSERT in a read-only transaction'; "
                        "END $$ LANGUAGE plpgsql"
                    )
                )
                connection.execute(
                    text(
                        "CREATE TRIGGER refuse_signals BEFORE INSERT ON signals "
                        "FOR EACH ROW EXECUTE FUNCTION refuse_signals()"
                    )
                )

    yield refuse
    engine.dispose()


def test_unexpected_errors_on_anonymous_paths(running_app, canaries, database_url, refusing_writes):
    # 1. A view_submission without the view id the handler reads: unreadable, answered 200.
    view = open_modal(canaries)
    view = {k: v for k, v in view.items() if k != "id"}
    broken = canaries.sender.post_payload(
        {
            "type": "view_submission",
            "team": {"id": "TSTANDIN", "domain": CANARY_USER.team_domain},
            "user": {
                "id": CANARY_USER.id,
                "username": CANARY_USER.name,
                "name": CANARY_USER.name,
                "team_id": "TSTANDIN",
            },
            "api_app_id": "ASTANDIN",
            "trigger_id": canaries.new_trigger(),
            "view": {**view, "state": {"values": modal_values()}},
        }
    )
    assert broken.status == 200
    assert broken.json()["response_action"] == "update"

    # 2. A database that refuses to store the signal.
    refusing_writes()
    refused = canaries.command("anon drift fraud-model precision fell again")
    assert refused.status == 500
    assert signals(database_url) == []

    log = running_app.log.getvalue()
    unreadable = [line for line in log.splitlines() if " WARNING ai_signal.errors: " in line]
    assert unreadable == [unreadable[0]] and "view_submission request (view.id)" in unreadable[0]
    reports = error_reports(log, "ai_signal.errors")
    assert len(reports) == 1, log
    assert "slash_command" in reports[0]
    assert all("Traceback" in report for report in reports)  # in full, only without the person
    reports += unreadable
    # The handler itself hands nothing identifying to the logger: the redactor had no work there.
    for report in reports:
        assert not REDACTION_MARKS.search(report), report
    assert_reply_clean(canaries, broken, refused)
    assert_no_leaks(canaries.all_leaks(database_url))


def test_canaries_are_found_when_present(running_app, canaries, database_url):
    """The searches themselves work: a named signal by the canary user is found everywhere."""
    fields = canaries.command_fields("drift named-model shifted")
    reply = canaries.sender.post_form(fields)
    assert reply.status == 200
    running_app.settle()
    assert canaries.standin.calls_to("chat.postMessage")
    found = canaries.database_leaks(database_url)
    assert any(leak.where == "database rows" for leak in found)
    if database_url.startswith("sqlite"):  # the raw bytes of the file are searched too
        assert any(leak.where.startswith("file ai_signal.db") for leak in found), found
    assert canaries.outbound_leaks()
    logged = json.dumps({"user_id": "x", "trigger": fields["trigger_id"]})
    for form in (logged, urllib.parse.quote(logged), fields["trigger_id"].upper()):
        assert canaries.log_leaks(form), form
    assert CANARY_TRIGGER_MARK in fields["trigger_id"]


def test_lead_questions_and_anonymous_reply(running_app, canaries, database_url):
    """A lead acknowledges and asks; the reporter reads the question and answers by code only."""
    ref, code, _ = file_anonymous(canaries, "anon bias loan-model rejects older applicants")
    triage_post(canaries, ref)
    triage.press(running_app, LEAD, ids.ACKNOWLEDGE_ACTION, ref)
    view = triage.open_modal(running_app, LEAD, ids.ASK_ACTION, ref)
    assert "anonymous" in json.dumps(view)  # the lead is told how the question reaches them
    triage.submit(running_app, LEAD, view, {ids.QUESTION_BLOCK: "Which week did it start?"})
    running_app.settle()
    status = canaries.command(f"status {code}").json()["text"]
    assert "week" in status, status
    answer = canaries.command(f"reply {code} It started in week 12, after the retrain")
    assert ref in answer.json()["text"]

    def replied():
        return [
            c
            for c in canaries.standin.calls_to("chat.postMessage")
            if c.params.get("thread_ts") and "week 12" in json.dumps(c.params)
        ]

    running_app.settle()
    (reply_post,) = replied()
    assert "anonymous" in json.dumps(reply_post.params).lower()

    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            events = {e.action: e for e in session.scalars(select(SignalEvent))}
    finally:
        engine.dispose()
    replied_event = events["replied"]
    assert replied_event.actor_id is None
    stamp, asked = replied_event.created_at, events["asked"].created_at
    # Coarse (the hour), unless that would put the answer before the question it answers: then
    # just after the question, which dates nothing the lead does not know already.
    on_the_hour = (stamp.minute, stamp.second, stamp.microsecond) == (0, 0, 0)
    assert on_the_hour or timedelta(0) < stamp - asked <= timedelta(milliseconds=1), (stamp, asked)

    # Nothing went to the reporter through Slack: no DM, no ephemeral, no response_url.
    reporter_calls = [
        c
        for c in canaries.standin.calls
        if c.method in ("conversations.open", "response_url")
        or (c.method.startswith("chat.post") and c.params.get("channel") != TRIAGE)
    ]
    assert reporter_calls == []
    assert_reply_clean(canaries, answer)
    assert "Which week" in status
    assert_no_leaks(canaries.all_leaks(database_url))
