"""The App Home tab for leads and members, its Raise button, and the "Raise as AI signal"
message shortcut."""

from __future__ import annotations

import json

from slack_sdk import WebClient

from handlers import ids
from tests.conftest import ALICE, BOT_TOKEN, LEAD, MovableClock
from tests.handlers.listeners.triage.helpers import (
    BOB,
    assert_slack_happy,
    command,
    file_named,
    open_modal,
    posted,
    settle,
    submit,
)

HOURS = 3600


def home_of(app, user, *, event_id=None) -> dict:
    before = len(app.standin.calls_to("views.publish"))
    reply = app.sender.event(
        {"type": "app_home_opened", "user": user.id, "channel": "D0HOME", "tab": "home"},
        event_id=event_id,
    )
    assert reply.status == 200
    call = app.standin.wait_for("views.publish", before + 1)[before]
    assert call.params["user_id"] == user.id
    return call.params["view"]


def raise_button(view: dict) -> list[str]:
    return [
        e["action_id"]
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.HOME_OPEN_MODAL_ACTION
    ]


def test_home_for_a_lead_and_for_a_member(launcher):
    clock = MovableClock(offset=-2 * HOURS)  # file and post "two hours ago"
    app = launcher(clock=clock)
    mine = file_named(app, "drift alice's named signal", user=ALICE)
    command(app, "anon bias alice's anonymous signal", user=ALICE)
    owned = file_named(app, "governance bob's signal owned by the lead", user=BOB)
    for ref in (mine, owned):
        posted(app, ref)
    settle(app)
    view = open_modal(app, LEAD, ids.TRIAGE_ACTION, owned)
    assert (
        submit(app, LEAD, view, {ids.STATUS_BLOCK: "investigating", ids.OWNER_BLOCK: LEAD.id})
        is None
    )
    settle(app)
    clock.offset = 0  # now

    lead_home = home_of(app, LEAD)
    assert lead_home["type"] == "home"
    text = json.dumps(lead_home, ensure_ascii=False)
    assert "The queue" in text
    assert "New: *2*" in text and "Investigating: *1*" in text and "Resolved" not in text
    waiting = [
        b["text"]["text"]
        for b in lead_home["blocks"]
        if b["type"] == "section" and "New · waiting" in b["text"]["text"]
    ]
    assert len(waiting) == 2  # the named one and the anonymous one, in the queue
    assert any(mine in line and "waiting 2 h" in line for line in waiting), waiting
    owned_lines = [
        b["text"]["text"]
        for b in lead_home["blocks"]
        if b["type"] == "section" and owned in b["text"]["text"]
    ]
    assert any("Investigating" in line for line in owned_lines), owned_lines
    assert raise_button(lead_home) == [ids.HOME_OPEN_MODAL_ACTION]

    member_home = home_of(app, ALICE)
    text = json.dumps(member_home, ensure_ascii=False)
    assert mine in text and "alice's named signal" in text and "New" in text
    assert "anonymous signal" not in text  # never her anonymous one
    assert owned not in text and "The queue" not in text
    assert raise_button(member_home) == [ids.HOME_OPEN_MODAL_ACTION]

    # A retried event (same event_id) publishes nothing new.
    home_of(app, BOB, event_id="EvHOME000001")
    app.sender.event(
        {"type": "app_home_opened", "user": BOB.id, "tab": "home"}, event_id="EvHOME000001"
    )
    home_of(app, LEAD)
    published_for = [c.params["user_id"] for c in app.standin.calls_to("views.publish")]
    assert published_for == [LEAD.id, ALICE.id, BOB.id, LEAD.id]

    # The Raise button opens the /ai-signal modal.
    opened = len(app.standin.calls_to("views.open"))
    reply = app.sender.block_action(
        user=ALICE,
        action_id=ids.HOME_OPEN_MODAL_ACTION,
        container={"type": "view", "view_id": "VHOME"},
        view={"id": "VHOME", "type": "home"},
    )
    assert reply.status == 200
    [modal] = app.standin.wait_for("views.open", opened + 1)[opened:]
    assert modal.params["view"]["callback_id"] == ids.SIGNAL_MODAL
    assert_slack_happy(app)


def test_message_shortcut_opens_a_prefilled_modal(app, standin):
    standin.add_channel("CMLTEAM001", name="ml-team", is_member=True)
    posted_message = WebClient(base_url=standin.url, token=BOT_TOKEN).chat_postMessage(
        channel="CMLTEAM001", text="precision fell"
    )
    text = "Precision fell &lt;again&gt; &amp; <!here> look"
    reply = app.sender.message_shortcut(
        user=ALICE,
        callback_id=ids.RAISE_SHORTCUT,
        channel_id="CMLTEAM001",
        message={"text": text, "ts": posted_message["ts"], "user": "UOTHER0001"},
    )
    assert reply.status == 200, reply.text
    [link] = standin.wait_for("chat.getPermalink")
    assert link.params["channel"] == "CMLTEAM001"
    assert link.params["message_ts"] == posted_message["ts"]
    [opened] = standin.wait_for("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == ids.SIGNAL_MODAL
    text_block = next(b for b in view["blocks"] if b.get("block_id") == ids.TEXT_BLOCK)
    initial = text_block["element"]["initial_value"]
    assert initial.startswith("Precision fell <again> & @here look")
    assert link.response["permalink"] in initial
    assert_slack_happy(app)


def test_message_shortcut_without_a_permalink_still_opens_the_modal(app, standin):
    reply = app.sender.message_shortcut(
        user=ALICE,
        callback_id=ids.RAISE_SHORTCUT,
        channel_id="CGENERAL01",
        message={"text": "the chatbot answered in the wrong language", "ts": "1699999999.000001"},
    )
    assert reply.status == 200
    [opened] = standin.wait_for("views.open")
    text_block = next(
        b for b in opened.params["view"]["blocks"] if b.get("block_id") == ids.TEXT_BLOCK
    )
    assert text_block["element"]["initial_value"] == "the chatbot answered in the wrong language"
    assert_slack_happy(app, allowed={"message_not_found"})  # the permalink lookup, provoked
