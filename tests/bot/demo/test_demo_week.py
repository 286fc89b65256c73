"""The demo's transcript tells one consistent week: times to acknowledge and ages follow the
story's days, and the anonymous delay its receipts promise is really waited for on its clock."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.demo import ANON_DELAY

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
HEADING = re.compile(r"^── (" + "|".join(DAYS) + r") (\d\d):(\d\d): (.*)$", re.MULTILINE)


@pytest.fixture
def demo(demo_run) -> tuple[str, Path]:
    """The shared demo run's transcript and the database it kept."""
    assert demo_run.result.returncode == 0, demo_run.result.stderr[-2000:]
    return demo_run.result.stdout, demo_run.kept / "ai_signal.db"


def scenes(out: str) -> list[tuple[timedelta, str, str]]:
    """(time since the story's Monday 00:00, heading, text) per scene; a Monday after the
    Friday is the next week's."""
    found = list(HEADING.finditer(out))
    result: list[tuple[timedelta, str, str]] = []
    for index, match in enumerate(found):
        day = DAYS.index(match.group(1))
        at = timedelta(days=day, hours=int(match.group(2)), minutes=int(match.group(3)))
        while result and at < result[-1][0]:
            at += timedelta(days=7)
        end = found[index + 1].start() if index + 1 < len(found) else len(out)
        result.append((at, match.group(4), out[match.end() : end]))
    return result


def test_times_to_acknowledge_follow_the_story(demo):
    out, _ = demo
    shown = re.findall(r"\*Acknowledged after\*\n\s+(.+)", out)
    assert shown, "no acknowledgement shown"
    assert "0 min" not in shown
    assert len(set(shown)) >= 2  # the anonymous signal a day after its post, SIG-1 four days


def test_raised_ages_are_distinct_and_match_the_filing_days(demo):
    out, _ = demo
    story = scenes(out)
    filed: dict[str, timedelta] = {}
    for at, _, text in story:
        for ref in re.findall(r"Thanks — your signal \*(SIG-[A-Z0-9]+)\*", text):
            filed[ref] = at
    digest_at, _, digest = next(s for s in story if "weekly digest" in s[1])
    assert digest_at >= timedelta(days=7)  # the Monday after the story's Friday
    ages = dict(re.findall(r"\*(SIG-[A-Z0-9]+) \([^)]*\)\*.*\n.*raised (\d+) days? ago", digest))
    assert len(ages) >= 2, digest
    assert len(set(ages.values())) == len(ages), ages
    for ref, days in ages.items():
        assert int(days) == (digest_at - filed[ref]).days, (ref, days, filed[ref], digest_at)


def test_the_promised_anonymous_delay_is_waited_for_and_said(demo):
    out, database = demo
    anonymous = next(s for s in scenes(out) if "anonymously" in s[1])[2]
    receipt, after = anonymous.split("after a delay", 1)
    assert "filed *anonymously*" in receipt
    said, posted = after.split("[#ai-triage]", 1)
    assert "demo's clock moves on" in said and "delay" in said
    answered = out.split("your answer is added to", 1)[1].split("The reporter (anonymous) replied")
    assert "demo's clock moves on" in answered[0]

    # On the demo's clock the post went out at least the shortest delay after it was filed.
    story = scenes(out)
    filed_at = next(at for at, heading, _ in story if "anonymously" in heading)
    maya_at = next(at for at, heading, _ in story if heading.startswith("Maya files"))
    with sqlite3.connect(database) as connection:
        rows = dict(
            (anonymous_flag, (created, posted_at))
            for anonymous_flag, created, posted_at in connection.execute(
                # Newest first, so the first signal of each kind is the one kept.
                "SELECT anonymous, created_at, posted_at FROM signals "
                "WHERE ref NOT IN ('SIG-2', 'SIG-3') ORDER BY created_at DESC"
            )
        )
    first_named = datetime.fromisoformat(rows[0][0])
    anonymous_posted = datetime.fromisoformat(rows[1][1])
    filed_moment = first_named + (filed_at - maya_at)
    assert anonymous_posted - filed_moment >= timedelta(seconds=ANON_DELAY[0])
    assert anonymous_posted - filed_moment <= timedelta(seconds=ANON_DELAY[1] + 180)


def test_the_week_puts_a_system_on_record_and_reviews_its_signal(demo):
    out, database = demo
    assert "types: /ai-signal anon bias credit-model:" in out
    assert "System: *loan-scoring*" in out  # the alias, filed under the system's name
    card = out.split("[the card opens for maya]", 1)[1]
    assert "*Last review*" in card and "*Constraint underestimated:*" in card
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT name, stage FROM systems").fetchall() == [
            ("loan-scoring", "production")
        ]
        [(system, decision, constraint)] = connection.execute(
            "SELECT system, review_decision, review_constraint FROM signals WHERE anonymous"
        ).fetchall()
    assert system == "loan-scoring"
    assert decision == "Approve, refer or decline a consumer loan application"  # prefilled
    assert constraint and "over 60" in constraint
