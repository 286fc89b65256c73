"""The anonymous reporter's side: `/ai-signal status <code>` and `/ai-signal reply <code> text`,
wrong codes, the wrong-code throttle, and canary identities searched in storage, the log and
everything sent to Slack."""

from __future__ import annotations

import secrets
from datetime import timedelta

from bot.services.codes import normalize_code
from bot.services.signals import GENERIC_CODE_ANSWER
from bot.standin.sender import SlackSender, SlackUser
from handlers import ids
from tests.conftest import DIGEST, LEAD, SIGNING_SECRET, TRIAGE
from tests.handlers.listeners.triage.helpers import (
    CODE,
    acknowledge,
    actions,
    assert_slack_happy,
    calls_text,
    command,
    database_text,
    events,
    file_anonymous,
    leaks,
    open_modal,
    posted,
    settle,
    submit,
    table_counts,
    thread,
)

CANARY = SlackUser(id="UCANARY0REP", name="canary.rep", team_domain="canary-domain")
CANARY_CHANNEL = "CCANARY0RM"
TOO_MANY = "Too many follow-up codes"


def wrong_code() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    body = "".join(secrets.choice(alphabet) for _ in range(32))
    return "-".join(body[i : i + 4] for i in range(0, 32, 4))


def ask(app, ref, question):
    view = open_modal(app, LEAD, ids.ASK_ACTION, ref)
    assert submit(app, LEAD, view, {ids.QUESTION_BLOCK: question}) is None
    settle(app)


def test_status_and_reply_with_the_right_code(app):
    ref, code = file_anonymous(app)
    posted(app, ref)
    acknowledge(app, LEAD, ref)
    ask(app, ref, "Which age bands?")

    status = command(app, f"status {code}")
    assert ref in status
    assert "Acknowledged" in status
    assert "*A lead asked:* Which age bands?" in status
    assert "reply" in status
    assert command(app, f"status {normalize_code(code).lower()}") == status

    answer = command(app, f"reply {code} Over 60 &amp; mostly &lt;rural&gt;")
    assert ref in answer and "the reporter (anonymous)" in answer
    settle(app)
    assert len(thread(app, ref)) == 3
    reply = thread(app, ref)[-1]
    assert reply.startswith(":envelope_with_arrow: The reporter (anonymous) replied:")
    assert "&gt; Over 60 &amp; mostly &lt;rural&gt;" in reply
    [event] = [e for e in events(app, ref) if e.action == "replied"]
    assert event.actor_id is None
    assert event.note == "Over 60 & mostly <rural>"
    # Its stored time is not when it was sent: the hour, or the question's time if later.
    [asked] = [e for e in events(app, ref) if e.action == "asked"]
    next_hour = asked.created_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    after_question = event.created_at - asked.created_at
    assert event.created_at == next_hour or timedelta(0) <= after_question <= timedelta(
        milliseconds=1
    )
    assert "*You replied:* Over 60 &amp; mostly &lt;rural&gt;" in command(app, f"status {code}")

    # A reply is no lead action: the parent post is not touched for it, the status is unchanged.
    assert actions(app, ref) == ["acknowledged", "asked", "replied"]
    assert_slack_happy(app)


def test_wrong_codes_get_one_answer_then_are_slowed_down_without_a_trace(app):
    ref, code = file_anonymous(app)
    posted(app, ref)
    counts, calls = table_counts(app), len(app.standin.calls)

    answers = set()
    for attempt in range(20):  # the throttle's limit: 20 wrong codes a minute
        typed = wrong_code()
        text = f"status {typed}" if attempt % 2 else f"reply {typed} hello there"
        answers.add(command(app, text, user=CANARY, channel_id=CANARY_CHANNEL))
    assert answers == {f":warning: {GENERIC_CODE_ANSWER}"}

    slowed = command(app, f"status {wrong_code()}", user=CANARY)
    assert TOO_MANY in slowed
    assert TOO_MANY in command(app, f"reply {wrong_code()} hi", user=CANARY)
    # The window is the flooder's own: someone else's right code is answered, and nothing leaks.
    assert TOO_MANY not in command(app, f"status {code}")
    assert ref not in slowed

    settle(app)
    assert table_counts(app) == counts
    assert len(app.standin.calls) == calls  # nothing posted anywhere
    assert thread(app, ref) == []
    found = leaks(
        {"database": database_text(app), "log": app.log.getvalue()},
        [CANARY.id, CANARY.name, "canary"],
    )
    assert not found, found
    assert_slack_happy(app)


def test_canary_identities_appear_nowhere(app, standin):
    """The anonymous reporter files, reads and answers with their code; their user id, handle,
    workspace, channel, trigger ids, response URLs and the code itself are then searched for."""
    planted: list[str] = []

    def trigger_id() -> str:
        value = f"{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}.canarytrig{secrets.token_hex(8)}"
        planted.append(value)
        return value

    def response_url() -> str:
        url = standin.new_response_url()
        planted.append(url.rsplit("/", 1)[1])
        return url

    reporter = SlackSender(
        url=app.sender.url,
        transport=app.sender.transport,
        signing_secret=SIGNING_SECRET,
        trigger_ids=trigger_id,
        response_urls=response_url,
    )

    def as_reporter(text: str) -> str:
        fields = reporter.command_fields(
            user=CANARY, text=text, channel_id=CANARY_CHANNEL, channel_name="canary-room"
        )
        reply = reporter.post_form(fields)
        assert reply.status == 200, reply.text
        return reply.json()["text"]

    receipt = as_reporter("anon drift the scoring model drifts on weekends")
    code = CODE.search(receipt).group(1)
    ref = receipt.split("*")[1]
    posted(app, ref)
    acknowledge(app, LEAD, ref)
    ask(app, ref, "Since when?")
    assert "Since when?" in as_reporter(f"status {code}")
    assert ref in as_reporter(f"reply {code} Since the March release")
    assert GENERIC_CODE_ANSWER in as_reporter(f"status {wrong_code()}")
    assert GENERIC_CODE_ANSWER in as_reporter(f"reply {wrong_code()} guess")
    settle(app)
    assert len(thread(app, ref)) == 3
    assert "Since the March release" in thread(app, ref)[-1]

    needles = [
        CANARY.id,
        CANARY.name,
        CANARY.team_domain,
        CANARY_CHANNEL,
        "canary-room",
        "canary",
        code,
        normalize_code(code),
        *planted,
    ]
    where = {
        "database": database_text(app),
        "log": app.log.getvalue(),
        "stand-in calls": calls_text(app),
    }
    found = leaks(where, needles)
    assert not found, "\n".join(found)
    # Everything the app sent went to the triage channel (no DM, no ephemeral to anyone); the
    # only other channel it asked about is the team channel, for its member count.
    sent_to = {c.params.get("channel") for c in standin.calls if c.method.startswith("chat.")}
    assert sent_to == {TRIAGE}
    asked = {c.params.get("channel") for c in standin.calls if c.method == "conversations.info"}
    assert asked <= {DIGEST}
    assert_slack_happy(app)
