"""The one keyed hash: follow-up codes, the replay guard, reveal tokens and the wrong-code
throttle all turn a value into an HMAC-SHA256 under a secret key, never storing the value."""

from __future__ import annotations

import hashlib
import hmac


def keyed_mac(key: bytes, message: str | bytes) -> bytes:
    """HMAC-SHA256 of `message` (text is UTF-8 encoded) under `key`."""
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(key, data, hashlib.sha256).digest()


def keyed_hash(key: bytes, message: str | bytes) -> str:
    """`keyed_mac` as lowercase hex, the form that is stored or sent."""
    return keyed_mac(key, message).hex()


def same(expected: str, given: str) -> bool:
    """A comparison that takes as long whatever `given` is (for MACs)."""
    return hmac.compare_digest(expected, given)
