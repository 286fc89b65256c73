"""Owners and due dates: any member may own a signal, the owner (and leads, nobody else) may ask
and resolve it, an optional "respond by" date shows on the post and makes an open signal overdue
in the digest; the owner is told privately, once. Signed requests, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import utc_now
from bot.runtime import digest_service
from bot.standin.sender import SlackUser
from handlers import ids
from handlers.blocks.digest import build_digest_text
from tests.conftest import LEAD, MovableClock
from tests.handlers.listeners.triage.helpers import (
    NOT_A_LEAD,
    ONLY_LEADS,
    actions,
    assert_slack_happy,
    dms_to,
    ephemerals_to,
    events,
    field_text,
    file_named,
    open_modal,
    parent,
    posted,
    press,
    settle,
    signal,
    submit,
)

STRANGER = SlackUser(id="UMEMBER004", name="member.s")
OWNED = "You are now the owner of"


def triage(app, ref, *, owner=None, respond_by=None, user=LEAD):
    view = open_modal(app, user, ids.TRIAGE_ACTION, ref)
    return submit(
        app,
        user,
        view,
        {
            ids.OWNER_BLOCK: owner,
            ids.RESPOND_BY_BLOCK: respond_by,
            ids.STATUS_BLOCK: "investigating",
        },
    )


def day(app, days: int) -> str:
    """A date `days` from today (UTC), as the datepicker sends it."""
    return (utc_now() + timedelta(days=days)).date().isoformat()


def test_any_member_may_own_a_signal_with_a_due_date_and_is_told_once(app):
    app.standin.add_user(NOT_A_LEAD.id, name=NOT_A_LEAD.name)
    ref = file_named(app)
    posted(app, ref)
    due = day(app, 3)
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, ref)
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert kinds[ids.OWNER_BLOCK] == "users_select" and kinds[ids.RESPOND_BY_BLOCK] == "datepicker"

    assert triage(app, ref, owner=NOT_A_LEAD.id, respond_by=due) is None
    settle(app)
    row = signal(app, ref)
    assert row.owner_id == NOT_A_LEAD.id
    assert row.respond_by is not None and row.respond_by.date().isoformat() == day(app, 4)
    fields = field_text(parent(app, ref))
    assert f"*Owner*\n<@{NOT_A_LEAD.id}>" in fields
    assert f"*Respond by*\n{due}" in fields
    [notice] = dms_to(app, NOT_A_LEAD)
    assert OWNED in notice and ref in notice and due in notice
    assert "precision fell" not in notice  # no free text of the signal in a DM

    # The same owner again (and the form reopened with both prefilled): no second notice.
    again = open_modal(app, LEAD, ids.TRIAGE_ACTION, ref)
    [date_block] = [b for b in again["blocks"] if b.get("block_id") == ids.RESPOND_BY_BLOCK]
    assert date_block["element"]["initial_date"] == due
    assert triage(app, ref, owner=NOT_A_LEAD.id, respond_by=due) is None
    settle(app)
    assert len(dms_to(app, NOT_A_LEAD)) == 1
    # A lead who names themself is not told.
    assert triage(app, ref, owner=LEAD.id) is None
    settle(app)
    assert dms_to(app, LEAD) == []
    assert_slack_happy(app)


def test_a_respond_by_day_in_the_past_is_refused_in_the_form(app):
    ref = file_named(app)
    posted(app, ref)
    answer = triage(app, ref, respond_by=day(app, -1))
    assert answer["response_action"] == "errors", answer
    assert list(answer["errors"]) == [ids.RESPOND_BY_BLOCK]
    assert events(app, ref) == [] and signal(app, ref).respond_by is None


def test_the_owner_may_ask_and_resolve_and_nobody_else_but_leads(app):
    for user in (NOT_A_LEAD, STRANGER):
        app.standin.add_user(user.id, name=user.name)
    ref = file_named(app)
    posted(app, ref)
    ask_view = open_modal(app, LEAD, ids.ASK_ACTION, ref)  # a form opened before the owner
    assert triage(app, ref, owner=NOT_A_LEAD.id) is None
    settle(app)

    # Someone else: the buttons and a submitted form are refused privately, nothing changes.
    for action_id in (ids.ASK_ACTION, ids.RESOLVE_ACTION):
        press(app, STRANGER, action_id, ref)
    settle(app)
    told = ephemerals_to(app, STRANGER)
    assert len(told) == 2, told
    assert all(ONLY_LEADS in text and "owner" in text for text in told)
    answer = submit(app, STRANGER, ask_view, {ids.QUESTION_BLOCK: "who?"})
    assert answer["response_action"] == "errors" and ONLY_LEADS in str(answer["errors"])
    assert actions(app, ref) == ["triaged"]

    # The owner: only leads acknowledge, triage and reopen, but the owner asks and resolves.
    press(app, NOT_A_LEAD, ids.TRIAGE_ACTION, ref)
    settle(app)
    [refused] = ephemerals_to(app, NOT_A_LEAD)
    assert ONLY_LEADS in refused
    view = open_modal(app, NOT_A_LEAD, ids.ASK_ACTION, ref)
    assert submit(app, NOT_A_LEAD, view, {ids.QUESTION_BLOCK: "Since which release?"}) is None
    view = open_modal(app, NOT_A_LEAD, ids.RESOLVE_ACTION, ref)
    answer = submit(
        app, NOT_A_LEAD, view, {ids.DONE_BLOCK: "Rolled back", ids.PATTERN_BLOCK: "none"}
    )
    assert answer is None, answer
    settle(app)
    history = [(e.action, e.actor_id) for e in events(app, ref)]
    assert history[-2:] == [("asked", NOT_A_LEAD.id), ("resolved", NOT_A_LEAD.id)]
    assert signal(app, ref).status == "resolved"
    assert_slack_happy(app)


def test_an_open_signal_past_its_respond_by_day_needs_attention_in_the_digest(launcher):
    clock = MovableClock()
    app = launcher(clock=clock, AI_SIGNAL_LEADS=LEAD.id, AI_SIGNAL_ACK_REMINDER_HOURS="1000")
    late = file_named(app, "drift scores creep upward")
    on_time = file_named(app, "bias approvals skew by region")
    for ref in (late, on_time):
        posted(app, ref)
    assert triage(app, late, respond_by=day(app, 0)) is None
    assert triage(app, on_time, respond_by=day(app, 5)) is None
    settle(app)
    digest = digest_service(app.runtime.settings, app.runtime.sessions, clock)
    assert digest.gather().needs_attention == ()

    clock.advance(2 * 24 * 3600)
    data = digest.gather()
    [item] = data.needs_attention
    assert (item.ref, item.overdue, item.stalled) == (late, True, False)
    assert data.needs_attention_total == 1
    assert f"{late} · Model drift — raised 2 days ago, investigating, overdue" in build_digest_text(
        data
    )
