"""Anonymity point 5: a reporter is warned when the crowd they would hide in is small."""

from __future__ import annotations

import pytest

from tests.conftest import ALICE, DIGEST, start_app


@pytest.fixture
def small_team(standin):
    standin.add_channel(DIGEST, name="ai-digest", is_member=True, num_members=4)
    return standin


def _modal_text(standin, opened: int = 1) -> str:
    """The blocks of the `opened`-th form opened (waiting for it: the form opens after the ack)."""
    view = standin.wait_for("views.open", count=opened)[opened - 1].params["view"]
    return str(view["blocks"])


def test_form_and_anonymous_receipt_warn_in_a_small_team(small_team, sqlite_url):
    app = start_app(small_team, sqlite_url)
    app.runtime.warm_up()  # as `ai-signal run` does at start
    try:
        app.sender.command(user=ALICE, text="")
        assert "Small crowd" in _modal_text(small_team) and "only 4 members" in _modal_text(
            small_team
        )

        anon = app.sender.command(user=ALICE, text="anon bias scoring skews older applicants")
        assert "Small crowd" in anon.json()["text"]
        named = app.sender.command(user=ALICE, text="bias scoring skews older applicants")
        assert "Small crowd" not in named.json()["text"]

        # Only the team channel is ever counted: never the channel the command was typed in.
        counted = [
            c.params.get("channel")
            for c in small_team.calls_to("conversations.info")
            if str(c.params.get("include_num_members")).lower() in ("1", "true")
        ]
        assert counted and set(counted) == {DIGEST}
        assert len(counted) == 1  # cached
    finally:
        app.stop()


def test_no_warning_in_a_big_team(standin, sqlite_url):
    app = start_app(standin, sqlite_url)
    app.runtime.warm_up()
    try:
        app.sender.command(user=ALICE, text="")
        assert "Small crowd" not in _modal_text(standin)
    finally:
        app.stop()


def test_warning_can_be_switched_off(small_team, sqlite_url):
    app = start_app(small_team, sqlite_url, AI_SIGNAL_SMALL_CROWD="0")
    app.runtime.warm_up()
    try:
        app.sender.command(user=ALICE, text="")
        assert "Small crowd" not in _modal_text(small_team)
        assert not small_team.calls_to("conversations.info")
    finally:
        app.stop()


def test_the_form_never_waits_for_slack_to_count_the_team(small_team, sqlite_url):
    """Without a warm cache the first form opens at once, without the warning, and the count
    is fetched in the background for the next one."""
    app = start_app(small_team, sqlite_url)
    try:
        app.sender.command(user=ALICE, text="")
        assert "Small crowd" not in _modal_text(small_team)
        # The background count has asked Slack; a counting caller waits for it to finish.
        small_team.wait_for("conversations.info")
        assert app.runtime.crowd.small_crowd() == 4
        assert len(small_team.calls_to("conversations.info")) == 1
        app.sender.command(user=ALICE, text="")
        assert "Small crowd" in _modal_text(small_team, opened=2)
    finally:
        app.stop()
