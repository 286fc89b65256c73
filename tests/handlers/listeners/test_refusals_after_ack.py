"""A lead's click that a service refuses after the ack is answered at once and privately.

Most lead buttons ack first (finding out who is a lead may ask Slack) and only then read the
signal; a click on a signal that does not exist (a stale message, a hostile client) is refused
after the ack. Bolt would lose that ack: its runner resets the acknowledged response when the
listener raises and waits out its 3 s timeout, then answers Slack with nothing. Its warning for
that ("didn't call ack()") must never appear, and the lead gets the refusal next to the button.
"""

from __future__ import annotations

import json

import pytest

from handlers import ids
from tests.conftest import LEAD, TRIAGE

BUTTONS = [
    ids.ACKNOWLEDGE_ACTION,
    ids.REOPEN_ACTION,
    ids.TRIAGE_ACTION,
    ids.ASK_ACTION,
    ids.RESOLVE_ACTION,
    ids.TRACKER_ACTION,
    ids.DUPLICATE_ACTION,
    ids.QUEUE_ACK_ACTION,
]
MISSING = "SIG-999999"


def value_for(action_id: str) -> str:
    # The queue's quick Acknowledge carries its line as JSON; the triage post's buttons the ref.
    return json.dumps({"r": MISSING}) if action_id == ids.QUEUE_ACK_ACTION else MISSING


@pytest.mark.parametrize("action_id", BUTTONS)
def test_a_lead_button_on_a_missing_signal_is_refused_privately_and_acked(running_app, action_id):
    reply = running_app.sender.block_action(
        user=LEAD,
        action_id=action_id,
        value=value_for(action_id),
        channel_id=TRIAGE,
        message={"ts": "1.000001", "text": "x"},
        container={"type": "message", "channel_id": TRIAGE, "message_ts": "1.000001"},
    )
    running_app.finish_listeners()
    assert reply.status == 200 and not reply.body, (reply.status, reply.text[:200])
    assert "didn't call ack()" not in running_app.log.getvalue()
    [answer] = running_app.standin.calls_to("chat.postEphemeral")
    assert MISSING in answer.params["text"]
    assert running_app.standin.calls_to("views.open") == []


@pytest.mark.parametrize("action_id", BUTTONS)
def test_a_refused_click_on_the_home_tab_is_acked_at_once(running_app, action_id):
    """A click in a view (the Home tab) has no channel to answer in: the refusal is only logged,
    and the ack must still reach Slack. Whether Bolt lost it depended on which thread ran
    first, so each button is pressed a few times."""
    for _ in range(5):
        reply = running_app.sender.block_action(
            user=LEAD,
            action_id=action_id,
            value=value_for(action_id),
            container={"type": "view", "view_id": "VHOME0001"},
            view={"id": "VHOME0001", "type": "home", "callback_id": "", "private_metadata": ""},
        )
        running_app.finish_listeners()
        assert reply.status == 200 and not reply.body, (reply.status, reply.text[:200])
    assert "didn't call ack()" not in running_app.log.getvalue()
    assert running_app.standin.calls_to("views.open") == []
