"""The per-requester throttle of wrong follow-up codes: keyed, bounded, forgetting."""

from __future__ import annotations

import pytest

from bot.services.triage import TooManyAttempts, _WrongCodeThrottle


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_requester_has_a_window_of_their_own():
    clock = FakeMonotonic()
    throttle = _WrongCodeThrottle(limit=3, window=60.0, clock=clock)
    flooder, other = throttle.key("UFLOOD"), throttle.key("UOTHER")
    for _ in range(3):
        throttle.check(flooder)
        throttle.failed(flooder)
    with pytest.raises(TooManyAttempts):
        throttle.check(flooder)
    throttle.check(other)  # not refused
    clock.now += 61
    throttle.check(flooder)  # the window passed


def test_keys_are_keyed_hashes_that_differ_per_process():
    one, two = _WrongCodeThrottle(), _WrongCodeThrottle()
    assert one.key("UALICE") == one.key("UALICE") != two.key("UALICE")
    assert b"UALICE" not in one.key("UALICE")


def test_memory_is_bounded_and_old_entries_expire():
    clock = FakeMonotonic()
    throttle = _WrongCodeThrottle(limit=2, window=60.0, max_requesters=100, clock=clock)
    for n in range(250):
        throttle.failed(throttle.key(f"U{n}"))
    assert throttle.tracked() <= 100
    clock.now += 61
    throttle.failed(throttle.key("ULATE"))
    assert throttle.tracked() == 1
