"""The queue's filter words, its state in button values, and its largest page against Slack's
limits (message and Home), as plain data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.services.queue import (
    BadFilter,
    decode_cursor,
    encode_cursor,
    filter_fields,
    filter_from_fields,
    parse_filters,
)
from bot.services.records import (
    QueueCounts,
    QueueCursor,
    QueueFilter,
    QueueLine,
    QueueOverview,
    QueuePage,
    SignalSummary,
)
from bot.services.vocabulary import KINDS, OPEN_STATUSES
from bot.standin import validate_blocks, validate_view
from handlers.blocks.home import build_lead_home
from handlers.blocks.queue import build_queue_message
from models.signal import OPEN_POSTED

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ME = "ULEAD00001"


def test_every_filter_word():
    parsed = parse_filters(
        "status:ack kind:fairness system:Fraud-Model owner:me older:2w named overdue".split(), me=ME
    )
    assert parsed == QueueFilter(
        status="acknowledged",
        kind="bias",
        system="Fraud-Model",
        owner=ME,
        older_than_days=14,
        identity="named",
        overdue=True,
    )
    assert parse_filters(["owner:@U0123ABCD"], me=ME).owner == "U0123ABCD"
    assert parse_filters(["owner:none", "anon"], me=ME) == QueueFilter(
        owner="none", identity="anonymous"
    )
    assert parse_filters([], me=ME) == QueueFilter()


@pytest.mark.parametrize(
    "word", ["status:closed", "kind:x", "owner:@bob", "older:7", "older:d", "system:", "colour:red"]
)
def test_bad_filter_words_list_the_accepted_forms(word):
    with pytest.raises(BadFilter) as refused:
        parse_filters([word], me=ME)
    text = str(refused.value)
    assert word.split(":")[0] in text and "`older:7d`" in text and "`overdue`" in text


def test_state_round_trips_and_refuses_what_the_queue_does_not_accept():
    filters = QueueFilter(system="a system with spaces", owner=ME, older_than_days=7, overdue=True)
    assert filter_from_fields(json.loads(json.dumps(filter_fields(filters)))) == filters
    for bad in ({"status": "resolved"}, {"older_than_days": "7"}, {"owner": "bob"}, {"x": 1}, []):
        assert filter_from_fields(bad) is None
    for micros in range(0, 1_000_000, 7919):  # exact to the microsecond, never off by one
        cursor = QueueCursor(posted_at=NOW + timedelta(microseconds=micros), id="ab12" * 8)
        assert decode_cursor(encode_cursor(cursor)) == cursor
    assert decode_cursor("12.not-hex") is None and decode_cursor("x.ab") is None


def test_the_partial_indexes_hold_exactly_the_open_statuses():
    listed = OPEN_POSTED.split("(")[1].split(")")[0]
    assert [s.strip(" '") for s in listed.split(",")] == list(OPEN_STATUSES)


def _line(n: int) -> QueueLine:
    return QueueLine(
        ref=f"SIG-{n:06d}",
        kind="data-quality",
        system="s" * 200,
        text="<&>*" * 2000,
        status="new",
        anonymous=n % 2 == 0,
        posted_at=NOW - timedelta(days=n),
        owner_id="U" + "9" * 20,
        respond_by=NOW - timedelta(days=1),
        tracker_url="https://tracker.example/" + "x" * 370,
        triage_channel="C" + "1" * 20,
        triage_ts="1700000000.000100",
        overdue=True,
        cursor=QueueCursor(posted_at=NOW - timedelta(days=n), id=f"{n:032x}"),
    )


def test_the_largest_page_fits_a_message_and_home():
    filters = QueueFilter(
        status="new", kind="data-quality", system="s" * 200, owner=ME, older_than_days=9999,
        identity="named", overdue=True,
    )  # fmt: skip
    lines = tuple(_line(n) for n in range(10))
    page = QueuePage(
        filters=filters, lines=lines, as_of=NOW, after=lines[0].cursor, has_previous=True,
        has_next=True,
    )  # fmt: skip
    message = build_queue_message(page, workspace_url="https://x.slack.com/", notice="n" * 4000)
    assert not validate_blocks(message["blocks"], surface="message")
    assert len(message["blocks"]) <= 20  # far inside 50
    counts = QueueCounts(
        by_status={s: 10**6 for s in OPEN_STATUSES},
        by_kind={k: 10**6 for k in KINDS},
        by_system={f"{'y' * 190}{n:03d}": 10**6 for n in range(25)},
        assigned_to_you=10**6,
    )
    own = [
        SignalSummary(
            ref=f"SIG-{n}",
            kind="drift",
            system="z" * 200,
            text="t" * 3000,
            impact=None,
            anonymous=False,
            reporter_id=ME,
            status="new",
            created_at=NOW,
            posted=True,
        )  # fmt: skip
        for n in range(40)
    ]
    home = build_lead_home(
        QueueOverview(counts=counts, page=page, assigned=page),
        own_signals=own,
        lead_id=ME,
        workspace_url="https://x.slack.com/",
        notice="n" * 4000,
    )
    assert not validate_view(home, allowed_types=("home",))
    assert len(home["blocks"]) <= 100 and len(home["private_metadata"]) <= 3000
