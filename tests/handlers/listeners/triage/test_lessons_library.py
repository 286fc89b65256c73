"""The lessons library from Slack: `/ai-signal lessons WORDS [system:] [pattern:] [since:]` ranks
resolved signals' lessons by full-text match (key lessons first, newest on ties), pages with a
"More" button, takes any text without an error, and leads mark key lessons from the resolution
reply."""

from __future__ import annotations

import re
from typing import Any

from handlers import ids
from tests.conftest import ALICE, LEAD
from tests.handlers.listeners.triage.helpers import (
    NOT_A_LEAD,
    assert_slack_happy,
    ephemerals_to,
    file_named,
    open_modal,
    posted,
    settle,
    signal,
    submit,
)


def lessons(app, text: str = "", user=ALICE) -> dict[str, Any]:
    """`/ai-signal lessons <text>`: the private answer (text and blocks)."""
    reply = app.sender.command(user=user, text=f"lessons {text}".strip())
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["response_type"] == "ephemeral", body
    return body


def resolve(app, ref: str, **answers: str) -> None:
    view = open_modal(app, LEAD, ids.RESOLVE_ACTION, ref)
    answers = {ids.DONE_BLOCK: "done", ids.PATTERN_BLOCK: "none", **answers}
    assert submit(app, LEAD, view, answers) is None
    settle(app)


def learn(app, text: str, *, lesson: str, assumption: str = "", pattern: str = "none") -> str:
    ref = file_named(app, text)
    posted(app, ref)
    resolve(
        app,
        ref,
        **{ids.LESSON_BLOCK: lesson, ids.ASSUMPTION_BLOCK: assumption, ids.PATTERN_BLOCK: pattern},
    )
    return ref


def more_button(body: dict[str, Any]) -> dict[str, Any] | None:
    for block in body.get("blocks") or ():
        if block["type"] == "actions":
            for element in block["elements"]:
                if element["action_id"] == ids.LESSONS_MORE_ACTION:
                    return element
    return None


def press_more(app, button: dict[str, Any], user=ALICE) -> dict[str, Any]:
    """Press "More" on the private answer; return what the app sent to its response_url."""
    before = len(app.standin.calls_to("response_url"))
    reply = app.sender.block_action(
        user=user,
        action_id=ids.LESSONS_MORE_ACTION,
        value=button["value"],
        block_id=ids.LESSONS_ACTIONS_BLOCK,
        channel_id="CGENERAL01",
        container={"type": "message", "message_ts": "1.2", "is_ephemeral": True},
    )
    assert reply.status == 200, reply.text
    calls = app.standin.wait_for("response_url", before + 1)
    return calls[before].params


def refs_in(text: str, refs: list[str]) -> list[str]:
    """`refs` in the order they appear in `text`."""
    found = [(m.start(), ref) for ref in refs if (m := re.search(rf"\b{ref}\b", text))]
    return [ref for _, ref in sorted(found)]


def test_search_ranks_filters_and_ignores_syntax(app):
    assert lessons(app)["text"] == "No lessons recorded yet."
    drift = learn(
        app,
        "drift fraud-model precision fell",
        lesson="Monitor precision weekly; precision drops before recall does",
        assumption="Last year's fraud looks like this year's",
        pattern="data-optimism",
    )
    loans = learn(
        app,
        "bias system:loan-model approvals skew by age",
        lesson="Audit proxy features before launch",
        assumption="Age is not hidden in other features",
        pattern="problem-misidentification",
    )
    weak = learn(app, "drift system:Fraud-Model alerts are late", lesson="Alert on precision too")

    # Ranked: the lesson that says "precision" twice and in its assumption comes first.
    body = lessons(app, "precision")
    assert refs_in(body["text"], [drift, loans, weak]) == [drift, weak]
    assert "matching “precision”" in body["text"]
    # Stemming, and every word must match.
    assert refs_in(lessons(app, "monitoring drops")["text"], [drift, weak]) == [drift]
    assert lessons(app, "monitor proxy")["text"] == (
        "No lessons recorded yet matching “monitor proxy”."
    )
    # Filters: system (case-insensitive), pattern, since.
    fraud = lessons(app, "precision system:FRAUD-model")["text"]
    assert refs_in(fraud, [drift, weak]) == [weak]  # only `weak` names Fraud-Model
    assert refs_in(lessons(app, "pattern:data-optimism")["text"], [drift, loans, weak]) == [drift]
    assert refs_in(lessons(app, "pattern:problem")["text"], [drift, loans, weak]) == [loans]
    assert loans in lessons(app, "since:2000-01-01 proxy")["text"]
    assert lessons(app, "since:2999-01-01")["text"].startswith("No lessons recorded yet")
    # No words: newest first.
    assert refs_in(lessons(app)["text"], [drift, loans, weak]) == [weak, loans, drift]

    # Bad filters: one clear private sentence.
    assert lessons(app, "since:yesterday")["text"] == (
        ":warning: `since:` takes a date like `since:2026-10-01`."
    )
    assert "`pattern:` takes one of" in lessons(app, "pattern:blame")["text"]

    # FTS syntax from people is only text: never an error.
    for hostile in ('"', 'precision"', "NEAR(a b)", "a* OR b", "(", "-precision", "col:x", "^x"):
        answer = lessons(app, hostile)["text"]
        assert answer.startswith(("*Lessons", "No lessons")), (hostile, answer)
    assert drift in lessons(app, '"precision" weekly*')["text"]  # the marks are only text
    assert_slack_happy(app)


def test_paging_with_more_and_key_lessons_first(app):
    refs = [
        learn(app, f"drift shared signal {n}", lesson=f"Shared lesson number {n}") for n in range(7)
    ]
    first = lessons(app, "shared lesson")
    assert refs_in(first["text"], refs) == list(reversed(refs))[:5]  # ties: newest first
    button = more_button(first)
    assert button is not None
    second = press_more(app, button)
    assert second["replace_original"] is True and second["response_type"] == "ephemeral"
    assert refs_in(second["text"], refs) == [refs[1], refs[0]]
    assert "page 2" in second["text"]
    assert more_button(second) is None

    # A lead marks the oldest one a key lesson from its resolution reply: it comes first.
    press_key(app, LEAD, refs[0])
    settle(app)
    told = ephemerals_to(app, LEAD)
    assert len(told) == 1, told
    assert "is now a key lesson" in told[-1]
    assert signal(app, refs[0]).key_lesson is True
    ranked = lessons(app, "shared")["text"]
    assert refs_in(ranked, refs)[0] == refs[0]
    assert ":star: Key lesson" in ranked
    assert refs_in(lessons(app)["text"], refs)[0] == refs[0]
    assert [lesson.ref for lesson in app.runtime.services.lessons.playbook(system="")] == []

    # A non-lead is refused privately; nothing changes. The lead's second press unmarks.
    press_key(app, NOT_A_LEAD, refs[1])
    settle(app)
    refused = ephemerals_to(app, NOT_A_LEAD)
    assert refused == ["Only leads can mark key lessons, so nothing changed."]
    assert signal(app, refs[1]).key_lesson is False
    press_key(app, LEAD, refs[0])
    settle(app)
    assert len(ephemerals_to(app, LEAD)) == 2
    assert "no longer a key lesson" in ephemerals_to(app, LEAD)[-1]
    assert signal(app, refs[0]).key_lesson is False
    assert_slack_happy(app)


def press_key(app, user, ref: str) -> None:
    """Press the key-lesson button on the resolution reply in the thread of `ref`, and wait for
    the private answer the listener sends once the change is stored (it runs after the ack)."""
    from tests.conftest import TRIAGE

    replies = app.standin.thread(TRIAGE, signal(app, ref).triage_ts)
    [reply] = [m for m in replies if "resolved" in m["text"]]
    [element] = [
        e
        for b in reply["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ids.KEY_LESSON_ACTION
    ]
    answered = len(app.standin.calls_to("chat.postEphemeral"))
    response = app.sender.block_action(
        user=user,
        action_id=ids.KEY_LESSON_ACTION,
        value=element["value"],
        channel_id=TRIAGE,
        message={"type": "message", "ts": reply["ts"], "text": reply["text"]},
        container={"type": "message", "message_ts": reply["ts"], "channel_id": TRIAGE},
    )
    assert response.status == 200, response.text
    app.standin.wait_for("chat.postEphemeral", answered + 1)


def test_playbook_lists_a_systems_key_lessons(app):
    ref = learn(app, "drift system:fraud-model precision fell", lesson="Watch precision weekly")
    other = learn(app, "drift system:loan-model approvals fell", lesson="Watch approvals")
    for r in (ref, other):
        press_key(app, LEAD, r)
    settle(app)
    assert len(ephemerals_to(app, LEAD)) == 2
    playbook = app.runtime.services.lessons.playbook(system="FRAUD-MODEL")
    assert [lesson.ref for lesson in playbook] == [ref]
    assert playbook[0].key and playbook[0].lesson == "Watch precision weekly"
    assert app.runtime.services.lessons.playbook(system="nothing-here") == []
