"""The digest says "anonymous signals waited longer" only on samples big enough to mean something,
for a material gap, and never when anonymous signals did as well or better."""

from __future__ import annotations

from datetime import timedelta

from bot.services.digest import (
    COMPARE_MIN_ACKNOWLEDGED,
    ResponseHealth,
    anonymous_waited_longer,
)
from handlers.blocks.digest import build_digest_message, build_digest_text
from tests.bot.jobs.digest.conftest import PERIOD_START, add_signal, make_service

CLAIM = "Anonymous signals waited longer"


def add_acknowledged(sessions, *, anonymous: bool, waits: list[timedelta], never: int = 0) -> None:
    """Signals posted early in the period, acknowledged after `waits`; `never` unacknowledged."""
    for n, wait in enumerate(waits):
        posted = PERIOD_START + timedelta(hours=1 + n)
        add_signal(
            sessions,
            anonymous=anonymous,
            created_at=posted - timedelta(minutes=10),
            posted_at=posted,
            acknowledged_at=posted + wait,
            status="acknowledged",
        )
    for n in range(never):
        posted = PERIOD_START + timedelta(hours=2 + n)
        add_signal(
            sessions,
            anonymous=anonymous,
            created_at=posted - timedelta(minutes=10),
            posted_at=posted,
        )


def claims(database, clock) -> bool:
    data = make_service(database.sessions, clock).gather()
    text = build_digest_text(data)
    blocks = str(build_digest_message(data)["blocks"])
    assert (CLAIM in text) == (CLAIM in blocks)
    return CLAIM in text


def test_two_of_two_on_time_against_three_of_five_says_nothing(database, clock):
    """The reported digest: anonymous 2 of 2 on time, named 3 of 5, both medians under a minute
    (the anonymous one a few seconds longer)."""
    seconds = timedelta(seconds=1)
    add_acknowledged(database.sessions, anonymous=True, waits=[20 * seconds, 40 * seconds])
    add_acknowledged(database.sessions, anonymous=False, waits=[5 * seconds] * 3, never=2)
    data = make_service(database.sessions, clock).gather()
    assert (data.anonymous.within_window, data.anonymous.eligible) == (2, 2)
    assert (data.named.within_window, data.named.eligible) == (3, 5)
    assert data.anonymous.median > data.named.median
    assert not claims(database, clock)


def test_a_material_gap_on_enough_signals_is_said(database, clock):
    waits = [timedelta(hours=20)] * 4 + [timedelta(hours=60)]  # one past the reminder window
    add_acknowledged(database.sessions, anonymous=True, waits=waits)
    add_acknowledged(database.sessions, anonymous=False, waits=[timedelta(hours=2)] * 5)
    assert claims(database, clock)


def test_a_longer_median_with_every_signal_on_time_says_nothing(database, clock):
    # Both groups had every signal acknowledged within the reminder window: as good on that.
    add_acknowledged(database.sessions, anonymous=True, waits=[timedelta(hours=20)] * 5)
    add_acknowledged(database.sessions, anonymous=False, waits=[timedelta(hours=2)] * 5)
    assert not claims(database, clock)


def test_too_few_anonymous_signals_say_nothing(database, clock):
    few = COMPARE_MIN_ACKNOWLEDGED - 1
    add_acknowledged(database.sessions, anonymous=True, waits=[timedelta(hours=40)] * few)
    add_acknowledged(database.sessions, anonymous=False, waits=[timedelta(hours=1)] * 8)
    assert not claims(database, clock)


def health(*, median_hours: float, within: int, judged: int, acknowledged: int) -> ResponseHealth:
    return ResponseHealth(
        posted=judged,
        acknowledged=acknowledged,
        median=timedelta(hours=median_hours),
        eligible=judged,
        within_window=within,
    )


def test_the_rule():
    named = health(median_hours=2, within=8, judged=10, acknowledged=10)
    # A material median gap (≥ 1 h and ≥ 1.5×) with a lower share: said.
    assert anonymous_waited_longer(
        named, health(median_hours=4, within=7, judged=10, acknowledged=10)
    )
    # A gap under an hour, or under 1.5×: not material.
    assert not anonymous_waited_longer(
        named, health(median_hours=2.9, within=7, judged=10, acknowledged=10)
    )
    slow = health(median_hours=10, within=7, judged=10, acknowledged=10)
    assert not anonymous_waited_longer(
        health(median_hours=8, within=8, judged=10, acknowledged=10), slow
    )
    # A share 20 points lower with a longer median: said.
    assert anonymous_waited_longer(
        named, health(median_hours=2.5, within=6, judged=10, acknowledged=10)
    )
    # Better or equal on either measure: never "waited longer".
    assert not anonymous_waited_longer(named, named)
    assert not anonymous_waited_longer(
        named, health(median_hours=5, within=9, judged=10, acknowledged=10)
    )
    assert not anonymous_waited_longer(
        named, health(median_hours=1, within=5, judged=10, acknowledged=10)
    )
    # Too few signals in either group: nothing.
    assert not anonymous_waited_longer(
        health(median_hours=1, within=4, judged=4, acknowledged=4),
        health(median_hours=30, within=0, judged=10, acknowledged=10),
    )


def test_an_equal_median_is_as_good_even_with_a_much_lower_share():
    named = health(median_hours=2, within=9, judged=10, acknowledged=10)
    assert not anonymous_waited_longer(
        named, health(median_hours=2, within=4, judged=10, acknowledged=10)
    )


def test_an_equal_share_is_as_good_even_with_a_much_longer_median():
    named = health(median_hours=2, within=8, judged=10, acknowledged=10)
    assert not anonymous_waited_longer(
        named, health(median_hours=20, within=8, judged=10, acknowledged=10)
    )


def test_worse_by_a_little_on_the_other_measure_does_not_block_the_claim():
    named = health(median_hours=2, within=8, judged=10, acknowledged=10)
    # Median materially longer, share one signal lower (not material, but not as good either).
    assert anonymous_waited_longer(
        named, health(median_hours=4, within=7, judged=10, acknowledged=10)
    )
    # Share materially lower, median a minute longer.
    assert anonymous_waited_longer(
        named, health(median_hours=2 + 1 / 60, within=6, judged=10, acknowledged=10)
    )


def test_a_measure_without_enough_signals_counts_neither_way():
    # Too few acknowledged for the medians (anonymous's median is even shorter): the share,
    # 30 points lower on enough judged signals, decides.
    named = ResponseHealth(
        posted=10, acknowledged=8, median=timedelta(hours=3), eligible=10, within_window=8
    )
    anonymous = ResponseHealth(
        posted=10, acknowledged=4, median=timedelta(hours=1), eligible=10, within_window=5
    )
    assert anonymous_waited_longer(named, anonymous)
    # Too few judged for the shares (anonymous's share is even higher): the median decides.
    named = ResponseHealth(
        posted=10, acknowledged=10, median=timedelta(hours=2), eligible=10, within_window=5
    )
    anonymous = ResponseHealth(
        posted=10, acknowledged=5, median=timedelta(hours=6), eligible=4, within_window=4
    )
    assert anonymous_waited_longer(named, anonymous)
