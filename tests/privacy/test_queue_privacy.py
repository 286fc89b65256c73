"""The leads' queue never shows who filed an anonymous signal: not in `/ai-signal queue`'s
private answer, the pages and acknowledgements that replace it, the leads' Home, the log, or the
database — and it lists the signal only once it is released to the triage channel."""

from __future__ import annotations

import json
import logging

import pytest

from handlers import ids
from tests.conftest import LEAD, start_app
from tests.handlers.listeners.triage.helpers import settle
from tests.privacy.canaries import (
    CANARY_USER,
    Canaries,
    assert_no_leaks,
    file_anonymous,
    find_in,
    triage_post,
)


def test_the_queue_never_shows_an_anonymous_reporter(running_app, canaries: Canaries, database_url):
    app = running_app
    app.runtime.warm_up()  # the workspace URL for the permalinks, as at start
    ref, _code, _reply = file_anonymous(
        canaries, "anon bias loan-model: rejects applicants over 60"
    )
    triage_post(canaries, ref)
    settle(app)

    reply = app.sender.command(user=LEAD, text="queue anonymous", channel_id="CGENERAL01")
    answer = reply.json()
    assert ref in json.dumps(answer) and "anonymous" in json.dumps(answer)
    blocks = answer["blocks"]
    [ack] = [
        b["accessory"]
        for b in blocks
        if b.get("block_id") == ids.QUEUE_LINE_BLOCK_PREFIX + ref and "accessory" in b
    ]
    before = len(app.standin.calls_to("response_url"))
    app.sender.block_action(
        user=LEAD,
        action_id=ids.QUEUE_ACK_ACTION,
        value=ack["value"],
        channel_id="CGENERAL01",
        container={"type": "message", "channel_id": "CGENERAL01", "is_ephemeral": True},
    )
    [replaced] = app.standin.wait_for("response_url", before + 1)[before:]
    assert f"{ref} acknowledged" in json.dumps(replaced.params)
    published = len(app.standin.calls_to("views.publish"))
    app.sender.event({"type": "app_home_opened", "user": LEAD.id, "tab": "home"})
    [home] = app.standin.wait_for("views.publish", published + 1)[published:]
    assert ref in json.dumps(home.params)
    settle(app)

    # The canary reporter asked for the queue too: refused, and nothing of theirs was kept.
    refused = canaries.command("queue")
    assert "Only leads" in refused.json()["text"]
    assert_no_leaks(find_in(json.dumps(answer), canaries.needles(), "the queue's answer"))
    assert_no_leaks(canaries.all_leaks(database_url))
    assert CANARY_USER.id not in json.dumps(home.params)


@pytest.fixture
def delayed_app(standin, database_url):
    """The app with anonymous signals held back 10 to 20 minutes before their triage post."""
    app = start_app(standin, database_url, AI_SIGNAL_ANON_DELAY="600-1200")
    yield app
    app.stop()
    logging.getLogger().handlers.clear()


def test_an_unreleased_anonymous_signal_is_not_in_the_queue(delayed_app):
    app = delayed_app
    canaries = Canaries(
        events_url=app.sender.url,
        transport=app.sender.transport,
        standin=app.standin,
        read_log=app.log.getvalue,
        settle=app.settle,
    )
    ref, _code, _reply = file_anonymous(canaries, "anon drift fraud-model: precision fell")
    answer = app.sender.command(user=LEAD, text="queue", channel_id="CGENERAL01").json()
    assert ref not in json.dumps(answer) and "No signal is open" in json.dumps(answer)
    assert app.runtime.services.queue.counts(lead_id=LEAD.id).total == 0
