"""Digests and exports name no person; a lead may still have typed a Slack user id (or a raw
mention of one) into a lesson or a note. This replaces them with a neutral word."""

from __future__ import annotations

import re

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^<>]*)?>")
_USER_ID = re.compile(r"\b[UW](?=[A-Z0-9]*\d)[A-Z0-9]{8,}\b")


def redact_user_ids(text: str) -> str:
    """Free text with Slack user ids (and raw mentions of them) replaced by a neutral word."""
    return _USER_ID.sub("[someone]", _MENTION.sub("@[someone]", text))
