"""Thread replies wait for their parent post: an anonymous signal released after a delay,
acknowledged and answered before it reached the triage channel (a clock the test moves)."""

from __future__ import annotations

from handlers import ids
from tests.conftest import LEAD, TRIAGE, MovableClock
from tests.handlers.listeners.triage.helpers import (
    actions,
    assert_slack_happy,
    buttons,
    command,
    field_text,
    file_anonymous,
    parent,
    press,
    settle,
    signal,
    thread,
)


def test_replies_to_an_unposted_anonymous_signal_follow_its_post(launcher):
    clock = MovableClock()
    app = launcher(clock=clock, AI_SIGNAL_ANON_DELAY="1")
    ref, code = file_anonymous(app)

    press(app, LEAD, ids.ACKNOWLEDGE_ACTION, ref)  # e.g. a replayed click, before the post
    app.finish_listeners()
    assert actions(app, ref) == ["acknowledged"]
    assert ref in command(app, f"reply {code} It began in March")
    app.finish_listeners()
    app.drain()  # whatever is due goes out now
    assert app.standin.calls_to("chat.postMessage", include_errors=True) == []
    assert app.standin.calls_to("chat.update", include_errors=True) == []
    assert signal(app, ref).triage_ts is None

    clock.advance(120)  # past the release (the delay is rounded up to a whole minute)
    settle(app)
    assert signal(app, ref).triage_ts
    assert len(thread(app, ref)) == 2

    posts = app.standin.calls_to("chat.postMessage")
    parent_ts = signal(app, ref).triage_ts
    assert "thread_ts" not in posts[0].params  # the parent went first …
    assert posts[0].response["ts"] == parent_ts
    assert [p.params.get("thread_ts") for p in posts[1:]] == [parent_ts, parent_ts]  # … then these
    assert [m["thread_ts"] for m in app.standin.messages(TRIAGE)] == [None, parent_ts, parent_ts]
    texts = thread(app, ref)
    assert "acknowledged" in texts[0]
    assert "The reporter (anonymous) replied" in texts[1] and "It began in March" in texts[1]
    message = parent(app, ref)
    assert "Acknowledged" in field_text(message)
    assert ids.ACKNOWLEDGE_ACTION not in buttons(message)

    # Once posted, an anonymous answer is still held back by the delay.
    command(app, f"reply {code} And again in May")
    settle(app)
    assert len(thread(app, ref)) == 2
    clock.advance(120)
    settle(app)
    assert len(thread(app, ref)) == 3
    assert "And again in May" in thread(app, ref)[-1]
    assert_slack_happy(app)
