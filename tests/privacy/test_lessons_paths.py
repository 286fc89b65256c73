"""Canary: the lessons library's paths — search results, "seen before" on later triage posts,
a duplicate and the notes and status answers about its primary — keep nothing of an anonymous
reporter and show nothing of them (the database, the log and every call to Slack are searched)."""

from __future__ import annotations

from handlers import ids
from tests.conftest import ALICE, LEAD, TRIAGE
from tests.handlers.listeners.triage.helpers import (
    command,
    file_named,
    open_modal,
    posted,
    settle,
    submit,
)
from tests.privacy.canaries import assert_no_leaks, file_anonymous, triage_post


def _resolve(app, ref: str) -> None:
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    answers = {
        ids.DONE_BLOCK: "Retrained on fresh data",
        ids.PATTERN_BLOCK: "data-optimism",
        ids.LESSON_BLOCK: "Watch precision weekly",
        ids.ASSUMPTION_BLOCK: "Last year looks like this year",
    }
    assert submit(app, LEAD, view, answers) is None
    settle(app)


def _seen_before(app, ref: str) -> str:
    from tests.handlers.listeners.triage.helpers import parent

    blocks = [b for b in parent(app, ref)["blocks"] if b.get("block_id") == ids.SEEN_BEFORE_BLOCK]
    return blocks[0]["text"]["text"] if blocks else ""


def test_lessons_seen_before_and_duplicates_keep_the_reporter_unknown(
    running_app, canaries, database_url
):
    app = running_app
    app.standin.add_user(ALICE.id, name=ALICE.name)
    # An anonymous signal, resolved with a lesson: it is found by search and seen before.
    learned, learned_code, _ = file_anonymous(
        canaries, "anon drift system:fraud-model precision fell"
    )
    triage_post(canaries, learned)
    settle(app)
    _resolve(app, learned)

    # An anonymous duplicate of a named signal: its reporter follows with the code only.
    primary = file_named(app, "drift system:fraud-model recall fell too")
    posted(app, primary)
    dup, dup_code, _ = file_anonymous(canaries, "anon drift system:fraud-model recall is down")
    triage_post(canaries, dup)
    settle(app)
    view = open_modal(app, LEAD, ids.DUPLICATE_ACTION, dup)
    assert submit(app, LEAD, view, {ids.PRIMARY_BLOCK: primary}) is None
    settle(app)
    _resolve(app, primary)

    # Later signals on the same system show both as seen before.
    later = file_named(app, "drift system:fraud-model precision fell again")
    posted(app, later)
    seen = _seen_before(app, later)
    assert learned in seen and "Anonymous" not in seen

    # Search results, from the canary and from anyone else.
    found = canaries.command("lessons precision weekly").json()["text"]
    assert learned in found and "Watch precision weekly" in found
    assert learned in command(app, "lessons precision system:fraud-model")
    status = canaries.command(f"status {dup_code}").json()["text"]
    assert f"same concern as *{primary}*" in status and "Retrained on fresh data" in status
    assert canaries.command(f"status {learned_code}").status == 200

    # Nothing about the duplicate was sent to anyone by DM (it has no named reporter).
    dms = [
        c
        for c in app.standin.calls_to("chat.postMessage")
        if c.params["channel"] != TRIAGE and dup in str(c.params)
    ]
    assert dms == []
    assert_no_leaks(canaries.all_leaks(database_url))
