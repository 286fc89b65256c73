"""A lead attaches an external tracker link to a signal from its triage post: checked (https only,
at most 500 characters, no spaces), shown on the post, in the thread and in the export; no
tracker is called. Signed requests, SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

from bot.services.export import ExportService
from handlers import ids
from tests.conftest import LEAD
from tests.handlers.listeners.triage.helpers import (
    NOT_A_LEAD,
    ONLY_LEADS,
    assert_slack_happy,
    buttons,
    ephemerals_to,
    events,
    field_text,
    file_named,
    open_modal,
    parent,
    posted,
    press,
    settle,
    signal,
    submit,
    thread,
)

JIRA = "https://example.atlassian.net/browse/ML-42?focus=a&b=c"


def link(app, ref, url, user=LEAD):
    view = open_modal(app, user, ids.TRACKER_ACTION, ref)
    return submit(app, user, view, {ids.TRACKER_BLOCK: url})


def test_a_lead_links_a_tracker_shown_on_the_post_in_the_thread_and_the_export(app):
    ref = file_named(app)
    posted(app, ref)
    assert ids.TRACKER_ACTION in buttons(parent(app, ref))
    assert link(app, ref, f"  {JIRA} ") is None
    settle(app)
    assert signal(app, ref).tracker_url == JIRA
    shown = JIRA.replace("&", "&amp;")
    assert f"*Tracker*\n<{shown}|example.atlassian.net/browse/ML-42?focus=a&amp;b=c>" in (
        field_text(parent(app, ref))
    )
    assert f"linked {ref} to a tracker: <{shown}|" in thread(app, ref)[-1]
    # The form opens again with the link; the export has it; empty removes it.
    view = open_modal(app, LEAD, ids.TRACKER_ACTION, ref)
    [block] = [b for b in view["blocks"] if b.get("block_id") == ids.TRACKER_BLOCK]
    assert block["element"]["initial_value"] == JIRA

    out = io.StringIO()
    ExportService(sessions=app.runtime.sessions).write(out, fmt="json")
    [record] = json.loads(out.getvalue())["signals"]
    assert record["tracker_url"] == JIRA
    assert record["history"][-1]["action"] == "linked" and record["history"][-1]["by"] == "lead"
    out = io.StringIO()
    ExportService(sessions=app.runtime.sessions).write(out, fmt="csv")
    header, row = out.getvalue().splitlines()[:2]
    assert "tracker_url" in header.split(",") and JIRA in row

    assert link(app, ref, "") is None
    settle(app)
    assert signal(app, ref).tracker_url is None
    assert "*Tracker*" not in field_text(parent(app, ref))
    assert f"removed the tracker link of {ref}" in thread(app, ref)[-1]
    assert_slack_happy(app)


def test_a_link_that_is_not_https_or_too_long_or_has_spaces_is_refused_in_the_form(app):
    ref = file_named(app)
    posted(app, ref)
    refused = {
        "http://tracker.example/ML-1": "https://",
        "javascript:alert(1)": "https://",
        "https://": "https://",
        "https://tracker.example/" + "x" * 480: "500 characters",
        "https://tracker.example/ML 1": "spaces",
        "https://tracker.example/ML-1|click me": "spaces",
        "https://tracker.example/<!channel>": "spaces",
    }
    for url, why in refused.items():
        answer = link(app, ref, url)
        assert answer["response_action"] == "errors", (url, answer)
        assert list(answer["errors"]) == [ids.TRACKER_BLOCK], url
        assert why in answer["errors"][ids.TRACKER_BLOCK], (url, answer)
    assert signal(app, ref).tracker_url is None and events(app, ref) == []
    assert_slack_happy(app)


def test_only_leads_link_a_tracker(app):
    ref = file_named(app)
    posted(app, ref)
    view = open_modal(app, LEAD, ids.TRACKER_ACTION, ref)
    press(app, NOT_A_LEAD, ids.TRACKER_ACTION, ref)
    settle(app)
    assert ONLY_LEADS in ephemerals_to(app, NOT_A_LEAD)[0]
    answer = submit(app, NOT_A_LEAD, view, {ids.TRACKER_BLOCK: JIRA})
    assert answer["response_action"] == "errors" and ONLY_LEADS in str(answer["errors"])
    assert signal(app, ref).tracker_url is None
