"""Follow-up codes: >= 128 bits of randomness, stored only as a keyed hash."""

from __future__ import annotations

import base64
import math
import re

from bot.services import codes


def _payload(code: str) -> str:
    return code.replace("-", "")


def test_code_carries_at_least_128_bits():
    code = codes.new_code()
    payload = _payload(code)
    assert re.fullmatch(r"[A-Z2-7]+", payload), code  # base32 alphabet, no padding
    assert len(payload) * 5 >= 128  # each base32 character carries 5 bits
    raw = base64.b32decode(payload + "=" * (-len(payload) % 8))
    assert len(raw) * 8 >= 128


def test_codes_are_distinct_and_spread():
    many = {codes.new_code() for _ in range(2000)}
    assert len(many) == 2000
    # Every position of the payload varies: not a counter or a timestamp.
    payloads = [_payload(c) for c in many]
    for position in range(len(payloads[0])):
        assert len({p[position] for p in payloads}) > 16
    # Rough entropy check over all characters: base32 is 5 bits per character.
    counts: dict[str, int] = {}
    for payload in payloads:
        for ch in payload:
            counts[ch] = counts.get(ch, 0) + 1
    total = sum(counts.values())
    entropy = -sum(n / total * math.log2(n / total) for n in counts.values())
    assert entropy > 4.9


def test_normalize_accepts_what_people_paste():
    code = codes.new_code()
    variants = [
        code,
        code.lower(),
        code.replace("-", ""),
        code.replace("-", " "),
        f"  `{code}`  ",
        code.replace("-", " - ").lower(),
    ]
    normal = codes.normalize_code(code)
    assert normal == _payload(code)
    key = b"k"
    for variant in variants:
        assert codes.normalize_code(variant) == normal
        assert codes.hash_code(variant, key=key) == codes.hash_code(code, key=key)


def test_hash_is_keyed_and_hides_the_code():
    code = codes.new_code()
    h1 = codes.hash_code(code, key=b"key-one")
    h2 = codes.hash_code(code, key=b"key-two")
    assert h1 != h2
    assert re.fullmatch(r"[0-9a-f]{64}", h1)
    assert _payload(code) not in h1 and code not in h1
    assert codes.hash_code(codes.new_code(), key=b"key-one") != h1
