"""Files into a channel through Slack's external upload flow: `files.getUploadURLExternal`, the
bytes POSTed to the URL it answers, then `files.completeUploadExternal` sharing the file with a
comment. slack-sdk's `files_upload_v2` does exactly these three steps (files:write).

`UploadFailed` carries a short reason that names no person (Slack's error code, an HTTP status
or an exception's class), safe to log and to show to whoever asked.
"""

from __future__ import annotations

import urllib.error

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError


class UploadFailed(Exception):
    """The file did not reach the channel; str() is the reason."""


def upload_file(
    client: WebClient,
    *,
    channel: str,
    content: bytes,
    filename: str,
    title: str,
    comment: str | None = None,
    thread_ts: str | None = None,
    alt_txt: str | None = None,
) -> str:
    """Share `content` in `channel` (with `comment` as its message); the file's id."""
    try:
        response = client.files_upload_v2(
            channel=channel,
            content=content,
            filename=filename,
            title=title,
            initial_comment=comment,
            thread_ts=thread_ts,
            alt_txt=alt_txt,
        )
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else None
        raise UploadFailed(str(code or "slack_error")) from None
    except urllib.error.HTTPError as error:  # the upload URL refused the bytes
        raise UploadFailed(f"upload refused: HTTP {error.code}") from None
    except (SlackRequestError, OSError, TimeoutError) as error:
        raise UploadFailed(f"connection: {type(error).__name__}") from None
    file = response.get("file") or {}
    return str(file.get("id") or "")
