"""The stand-in's external file upload flow, driven by slack-sdk's own `files_upload_v2` and by
the two Web API methods called one by one, with Slack's argument checks and error codes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.standin import SlackStandIn

TOKEN = "xoxb-standin"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=TOKEN) as stand_in:
        stand_in.add_channel("C1", name="ai-digest")
        stand_in.add_channel("CPUB", name="not-joined", is_member=False)
        yield stand_in


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.url)


def error_of(call, **kwargs) -> str:
    with pytest.raises(SlackApiError) as info:
        call(**kwargs)
    return info.value.response["error"]


def post(url: str, data: bytes) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_files_upload_v2_shares_the_file_in_the_channel_with_its_comment(slack, client):
    response = client.files_upload_v2(
        channel="C1",
        content=PNG,
        filename="chart.png",
        title="Signals by kind",
        initial_comment="The last eight weeks",
    )
    assert response["ok"] and response["file"]["title"] == "Signals by kind"
    methods = [c.method for c in slack.calls]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    asked = slack.calls_to("files.getUploadURLExternal")[0].params
    assert asked["filename"] == "chart.png" and int(asked["length"]) == len(PNG)
    assert slack.calls_to("upload")[0].raw_body == PNG
    [stored] = slack.files()
    assert stored.data == PNG and stored.completed and stored.channel == "C1"
    [message] = slack.messages("C1")
    assert message["text"] == "The last eight weeks"
    assert message["files"] == [{"id": stored.id, "name": "chart.png", "title": "Signals by kind"}]


def test_get_upload_url_checks_its_arguments(slack, client):
    assert (
        error_of(client.api_call, api_method="files.getUploadURLExternal", params={"length": 3})
        == "invalid_arguments"
    )
    assert (
        error_of(
            client.api_call, api_method="files.getUploadURLExternal", params={"filename": "a.png"}
        )
        == "invalid_arguments"
    )
    for bad in (0, -5, "many"):
        assert (
            error_of(client.files_getUploadURLExternal, filename="a.png", length=bad)
            == "invalid_arguments"
        )
    answer = client.files_getUploadURLExternal(filename="a.png", length=3)
    assert answer["file_id"].startswith("F") and answer["upload_url"].startswith(slack.base_url)


def test_the_upload_url_takes_exactly_the_announced_bytes_once(slack, client):
    answer = client.files_getUploadURLExternal(filename="a.png", length=3)
    assert post(answer["upload_url"], b"toolong")[0] == 400
    assert post(answer["upload_url"], b"abc") == (200, "OK - 3")
    assert post(slack.base_url + "/upload/v1/nosuchtoken", b"abc")[0] == 404
    client.files_completeUploadExternal(files=[{"id": answer["file_id"], "title": "A"}])
    assert post(answer["upload_url"], b"abc")[0] == 404  # used up


def test_complete_upload_errors(slack, client):
    def started(data: bytes | None = b"abc") -> str:
        answer = client.files_getUploadURLExternal(filename="a.png", length=3)
        if data is not None:
            post(answer["upload_url"], data)
        return answer["file_id"]

    complete = client.files_completeUploadExternal
    assert (
        error_of(
            client.api_call, api_method="files.completeUploadExternal", params={"channel_id": "C1"}
        )
        == "invalid_arguments"
    )
    assert (
        error_of(
            client.api_call, api_method="files.completeUploadExternal", params={"files": "not json"}
        )
        == "invalid_arguments"
    )
    assert error_of(complete, files=[{"id": "F404"}], channel_id="C1") == "file_not_found"
    assert error_of(complete, files=[{"id": started(None)}], channel_id="C1") == "file_not_found"
    assert error_of(complete, files=[{"id": started()}], channel_id="CNOPE") == "channel_not_found"
    assert error_of(complete, files=[{"id": started()}], channel_id="CPUB") == "not_in_channel"
    assert (
        error_of(complete, files=[{"id": started()}], channel_id="C1", thread_ts="1.000001")
        == "thread_not_found"
    )
    file_id = started()
    assert complete(files=[{"id": file_id, "title": "A"}], channel_id="C1")["ok"]
    assert error_of(complete, files=[{"id": file_id}], channel_id="C1") == "file_not_found"
    assert len(slack.messages("C1")) == 1 and slack.messages("CPUB") == []


def test_complete_without_a_channel_keeps_the_file_private(slack, client):
    client.files_upload_v2(content=b"abc", filename="a.txt", title="A")
    [stored] = slack.files()
    assert stored.completed and stored.channel is None
    assert slack.messages("C1") == []


def test_without_files_write_both_methods_say_missing_scope(client):
    with SlackStandIn(bot_token=TOKEN, scopes=["chat:write"]) as narrow:
        narrow_client = WebClient(token=TOKEN, base_url=narrow.url)
        assert (
            error_of(narrow_client.files_getUploadURLExternal, filename="a", length=1)
            == "missing_scope"
        )
        assert (
            error_of(narrow_client.files_completeUploadExternal, files=[{"id": "F1"}])
            == "missing_scope"
        )


def test_a_failed_upload_post_stops_files_upload_v2(slack, client):
    slack.fail_next("upload", status=500)
    # slack-sdk opens the upload URL with urllib: a 500 is urllib's HTTPError.
    with pytest.raises((SlackRequestError, urllib.error.HTTPError)):
        client.files_upload_v2(channel="C1", content=PNG, filename="chart.png", title="T")
    assert slack.calls_to("files.completeUploadExternal", include_errors=True) == []
    assert json.dumps([f.completed for f in slack.files()]) == "[false]"
