"""PRIVACY.md says what the code keeps: the throttle's keyed hash of a user id, the reveal and
what it stores, the signal's reference in private answers, replies by reference."""

from __future__ import annotations

from bot.services.triage import _WrongCodeThrottle
from models import EventAction
from tests.conftest import REPO_ROOT

PRIVACY = (REPO_ROOT / "PRIVACY.md").read_text()


def section(title: str) -> str:
    start = PRIVACY.index(title)
    end = PRIVACY.find("\n## ", start + 1)
    return PRIVACY[start : end if end != -1 else None]


def test_in_memory_state_is_described_as_it_is():
    throttle = _WrongCodeThrottle()
    assert throttle.key("U1") != b"U1" and len(throttle.key("U1")) == 32  # an HMAC-SHA256
    memory = PRIVACY[PRIVACY.index("In memory only") :]
    memory = memory[: memory.index("### How long")]
    assert "no one's identity" not in memory
    assert "HMAC-SHA256" in memory and "user id" in memory and "random key" in memory


def test_the_reveal_and_what_it_stores_are_described():
    stored = section("## What is stored")
    assert "/ai-signal reveal" in stored
    assert f"`{EventAction.REVEALED.value}` event" in stored
    assert "updated_at" in stored and "exact time" in stored
    assert "No command, button or screen maps one to a person." in PRIVACY
    assert "reporter's own choice" in PRIVACY


def test_what_slack_sees_of_an_unconfirmed_reveal():
    slack = section("## What Slack knows")
    assert "names the signal" in slack and "never confirm" in slack


def test_named_replies_by_reference_are_described():
    stored = section("## What is stored")
    assert "/ai-signal reply SIG-12" in stored and "only the person who filed" in stored
