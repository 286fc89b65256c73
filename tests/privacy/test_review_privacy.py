"""Canaries over the review-board report and the charts: the anonymous reporter's identifiers,
a named reporter's id, and a system × kind cell too small to hide anyone are found in no format
of the report (HTML with its inline SVG charts, Markdown, JSON), in neither the uploaded file nor
its comment, and not in the digest chart's PNG (pixels or metadata). On SQLite and PostgreSQL."""

from __future__ import annotations

import json

from bot.runtime import digest_service
from bot.services.report_render import render
from handlers.blocks.digest import build_digest_chart
from tests.bot.jobs.digest.test_digest_chart import png_text_chunks
from tests.conftest import ALICE, LEAD, TRIAGE
from tests.privacy.canaries import (
    Canaries,
    assert_no_leaks,
    file_anonymous,
    find_in,
    triage_post,
)

SMALL_SYSTEM = "tinyq-model"  # one anonymous bias signal: a cell of 1, under AI_SIGNAL_MIN_BUCKET


def file_the_quarter(canaries: Canaries, running_app) -> None:
    refs = [
        file_anonymous(canaries, f"anon drift fraud-model: precision fell, week {n}")[0]
        for n in range(3)
    ]
    refs.append(file_anonymous(canaries, f"anon bias {SMALL_SYSTEM}: rejects over-60s")[0])
    reply = running_app.sender.command(user=ALICE, text="drift fraud-model: recall fell too")
    assert reply.status == 200
    for ref in refs:
        triage_post(canaries, ref)
    running_app.drain()  # the named one's triage post too: the report counts posted signals


def artefacts(running_app, canaries: Canaries) -> dict[str, str]:
    """Every form the report and the charts take, as text (binary as latin-1: 1:1 bytes)."""
    services = running_app.runtime.services
    report = services.review.report(period=services.review.quarter())
    found = {fmt: render(report, fmt) for fmt in ("html", "md", "json")}
    reply = running_app.sender.command(user=LEAD, text="review")
    assert reply.status == 200
    [complete] = running_app.standin.wait_for("files.completeUploadExternal", timeout=30)
    [stored] = running_app.standin.files()
    found["uploaded file"] = stored.data.decode("latin-1")
    found["upload calls"] = json.dumps(
        [c.params for c in running_app.standin.calls if c.method.startswith("files.")]
    )
    found["comment"] = complete.params.get("initial_comment", "")
    runtime = running_app.runtime
    digest = digest_service(runtime.settings, runtime.sessions, runtime.clock)
    weekly = digest.weekly_kinds(
        period=digest.period_in_progress(), min_bucket=runtime.settings.min_bucket
    )
    png = build_digest_chart(weekly)
    assert png_text_chunks(png) == {}
    found["digest chart png"] = png.decode("latin-1")
    return found


def test_the_report_and_the_charts_name_no_reporter_and_hide_small_cells(
    canaries, running_app, database_url
):
    file_the_quarter(canaries, running_app)
    found = artefacts(running_app, canaries)

    leaks = []
    for where, text in found.items():
        leaks += find_in(text, canaries.needles() + [ALICE.id, ALICE.name, LEAD.id], where)
    assert_no_leaks(leaks)
    for where, text in found.items():
        assert SMALL_SYSTEM not in text, f"the lone {SMALL_SYSTEM} signal shows in {where}"
    # The small cell is not lost, only merged: the report still counts it, under "other".
    report = json.loads(found["json"])
    assert report["systems_by_kind"]["fraud-model"] == {"drift": 4}
    assert report["systems_by_kind"]["other"] == {"other": 1}
    assert "svg" in found["uploaded file"] and "fraud-model" in found["uploaded file"]
    # And the whole flow kept the anonymous reporter out of the database, logs and Slack calls.
    assert_no_leaks(canaries.database_leaks(database_url) + canaries.log_leaks())
    assert_no_leaks(
        canaries.outbound_leaks(
            c
            for c in running_app.standin.calls
            if c.params.get("channel_id") == TRIAGE or c.method.startswith("files.")
        )
    )
