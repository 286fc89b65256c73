"""Canary tests for AI systems on record: an anonymous reporter names a system by an alias, a
lead resolves it with the review questions, and the system's card, the type-ahead answer and
the register form carry nothing that narrows the reporter down — no identifier of theirs, no
reporter id of anyone, no time of day, and no count that moves before the delayed release."""

from __future__ import annotations

import logging
import re

from bot.standin import SlackStandIn
from handlers import ids
from tests.conftest import ALICE, BOB, LEAD, TRIAGE, start_app
from tests.handlers.listeners.triage.helpers import (
    file_named,
    open_modal,
    posted,
    settle,
    signal,
    submit,
)
from tests.handlers.listeners.triage.test_systems import (
    card_text,
    opened_by_command,
    register,
    suggestions,
)
from tests.privacy.canaries import (
    CANARY_USER,
    Canaries,
    assert_no_leaks,
    receipt,
    triage_post,
)
from tests.privacy.test_anonymous_paths import assert_coarse_anonymous_row, signals

TIME_OF_DAY = re.compile(r"\b\d{1,2}:\d{2}\b")


def test_the_card_never_narrows_down_an_anonymous_reporter(running_app, canaries, database_url):
    app = running_app
    register(app)
    reply = canaries.command("anon drift fraud-scorer: precision fell to 0.78")
    ref, code = receipt(reply.json())
    canaries.remember_code(code)
    triage_post(canaries, ref)
    [row] = [s for s in signals(database_url) if s.ref == ref]
    assert row.system == "fraud-model"  # the alias, stored as the system's name
    assert_coarse_anonymous_row(row, code)
    named = file_named(app, "bias fraud-model: holds more cards abroad", user=ALICE)
    posted(app, named)

    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    answer = submit(
        app,
        LEAD,
        view,
        {
            ids.DONE_BLOCK: "Retrained",
            ids.PATTERN_BLOCK: "data-optimism",
            ids.LESSON_BLOCK: "Retrain with the season",
            ids.REVIEW_CONSTRAINT_BLOCK: "Labels arrive late",
            ids.REVIEW_MISSED_BLOCK: "An earlier drift signal",
        },
    )
    assert answer is None, answer
    settle(app)

    cards = [opened_by_command(app, user, "system Fraud V3") for user in (BOB, LEAD)]
    for card in cards:
        text = card_text(card)
        assert "Retrain with the season" in text and "Labels arrive late" in text
        assert "Bias / fairness: 1" in text
        assert ALICE.id not in text and CANARY_USER.id not in text and "<@" not in text
        assert not TIME_OF_DAY.search(text), TIME_OF_DAY.search(text)
    names = suggestions(app, ids.SYSTEM_PICK_INPUT, "fraud", block_id=ids.SYSTEM_PICK_BLOCK)
    assert names == ["fraud-model"]
    assert_no_leaks(canaries.all_leaks(database_url))


def test_an_unreleased_anonymous_signal_is_not_counted_on_the_card(
    standin: SlackStandIn, database_url: str
):
    app = start_app(standin, database_url, AI_SIGNAL_ANON_DELAY="3600-7200")
    try:
        register(app)
        canary = Canaries(
            events_url=app.sender.url,
            transport=app.sender.transport,
            standin=standin,
            read_log=app.log.getvalue,
            settle=app.settle,
        )
        reply = canary.command("anon drift fraud-model: precision fell")
        assert reply.status == 200
        before = card_text(opened_by_command(app, BOB, "system fraud-model"))
        assert "None open." in before
        named = file_named(app, "bias fraud-model: holds more cards abroad", user=ALICE)
        app.settle()  # the anonymous post waits an hour: not due yet
        assert signal(app, named).triage_ts
        after = card_text(opened_by_command(app, BOB, "system fraud-model"))
        assert "Bias / fairness: 1" in after and "Model drift" not in after
        assert (
            standin.messages(TRIAGE)
            and len([m for m in standin.messages(TRIAGE) if m["thread_ts"] is None]) == 1
        )
    finally:
        app.stop()
        logging.getLogger().handlers.clear()
