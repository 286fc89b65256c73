"""Property-based: any text after `/ai-signal lessons` — FTS5 and tsquery syntax, quotes, filters
with any value, Slack markup — gets one of the documented private answers (results, none found,
or the one sentence about a filter that cannot be read), never an error, on SQLite and
PostgreSQL; every answer passes Block Kit's rules."""

from __future__ import annotations

from hypothesis import given, note
from hypothesis import strategies as st

from bot.standin import validate_blocks
from tests.bot.http.edge.test_properties import short_text
from tests.conftest import ALICE

SEARCH_SYNTAX = [
    '"',
    '""',
    "*",
    "^",
    ":",
    "(",
    ")",
    "NEAR(a b, 2)",
    "AND",
    "OR",
    "NOT",
    "-",
    "+",
    "{lesson}",
    "lesson:",
    "col : x",
    "!",
    "&",
    "|",
    "<->",
    "'",
    "\\",
    "system:",
    'system:"x"',
    "pattern:",
    "pattern:data",
    "pattern:(",
    "since:",
    "since:2026-13-40",
    "since:2026-10-01",
    "precision",
    "weekly",
]
words = st.lists(
    st.one_of(st.sampled_from(SEARCH_SYNTAX), short_text), min_size=0, max_size=10
).map(" ".join)

DOCUMENTED = (
    "*Lessons from resolved signals*",
    "No lessons recorded yet",
    ":warning: `since:` takes a date",
    ":warning: `pattern:` takes one of",
)


def _seed(app) -> None:
    """One resolved lesson (through the services: the property is about the search)."""
    if app.runtime.services.lessons.search(query=_any()).lessons:
        return
    filed = app.runtime.services.signals.file_signal(
        kind="drift",
        text="precision fell",
        system="fraud-model",
        anonymous=False,
        reporter_id=ALICE.id,
    )
    app.runtime.services.triage.resolve(
        ref=filed.ref,
        lead_id="ULEAD00001",
        done="retrained",
        assumption="stable inputs",
        pattern="data-optimism",
        lesson="Monitor precision weekly",
    )


def _any():
    from bot.services.records import LessonQuery

    return LessonQuery()


@given(text=words)
def test_any_lessons_text_gets_a_documented_answer(edge_app, text):
    _seed(edge_app)
    reply = edge_app.sender.command(user=ALICE, text=f"lessons {text}")
    note(repr(text))
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith(DOCUMENTED), body["text"]
    if body.get("blocks"):
        assert not validate_blocks(body["blocks"]), body["blocks"]
    assert "Traceback" not in edge_app.log.getvalue()
