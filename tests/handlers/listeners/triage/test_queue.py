"""The leads' queue: `/ai-signal queue …` answered privately, filtered and paged both ways; quick
and bulk Acknowledge; the leads' Home with its counts and filter menus; non-leads refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.standin import validate_blocks, validate_view
from bot.standin.sender import SlackUser
from handlers import ids
from models import Signal
from tests.conftest import ALICE, LEAD, TRIAGE, MovableClock, RunningApp
from tests.handlers.listeners.triage.helpers import (
    BOB,
    NOT_A_LEAD,
    ONLY_LEADS,
    OTHER_LEAD,
    actions,
    assert_slack_happy,
    file_anonymous,
    file_named,
    open_modal,
    posted,
    settle,
    signal,
    submit,
    thread,
    updates_of,
)

DAY = 86_400
CHANNEL = "CGENERAL01"


# -- helpers ----------------------------------------------------------------------------------


def learn_workspace(app: RunningApp) -> str:
    """Let the app learn the workspace URL from auth.test (as `ai-signal run` does at start),
    before any request (each request would start learning in a thread of its own)."""
    auth = app.runtime.authorization
    learning = auth.learn_in_background()
    assert learning is not None, "call learn_workspace before the first request"
    learning.join()
    url = auth.authorize(None, None, None).url
    assert url
    return url


def queue(app: RunningApp, text: str = "", user: SlackUser = LEAD) -> dict[str, Any]:
    """Run `/ai-signal queue <text>`; return the private answer (text and blocks)."""
    reply = app.sender.command(user=user, text=f"queue {text}".strip(), channel_id=CHANNEL)
    assert reply.status == 200, reply.text
    answer = reply.json()
    assert answer["response_type"] == "ephemeral", answer
    if "blocks" in answer:
        assert not validate_blocks(answer["blocks"]), validate_blocks(answer["blocks"])
    return answer


def refs_in(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        b["block_id"].removeprefix(ids.QUEUE_LINE_BLOCK_PREFIX)
        for b in blocks
        if b.get("block_id", "").startswith(ids.QUEUE_LINE_BLOCK_PREFIX)
    ]


def element(blocks: list[dict[str, Any]], action_id: str, ref: str | None = None) -> dict:
    for block in blocks:
        if ref is not None and block.get("block_id") != ids.QUEUE_LINE_BLOCK_PREFIX + ref:
            continue
        candidates = block.get("elements", []) + (
            [block["accessory"]] if "accessory" in block else []
        )
        for candidate in candidates:
            if candidate.get("action_id") == action_id:
                return candidate
    raise AssertionError(f"no {action_id} in {json.dumps(blocks)[:1500]}")


def line(blocks: list[dict[str, Any]], ref: str) -> str:
    [text] = [
        b["text"]["text"] for b in blocks if b.get("block_id") == ids.QUEUE_LINE_BLOCK_PREFIX + ref
    ]
    return text


def click(
    app: RunningApp,
    blocks: list[dict[str, Any]],
    action_id: str,
    *,
    ref: str | None = None,
    user: SlackUser = LEAD,
    ticked: list[str] | None = None,
) -> dict[str, Any]:
    """Click a button of the private answer; return what replaced it (the response_url POST)."""
    button = element(blocks, action_id, ref)
    state = None
    if ticked is not None:
        boxes = element(blocks, ids.QUEUE_SELECT_ACTION)
        chosen = [o for o in boxes["options"] if o["value"] in ticked]
        state = {
            ids.QUEUE_SELECT_BLOCK: {
                ids.QUEUE_SELECT_ACTION: {"type": "checkboxes", "selected_options": chosen}
            }
        }
    before = len(app.standin.calls_to("response_url"))
    reply = app.sender.block_action(
        user=user,
        action_id=action_id,
        value=button["value"],
        block_id=ids.QUEUE_NAV_BLOCK,
        channel_id=CHANNEL,
        container={
            "type": "message",
            "message_ts": "1700000000.000009",
            "channel_id": CHANNEL,
            "is_ephemeral": True,
        },
        state=state,
    )
    assert reply.status == 200, reply.text
    call = app.standin.wait_for("response_url", before + 1)[before]
    assert call.ok, call.response
    assert call.params["replace_original"] is True
    return call.params


def file_many(app: RunningApp, count: int, clock: MovableClock, *, start_days: float = 20):
    """`count` named signals, one an hour, the first `start_days` days ago; their refs in order.

    Setup, not the point here (tests/handlers/listeners/test_commands.py files by command):
    each is filed through the service the command calls, at its hour; all are posted in one
    delivery run and then dated as posted when filed, as an immediate post would have been."""
    signals = app.runtime.services.signals
    refs = []
    for n in range(count):
        clock.offset = -start_days * DAY + n * 3600
        kind = ("drift", "bias", "governance")[n % 3]
        filed = signals.file_signal(
            kind=kind,
            system=f"system-{n % 2}",
            text=f"signal number {n}",
            anonymous=False,
            reporter_id=ALICE.id,
        )
        refs.append(filed.ref)
    clock.offset = 0
    settle(app)
    with app.runtime.sessions.begin() as session:
        session.execute(
            update(Signal).where(Signal.ref.in_(refs)).values(posted_at=Signal.created_at)
        )
    assert all(signal(app, ref).triage_ts for ref in refs)
    return refs


def set_columns(app: RunningApp, ref: str, **values: Any) -> None:
    """Setup for what other features set (a due date, a tracker link): straight into the row."""
    with app.runtime.sessions.begin() as session:
        session.execute(update(Signal).where(Signal.ref == ref).values(**values))


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def lead_app(launcher, clock) -> RunningApp:
    return launcher(clock=clock, AI_SIGNAL_LEADS=f"{LEAD.id},{OTHER_LEAD.id}")


# -- the command ------------------------------------------------------------------------------


def test_queue_lists_open_signals_oldest_first_with_their_facts(lead_app, clock):
    app = lead_app
    url = learn_workspace(app)
    first, second, closed = file_many(app, 3, clock)
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, closed)
    submit(app, LEAD, view, {ids.DONE_BLOCK: "retrained", ids.PATTERN_BLOCK: "none"})
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, second)
    submit(app, LEAD, view, {ids.STATUS_BLOCK: "investigating", ids.OWNER_BLOCK: LEAD.id})
    due = datetime.now(UTC) - timedelta(days=1)
    set_columns(app, second, respond_by=due, tracker_url="https://tracker.example/AI-7")
    settle(app)

    answer = queue(app)
    blocks = answer["blocks"]
    assert refs_in(blocks) == [first, second]  # the resolved one is not in the queue
    row = signal(app, first)
    link = f"{url.rstrip('/')}/archives/{TRIAGE}/p{row.triage_ts.replace('.', '')}"
    assert f"*<{link}|{first}>*" in line(blocks, first)
    assert "New" in line(blocks, first) and "waiting 20 days" in line(blocks, first)
    assert "no owner" in line(blocks, first) and "overdue" not in line(blocks, first)
    text = line(blocks, second)
    assert "Investigating" in text and f"owner <@{LEAD.id}>" in text
    assert f"due <!date^{int(due.timestamp())}^" in text and "*overdue*" in text
    assert "<https://tracker.example/AI-7|tracker>" in text
    # Quick Acknowledge only where it applies.
    assert element(blocks, ids.QUEUE_ACK_ACTION, first)
    with pytest.raises(AssertionError):
        element(blocks, ids.QUEUE_ACK_ACTION, second)
    assert first in answer["text"]
    assert_slack_happy(app)


def test_each_filter_narrows_the_queue(lead_app, clock):
    app = lead_app
    old_drift, old_bias, old_gov, new_drift, new_bias = file_many(app, 5, clock)
    for ref in (new_drift, new_bias):  # filed today instead
        set_columns(app, ref, posted_at=datetime.now(UTC) - timedelta(hours=2))
    anonymous, _ = file_anonymous(app, "edge loan-model: anonymous one")
    posted(app, anonymous)
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, old_bias)
    submit(app, LEAD, view, {ids.STATUS_BLOCK: "investigating", ids.OWNER_BLOCK: OTHER_LEAD.id})
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, old_gov)
    submit(app, LEAD, view, {ids.STATUS_BLOCK: "investigating", ids.OWNER_BLOCK: LEAD.id})
    press_ack = queue(app)["blocks"]
    click(app, press_ack, ids.QUEUE_ACK_ACTION, ref=new_drift)
    set_columns(app, old_gov, respond_by=datetime.now(UTC) - timedelta(hours=1))
    set_columns(app, old_bias, respond_by=datetime.now(UTC) + timedelta(days=3))
    settle(app)

    def listed(text: str) -> list[str]:
        return refs_in(queue(app, text)["blocks"])

    everything = [old_drift, old_bias, old_gov, new_drift, new_bias, anonymous]
    assert sorted(listed("")) == sorted(everything)
    assert listed("status:new") == [old_drift, new_bias, anonymous]
    assert listed("status:ack") == [new_drift]
    assert listed("status:investigating") == [old_bias, old_gov]
    assert listed("kind:drift") == [old_drift, new_drift]
    assert listed("kind:fairness") == [old_bias, new_bias]  # an alias
    assert listed("system:system-1") == [old_bias, new_drift]
    assert listed("system:loan-model") == [anonymous]
    assert listed("owner:me") == [old_gov]
    assert listed(f"owner:<@{OTHER_LEAD.id}|second.lead>") == [old_bias]
    assert listed("owner:none") == [old_drift, new_drift, new_bias, anonymous]
    assert listed("older:7d") == [old_drift, old_bias, old_gov]
    assert listed("older:1w") == [old_drift, old_bias, old_gov]
    assert listed("anonymous") == [anonymous]
    assert listed("named") == [old_drift, old_bias, old_gov, new_drift, new_bias]
    assert listed("overdue") == [old_gov]
    assert listed("kind:bias status:new named") == [new_bias]
    assert "No signal matches these filters" in json.dumps(queue(app, "kind:adoption"))


@pytest.mark.parametrize(
    "words", ["status:resolved", "kind:weather", "older:soon", "colour:red", "owner:@alice", "x"]
)
def test_a_bad_filter_gets_a_sentence_with_the_accepted_forms(app, words):
    answer = queue(app, words)
    text = answer["text"]
    assert "blocks" not in answer
    assert "queue filter" in text and "the queue isn't shown" in text
    for form in ("status:new", "kind:drift", "system:", "owner:me", "older:7d", "anonymous"):
        assert form in text, text
    assert "overdue" in text


def test_non_leads_get_the_private_refusal(app):
    ref = file_named(app)
    posted(app, ref)
    answer = queue(app, user=NOT_A_LEAD)
    assert ONLY_LEADS in answer["text"] and "blocks" not in answer
    assert ref not in json.dumps(answer)


# -- paging -----------------------------------------------------------------------------------


def test_next_and_previous_page_through_the_queue(lead_app, clock):
    app = lead_app
    refs = file_many(app, 23, clock)
    first = queue(app)["blocks"]
    assert refs_in(first) == refs[:10]
    with pytest.raises(AssertionError):
        element(first, ids.QUEUE_PREVIOUS_ACTION)
    second = click(app, first, ids.QUEUE_NEXT_ACTION)["blocks"]
    assert refs_in(second) == refs[10:20]
    third = click(app, second, ids.QUEUE_NEXT_ACTION)["blocks"]
    assert refs_in(third) == refs[20:]
    with pytest.raises(AssertionError):
        element(third, ids.QUEUE_NEXT_ACTION)
    back = click(app, third, ids.QUEUE_PREVIOUS_ACTION)["blocks"]
    assert refs_in(back) == refs[10:20]
    assert refs_in(click(app, back, ids.QUEUE_PREVIOUS_ACTION)["blocks"]) == refs[:10]
    # Paging keeps the filter.
    drift = [r for n, r in enumerate(refs) if n % 3 == 0]
    page = queue(app, "kind:drift")["blocks"]
    assert refs_in(page) == drift[:6] or refs_in(page) == drift[:10]
    assert_slack_happy(app)


def test_the_largest_page_fits_slacks_limits(lead_app, clock):
    app = lead_app
    learn_workspace(app)
    long_system = "s" * 150
    refs = file_many(app, 11, clock)
    for ref in refs:
        set_columns(
            app,
            ref,
            text="“" + "&<>*_" * 600,
            system=long_system,
            respond_by=datetime.now(UTC) - timedelta(days=1),
            tracker_url="https://tracker.example/" + "x" * 300,
        )
    blocks = queue(app, "overdue")["blocks"]
    assert len(refs_in(blocks)) == 10 and len(blocks) <= 20
    assert not validate_blocks(blocks)
    replaced = click(app, blocks, ids.QUEUE_NEXT_ACTION)
    assert refs_in(replaced["blocks"]) == refs[10:]


# -- acknowledging from the queue --------------------------------------------------------------


def test_quick_acknowledge_from_the_list(lead_app, clock):
    app = lead_app
    first, second = file_many(app, 2, clock)
    blocks = queue(app)["blocks"]
    replaced = click(app, blocks, ids.QUEUE_ACK_ACTION, ref=first)
    assert f"{first} acknowledged" in json.dumps(replaced["blocks"])
    assert "Acknowledged" in line(replaced["blocks"], first)
    assert actions(app, first) == ["acknowledged"] and actions(app, second) == []
    settle(app)
    assert len(thread(app, first)) == 1 and updates_of(app, first)
    # The same button again (a second click) changes nothing and says so.
    again = click(app, blocks, ids.QUEUE_ACK_ACTION, ref=first)
    assert "already" in json.dumps(again["blocks"])
    assert actions(app, first) == ["acknowledged"]
    assert_slack_happy(app)


def test_bulk_acknowledge_gives_each_signal_its_thread_reply_and_update(lead_app, clock):
    app = lead_app
    a, b, c, d = file_many(app, 4, clock)
    blocks = queue(app)["blocks"]
    # Meanwhile (the list is older than these): one acknowledged, one resolved.
    click(app, blocks, ids.QUEUE_ACK_ACTION, ref=c)
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, d)
    submit(app, LEAD, view, {ids.DONE_BLOCK: "fixed upstream", ids.PATTERN_BLOCK: "none"})
    settle(app)
    updates_before = {ref: len(updates_of(app, ref)) for ref in (a, b, c, d)}
    threads_before = {ref: len(thread(app, ref)) for ref in (a, b, c, d)}

    replaced = click(app, blocks, ids.QUEUE_BULK_ACK_ACTION, ticked=[a, b, c, d])
    text = json.dumps(replaced["blocks"], ensure_ascii=False)
    assert f"Acknowledged {a}, {b}" in text
    assert f"{c} (👀 Acknowledged)" in text
    assert f"{d} (✅ Resolved)" in text
    settle(app)
    for ref in (a, b):
        assert actions(app, ref) == ["acknowledged"]
        assert len(thread(app, ref)) == threads_before[ref] + 1
        assert len(updates_of(app, ref)) == updates_before[ref] + 1
        assert "Acknowledged" in json.dumps(updates_of(app, ref)[-1].params["blocks"])
    for ref, history in ((c, ["acknowledged"]), (d, ["resolved"])):
        assert actions(app, ref) == history and len(thread(app, ref)) == threads_before[ref]
        assert len(updates_of(app, ref)) == updates_before[ref]
    nothing = click(app, blocks, ids.QUEUE_BULK_ACK_ACTION, ticked=[])
    assert "Nothing was selected" in json.dumps(nothing["blocks"])
    assert_slack_happy(app)


def test_non_leads_cannot_page_or_acknowledge(lead_app, clock):
    app = lead_app
    [ref] = file_many(app, 1, clock)
    blocks = queue(app)["blocks"]
    before = len(app.standin.calls_to("response_url"))
    for action_id, ticked in ((ids.QUEUE_ACK_ACTION, None), (ids.QUEUE_BULK_ACK_ACTION, [ref])):
        button = element(blocks, action_id, ref if ticked is None else None)
        state = None
        if ticked:
            state = {
                ids.QUEUE_SELECT_BLOCK: {
                    ids.QUEUE_SELECT_ACTION: {
                        "type": "checkboxes",
                        "selected_options": [
                            {"value": ref, "text": {"type": "plain_text", "text": ref}}
                        ],
                    }
                }
            }
        reply = app.sender.block_action(
            user=NOT_A_LEAD,
            action_id=action_id,
            value=button["value"],
            channel_id=CHANNEL,
            container={"type": "message", "channel_id": CHANNEL, "is_ephemeral": True},
            state=state,
        )
        assert reply.status == 200
    refusals = app.standin.wait_for("response_url", before + 2)[before:]
    app.finish_listeners()
    for call in refusals:  # a private line below the list; the list itself stays
        assert ONLY_LEADS in call.params["text"] and call.params["replace_original"] is False
    assert actions(app, ref) == []


# -- Home -------------------------------------------------------------------------------------


def home_of(app: RunningApp, user: SlackUser = LEAD) -> dict[str, Any]:
    before = len(app.standin.calls_to("views.publish"))
    reply = app.sender.event(
        {"type": "app_home_opened", "user": user.id, "channel": "D0HOME", "tab": "home"}
    )
    assert reply.status == 200
    view = app.standin.wait_for("views.publish", before + 1)[before].params["view"]
    assert not validate_view(view, allowed_types=("home",))
    return view


def pick(app: RunningApp, view: dict[str, Any], action_id: str, value: str) -> dict[str, Any]:
    """Choose `value` in one of Home's filter menus; return the Home published in answer."""
    menu = element(view["blocks"], action_id)
    [chosen] = [o for o in menu["options"] if o["value"] == value]
    before = len(app.standin.calls_to("views.publish"))
    reply = app.sender.block_action(
        user=LEAD,
        action_id=action_id,
        block_id=ids.QUEUE_FILTER_BLOCK,
        action_type="static_select",
        selected_option=chosen,
        view={**view, "id": "VHOME0001"},
        container={"type": "view", "view_id": "VHOME0001"},
    )
    assert reply.status == 200, reply.text
    published = app.standin.wait_for("views.publish", before + 1)[before].params["view"]
    assert not validate_view(published, allowed_types=("home",))
    return published


def test_home_shows_counts_filters_and_the_queue(lead_app, clock):
    app = lead_app
    refs = file_many(app, 12, clock)
    anonymous, _ = file_anonymous(app, "drift fraud-model: anonymous drift")
    posted(app, anonymous)
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, refs[1])
    submit(app, LEAD, view, {ids.STATUS_BLOCK: "investigating", ids.OWNER_BLOCK: LEAD.id})
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, refs[2])
    submit(app, LEAD, view, {ids.DONE_BLOCK: "done", ids.PATTERN_BLOCK: "none"})
    settle(app)

    home = home_of(app)
    text = json.dumps(home, ensure_ascii=False)
    assert "New: *11*" in text and "Investigating: *1*" in text and "Acknowledged: *0*" in text
    assert "*Assigned to you:* *1*" in text
    assert "Model drift: *5*" in text and "Bias / fairness: *4*" in text
    assert "Governance: *3*" in text  # 4 filed, one resolved
    assert "system-0: *5*" in text and "system-1: *6*" in text and "fraud-model: *1*" in text
    assert refs_in(home["blocks"]) == [r for r in refs if r != refs[2]][:10]
    assert "Signals you own" in text and refs[1] in text

    drift = pick(app, home, ids.QUEUE_FILTER_KIND, "kind:drift")
    assert refs_in(drift["blocks"]) == [refs[0], refs[3], refs[6], refs[9], anonymous]
    assert json.loads(drift["private_metadata"])["f"] == {"kind": "drift"}
    both = pick(app, drift, ids.QUEUE_FILTER_IDENTITY, "anonymous")
    assert refs_in(both["blocks"]) == [anonymous]
    mine = pick(app, both, ids.QUEUE_FILTER_KIND, "any")
    mine = pick(app, mine, ids.QUEUE_FILTER_IDENTITY, "any")
    mine = pick(app, mine, ids.QUEUE_FILTER_OWNER, "owner:me")
    assert refs_in(mine["blocks"]) == [refs[1]]
    selected = element(mine["blocks"], ids.QUEUE_FILTER_OWNER)["initial_option"]["value"]
    assert selected == "owner:me"
    assert_slack_happy(app)


def test_home_pages_and_bulk_acknowledges_in_place(lead_app, clock):
    app = lead_app
    refs = file_many(app, 12, clock)
    home = home_of(app)
    before = len(app.standin.calls_to("views.publish"))
    button = element(home["blocks"], ids.QUEUE_NEXT_ACTION)
    app.sender.block_action(
        user=LEAD,
        action_id=ids.QUEUE_NEXT_ACTION,
        value=button["value"],
        view={**home, "id": "VHOME0001"},
        container={"type": "view", "view_id": "VHOME0001"},
    )
    second = app.standin.wait_for("views.publish", before + 1)[before].params["view"]
    assert refs_in(second["blocks"]) == refs[10:]
    button = element(second["blocks"], ids.QUEUE_BULK_ACK_ACTION)
    boxes = element(second["blocks"], ids.QUEUE_SELECT_ACTION)
    app.sender.block_action(
        user=LEAD,
        action_id=ids.QUEUE_BULK_ACK_ACTION,
        value=button["value"],
        view={**second, "id": "VHOME0001"},
        container={"type": "view", "view_id": "VHOME0001"},
        state={
            ids.QUEUE_SELECT_BLOCK: {
                ids.QUEUE_SELECT_ACTION: {
                    "type": "checkboxes",
                    "selected_options": boxes["options"],
                }
            }
        },
    )
    third = app.standin.wait_for("views.publish", before + 2)[before + 1].params["view"]
    assert refs_in(third["blocks"]) == refs[10:]  # the same page, now acknowledged
    assert f"Acknowledged {refs[10]}, {refs[11]}" in json.dumps(third, ensure_ascii=False)
    settle(app)
    for ref in refs[10:]:
        assert actions(app, ref) == ["acknowledged"] and len(thread(app, ref)) == 1
    assert all(actions(app, ref) == [] for ref in refs[:10])
    assert_slack_happy(app)


def test_a_members_home_has_no_queue(lead_app, clock):
    app = lead_app
    [ref] = file_many(app, 1, clock)
    home = home_of(app, BOB)
    text = json.dumps(home)
    assert "The queue" not in text and ref not in text and "private_metadata" not in home
