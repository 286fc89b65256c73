"""`ai-signal demo` runs the whole product against the shipped stand-in and exits 0."""

from __future__ import annotations

import re
from pathlib import Path


def test_demo_exits_zero_and_plays_the_week(demo_run):
    result = demo_run.result
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    # a named quick filing, an anonymous one, one through the modal
    assert "filed under your name" in out
    assert "filed *anonymously*" in out
    assert "[modal opens for priya]" in out
    # the lead's actions land in the thread, the parent is updated
    assert "acknowledged SIG-" in out
    assert "asked the reporter (anonymous)" in out
    assert "The reporter (anonymous) replied" in out
    assert "resolved SIG-" in out and "Lesson:" in out
    assert "parent post updated" in out
    # the anonymous reporter read the question and the resolution with their code
    assert "*A lead asked:*" in out and "*What was done:*" in out
    # a live @channel token typed by the reporter never reaches Slack as a mention
    slack_side = "\n".join(line for line in out.splitlines() if " types: /ai-signal" not in line)
    assert "<!channel>" not in slack_side
    assert "over 60 @channel" in slack_side
    # the weekly digest covers the week: new signals, the lesson, response health, no names
    digest = out.split(": the weekly digest", 1)[1].split("What was stored", 1)[0]
    assert "digest sent" in digest and "New signals this week: 5" in digest
    assert "is withdrawn" in out and "withdrawn by the reporter" in out
    assert "*Withdrawn by their reporters this week*" in digest
    assert "1 of them the same concern as an earlier signal" in digest
    # the lessons library: a search with filters, seen before, a duplicate
    assert "lessons fairness pattern:data-optimism" in out and "*Seen before*" in out
    assert "Duplicate of SIG-1" in out and "same concern as *SIG-1*" in out
    assert "Check fairness per age band" in digest and "Response health" in digest
    assert not re.search(r"maya|omar|priya|dana", digest)
    assert re.search(r"Demo finished in \d+\.\d s", out)


def test_demo_summary_shows_no_reporter_for_anonymous(demo_run):
    result = demo_run.result
    summary = result.stdout.split("What was stored", 1)[1]
    anonymous_rows = [line for line in summary.splitlines() if "anonymous" in line]
    assert anonymous_rows and all("omar" not in line for line in anonymous_rows)


def test_demo_keep_leaves_the_database(demo_run):
    result, keep = demo_run.result, demo_run.kept
    assert result.returncode == 0
    assert (keep / "ai_signal.db").exists()


def test_the_week_ends_with_the_review_report_written_to_a_path_it_prints(demo_run):
    result = demo_run.result
    out = result.stdout
    assert "[#ai-signals · file shared: Signals by kind, last eight weeks]" in out
    review = out.split("`ai-signal review`", 1)[1]
    assert "$ ai-signal review --from " in review and "--format html" in review
    match = re.search(r"Review report \(open it in a browser, no network needed\): (\S+)", review)
    assert match is not None, review[-2000:]
    page = Path(match.group(1)).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "AI signals review, " in page and "Time to acknowledge" in page
    assert not re.search(r"maya|omar|priya|dana", page, re.IGNORECASE)
