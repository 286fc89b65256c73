"""User text never passes for the app's own words: wherever it lands (triage post, thread
replies, notices, status answers, lessons, Home, digest) it is a block quote, or it stays on one
line with its mrkdwn markers made inert. So nobody can render a bold "*Reporter*" line with
someone else's name inside a post."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.services.digest import DigestData, Period, ResolvedItem, ResponseHealth, SystemCount
from bot.services.records import (
    EventSummary,
    Lesson,
    LessonQuery,
    LessonsPage,
    QueueCounts,
    QueueCursor,
    QueueFilter,
    QueueLine,
    QueueOverview,
    QueuePage,
    Related,
    SignalDetail,
)
from bot.services.signals import SignalSummary
from handlers.blocks.digest import build_digest_blocks, build_digest_text
from handlers.blocks.home import build_lead_home
from handlers.blocks.intake import build_status_text
from handlers.blocks.lessons import build_lessons_answer, build_seen_before
from handlers.blocks.triage import (
    build_ask_modal,
    build_reporter_notice,
    build_reporter_status,
    build_resolve_modal,
    build_thread_reply,
    build_triage_message,
    build_triage_modal,
)
from handlers.formatting import inline

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# What a reporter (or anyone typing) might use to fake the app's own bold labels.
FORGED = "fine\n*Reporter*\n@maya.k\n\n*Status*  _Resolved_ ~x~ `y`"
LABELS = ("*Reporter*", "*Status*")


def mrkdwn_texts(value) -> list[str]:
    """Every mrkdwn text in a payload (message, view, or a bare string)."""
    if isinstance(value, str):
        return [value]
    found: list[str] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            found.append(value["text"])
        for key, item in value.items():
            if key == "text" and isinstance(item, str) and value.get("type") is None:
                found.append(item)  # a message's fallback text is mrkdwn too
            elif isinstance(item, (dict, list)):
                found += mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            found += mrkdwn_texts(item)
    return found


def forged_lines(value, *, own: int = 0) -> list[str]:
    """Lines outside block quotes that carry one of the app's bold labels, beyond the `own`
    times the app itself uses them."""
    lines = [
        line
        for text in mrkdwn_texts(value)
        for line in text.split("\n")
        if not line.startswith("&gt;") and any(label in line for label in LABELS)
    ]
    return lines[own:]


def assert_no_forgery(value, *, own: int = 0) -> None:
    extra = forged_lines(value, own=own)
    assert not extra, json.dumps(value, ensure_ascii=False)[:2000]
    # Outside quotes no marker of the typed text is live either.
    unquoted = [
        line
        for text in mrkdwn_texts(value)
        for line in text.split("\n")
        if not line.startswith("&gt;")
    ]
    for marked in ("_Resolved_", "~x~", "`y`"):
        assert not [line for line in unquoted if marked in line], marked


def summary(**overrides) -> SignalSummary:
    fields = {
        "ref": "SIG-K7QM2X",
        "kind": "bias",
        "system": FORGED,
        "text": FORGED,
        "impact": FORGED,
        "anonymous": True,
        "reporter_id": None,
        "status": "resolved",
        "created_at": NOW,
        "posted": True,
    }
    fields.update(overrides)
    return SignalSummary(**fields)


def detail(**overrides) -> SignalDetail:
    fields = {
        "signal": summary(),
        "owner_id": None,
        "confirmed_impact": "high",
        "next_step": FORGED,
        "decline_reason": FORGED,
        "resolution_done": FORGED,
        "failed_assumption": FORGED,
        "pattern": "data-optimism",
        "lesson": FORGED,
        "acknowledged_at": NOW,
        "posted_at": NOW - timedelta(hours=1),
        "resolved_at": NOW,
    }
    fields.update(overrides)
    return SignalDetail(**fields)


def event(action: str) -> EventSummary:
    return EventSummary(action=action, actor_id="ULEAD00001", note=FORGED, created_at=NOW)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("*Reporter*\n@maya", "\u2217Reporter\u2217 @maya"),
        ("_it_ ~s~ `c`", "\u02cdit\u02cd \u223cs\u223c \u02cbc\u02cb"),
        ("fraud_model_v2 scored 2*3", "fraud_model_v2 scored 2*3"),  # inside words: as typed
        ("a\u200b*b*\u200bc", "a\u200b\u2217b\u2217\u200bc"),  # zero-width tricks too
        ("<@U1> & <!here>", "&lt;@U1&gt; &amp; &lt;!here&gt;"),
        ("one\n\ntwo\u2028three", "one two three"),
    ],
)
def test_inline(text, expected):
    assert inline(text) == expected


def test_triage_post():
    message = build_triage_message(summary(status="new"), detail=detail())
    assert_no_forgery(message, own=2)  # its own Reporter and Status fields
    fields = message["blocks"][1]["fields"]
    assert fields[2]["text"] == "*Reporter*\nAnonymous"
    impact = message["blocks"][3]["text"]["text"]
    assert impact.startswith("*Perceived impact*\n&gt; fine\n&gt; *Reporter*")


@pytest.mark.parametrize("action", ["triaged", "declined", "asked", "replied", "resolved"])
def test_thread_replies(action):
    assert_no_forgery(build_thread_reply(detail(), event(action), lead_mention="<!subteam^S1>"))


@pytest.mark.parametrize("action", ["asked", "resolved", "declined"])
def test_reporter_notices(action):
    assert_no_forgery(build_reporter_notice(detail(), event(action)))


@pytest.mark.parametrize("status", ["declined", "resolved", "investigating"])
def test_status_answers(status):
    d = detail(signal=summary(status=status), events=(event("asked"), event("replied")))
    assert_no_forgery(build_reporter_status(d))
    assert_no_forgery(build_status_text(summary(status=status, anonymous=False)))


def test_lessons_home_and_modals():
    lesson = Lesson(
        ref="SIG-3",
        kind="drift",
        system=FORGED,
        failed_assumption=FORGED,
        pattern="none",
        lesson=FORGED,
        resolved_at=NOW,
    )
    query = LessonQuery(words=tuple(FORGED.split()), system=FORGED)
    found = LessonsPage(query=query, lessons=[lesson], page=0, more=True)
    assert_no_forgery(build_lessons_answer(found, team_url="https://x.slack.com/"))
    assert_no_forgery(
        build_lessons_answer(LessonsPage(query=query, lessons=[], page=1, more=False))
    )
    related = Related(
        ref="SIG-2",
        kind="drift",
        system=FORGED,
        status="resolved",
        lesson=FORGED,
        key=True,
        triage_channel="C1",
        triage_ts="1.2",
        same_system=True,
    )
    assert_no_forgery(build_seen_before((related,), team_url=None))
    own = summary(anonymous=False, reporter_id="UALICE0001")
    line = QueueLine(
        ref="SIG-4",
        kind="drift",
        system=FORGED,
        text=FORGED,
        status="new",
        anonymous=False,
        posted_at=NOW - timedelta(hours=3),
        owner_id="ULEAD00001",
        respond_by=None,
        tracker_url=None,
        triage_channel="CTRIAGE001",
        triage_ts="1700000000.000100",
        overdue=False,
        cursor=QueueCursor(posted_at=NOW, id="ab"),
    )
    page = QueuePage(filters=QueueFilter(system=FORGED), lines=(line,), as_of=NOW)
    counts = QueueCounts(
        by_status={"new": 1}, by_kind={"drift": 1}, by_system={FORGED: 1}, assigned_to_you=1
    )
    overview = QueueOverview(counts=counts, page=page, assigned=page)
    home = build_lead_home(
        overview, own_signals=[own], lead_id="ULEAD00001", workspace_url="https://x.test/"
    )
    assert_no_forgery(home)
    for build in (
        build_triage_modal,
        build_ask_modal,
        build_resolve_modal,
    ):
        assert_no_forgery(build(detail()))


def test_digest():
    health = ResponseHealth(posted=1, acknowledged=1, median=None, eligible=1, within_window=1)
    data = DigestData(
        period=Period(
            start=NOW - timedelta(days=7),
            end=NOW,
            previous_start=NOW - timedelta(days=14),
            timezone="UTC",
        ),
        now=NOW,
        reminder_hours=48,
        new_total=1,
        previous_total=0,
        new_by_kind=(),
        open_counts={"new": 0, "acknowledged": 0, "investigating": 0},
        resolved_count=1,
        declined_count=0,
        needs_attention=(),
        needs_attention_total=0,
        resolved=(
            ResolvedItem(
                ref="SIG-3",
                kind="drift",
                system=FORGED,
                failed_assumption=FORGED,
                pattern="none",
                lesson=FORGED,
            ),
        ),
        recurring=(SystemCount(system=FORGED, count=2),),
        recurring_total=1,
        patterns=(),
        named=health,
        anonymous=health,
    )
    assert_no_forgery(build_digest_blocks(data))
    assert_no_forgery(build_digest_text(data, for_slack=True))
