"""The weekly digest's chart: signals by kind over the last eight weeks, a PNG uploaded through
Slack's external upload flow into the digest channel after the digest message. The text digest
is the fallback: a chart Slack refuses leaves the digest sent (once), with a warning logged.
Signals are filed with signed commands into the real app; on SQLite and PostgreSQL."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.demo import next_digest_time
from bot.jobs.digest import send_digest
from bot.services.digest import SendStatus
from models import DigestRun
from tests.bot.jobs.digest.conftest import chart_shares, digest_posts
from tests.conftest import ALICE, DIGEST, MovableClock, RunningApp, start_app


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def make_app(standin, database_url, clock) -> Iterator:
    started: list[RunningApp] = []

    def make(**env: str) -> RunningApp:
        app = start_app(standin, database_url, clock=clock, **env)
        started.append(app)
        return app

    yield make
    for app in started:
        app.stop()


def file_signals(app: RunningApp) -> None:
    for text in (
        "drift fraud-model: precision fell",
        "drift fraud-model: recall fell too",
        "drift fraud-model: inputs moved",
        "bias loan-model: rejects more applicants over 60",
    ):
        reply = app.sender.command(user=ALICE, text=text)
        assert reply.status == 200, reply.text
    app.settle()
    app.standin.wait_for("chat.postMessage", 4)


def send_the_weeks_digest(app: RunningApp, clock: MovableClock):
    now = app.runtime.clock()
    clock.advance((next_digest_time(app.runtime.settings, now) - now).total_seconds())
    return send_digest(app.runtime.digest)


def png_text_chunks(data: bytes) -> dict[bytes, bytes]:
    """The tEXt/iTXt/zTXt metadata chunks of a PNG."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    chunks, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if kind in (b"tEXt", b"iTXt", b"zTXt"):
            key, _, value = body.partition(b"\0")
            chunks[key] = zlib.decompress(value[1:]) if kind == b"zTXt" else value
        at += 12 + length
    return chunks


def test_the_chart_follows_the_digest_in_its_channel(make_app, clock):
    app = make_app()
    file_signals(app)
    result = send_the_weeks_digest(app, clock)
    assert result.status is SendStatus.SENT

    app.standin.wait_for("files.completeUploadExternal")
    methods = [
        c.method for c in app.standin.calls if c.method.startswith(("chat.post", "files", "upload"))
    ]
    assert methods[-4:] == [
        "chat.postMessage",  # the digest
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    [digest] = digest_posts(app.standin)
    [share] = chart_shares(app.standin)
    assert float(share["ts"]) > float(digest["ts"])
    assert share["files"][0]["title"] == "Signals by kind, last eight weeks"
    [stored] = app.standin.files()
    assert stored.channel == DIGEST and stored.filename == "ai-signal-digest-chart.png"
    assert stored.data.startswith(b"\x89PNG") and len(stored.data) > 2000
    assert png_text_chunks(stored.data) == {}  # no software, date or author in the file
    # The alt text says in words what the chart draws: this week's 3 drift signals and 1 bias.
    alt = stored.alt_txt or ""
    assert "Model drift 0, 0, 0, 0, 0, 0, 0, 3" in alt and "Bias / fairness" not in alt
    assert "Other 0, 0, 0, 0, 0, 0, 0, 1" in alt  # one bias signal: under AI_SIGNAL_MIN_BUCKET


def test_a_refused_chart_leaves_the_digest_sent_once_and_logs_a_warning(
    make_app, clock, database_url
):
    app = make_app()
    file_signals(app)
    app.standin.fail_next("files.completeUploadExternal", error="not_in_channel")
    assert send_the_weeks_digest(app, clock).status is SendStatus.SENT
    assert len(digest_posts(app.standin)) == 1 and chart_shares(app.standin) == []
    assert (
        "the digest's chart was not posted (not_in_channel); the digest stands"
        in app.log.getvalue()
    )
    with app.runtime.sessions() as session:
        [run] = session.scalars(select(DigestRun)).all()
    assert run.state == "sent" and run.last_error is None

    again = send_digest(app.runtime.digest)
    assert again.status is SendStatus.ALREADY_SENT
    assert len(digest_posts(app.standin)) == 1
    assert len(app.standin.calls_to("files.getUploadURLExternal", include_errors=True)) == 1


def test_an_upload_url_that_fails_leaves_the_digest_sent(make_app, clock):
    app = make_app()
    file_signals(app)
    app.standin.fail_next("upload", status=500)
    assert send_the_weeks_digest(app, clock).status is SendStatus.SENT
    assert len(digest_posts(app.standin)) == 1 and chart_shares(app.standin) == []
    assert "the digest's chart was not posted (upload refused: HTTP 500)" in app.log.getvalue()
    assert app.standin.calls_to("files.completeUploadExternal", include_errors=True) == []


def test_the_setting_turns_the_chart_off(make_app, clock):
    app = make_app(AI_SIGNAL_DIGEST_CHART="off")
    file_signals(app)
    assert send_the_weeks_digest(app, clock).status is SendStatus.SENT
    assert len(digest_posts(app.standin)) == 1
    assert app.standin.calls_to("files.getUploadURLExternal", include_errors=True) == []
