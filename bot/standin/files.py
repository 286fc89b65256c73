"""The stand-in's file uploads: Slack's external upload flow, as slack-sdk's `files_upload_v2`
drives it.

1. `files.getUploadURLExternal` (filename, length; alt_txt, snippet_type optional) answers
   `upload_url` and `file_id`. Both arguments are required, `length` a positive whole number.
2. The bytes are POSTed to `upload_url` (any content type; the body is the file). The stand-in
   answers `OK - <length>` as text, like Slack, and 400 when the body is not `length` bytes long;
   an unknown or used URL answers 404.
3. `files.completeUploadExternal` (files=[{id, title}] as JSON; channel_id, initial_comment,
   thread_ts optional) finishes the upload and, with a channel, shares the file there as one
   message (its text is the initial comment). Errors: `invalid_arguments` (files missing or not a
   list of objects with an id), `file_not_found` (an id that was never issued, was completed
   already, or whose bytes never arrived), `channel_not_found`, `not_in_channel`,
   `thread_not_found`, `missing_scope` (files:write, when the workspace has a scope list).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FILES_SCOPE", "StoredFile"]

FILES_SCOPE = "files:write"


@dataclass
class StoredFile:
    id: str
    filename: str
    length: int
    alt_txt: str | None
    token: str
    data: bytes | None = None
    title: str | None = None
    channel: str | None = None
    completed: bool = False
    shares: list[str] = field(default_factory=list)


def parse_length(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def parse_files(value: Any) -> list[dict[str, Any]] | None:
    """The `files` argument of files.completeUploadExternal: a JSON list of {id, title?}."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, list) or not value:
        return None
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            return None
        if "title" in item and not isinstance(item["title"], str):
            return None
    return value


def new_upload_token() -> str:
    return secrets.token_urlsafe(16)
