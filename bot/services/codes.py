"""Follow-up codes for anonymous reporters: shown once, stored only as a keyed hash."""

from __future__ import annotations

import base64
import secrets

from bot.services.keyed import keyed_hash

CODE_BYTES = 20  # 160 bits of randomness (the promise is at least 128)
_GROUP = 4


def new_code() -> str:
    """A fresh code such as `K3JD-7QXA-…` (8 groups of 4 base32 characters)."""
    raw = base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode("ascii")
    return "-".join(raw[i : i + _GROUP] for i in range(0, len(raw), _GROUP))


def normalize_code(text: str) -> str:
    """What people paste back: any case, with or without dashes and spaces."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def hash_code(code: str, *, key: bytes) -> str:
    return keyed_hash(key, normalize_code(code).encode("ascii", "ignore"))
