"""The Slack Web API stand-in, driven by a real slack_sdk.WebClient."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.standin import Call, SlackStandIn, validate_blocks, validate_view

TOKEN = "xoxb-standin"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=TOKEN, trigger_ttl=3.0) as stand_in:
        stand_in.add_channel("C1", name="ai-triage")
        stand_in.add_channel("C2", name="ai-other")
        stand_in.add_channel("CPRIV", name="secret", is_private=True, is_member=False)
        stand_in.add_channel("CPUB", name="public-not-joined", is_member=False)
        yield stand_in


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.url)


def api_error(call: Any, *args: Any, **kwargs: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Report"},
        "blocks": blocks if blocks is not None else [section("hello")],
        **extra,
    }


# ---- basics -----------------------------------------------------------------------------------


def test_url_and_daemon_threads(slack: SlackStandIn) -> None:
    assert slack.url.startswith("http://127.0.0.1:") and slack.url.endswith("/api/")
    assert slack._thread is not None and slack._thread.daemon
    assert slack._server is not None and slack._server.daemon_threads


def test_auth_test_and_recorded_call(slack: SlackStandIn, client: WebClient) -> None:
    response = client.auth_test()
    assert response["user_id"] == "UBOTSTANDIN"
    assert response["bot_id"] == "BSTANDIN"
    assert response["team_id"] == "TSTANDIN"
    assert response["url"] == "https://standin.slack.test/"
    (call,) = slack.calls
    assert isinstance(call, Call)
    assert call.method == "auth.test" and call.status == 200 and call.ok
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.response["ok"] is True
    assert call.at <= time.time()


def test_json_body_is_decoded(slack: SlackStandIn, client: WebClient) -> None:
    blocks = [section("*New report*")]
    metadata = {"event_type": "report_created", "event_payload": {"id": 7}}
    client.chat_postMessage(channel="C1", text="New report", blocks=blocks, metadata=metadata)
    (call,) = slack.calls_to("chat.postMessage")
    assert call.headers["content-type"].startswith("application/json")
    assert call.params == {
        "channel": "C1",
        "text": "New report",
        "blocks": blocks,
        "metadata": metadata,
    }
    assert json.loads(call.raw_body)["blocks"] == blocks


def test_form_body_is_decoded(slack: SlackStandIn, client: WebClient) -> None:
    blocks = [section("hi")]
    client.api_call(
        "chat.postMessage",
        params={"channel": "C1", "text": "[1, 2]", "blocks": json.dumps(blocks)},
    )
    (call,) = slack.calls_to("chat.postMessage")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == blocks
    assert call.params["text"] == "[1, 2]"  # free text is never decoded
    assert slack.messages("C1")[0]["blocks"] == blocks


def test_conversations_info_sent_as_form(slack: SlackStandIn, client: WebClient) -> None:
    info = client.conversations_info(channel="C1")["channel"]
    assert info == {
        "id": "C1",
        "name": "ai-triage",
        "is_private": False,
        "is_member": True,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_archived": False,
    }
    assert slack.calls_to("conversations.info")[0].params == {"channel": "C1"}
    assert api_error(client.conversations_info, channel="CNOPE").response["error"] == (
        "channel_not_found"
    )


def test_invalid_auth(slack: SlackStandIn) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=slack.url)
    assert api_error(wrong.auth_test).response["error"] == "invalid_auth"
    missing = WebClient(base_url=slack.url)
    assert api_error(missing.chat_postMessage, channel="C1", text="x").response["error"] == (
        "invalid_auth"
    )
    assert slack.messages("C1") == []
    assert slack.calls_to("auth.test") == []
    assert len(slack.calls_to("auth.test", include_errors=True)) == 1


def test_token_in_form_field_is_accepted(slack: SlackStandIn) -> None:
    body = f"token={TOKEN}&channel=C1&text=hi".encode()
    request = urllib.request.Request(
        f"{slack.url}chat.postMessage",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["ok"] is True


def test_invalid_json(slack: SlackStandIn) -> None:
    request = urllib.request.Request(
        f"{slack.url}chat.postMessage",
        data=b"{not json",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read()) == {"ok": False, "error": "invalid_json"}


def test_unknown_method(client: WebClient) -> None:
    assert api_error(client.api_call, "chat.frobnicate").response["error"] == "unknown_method"


def test_apps_connections_open(slack: SlackStandIn, client: WebClient) -> None:
    assert api_error(client.apps_connections_open, app_token="xapp-1-A").response["error"] == (
        "socket_mode_not_enabled"
    )
    slack.socket_mode_url = "ws://127.0.0.1:9/link"
    assert client.apps_connections_open(app_token="xapp-1-A")["url"] == "ws://127.0.0.1:9/link"
    assert api_error(client.apps_connections_open, app_token=TOKEN).response["error"] == (
        "invalid_auth"
    )


def test_usergroups_users_list(slack: SlackStandIn, client: WebClient) -> None:
    slack.add_usergroup("S1", users=["U1", "U2"])
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    error = api_error(client.usergroups_users_list, usergroup="S9")
    assert error.response["error"] == "no_such_subteam"


def test_bolt_app_boots_against_stand_in(slack: SlackStandIn) -> None:
    from slack_bolt import App

    app = App(client=WebClient(token=TOKEN, base_url=slack.url), signing_secret="secret")
    assert app.client.base_url == slack.url
    assert len(slack.calls_to("auth.test")) == 1


# ---- channels and messages ----------------------------------------------------------------------


def test_post_message_answer_and_store(slack: SlackStandIn, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="one")
    second = client.chat_postMessage(channel="#ai-triage", text="two")
    assert first["channel"] == "C1" and second["channel"] == "C1"
    assert abs(float(first["ts"]) - time.time()) < 60  # Unix time, as on Slack
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["text"] == "one"
    assert first["message"]["bot_id"] == "BSTANDIN"
    stored = slack.messages("C1")
    assert [m["text"] for m in stored] == ["one", "two"]
    assert stored[0] == {
        "ts": first["ts"],
        "channel": "C1",
        "text": "one",
        "blocks": None,
        "thread_ts": None,
        "metadata": None,
        "updated": 0,
    }


def test_channel_errors(slack: SlackStandIn, client: WebClient) -> None:
    post = client.chat_postMessage
    assert api_error(post, channel="CNOPE", text="x").response["error"] == "channel_not_found"
    assert api_error(post, channel="CPRIV", text="x").response["error"] == "not_in_channel"
    assert api_error(post, channel="CPUB", text="x").response["error"] == "not_in_channel"
    with pytest.warns(UserWarning, match="text"):
        assert api_error(post, channel="C1").response["error"] == "no_text"


def test_conversations_join(slack: SlackStandIn, client: WebClient) -> None:
    assert client.conversations_join(channel="CPUB")["channel"]["is_member"] is True
    assert client.chat_postMessage(channel="CPUB", text="hello")["ok"]
    error = api_error(client.conversations_join, channel="CPRIV")
    assert error.response["error"] == "method_not_supported_for_channel_type"
    assert api_error(client.conversations_join, channel="CX").response["error"] == (
        "channel_not_found"
    )


def test_long_text_is_truncated(slack: SlackStandIn, client: WebClient) -> None:
    assert client.chat_postMessage(channel="C1", text="x" * 40_050)["ok"]
    assert len(slack.messages("C1")[0]["text"]) == 40_000


def test_threads(slack: SlackStandIn, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="parent")["ts"]
    client.chat_postMessage(channel="C2", text="elsewhere")
    r1 = client.chat_postMessage(channel="C1", text="reply 1", thread_ts=parent)
    client.chat_postMessage(channel="C1", text="reply 2", thread_ts=parent)
    assert r1["message"]["thread_ts"] == parent
    assert [m["text"] for m in slack.thread("C1", parent)] == ["reply 1", "reply 2"]
    assert [m["text"] for m in slack.messages("C1")] == ["parent", "reply 1", "reply 2"]
    error = api_error(client.chat_postMessage, channel="C1", text="x", thread_ts="1.000001")
    assert error.response["error"] == "thread_not_found"
    other = slack.messages("C2")[0]["ts"]
    error = api_error(client.chat_postMessage, channel="C1", text="x", thread_ts=other)
    assert error.response["error"] == "thread_not_found"


def test_chat_update(slack: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="draft", blocks=[section("draft")])["ts"]
    answer = client.chat_update(channel="C1", ts=ts, text="final", blocks=[section("final")])
    assert answer["ts"] == ts and answer["text"] == "final"
    client.chat_update(channel="C1", ts=ts, text="final, again")
    (message,) = slack.messages("C1")
    assert message["text"] == "final, again"
    assert message["blocks"] == [section("final")]
    assert message["updated"] == 2

    update = client.chat_update
    assert api_error(update, channel="C1", ts="1.1", text="x").response["error"] == (
        "message_not_found"
    )
    assert api_error(update, channel="C1", ts=ts, text="x" * 4001).response["error"] == (
        "msg_too_long"
    )
    bad = [section("x" * 3001)]
    assert api_error(update, channel="C1", ts=ts, text="x", blocks=bad).response["error"] == (
        "invalid_blocks"
    )
    assert slack.messages("C1")[0]["updated"] == 2


def test_post_ephemeral_and_permalink(slack: SlackStandIn, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert answer["message_ts"]
    assert slack.ephemerals("C1")[0]["text"] == "only you"
    assert slack.messages("C1") == []
    ts = client.chat_postMessage(channel="C1", text="x")["ts"]
    link = client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert link == f"https://standin.slack.test/archives/C1/p{ts.replace('.', '')}"
    error = api_error(client.chat_getPermalink, channel="C1", message_ts="1.2")
    assert error.response["error"] == "message_not_found"


def test_direct_messages(slack: SlackStandIn, client: WebClient) -> None:
    slack.add_user("U1", name="alice")
    answer = client.chat_postMessage(channel="U1", text="psst")
    assert answer["channel"] == "D1"
    assert client.conversations_open(users="U1")["channel"]["id"] == "D1"
    assert [m["text"] for m in slack.messages("U1")] == ["psst"]
    assert slack.messages("D1") == slack.messages("U1")


# ---- failure injection -------------------------------------------------------------------------


def test_fail_next_429_with_retry_after(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=2)
    error = api_error(client.chat_postMessage, channel="C1", text="x")
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "2"
    assert error.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel="C1", text="x")["ok"]  # times=1
    statuses = [c.status for c in slack.calls_to("chat.postMessage", include_errors=True)]
    assert statuses == [429, 200]


def test_fail_next_500(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=500)
    error = api_error(client.chat_postMessage, channel="C1", text="x")
    assert error.response.status_code == 500
    assert error.response["error"] == "internal_error"
    assert "Retry-After" not in error.response.headers
    assert slack.messages("C1") == []


def test_fail_next_error_code_times(slack: SlackStandIn, client: WebClient) -> None:
    slack.fail_next("views.open", error="fatal_error", times=2)
    for _ in range(2):
        error = api_error(client.views_open, trigger_id="t", view=modal())
        assert error.response.status_code == 200
        assert error.response["error"] == "fatal_error"
    # the queue is empty again: the real check runs
    assert api_error(client.views_open, trigger_id="t", view=modal()).response["error"] == (
        "invalid_trigger_id"
    )


def test_rate_limit_retry_handler_recovers(slack: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=slack.url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    assert client.chat_postMessage(channel="C1", text="x")["ok"]
    assert len(slack.messages("C1")) == 1


def test_set_down(slack: SlackStandIn, client: WebClient) -> None:
    slack.set_down(True)
    error = api_error(client.auth_test)
    assert error.response.status_code == 503
    slack.set_down(False)
    assert client.auth_test()["ok"]


def test_reset_keeps_directory(slack: SlackStandIn, client: WebClient) -> None:
    client.conversations_join(channel="CPUB")
    client.chat_postMessage(channel="C1", text="x")
    slack.fail_next("auth.test")
    slack.reset()
    assert slack.calls == [] and slack.messages("C1") == []
    assert client.auth_test()["ok"]  # queued failure dropped
    assert client.chat_postMessage(channel="CPUB", text="still a member")["ok"]


# ---- rate limiting -------------------------------------------------------------------------------


def test_channel_rate_limit() -> None:
    # 2/s: three posts in a row fit well inside one refill even on a loaded machine.
    with SlackStandIn(bot_token=TOKEN, channel_rate_limit=(2.0, 2)) as slack:
        slack.add_channel("C1")
        slack.add_channel("C2")
        client = WebClient(token=TOKEN, base_url=slack.url)
        client.chat_postMessage(channel="C1", text="1")
        client.chat_postMessage(channel="C1", text="2")
        error = api_error(client.chat_postMessage, channel="C1", text="3")
        assert error.response.status_code == 429
        assert error.response["error"] == "ratelimited"
        assert int(error.response.headers["Retry-After"]) >= 1
        assert client.chat_postMessage(channel="C2", text="other channel")["ok"]
        time.sleep(0.6)  # 2/s refills one token in 500 ms
        assert client.chat_postMessage(channel="C1", text="3 again")["ok"]
        assert [m["text"] for m in slack.messages("C1")] == ["1", "2", "3 again"]


def test_channel_rate_limit_switched_at_run_time(slack: SlackStandIn, client: WebClient) -> None:
    slack.add_channel("C1")
    for n in range(5):  # no limit yet
        assert client.chat_postMessage(channel="C1", text=str(n))["ok"]
    slack.set_channel_rate_limit((1.0, 2))
    assert client.chat_postMessage(channel="C1", text="burst 1")["ok"]
    assert client.chat_postMessage(channel="C1", text="burst 2")["ok"]
    assert api_error(client.chat_postMessage, channel="C1", text="x").response.status_code == 429
    slack.set_channel_rate_limit(None)
    assert client.chat_postMessage(channel="C1", text="unlimited again")["ok"]
    with pytest.raises(ValueError):
        slack.set_channel_rate_limit((0.0, 1))


# ---- views ---------------------------------------------------------------------------------------


def test_views_open_and_single_use_trigger(slack: SlackStandIn, client: WebClient) -> None:
    trigger = slack.issue_trigger_id()
    view = client.views_open(trigger_id=trigger, view=modal(callback_id="report"))["view"]
    assert view["id"].startswith("V") and view["hash"].startswith("h")
    assert view["callback_id"] == "report" and view["title"]["text"] == "Report"
    assert slack.view(view["id"])["callback_id"] == "report"
    again = api_error(client.views_open, trigger_id=trigger, view=modal())
    assert again.response["error"] == "expired_trigger_id"
    never = api_error(client.views_open, trigger_id="123.456.abc", view=modal())
    assert never.response["error"] == "invalid_trigger_id"


def test_trigger_expires() -> None:
    with SlackStandIn(bot_token=TOKEN, trigger_ttl=0.2) as slack:
        client = WebClient(token=TOKEN, base_url=slack.url)
        fresh = slack.issue_trigger_id()
        stale = slack.issue_trigger_id()
        assert client.views_open(trigger_id=fresh, view=modal())["ok"]
        time.sleep(0.3)
        error = api_error(client.views_open, trigger_id=stale, view=modal())
        assert error.response["error"] == "expired_trigger_id"


def test_views_push_update_publish(slack: SlackStandIn, client: WebClient) -> None:
    opened = client.views_open(
        trigger_id=slack.issue_trigger_id(), view=modal(external_id="ext-1")
    )["view"]
    pushed = client.views_push(trigger_id=slack.issue_trigger_id(), view=modal())["view"]
    assert pushed["id"] != opened["id"]

    updated = client.views_update(view_id=opened["id"], view=modal([section("step 2")]))["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    by_external = client.views_update(external_id="ext-1", view=modal([section("step 3")]))
    assert by_external["view"]["blocks"] == [section("step 3")]
    conflict = api_error(
        client.views_update, view_id=opened["id"], hash=opened["hash"], view=modal()
    )
    assert conflict.response["error"] == "hash_conflict"
    assert api_error(client.views_update, view_id="V404", view=modal()).response["error"] == (
        "not_found"
    )

    home = {"type": "home", "blocks": [section("welcome")]}
    published = client.views_publish(user_id="U1", view=home)["view"]
    assert published["type"] == "home"
    assert client.views_publish(user_id="U1", view=home)["view"]["id"] == published["id"]
    wrong_type = api_error(client.views_publish, user_id="U1", view=modal())
    assert wrong_type.response["error"] == "invalid_arguments"
    too_many = {"type": "home", "blocks": [section("x")] * 101}
    assert api_error(client.views_publish, user_id="U1", view=too_many).response["error"] == (
        "invalid_arguments"
    )


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (modal(title={"type": "plain_text", "text": "x" * 25}), "/view/title/text"),
        (modal(submit={"type": "plain_text", "text": "x" * 25}), "/view/submit/text"),
        (modal(close={"type": "plain_text", "text": "x" * 25}), "/view/close/text"),
        (modal(private_metadata="x" * 3001), "/view/private_metadata"),
        (modal(callback_id="x" * 256), "/view/callback_id"),
        (modal([section("x")] * 101), "/view/blocks"),
        (
            modal(
                [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "What happened?"},
                        "element": {"type": "plain_text_input", "action_id": "a"},
                    }
                ]
            ),
            "/view/submit",
        ),
    ],
)
def test_view_limits(
    slack: SlackStandIn, client: WebClient, view: dict[str, Any], pointer: str
) -> None:
    trigger = slack.issue_trigger_id()
    error = api_error(client.views_open, trigger_id=trigger, view=view)
    assert error.response["error"] == "invalid_arguments"
    messages = error.response["response_metadata"]["messages"]
    assert any(f"[json-pointer:{pointer}]" in m for m in messages), messages
    # a rejected view does not use up the trigger
    assert client.views_open(trigger_id=trigger, view=modal())["ok"]


def test_modal_allows_100_blocks() -> None:
    assert validate_view(modal([section("x")] * 100)) == []
    assert validate_view({"type": "home", "blocks": [section("x")] * 100}) == []


# ---- Block Kit limits -------------------------------------------------------------------------


def button(text: str = "Go", value: str = "v", action_id: str = "go") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "value": value,
        "action_id": action_id,
    }


def option(text: str = "A", value: str = "a") -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def options(n: int) -> list[dict[str, Any]]:
    return [option(f"o{i}", f"v{i}") for i in range(n)]


def accessory(element: dict[str, Any]) -> dict[str, Any]:
    return {**section("pick"), "accessory": element}


def text_input(**extra: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "label": {"type": "plain_text", "text": "What happened?"},
        "element": {"type": "plain_text_input", "action_id": "what", **extra},
    }


BLOCK_LIMITS: list[tuple[str, list[dict[str, Any]], str]] = [
    ("message blocks", [section("x")] * 51, "/blocks"),
    ("section text", [section("x" * 3001)], "/blocks/0/text/text"),
    (
        "section fields count",
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        "/blocks/0/fields",
    ),
    (
        "section field length",
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
        "/blocks/0/fields/0/text",
    ),
    (
        "header text",
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        "/blocks/0/text/text",
    ),
    (
        "context elements",
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
        "/blocks/0/elements",
    ),
    (
        "actions elements",
        [{"type": "actions", "elements": [button(action_id=f"b{i}") for i in range(26)]}],
        "/blocks/0/elements",
    ),
    ("button text", [accessory(button(text="b" * 76))], "/blocks/0/accessory/text/text"),
    ("button value", [accessory(button(value="v" * 2001))], "/blocks/0/accessory/value"),
    (
        "option text",
        [accessory({"type": "static_select", "action_id": "s", "options": [option("o" * 76)]})],
        "/blocks/0/accessory/options/0/text/text",
    ),
    (
        "option value",
        [
            accessory(
                {"type": "static_select", "action_id": "s", "options": [option("o", "v" * 151)]}
            )
        ],
        "/blocks/0/accessory/options/0/value",
    ),
    (
        "static_select options",
        [accessory({"type": "static_select", "action_id": "s", "options": options(101)})],
        "/blocks/0/accessory/options",
    ),
    (
        "radio options",
        [accessory({"type": "radio_buttons", "action_id": "r", "options": options(11)})],
        "/blocks/0/accessory/options",
    ),
    (
        "checkboxes options",
        [accessory({"type": "checkboxes", "action_id": "c", "options": options(11)})],
        "/blocks/0/accessory/options",
    ),
    ("input max_length", [text_input(max_length=3001)], "/blocks/0/element/max_length"),
    (
        "input placeholder",
        [text_input(placeholder={"type": "plain_text", "text": "p" * 151})],
        "/blocks/0/element/placeholder/text",
    ),
    ("block_id", [{**section("x"), "block_id": "b" * 256}], "/blocks/0/block_id"),
    ("action_id", [accessory(button(action_id="a" * 256))], "/blocks/0/accessory/action_id"),
]


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [pytest.param(blocks, pointer, id=name) for name, blocks, pointer in BLOCK_LIMITS],
)
def test_block_limits(
    slack: SlackStandIn, client: WebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    error = api_error(client.chat_postMessage, channel="C1", text="fallback", blocks=blocks)
    assert error.response["error"] == "invalid_blocks"
    messages = error.response["response_metadata"]["messages"]
    assert any(m.endswith(f"[json-pointer:{pointer}]") for m in messages), messages
    assert all(m.startswith("[ERROR] ") for m in messages)
    assert slack.messages("C1") == []


def test_blocks_at_the_limits_are_accepted(client: WebClient) -> None:
    at_limits = [
        section("x" * 3000),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2000}] * 10},
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
        {"type": "actions", "elements": [button(action_id=f"b{i}") for i in range(25)]},
        accessory(button(text="b" * 75, value="v" * 2000, action_id="a" * 255)),
        accessory({"type": "static_select", "action_id": "s", "options": options(100)}),
        accessory({"type": "radio_buttons", "action_id": "r", "options": options(10)}),
        accessory(
            {"type": "static_select", "action_id": "t", "options": [option("o" * 75, "v" * 150)]}
        ),
        text_input(max_length=3000, placeholder={"type": "plain_text", "text": "p" * 150}),
        {"type": "divider", "block_id": "b" * 255},
    ]
    blocks = at_limits + [{"type": "divider"}] * (50 - len(at_limits))
    assert validate_blocks(blocks) == []
    assert client.chat_postMessage(channel="C1", text="fallback", blocks=blocks)["ok"]


def test_validate_blocks_surfaces_and_shapes() -> None:
    hundred = [{"type": "divider"}] * 100
    assert validate_blocks(hundred, surface="modal") == []
    assert validate_blocks(hundred, surface="home") == []
    assert validate_blocks(hundred, surface="message") != []
    assert validate_blocks("nope") == ["must be an array of blocks [json-pointer:/blocks]"]
    assert validate_blocks([{"type": "sectoin"}])[0].startswith("unknown block type")
    duplicate = [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}]
    assert "duplicate block_id" in validate_blocks(duplicate)[0]
    with pytest.raises(ValueError):
        validate_blocks([], surface="canvas")


def test_blocks_not_a_list(client: WebClient) -> None:
    error = api_error(client.api_call, "chat.postMessage", json={"channel": "C1", "blocks": 5})
    assert error.response["error"] == "invalid_blocks_format"


# ---- response_url and waiting ------------------------------------------------------------------


def test_response_url_is_recorded(slack: SlackStandIn) -> None:
    url = slack.new_response_url()
    assert url.startswith(f"http://127.0.0.1:{slack.port}/response/")
    answer = WebhookClient(url).send(text="Thanks, noted.", response_type="ephemeral")
    assert answer.status_code == 200 and json.loads(answer.body) == {"ok": True}
    (call,) = slack.calls_to("response_url")
    assert call.params == {"text": "Thanks, noted.", "response_type": "ephemeral"}
    assert call.path == urllib.request.urlparse(url).path

    unknown = f"http://127.0.0.1:{slack.port}/response/never-issued"
    assert WebhookClient(unknown).send(text="x").status_code == 404
    bad = WebhookClient(url).send(text="x", blocks=[section("x" * 3001)])
    assert bad.status_code == 400


def test_wait_for(slack: SlackStandIn, client: WebClient) -> None:
    def later() -> None:
        time.sleep(0.1)
        client.chat_postMessage(channel="C1", text="one")
        client.chat_postMessage(channel="C1", text="two")

    worker = threading.Thread(target=later, daemon=True)
    worker.start()
    calls = slack.wait_for("chat.postMessage", count=2, timeout=5.0)
    worker.join()
    assert [c.params["text"] for c in calls] == ["one", "two"]


def test_wait_for_timeout_lists_methods_seen(slack: SlackStandIn, client: WebClient) -> None:
    client.auth_test()
    api_error(client.chat_postMessage, channel="CNOPE", text="x")
    with pytest.raises(AssertionError) as info:
        slack.wait_for("chat.postMessage", timeout=0.2)
    message = str(info.value)
    assert "auth.test x1" in message
    assert "chat.postMessage -> channel_not_found x1" in message


def test_stop_releases_port() -> None:
    slack = SlackStandIn(bot_token=TOKEN).start()
    url = slack.url
    slack.stop()
    slack.stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}auth.test", data=b"", timeout=1)


# ---- history and answer faults ----------------------------------------------------------------


def test_history_returns_metadata_only_when_asked_for(slack, client):
    tag = {"event_type": "ai_signal_outbox", "event_payload": {"item": "abc"}}
    posted = client.chat_postMessage(channel="C1", text="tagged", metadata=tag)
    client.chat_postMessage(channel="C1", text="reply", thread_ts=posted["ts"], metadata=tag)
    plain = client.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in plain] == ["tagged"]  # replies are not in channel history
    assert "metadata" not in plain[0]
    full = client.conversations_history(channel="C1", include_all_metadata=True)["messages"]
    assert full[0]["metadata"] == tag
    thread = client.conversations_replies(channel="C1", ts=posted["ts"], include_all_metadata=True)[
        "messages"
    ]
    assert [m["text"] for m in thread] == ["tagged", "reply"]
    assert thread[1]["metadata"] == tag


def test_history_pages_newest_first_within_oldest(slack, client):
    first = client.chat_postMessage(channel="C1", text="first")
    for n in range(5):
        client.chat_postMessage(channel="C1", text=f"later {n}")
    page = client.conversations_history(channel="C1", oldest=first["ts"], limit=3)
    assert [m["text"] for m in page["messages"]] == ["later 4", "later 3", "later 2"]
    assert page["has_more"] is True
    rest = client.conversations_history(
        channel="C1", oldest=first["ts"], limit=3, cursor=page["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["later 1", "later 0"]
    assert rest["has_more"] is False


def test_history_needs_its_scope_when_scopes_are_set(slack, client):
    slack.scopes = frozenset({"chat:write"})
    with pytest.raises(SlackApiError) as raised:
        client.conversations_history(channel="C1")
    assert raised.value.response["error"] == "missing_scope"
    assert raised.value.response["needed"] == "channels:history"


def test_a_dropped_answer_still_stores_the_post(slack):
    client = WebClient(token=TOKEN, base_url=slack.url, retry_handlers=[])
    slack.drop_answer_next("chat.postMessage")
    with pytest.raises(OSError):
        client.chat_postMessage(channel="C1", text="stored, unanswered")
    assert [m["text"] for m in slack.messages("C1")] == ["stored, unanswered"]


def test_a_delayed_answer_outlasts_the_clients_timeout(slack):
    client = WebClient(token=TOKEN, base_url=slack.url, timeout=0.3, retry_handlers=[])
    slack.delay_answer_next("chat.postMessage", delay=1.0)
    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel="C1", text="stored, answered late")
    assert [m["text"] for m in slack.messages("C1")] == ["stored, answered late"]
