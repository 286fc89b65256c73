"""Refuse before parsing: an unsigned, badly signed or stale request is answered 401 whatever its
body, nothing is parsed or stored, and a flood of them is one counted WARNING line a minute."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import urllib.error
import urllib.request

import pytest

from bot.http import MAX_BODY_BYTES, RefusalLog
from tests.bot.http.edge.conftest import FORM, stored_state
from tests.conftest import ALICE, SIGNING_SECRET

GARBAGE = [
    b"",
    b"{",
    b'{"type": "view_submission", "view": 5}',
    b"payload=%7Bnot-json",
    b"payload=" + b"%5B" * 5000,
    b'[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["',
    b"\xff\xfe\x00garbage\x80",
    b"command=%2Fai-signal&text=drift+forged&user_id=UALICE0001",
    bytes(range(256)),
]
CONTENT_TYPES = ["application/json", FORM, "text/plain", ""]


# Refusals are about what arrives on the socket: these requests go over real HTTP.
TRANSPORT = "http"


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def sign(body: bytes, timestamp: int) -> str:
    """Slack's signature over the raw bytes (slack-sdk's helper wants UTF-8 text)."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


def refusal_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "without a valid Slack signature" in line]


def test_garbage_without_a_valid_signature_is_refused_quietly(edge_app):
    url = edge_app.sender.url
    before, log_before = stored_state(edge_app), len(edge_app.log.getvalue())
    now = int(time.time())
    sent = 0
    for body in GARBAGE:
        for content_type in CONTENT_TYPES:
            variants = [
                {},  # no signature headers at all
                {"X-Slack-Request-Timestamp": str(now)},
                {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=" + "0" * 64},
                {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "1" * 64},
                {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": "v0=2"},
            ]
            for headers in variants:
                status, answer = raw_post(url, body, {"Content-Type": content_type, **headers})
                assert status == 401, (body[:40], content_type, headers, answer)
                sent += 1
            # Validly signed, but for a time outside the 5-minute window.
            for age in (360, -360, 10**6):
                stamp = int(time.time()) - age
                reply = edge_app.sender.post(
                    body,
                    content_type=content_type,
                    timestamp=stamp,
                    signature=sign(body, stamp),
                )
                assert reply.status == 401, (body[:40], age, reply.text)
                sent += 1
    assert sent > 150
    assert stored_state(edge_app) == before
    log = edge_app.log.getvalue()[log_before:]
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    # At most one line for the whole burst (the minute has not passed), with a count, and
    # nothing of any body in it.
    lines = refusal_lines(log)
    assert len(lines) <= 1, lines
    for line in lines:
        assert " WARNING ai_signal.http: refused " in line and len(line) < 250
        assert "forged" not in line and "garbage" not in line
    assert "forged" not in log and "UALICE0001" not in log


def test_an_oversized_body_is_refused_unread(edge_app):
    before = stored_state(edge_app)
    body = b"command=%2Fai-signal&text=drift+" + b"x" * MAX_BODY_BYTES
    reply = edge_app.sender.post(body, content_type=FORM)  # signed, but too big to read
    assert reply.status == 413
    assert stored_state(edge_app) == before


def test_a_refused_request_changes_nothing_and_the_next_good_one_works(edge_app):
    fields = edge_app.sender.command_fields(
        user=ALICE, text="drift refused once", channel_id="CGENERAL01"
    )
    before = stored_state(edge_app)
    assert edge_app.sender.post_form(fields, signature="v0=" + "a" * 64).status == 401
    assert stored_state(edge_app) == before
    fields["trigger_id"] = edge_app.standin.issue_trigger_id()
    assert edge_app.sender.post_form(fields).status == 200
    assert stored_state(edge_app)[0] == before[0] + 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refusal_log_is_one_line_a_minute_with_a_count(caplog):
    clock = FakeClock()
    log = logging.getLogger("tests.bot.http.edge.refusals")
    refusals = RefusalLog(log, interval=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger=log.name):
        refusals.refused("bad signature")  # the first of a quiet spell: reported at once
        for second in range(59):
            clock.now += 1
            refusals.refused("bad signature" if second % 2 else "stale timestamp")
        assert len(caplog.records) == 1
        clock.now += 1.5  # a minute has passed: the next refusal reports what came meanwhile
        refusals.refused("unsigned")
    first, second = (r.getMessage() for r in caplog.records)
    assert first == "refused 1 request without a valid Slack signature (bad signature: 1)"
    assert second == (
        "refused 60 requests without a valid Slack signature "
        "(bad signature: 29, stale timestamp: 30, unsigned: 1)"
    )
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_refusal_log_counts_every_refusal_from_many_threads(caplog):
    import threading

    clock = FakeClock()
    log = logging.getLogger("tests.bot.http.edge.refusals.threads")
    refusals = RefusalLog(log, interval=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger=log.name):
        threads = [
            threading.Thread(target=lambda: [refusals.refused("bad") for _ in range(500)])
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        clock.now += 61
        refusals.refused("bad")
    assert [r.getMessage() for r in caplog.records] == [
        "refused 1 request without a valid Slack signature (bad: 1)",
        "refused 4000 requests without a valid Slack signature (bad: 4000)",
    ]


@pytest.mark.parametrize("content_type", ["application/json", FORM])
def test_signed_but_unparsable_is_400_without_a_traceback(edge_app, content_type):
    before, log_before = stored_state(edge_app), len(edge_app.log.getvalue())
    body = b'{"type": ' if content_type == "application/json" else b"payload=" + b"{" * 50
    reply = edge_app.sender.post(body + secrets.token_hex(4).encode(), content_type=content_type)
    assert reply.status == 400
    assert stored_state(edge_app) == before
    assert "Traceback" not in edge_app.log.getvalue()[log_before:]
