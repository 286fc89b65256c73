"""Lead actions on the triage post, pressed and submitted as Slack sends them (signed
block_actions and view_submission), by leads and by non-leads, on SQLite and PostgreSQL."""

from __future__ import annotations

import concurrent.futures
import json

from handlers import ids
from tests.conftest import ALICE, LEAD, TRIAGE
from tests.handlers.listeners.triage.helpers import (
    NOT_A_LEAD,
    ONLY_LEADS,
    OTHER_LEAD,
    acknowledge,
    actions,
    assert_slack_happy,
    buttons,
    command,
    dms_to,
    ephemerals_to,
    events,
    field_text,
    file_anonymous,
    file_named,
    open_modal,
    outbox,
    parent,
    posted,
    press,
    settle,
    signal,
    submit,
    thread,
    updates_of,
)

LEAD_BUTTONS = [
    ids.TRIAGE_ACTION,
    ids.ASK_ACTION,
    ids.RESOLVE_ACTION,
    ids.TRACKER_ACTION,
    ids.DUPLICATE_ACTION,
]
CLOSED_BUTTONS = [ids.REOPEN_ACTION, ids.TRACKER_ACTION]


def resolve(
    app,
    ref,
    *,
    done="Retrained on recent data",
    assumption=None,
    pattern="none",
    lesson=None,
    user=LEAD,
):
    view = open_modal(app, user, ids.RESOLVE_ACTION, ref)
    answer = submit(
        app,
        user,
        view,
        {
            ids.DONE_BLOCK: done,
            ids.ASSUMPTION_BLOCK: assumption,
            ids.PATTERN_BLOCK: pattern,
            ids.LESSON_BLOCK: lesson,
        },
    )
    assert answer is None, answer
    settle(app)


def test_acknowledge_by_a_lead(app):
    ref = file_named(app)
    post = posted(app, ref)
    assert ids.ACKNOWLEDGE_ACTION in buttons(parent(app, ref))

    press(app, LEAD, ids.ACKNOWLEDGE_ACTION, ref)
    settle(app)

    [reply] = thread(app, ref)
    assert f"<@{LEAD.id}> acknowledged {ref}" in reply
    assert "Thank you to the reporter" in reply
    [event] = events(app, ref)
    assert (event.action, event.actor_id) == ("acknowledged", LEAD.id)
    row = signal(app, ref)
    assert row.status == "acknowledged"
    assert row.acknowledged_at is not None

    [update] = updates_of(app, ref)
    assert update.params["channel"] == TRIAGE and update.params["ts"] == post.triage_ts
    message = parent(app, ref)
    assert message["updated"] == 1
    fields = field_text(message)
    assert "Acknowledged" in fields
    assert "Acknowledged after" in fields
    assert buttons(message) == LEAD_BUTTONS
    # The thread reply is in the thread of the parent, not a new post in the channel.
    assert [m["ts"] for m in app.standin.messages(TRIAGE) if m["thread_ts"] is None] == [
        post.triage_ts
    ]
    # The named reporter is told privately (a DM from the app), the lead gets no complaint.
    [notice] = dms_to(app, ALICE)
    assert ref in notice and "acknowledged" in notice
    assert ephemerals_to(app, LEAD) == []
    assert_slack_happy(app)


def test_a_non_lead_pressing_any_button_changes_nothing(app):
    ref = file_named(app)
    posted(app, ref)
    before = (len(app.standin.calls), len(outbox(app)))
    pressed = (ids.ACKNOWLEDGE_ACTION, *LEAD_BUTTONS, ids.REOPEN_ACTION)
    for action_id in pressed:
        press(app, NOT_A_LEAD, action_id, ref)
    settle(app)
    told = ephemerals_to(app, NOT_A_LEAD)
    assert len(told) == len(pressed), told
    assert all(ONLY_LEADS in text for text in told)
    assert all(e["channel"] == TRIAGE for e in app.standin.ephemerals())
    new_calls = app.standin.calls[before[0] :]
    assert [c.method for c in new_calls] == ["chat.postEphemeral"] * len(pressed)
    assert events(app, ref) == []
    assert len(outbox(app)) == before[1]
    assert signal(app, ref).status == "new"
    assert parent(app, ref)["updated"] == 0

    # And on a resolved signal, Reopen by a non-lead does nothing either.
    resolve(app, ref)
    count = len(events(app, ref))
    press(app, NOT_A_LEAD, ids.REOPEN_ACTION, ref)
    settle(app)
    assert len(ephemerals_to(app, NOT_A_LEAD)) == len(pressed) + 1
    assert len(events(app, ref)) == count
    assert signal(app, ref).status == "resolved"
    assert_slack_happy(app)


def test_a_non_lead_submitting_a_lead_modal_gets_field_errors(app):
    ref = file_named(app)
    posted(app, ref)
    views = {
        action_id: open_modal(app, LEAD, action_id, ref)
        for action_id in (ids.TRIAGE_ACTION, ids.ASK_ACTION, ids.RESOLVE_ACTION)
    }
    answers = {
        ids.STATUS_BLOCK: "declined",
        ids.REASON_BLOCK: "not a problem",
        ids.QUESTION_BLOCK: "which model?",
        ids.DONE_BLOCK: "nothing",
        ids.PATTERN_BLOCK: "none",
    }
    calls = len(app.standin.calls)
    for view in views.values():
        answer = submit(app, NOT_A_LEAD, view, answers)
        assert answer["response_action"] == "errors", answer
        [(block_id, message)] = answer["errors"].items()
        assert block_id in {b.get("block_id") for b in view["blocks"] if b["type"] == "input"}
        assert ONLY_LEADS in message
    assert events(app, ref) == []
    assert signal(app, ref).status == "new"
    assert app.standin.calls[calls:] == []
    assert_slack_happy(app)


def test_triage_investigating_with_impact_owner_and_note(app):
    ref = file_named(app)
    posted(app, ref)
    trigger_calls = len(app.standin.calls_to("views.open"))
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, ref)
    [call] = app.standin.calls_to("views.open")[trigger_calls:]
    assert call.ok and view["callback_id"] == ids.TRIAGE_MODAL
    assert ref in view["private_metadata"]

    answer = submit(
        app,
        LEAD,
        view,
        {
            ids.IMPACT_LEVEL_BLOCK: "high",
            ids.OWNER_BLOCK: OTHER_LEAD.id,
            ids.STATUS_BLOCK: "investigating",
            ids.NOTE_BLOCK: "Compare <last week's> features & labels",
        },
    )
    assert answer is None, answer
    settle(app)

    row = signal(app, ref)
    assert (row.status, row.confirmed_impact, row.owner_id) == (
        "investigating",
        "high",
        OTHER_LEAD.id,
    )
    assert row.next_step == "Compare <last week's> features & labels"
    assert row.acknowledged_at is not None  # triage acknowledges a new signal
    [event] = events(app, ref)
    assert (event.action, event.actor_id) == ("triaged", LEAD.id)
    [reply] = thread(app, ref)
    assert "*investigating*" in reply
    assert "Confirmed impact: High" in reply
    assert f"Owner: <@{OTHER_LEAD.id}>" in reply
    assert "Compare &lt;last week's&gt; features &amp; labels" in reply
    fields = field_text(parent(app, ref))
    assert "Investigating" in fields
    assert f"*Owner*\n<@{OTHER_LEAD.id}>" in fields
    assert "*Confirmed impact*\nHigh" in fields
    assert "Acknowledged after" in fields
    assert buttons(parent(app, ref)) == LEAD_BUTTONS
    assert dms_to(app, ALICE) == []  # "triaged" is not one of the notices
    assert_slack_happy(app)


def test_decline_needs_a_reason_and_still_counts(app):
    ref = file_named(app)
    posted(app, ref)
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, ref)

    answer = submit(app, LEAD, view, {ids.STATUS_BLOCK: "declined"})
    assert answer["response_action"] == "errors", answer
    assert list(answer["errors"]) == [ids.REASON_BLOCK]
    assert "reason" in answer["errors"][ids.REASON_BLOCK].lower()
    answer = submit(app, LEAD, view, {ids.STATUS_BLOCK: "declined", ids.REASON_BLOCK: "   "})
    assert list(answer["errors"]) == [ids.REASON_BLOCK]
    assert events(app, ref) == [] and signal(app, ref).status == "new"
    assert updates_of(app, ref) == []

    # The corrected form comes back with the same view id, as Slack sends it.
    answer = submit(
        app, LEAD, view, {ids.STATUS_BLOCK: "declined", ids.REASON_BLOCK: "Expected seasonal dip"}
    )
    assert answer is None, answer
    settle(app)
    row = signal(app, ref)
    assert (row.status, row.decline_reason) == ("declined", "Expected seasonal dip")
    assert actions(app, ref) == ["declined"]
    [reply] = thread(app, ref)
    assert "declined" in reply and "still counted" in reply and "Expected seasonal dip" in reply
    message = parent(app, ref)
    assert "Declined" in field_text(message)
    assert buttons(message) == CLOSED_BUTTONS
    [notice] = dms_to(app, ALICE)
    assert "declined" in notice and "Expected seasonal dip" in notice and "still counts" in notice

    # Out of the leads' open queue on the Home tab (closed signals are counted in the digest:
    # tests/bot/jobs/digest/test_content.py), no longer waiting for anyone.
    app.sender.event({"type": "app_home_opened", "user": LEAD.id, "tab": "home"})
    [home] = app.standin.wait_for("views.publish")
    view = json.dumps(home.params["view"], ensure_ascii=False)
    assert "New: *0*" in view and "Investigating: *0*" in view
    assert f"{ids.QUEUE_LINE_BLOCK_PREFIX}{ref}" not in view
    assert_slack_happy(app)


def test_ask_a_named_reporter(app):
    ref = file_named(app)
    posted(app, ref)
    view = open_modal(app, LEAD, ids.ASK_ACTION, ref)
    assert view["callback_id"] == ids.ASK_MODAL

    answer = submit(app, LEAD, view, {ids.QUESTION_BLOCK: "  "})
    assert list(answer["errors"]) == [ids.QUESTION_BLOCK], answer
    assert events(app, ref) == []

    answer = submit(app, LEAD, view, {ids.QUESTION_BLOCK: "Which region?\nSince <when>?"})
    assert answer is None, answer
    settle(app)
    [event] = events(app, ref)
    assert (event.action, event.actor_id, event.note) == (
        "asked",
        LEAD.id,
        "Which region?\nSince <when>?",
    )
    [reply] = thread(app, ref)
    assert "asked the reporter" in reply
    assert "&gt; Which region?\n&gt; Since &lt;when&gt;?" in reply
    [notice] = dms_to(app, ALICE)
    assert "question" in notice and "Which region?" in notice
    [dm] = [c for c in app.standin.calls_to("chat.postMessage") if c.params["channel"] == ALICE.id]
    assert "thread_ts" not in dm.params
    assert signal(app, ref).status == "new"  # asking does not change the status
    assert_slack_happy(app)


def test_ask_an_anonymous_reporter_pushes_nothing(app):
    ref, code = file_anonymous(app)
    posted(app, ref)
    view = open_modal(app, LEAD, ids.ASK_ACTION, ref)
    assert "anonymous" in str(view["blocks"])
    assert submit(app, LEAD, view, {ids.QUESTION_BLOCK: "Which applicant ages?"}) is None
    settle(app)

    [reply] = thread(app, ref)
    assert "asked the reporter (anonymous)" in reply and "Which applicant ages?" in reply
    # Nothing went anywhere but the triage channel: no DM, no ephemeral, to nobody.
    channels = {c.params.get("channel") for c in app.standin.calls_to("chat.postMessage")}
    assert channels == {TRIAGE}
    assert app.standin.calls_to("chat.postEphemeral", include_errors=True) == []
    assert [i.purpose for i in outbox(app) if i.purpose == "reporter_notice"] == []

    status = command(app, f"status {code}")
    assert ref in status
    assert "A lead asked:* Which applicant ages?" in status
    assert "reply" in status
    assert_slack_happy(app)


def test_resolve_with_the_blameless_review(app):
    ref = file_named(app)
    posted(app, ref)
    acknowledge(app, LEAD, ref)
    settle(app)
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    assert view["callback_id"] == ids.RESOLVE_MODAL
    pattern_block = next(b for b in view["blocks"] if b.get("block_id") == ids.PATTERN_BLOCK)
    assert [o["value"] for o in pattern_block["element"]["options"]] == [
        "problem-misidentification",
        "data-optimism",
        "organizational-disconnect",
        "governance-lag",
        "none",
    ]
    full = {
        ids.DONE_BLOCK: "Retrained with the last quarter",
        ids.ASSUMPTION_BLOCK: "Training data reflects today's fraud",
        ids.PATTERN_BLOCK: "data-optimism",
        ids.LESSON_BLOCK: "Monitor precision weekly",
    }

    answer = submit(app, LEAD, view, {**full, ids.PATTERN_BLOCK: None})
    assert list(answer["errors"]) == [ids.PATTERN_BLOCK], answer
    answer = submit(app, LEAD, view, {**full, ids.DONE_BLOCK: None})
    assert list(answer["errors"]) == [ids.DONE_BLOCK], answer
    assert actions(app, ref) == ["acknowledged"]

    assert submit(app, LEAD, view, full) is None
    settle(app)
    row = signal(app, ref)
    assert row.status == "resolved" and row.resolved_at is not None
    assert (row.resolution_done, row.failed_assumption, row.pattern, row.lesson) == (
        "Retrained with the last quarter",
        "Training data reflects today's fraud",
        "data-optimism",
        "Monitor precision weekly",
    )
    assert actions(app, ref) == ["acknowledged", "resolved"]
    reply = thread(app, ref)[-1]
    assert f"<@{LEAD.id}> resolved {ref}" in reply
    assert "*What was done:* Retrained with the last quarter" in reply
    assert "*Assumption that failed:* Training data reflects today's fraud" in reply
    assert "*Systemic pattern:* Data optimism" in reply
    assert "*Lesson:* Monitor precision weekly" in reply
    message = parent(app, ref)
    assert "Resolved" in field_text(message)
    assert buttons(message) == CLOSED_BUTTONS
    notice = dms_to(app, ALICE)[-1]
    assert "resolved" in notice and "Monitor precision weekly" in notice
    assert_slack_happy(app)


def test_reopen_a_resolved_signal(app):
    ref = file_named(app)
    posted(app, ref)
    acknowledge(app, LEAD, ref)
    settle(app)
    resolve(app, ref)
    assert buttons(parent(app, ref)) == CLOSED_BUTTONS

    press(app, OTHER_LEAD, ids.REOPEN_ACTION, ref)
    settle(app)
    assert actions(app, ref)[-1:] == ["reopened"]
    row = signal(app, ref)
    assert row.status == "investigating" and row.resolved_at is None
    assert events(app, ref)[-1].actor_id == OTHER_LEAD.id
    assert f"<@{OTHER_LEAD.id}> reopened {ref}" in thread(app, ref)[-1]
    message = parent(app, ref)
    assert "Investigating" in field_text(message)
    assert buttons(message) == LEAD_BUTTONS

    # Reopen again: it is open, so nothing changes and the lead is told.
    press(app, LEAD, ids.REOPEN_ACTION, ref)
    settle(app)
    told = ephemerals_to(app, LEAD)
    assert len(told) == 1, told
    assert "nothing changed" in told[0]
    assert actions(app, ref).count("reopened") == 1
    assert_slack_happy(app)


def test_reopen_a_declined_signal(app):
    ref = file_named(app)
    posted(app, ref)
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, ref)
    submit(app, LEAD, view, {ids.STATUS_BLOCK: "declined", ids.REASON_BLOCK: "duplicate"})
    settle(app)
    press(app, LEAD, ids.REOPEN_ACTION, ref)
    settle(app)
    assert actions(app, ref) == ["declined", "reopened"]
    assert signal(app, ref).status == "investigating"
    assert buttons(parent(app, ref)) == LEAD_BUTTONS
    assert_slack_happy(app)


# -- idempotency ------------------------------------------------------------------------------


def test_double_click_on_acknowledge_records_once(app):
    ref = file_named(app)
    posted(app, ref)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: press(app, LEAD, ids.ACKNOWLEDGE_ACTION, ref), range(4)))
    settle(app)
    assert len(ephemerals_to(app, LEAD)) == 3
    assert actions(app, ref) == ["acknowledged"]
    assert len(thread(app, ref)) == 1
    assert len(dms_to(app, ALICE)) == 1
    assert all("nothing changed" in text for text in ephemerals_to(app, LEAD))
    # A later click (a replay) changes nothing either.
    press(app, LEAD, ids.ACKNOWLEDGE_ACTION, ref)
    settle(app)
    assert len(ephemerals_to(app, LEAD)) == 4
    assert actions(app, ref) == ["acknowledged"] and len(thread(app, ref)) == 1
    assert_slack_happy(app)


def test_the_same_view_submission_twice_records_once(app):
    ref = file_named(app)
    posted(app, ref)
    for action_id, answers in (
        (ids.ASK_ACTION, {ids.QUESTION_BLOCK: "Since when?"}),
        (ids.TRIAGE_ACTION, {ids.STATUS_BLOCK: "investigating", ids.NOTE_BLOCK: "look"}),
        (ids.RESOLVE_ACTION, {ids.DONE_BLOCK: "fixed", ids.PATTERN_BLOCK: "none"}),
    ):
        view = open_modal(app, LEAD, action_id, ref)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            answers_back = list(
                pool.map(lambda v: submit(app, LEAD, v, answers), [view] * 3)  # noqa: B023
            )
        assert answers_back == [None, None, None]
        assert submit(app, LEAD, view, answers) is None  # a later replay
        settle(app)
    assert actions(app, ref) == ["asked", "triaged", "resolved"]
    assert len(thread(app, ref)) == 3
    assert len(dms_to(app, ALICE)) == 2  # asked, resolved
    assert_slack_happy(app)


# -- who is a lead ----------------------------------------------------------------------------


def test_lead_group_members_are_leads_and_the_group_is_cached(launcher, people):
    people.add_usergroup("SLEADGRP1", users=[OTHER_LEAD.id])
    app = launcher(AI_SIGNAL_LEAD_GROUP="SLEADGRP1")  # AI_SIGNAL_LEADS is ULEAD00001 only
    ref = file_named(app)
    posted(app, ref)

    press(app, NOT_A_LEAD, ids.ACKNOWLEDGE_ACTION, ref)
    settle(app)
    [refused] = ephemerals_to(app, NOT_A_LEAD)
    assert ONLY_LEADS in refused
    assert events(app, ref) == []

    press(app, OTHER_LEAD, ids.ACKNOWLEDGE_ACTION, ref)
    settle(app)
    assert actions(app, ref) == ["acknowledged"]
    view = open_modal(app, OTHER_LEAD, ids.TRIAGE_ACTION, ref)
    assert submit(app, OTHER_LEAD, view, {ids.STATUS_BLOCK: "investigating"}) is None
    press(app, NOT_A_LEAD, ids.RESOLVE_ACTION, ref)
    settle(app)
    assert len(ephemerals_to(app, NOT_A_LEAD)) == 2
    assert [(e.action, e.actor_id) for e in events(app, ref)] == [
        ("acknowledged", OTHER_LEAD.id),
        ("triaged", OTHER_LEAD.id),
    ]
    [lookup] = app.standin.calls_to("usergroups.users.list", include_errors=True)
    assert lookup.params["usergroup"] == "SLEADGRP1"
    assert_slack_happy(app)


def test_a_stale_modal_is_answered_not_swallowed(app):
    ref = file_named(app)
    posted(app, ref)
    stale = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    resolve(app, ref, user=OTHER_LEAD)

    answer = submit(app, LEAD, stale, {ids.DONE_BLOCK: "also fixed", ids.PATTERN_BLOCK: "none"})
    assert answer["response_action"] == "errors", answer
    [message] = answer["errors"].values()
    assert "already" in message and "nothing changed" in message
    assert [(e.action, e.actor_id) for e in events(app, ref)] == [("resolved", OTHER_LEAD.id)]
    assert signal(app, ref).resolution_done == "Retrained on recent data"
    assert_slack_happy(app)
