"""The filing form never makes the name/anonymous choice for the reporter: nothing is
preselected (unless they already chose, as with `/ai-signal anon`), and a submission without a
choice is refused with the identity field's error and stores nothing."""

from __future__ import annotations

import json

from slack_sdk import WebClient

from handlers import ids
from handlers.blocks.intake import IDENTITY_REQUIRED
from models import OutboxItem, SeenRequest, Signal
from tests.conftest import ALICE, BOT_TOKEN, count_rows, signal_rows
from tests.handlers.listeners.triage.helpers import state_values


def identity_element(view: dict) -> dict:
    [block] = [b for b in view["blocks"] if b.get("block_id") == ids.IDENTITY_BLOCK]
    assert block["type"] == "input" and not block.get("optional")
    return block["element"]


def opened_view(app, before: int) -> dict:
    """The view of the next views.open, as Slack stored it (with its id)."""
    return app.standin.wait_for("views.open", before + 1)[before].response["view"]


def command_form(app, text: str = "") -> dict:
    before = len(app.standin.calls_to("views.open"))
    reply = app.sender.command(user=ALICE, text=text)
    assert reply.status == 200, reply.text
    return opened_view(app, before)


def answers(*, identity: str | None, kind: str = "drift", text: str = "scores drift") -> dict:
    return {ids.KIND_BLOCK: kind, ids.TEXT_BLOCK: text, ids.IDENTITY_BLOCK: identity}


def submit(app, view: dict, **fields) -> dict:
    reply = app.sender.view_submission(
        user=ALICE, view=view, values=state_values(view, answers(**fields)), view_id=view["id"]
    )
    assert reply.status == 200, reply.text
    return reply.json()


def test_every_way_to_the_form_leaves_the_choice_open(running_app, standin):
    home_before = len(standin.calls_to("views.open"))
    reply = running_app.sender.block_action(
        user=ALICE,
        action_id=ids.HOME_OPEN_MODAL_ACTION,
        container={"type": "view", "view_id": "VHOME"},
        view={"id": "VHOME", "type": "home"},
    )
    assert reply.status == 200
    from_home = opened_view(running_app, home_before)

    standin.add_channel("CMLTEAM001", name="ml-team", is_member=True)
    message = WebClient(base_url=standin.url, token=BOT_TOKEN).chat_postMessage(
        channel="CMLTEAM001", text="precision fell"
    )
    shortcut_before = len(standin.calls_to("views.open"))
    reply = running_app.sender.message_shortcut(
        user=ALICE,
        callback_id=ids.RAISE_SHORTCUT,
        channel_id="CMLTEAM001",
        message={"text": "precision fell", "ts": message["ts"]},
    )
    assert reply.status == 200
    from_shortcut = opened_view(running_app, shortcut_before)

    forms = {
        "/ai-signal": command_form(running_app),
        "/ai-signal <text>": command_form(running_app, "the chatbot invents refund rules"),
        "Home button": from_home,
        "shortcut": from_shortcut,
    }
    for where, view in forms.items():
        assert view["callback_id"] == ids.SIGNAL_MODAL, where
        element = identity_element(view)
        assert element["type"] == "radio_buttons", where
        assert "initial_option" not in element, where
        assert {o["value"] for o in element["options"]} == {
            ids.IDENTITY_NAMED,
            ids.IDENTITY_ANONYMOUS,
        }
        [block] = [b for b in view["blocks"] if b.get("block_id") == ids.IDENTITY_BLOCK]
        assert "cannot be taken back" in block["hint"]["text"], where


def test_anon_alone_opens_the_form_with_anonymous_chosen(running_app):
    for word in ("anon", "anonymous", "ANON"):
        reply_before = len(running_app.standin.calls_to("views.open"))
        reply = running_app.sender.command(user=ALICE, text=word)
        assert reply.status == 200
        assert not reply.body  # no "Tell me the kind…": the form opens instead
        view = opened_view(running_app, reply_before)
        assert view["callback_id"] == ids.SIGNAL_MODAL
        assert identity_element(view)["initial_option"]["value"] == ids.IDENTITY_ANONYMOUS
    assert count_rows(running_app, Signal) == 0

    # Submitted as it opened (anonymous chosen), it files anonymously.
    answer = submit(running_app, view, identity=ids.IDENTITY_ANONYMOUS)
    assert answer["response_action"] == "update"
    assert "anonymously" in json.dumps(answer["view"])
    [row] = signal_rows(running_app)
    assert row.anonymous is True and row.reporter_id is None


def test_a_form_without_a_choice_is_refused_and_stores_nothing(running_app):
    view = command_form(running_app)
    answer = submit(running_app, view, identity=None)
    assert answer == {
        "response_action": "errors",
        "errors": {ids.IDENTITY_BLOCK: IDENTITY_REQUIRED},
    }
    message = answer["errors"][ids.IDENTITY_BLOCK]
    assert "\n" not in message and len(message) <= 150  # one line, within Slack's limit
    assert "can't be taken back" in message  # it says why
    # Nothing stored: no signal, no pending post, not even the replay guard of the view id.
    assert count_rows(running_app, Signal) == 0
    assert count_rows(running_app, OutboxItem) == 0
    assert count_rows(running_app, SeenRequest) == 0

    # A value Slack would never send is no choice either.
    assert list(submit(running_app, view, identity="bogus")["errors"]) == [ids.IDENTITY_BLOCK]

    # Other mistakes are reported in the same answer, each next to its field.
    both = submit(running_app, view, identity=None, text="  ")
    assert set(both["errors"]) == {ids.IDENTITY_BLOCK, ids.TEXT_BLOCK}
    assert count_rows(running_app, Signal) == 0

    # Once the reporter picks one, the same form (same view id) is filed under that choice.
    answer = submit(running_app, view, identity=ids.IDENTITY_NAMED)
    assert answer["response_action"] == "update"
    assert "under your name" in json.dumps(answer["view"])
    [row] = signal_rows(running_app)
    assert row.anonymous is False and row.reporter_id == ALICE.id
