"""User text can never ping @channel/@here/a user or group, nor forge a link."""

from __future__ import annotations

import json

from handlers import ids
from tests.conftest import ALICE, TRIAGE, signal_rows

FORBIDDEN = ("<!", "<@U123>", "<https://evil|", "<http://evil|", "<#C")


def assert_posts_are_inert(app, count: int) -> None:
    app.settle()
    calls = app.standin.wait_for("chat.postMessage", count)
    assert len(app.standin.calls_to("chat.postMessage", include_errors=True)) == count
    for call in calls:
        for key in ("text", "blocks"):
            dumped = json.dumps(call.params.get(key), ensure_ascii=False)
            for forbidden in FORBIDDEN:
                assert forbidden not in dumped, (key, forbidden, dumped)
        assert call.params.get("unfurl_links") is False
        assert call.params.get("unfurl_media") is False
        assert not call.params.get("link_names")
        assert call.params.get("parse") in (None, "none")


def test_command_text_with_live_tokens(running_app):
    # What Slack puts in the form when someone types @channel, @here, @U123, a user group, a
    # channel and a labelled link into the command (tokens stay live, other text is escaped).
    slack_text = (
        "drift <!channel> <!here> <!everyone> <!subteam^S0LEADS|@leads> <@U123|bob> "
        "<#C0SECRET|secret> <https://evil|Click here> &lt;!channel&gt; a &amp; b"
    )
    reply = running_app.sender.command(user=ALICE, text=slack_text)
    assert reply.status == 200 and "SIG-1" in reply.json()["text"]
    [row] = signal_rows(running_app)
    # Stored as plain words: the intent is kept, the tokens are gone.
    assert "<" not in row.text.replace("<!channel>", "")  # only the one typed as text remains
    assert "@channel" in row.text and "@leads" in row.text and "@bob" in row.text
    assert "Click here (https://evil)" in row.text
    assert "a & b" in row.text
    assert_posts_are_inert(running_app, 1)
    blocks = json.dumps(running_app.standin.messages(TRIAGE)[0]["blocks"])
    assert "&lt;!channel&gt;" in blocks  # shown as text, not a mention


def test_modal_raw_text(running_app):
    assert running_app.sender.command(user=ALICE, text="").status == 200
    view = running_app.standin.wait_for("views.open")[0].params["view"]
    raw = "<!here> <@U123> <https://evil|x> & stuff"

    def option(value):
        return {"text": {"type": "plain_text", "text": value}, "value": value}

    reply = running_app.sender.view_submission(
        user=ALICE,
        view=view,
        values={
            ids.KIND_BLOCK: {ids.KIND_INPUT: {"selected_option": option("bias")}},
            ids.SYSTEM_BLOCK: {ids.SYSTEM_INPUT: {"value": "<!channel> model"}},
            ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"value": raw}},
            ids.IMPACT_BLOCK: {ids.IMPACT_INPUT: {"value": "<!subteam^S1> <@U123>"}},
            ids.IDENTITY_BLOCK: {
                ids.IDENTITY_INPUT: {"selected_option": option(ids.IDENTITY_NAMED)}
            },
        },
    )
    assert reply.json()["response_action"] == "update"
    [row] = signal_rows(running_app)
    assert row.text == raw  # stored exactly as typed
    assert_posts_are_inert(running_app, 1)
    post = json.dumps(running_app.standin.messages(TRIAGE)[0], ensure_ascii=False)
    assert "&lt;!here&gt; &lt;@U123&gt; &lt;https://evil|x&gt; &amp; stuff" in post
    # The receipt in the modal is inert too.
    assert "<!" not in json.dumps(reply.json())


def test_anonymous_posts_inert(running_app):
    running_app.sender.command(user=ALICE, text="anon bias <!channel> <@U123|x> <https://evil|y>")
    assert_posts_are_inert(running_app, 1)
