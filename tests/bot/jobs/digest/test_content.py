"""What the digest says over seeded data: each section, the empty week, escaping, no names, and
Slack's Block Kit limits."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import update

from bot.services.digest import SendStatus
from bot.standin import validate_blocks
from handlers.blocks.digest import build_digest_message, build_digest_text
from models import Signal
from tests.bot.jobs.digest.conftest import (
    LEAD,
    NOW,
    OTHER,
    PEOPLE,
    PERIOD_END,
    PERIOD_START,
    PREVIOUS_START,
    REPORTER,
    add_event,
    add_signal,
    digest_posts,
    make_sender,
    make_service,
)
from tests.conftest import BOT_TOKEN, DIGEST, TRIAGE

H = timedelta(hours=1)


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def seed_week(sessions):
    """A week with something in every section, names planted everywhere a name could hide."""
    s = {}
    # -- the period: 7 new signals ---------------------------------------------------------
    s["waiting"] = add_signal(  # new, posted, never acknowledged: needs attention (oldest)
        sessions,
        ref="SIG-1",
        kind="drift",
        system="fraud-model",
        created_at=PERIOD_START + H,
        triage_channel=TRIAGE,
        triage_ts="1700000000.000100",
    )
    s["stalled"] = add_signal(  # acknowledged, then nothing for days: needs attention
        sessions,
        ref="SIG-AB2CDE",
        kind="drift",
        system="Fraud-Model ",
        anonymous=True,
        status="acknowledged",
        created_at=PERIOD_START + 5 * H,
        posted_at=PERIOD_START + 5 * H + timedelta(minutes=20),
        acknowledged_at=PERIOD_START + 7 * H + timedelta(minutes=20),
        updated_at=PERIOD_START + 7 * H,
        owner_id=LEAD,
    )
    s["resolved_named"] = add_signal(
        sessions,
        ref="SIG-3",
        kind="bias",
        system="loan-model",
        status="resolved",
        created_at=PERIOD_START + 24 * H,
        posted_at=PERIOD_START + 24 * H,
        acknowledged_at=PERIOD_START + 25 * H,
        resolved_at=PERIOD_START + 48 * H,
        updated_at=PERIOD_START + 48 * H,
        owner_id=LEAD,
        resolution_done=f"retrained; thanks {REPORTER}",
        failed_assumption="applicants over 60 were well represented in the training data",
        pattern="data-optimism",
        lesson="check representation per age band before training",
        next_step=f"ask <@{OTHER}>",
    )
    s["resolved_anon"] = add_signal(
        sessions,
        ref="SIG-XY4ZAB",
        kind="data-quality",
        system="loan-model",
        anonymous=True,
        status="resolved",
        created_at=PERIOD_START + 30 * H,
        posted_at=PERIOD_START + 30 * H,
        acknowledged_at=PERIOD_START + 60 * H,
        resolved_at=PERIOD_START + 72 * H,
        updated_at=PERIOD_START + 72 * H,
        failed_assumption="the vendor feed was validated upstream",
        pattern="governance-lag",
        lesson="own the checks on every feed you consume",
    )
    s["declined"] = add_signal(
        sessions,
        ref="SIG-5",
        kind="edge-case",
        system="<!channel> bot & <@U0HACKER1|boss>",
        status="declined",
        created_at=PERIOD_START + 40 * H,
        posted_at=PERIOD_START + 40 * H,
        acknowledged_at=PERIOD_START + 43 * H,
        resolved_at=PERIOD_START + 43 * H,
        updated_at=PERIOD_START + 43 * H,
        decline_reason=f"works as designed, says {LEAD}",
    )
    s["unreleased"] = add_signal(  # anonymous, still waiting for its delayed release
        sessions,
        ref="SIG-QR7STU",
        kind="governance",
        system=None,
        anonymous=True,
        created_at=PERIOD_END - H,
        posted_at=None,
    )
    s["investigating"] = add_signal(  # recently worked on: not stalled
        sessions,
        ref="SIG-7",
        kind="drift",
        system="fraud-model",
        status="investigating",
        created_at=PERIOD_START + 50 * H,
        posted_at=PERIOD_START + 50 * H,
        acknowledged_at=PERIOD_START + 55 * H,
        updated_at=NOW - 2 * H,
        owner_id=LEAD,
    )
    # -- the period before: 3 signals, all closed then -------------------------------------
    for n, kind in enumerate(("drift", "bias", "bias")):
        add_signal(
            sessions,
            ref=f"SIG-{80 + n}",
            kind=kind,
            system=f"old-system-{n}",
            status="resolved",
            created_at=PREVIOUS_START + (n + 1) * H,
            acknowledged_at=PREVIOUS_START + (n + 2) * H,
            resolved_at=PREVIOUS_START + 30 * H,
            updated_at=PREVIOUS_START + 30 * H,
            pattern="none",
        )
    for signal in s.values():
        add_event(sessions, signal, "acknowledged", at=NOW - 3 * H, note=f"on it <@{REPORTER}>")
        add_event(sessions, signal, "replied", at=NOW - 2 * H, actor_id=None, note="more detail")
    return s


@pytest.fixture
def week(sqlite_database, clock):
    seed_week(sqlite_database.sessions)
    return make_service(sqlite_database.sessions, clock)


def test_period_and_new_signals_by_kind_with_change(week):
    data = week.gather()
    assert (data.period.start, data.period.end) == (PERIOD_START, PERIOD_END)
    assert data.period.previous_start == PREVIOUS_START
    # The anonymous signal still inside its release delay is not counted yet: a count that
    # rose before its post appeared would date the filing.
    assert (data.new_total, data.previous_total) == (6, 3)
    counts = {k.kind: (k.count, k.previous) for k in data.new_by_kind}
    assert counts == {
        "drift": (3, 1),
        "bias": (1, 2),
        "data-quality": (1, 0),
        "edge-case": (1, 0),
    }
    assert data.new_by_kind[0].kind == "drift"  # most first
    text = build_digest_text(data)
    assert "Covers Mon 23 Feb 2026 09:00 – Mon 2 Mar 2026 09:00 (UTC)" in text
    assert "New signals this week: 6 (+3 on the previous week: 3)" in text
    assert "Model drift: 3 (+2)" in text
    assert "Bias / fairness: 1 (−1)" in text


def test_where_things_stand(week):
    data = week.gather()
    # the unreleased anonymous signal is not counted until its post is out
    assert data.open_counts == {"new": 1, "acknowledged": 1, "investigating": 1}
    assert (data.resolved_count, data.declined_count) == (2, 1)
    blocks = dump(build_digest_message(data)["blocks"])
    assert "*Open (unacknowledged)*\\n1" in blocks
    assert "*Resolved this week*\\n2" in blocks
    assert "*Declined this week*\\n1" in blocks


def test_needs_attention_oldest_first_with_links(week, sqlite_database, standin):
    data = week.gather()
    refs = [item.ref for item in data.needs_attention]
    # The unreleased anonymous signal is not shown before the leads have seen it; the
    # recently worked one is not stalled.
    assert refs == ["SIG-1", "SIG-AB2CDE"]
    assert data.needs_attention_total == 2
    waiting, stalled = data.needs_attention
    assert not waiting.stalled and stalled.stalled
    assert waiting.age == NOW - (PERIOD_START + H)

    # SIG-1's triage post exists in Slack; chat.getPermalink gives its thread's link.
    client = WebClient(token=BOT_TOKEN, base_url=standin.url)
    ts = client.chat_postMessage(channel=TRIAGE, text="the triage post")["ts"]
    with sqlite_database.sessions.begin() as session:
        session.execute(update(Signal).where(Signal.ref == "SIG-1").values(triage_ts=ts))
    sender = make_sender(week, standin)
    standin.fail_next("chat.getPermalink", error="message_not_found")
    assert sender._links(week.gather()) == {}  # Slack could not give one: no link, no failure
    links = sender._links(week.gather())
    assert set(links) == {"SIG-1"}

    text = dump(build_digest_message(week.gather(), links=links)["blocks"])
    assert f"<{links['SIG-1']}|SIG-1>" in text
    assert "*SIG-AB2CDE*" in text  # no triage_ts: no link
    assert "raised 7 days ago" in text and "raised 6 days ago" in text  # whole days only
    assert "Waiting for acknowledgement" in text
    assert "Acknowledged, no update for over 48 h" in text


def test_needs_attention_shows_at_most_five_and_counts_the_rest(sqlite_database, clock):
    for n in range(8):
        add_signal(
            sqlite_database.sessions, ref=f"SIG-{n + 1}", created_at=NOW - timedelta(days=20 - n)
        )
    data = make_service(sqlite_database.sessions, clock).gather()
    assert [i.ref for i in data.needs_attention] == ["SIG-1", "SIG-2", "SIG-3", "SIG-4", "SIG-5"]
    assert data.needs_attention_total == 8
    assert "… and 3 more waiting." in dump(build_digest_message(data)["blocks"])


def test_resolved_with_failed_assumption_pattern_and_lesson(week):
    data = week.gather()
    assert [r.ref for r in data.resolved] == ["SIG-3", "SIG-XY4ZAB"]
    text = dump(build_digest_message(data)["blocks"])
    assert "*Failed assumption:* applicants over 60 were well represented" in text
    assert "*Pattern:* Data optimism" in text
    assert "*Lesson:* check representation per age band before training" in text
    assert "*Pattern:* Governance lag" in text
    assert "1 declined as not a problem" in text


def test_recurring_systems_and_patterns(week):
    data = week.gather()
    assert [(r.system, r.count) for r in data.recurring] == [("Fraud-Model", 3), ("loan-model", 2)]
    assert dict(data.patterns) == {"data-optimism": 1, "governance-lag": 1}
    text = build_digest_text(data)
    assert "Patterns across resolutions: Data optimism ×1, Governance lag ×1" in text


def test_response_health_named_and_anonymous_side_by_side(week):
    data = week.gather()
    named, anonymous = data.named, data.anonymous
    # named, posted this week: SIG-1 (never acknowledged, > 48 h), SIG-3 1 h, SIG-5 3 h, SIG-7 5 h
    assert (named.posted, named.acknowledged, named.eligible, named.within_window) == (4, 3, 4, 3)
    assert named.median == timedelta(hours=3)
    # anonymous: SIG-AB2CDE 2 h, SIG-XY4ZAB 30 h (the unreleased one was not posted)
    assert (anonymous.posted, anonymous.acknowledged, anonymous.within_window) == (2, 2, 2)
    assert anonymous.median == timedelta(hours=16)
    blocks = build_digest_message(data)["blocks"]
    text = dump(blocks)
    assert "*Named*\\nmedian 3 h 0 min to acknowledge · 3 of 4 (75%) within 48 h" in text
    assert "*Anonymous*\\nmedian 16 h to acknowledge · 2 of 2 (100%) within 48 h" in text
    # Two anonymous signals are too few to compare: the digest claims nothing.
    assert "waited longer" not in text


def test_a_signal_still_inside_its_window_is_not_judged(sqlite_database, clock):
    add_signal(sqlite_database.sessions, created_at=PERIOD_END - 2 * H)  # posted 50 min later
    health = make_service(sqlite_database.sessions, clock).gather().named
    assert (health.posted, health.acknowledged, health.eligible) == (1, 0, 0)
    assert health.share_within is None


def test_empty_week_still_posts_a_short_digest(sqlite_database, clock, standin):
    sender = make_sender(make_service(sqlite_database.sessions, clock), standin)
    result = sender.send()
    assert result.status is SendStatus.SENT
    [post] = digest_posts(standin)
    assert "No new signals this week." in post["text"]
    assert "*No new signals this week.*" in dump(post["blocks"])
    assert len(post["blocks"]) <= 12
    [call] = standin.calls_to("chat.postMessage")
    assert call.params["unfurl_links"] in (False, "false", "0", 0)
    assert call.params["unfurl_media"] in (False, "false", "0", 0)


def test_user_text_is_escaped_and_cannot_ping_or_link(week, sqlite_database, standin):
    # A second signal on the hostile system: it recurs, and this one needs attention.
    add_signal(
        sqlite_database.sessions,
        system="<!channel> bot & <@U0HACKER1|boss>",
        created_at=PERIOD_START + 3 * H,
        lesson="<https://evil.example|see the fix>",
    )
    add_signal(
        sqlite_database.sessions,
        status="resolved",
        system="<!here>",
        created_at=PERIOD_START + 3 * H,
        acknowledged_at=PERIOD_START + 4 * H,
        resolved_at=PERIOD_START + 5 * H,
        failed_assumption="<!subteam^S0LEADS|leads> knew",
        lesson="<https://evil.example|see the fix> & more; ask U0LEAD0042",
        pattern="none",
    )
    sender = make_sender(week, standin)
    assert sender.send().status is SendStatus.SENT
    [call] = standin.calls_to("chat.postMessage")
    payload = dump({"text": call.params["text"], "blocks": call.params["blocks"]})
    assert "<!channel>" not in payload
    assert "<!" not in payload and "<@" not in payload
    assert "&lt;!channel&gt; bot &amp; @[someone]" in payload  # no user id either
    assert "U0HACKER1" not in payload
    assert "&lt;!here&gt;" in payload
    assert "&lt;!subteam^S0LEADS|leads&gt; knew" in payload
    assert "&lt;https://evil.example|see the fix&gt; &amp; more; ask [someone]" in payload
    assert "<https://evil" not in payload
    assert validate_blocks(call.params["blocks"]) == []


def test_no_person_anywhere_in_the_posted_digest(week, standin):
    sender = make_sender(week, standin)
    assert sender.send().status is SendStatus.SENT
    [call] = standin.calls_to("chat.postMessage")
    payload = dump(call.params)
    for person in PEOPLE:
        assert person not in payload
    preview = build_digest_text(week.gather())
    for person in PEOPLE:
        assert person not in preview


def test_block_kit_limits_with_many_systems_and_long_texts(sqlite_database, clock, standin):
    sessions = sqlite_database.sessions
    for n in range(60):  # 60 recurring systems, names at the 200-character limit, all "&"
        system = f"{n:02d}" + "&" * 198
        for _ in range(2):
            add_signal(sessions, system=system, created_at=PERIOD_START + H * (n % 100 + 1))
    for n in range(20):  # 20 resolved, with the longest texts leads may type, all "<>"
        add_signal(
            sessions,
            status="resolved",
            kind="bias",
            system="<" * 200,
            created_at=PERIOD_START + H,
            acknowledged_at=PERIOD_START + 2 * H,
            resolved_at=PERIOD_START + (n + 3) * H,
            failed_assumption="<&>" * 666,
            pattern="problem-misidentification",
            lesson=">" * 2000,
        )
    for n in range(30):
        add_signal(
            sessions,
            status="investigating",
            system="&" * 200,
            created_at=NOW - timedelta(days=40 + n),
            updated_at=NOW - timedelta(days=10),
        )
    data = make_service(sessions, clock).gather()
    message = build_digest_message(data, links={"SIG-1000": "https://x.slack.com/archives/C1/p1"})
    assert validate_blocks(message["blocks"]) == []
    assert len(message["blocks"]) <= 50
    assert len(message["text"]) <= 40_000
    assert data.recurring_total == 61  # 60 + the "<<<…" system of the resolved ones
    assert "… and 51 more systems" in dump(message["blocks"])
    sender = make_sender(make_service(sessions, clock), standin)
    assert sender.send().status is SendStatus.SENT  # the stand-in enforces the limits too
    assert len(standin.messages(DIGEST)) == 1
