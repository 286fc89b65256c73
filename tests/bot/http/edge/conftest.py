"""The HTTP edge: one real app per module and database (the property tests send hundreds of
requests; starting the app per example would dominate), plus helpers shared by the edge tests."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select

from bot.standin import SlackStandIn
from handlers import ids
from handlers.edge import UNREADABLE_TEXT
from models import OutboxItem, Signal, SignalEvent
from tests.conftest import (
    ALICE,
    BOT_TOKEN,
    DIGEST,
    LEAD,
    TRIAGE,
    RunningApp,
    fresh_postgres,
    start_app,
)

# CI runs the same examples every time; locally `HYPOTHESIS_PROFILE=explore` looks further.
settings.register_profile(
    "edge",
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    parent=settings.get_profile("edge"),
    max_examples=300,
    derandomize=False,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "edge"))

FORM = "application/x-www-form-urlencoded"


def _standin() -> SlackStandIn:
    stand_in = SlackStandIn(bot_token=BOT_TOKEN)
    stand_in.add_channel(TRIAGE, name="ai-triage", is_member=True)
    stand_in.add_channel(DIGEST, name="ai-digest", is_member=True)
    stand_in.add_channel("CGENERAL01", name="general", is_member=False)
    for user in (ALICE, LEAD):
        stand_in.add_user(user.id, name=user.name)
    return stand_in.start()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def edge_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    """The real app, shared by a module's tests, on SQLite and on PostgreSQL. Requests go through
    the WSGI callable in-process unless the module sets `TRANSPORT = "http"` (a real socket)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('edge') / 'ai_signal.db'}"
    else:
        url = fresh_postgres()
    stand_in = _standin()
    app = start_app(stand_in, url, transport=getattr(request.module, "TRANSPORT", "wsgi"))
    yield app
    app.stop()
    stand_in.stop()
    logging.getLogger().handlers.clear()


def count(app: RunningApp, model: Any) -> int:
    with app.runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def stored_state(app: RunningApp) -> tuple[int, int, int]:
    """How many signals, triage events and outbox rows there are."""
    return count(app, Signal), count(app, SignalEvent), count(app, OutboxItem)


def filed_ref(answer: str) -> str | None:
    """The reference in a receipt ("your signal *SIG-12* is filed ...")."""
    match = re.search(r"your signal \*(SIG-[A-Z0-9]+)\*", answer)
    return match.group(1) if match else None


def newest_signal(app: RunningApp) -> Signal:
    """The signal filed last (anonymous ones carry coarse timestamps: this orders by insertion
    through the named counter and the receipt instead, see `filed_ref`)."""
    with app.runtime.sessions() as session:
        return session.scalars(select(Signal).order_by(Signal.created_at.desc())).first()


def signal_by_ref(app: RunningApp, ref: str) -> Signal | None:
    with app.runtime.sessions() as session:
        return session.scalars(select(Signal).where(Signal.ref == ref)).first()


def delivered(app: RunningApp) -> None:
    """Deliver everything (posts are made after the ack); the outbox has nothing left to send."""
    app.settle()
    with app.runtime.sessions() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.state.in_(("pending", "claimed")))
        )
    assert pending == 0, f"{pending} outbox item(s) still to send"


def is_unreadable_answer(reply: Any) -> bool:
    """The documented "couldn't read that; nothing changed" answers (see handlers/listeners/errors.py)."""
    if reply.status != 200:
        return False
    if not reply.body:
        return True  # a button or an event: an empty 200
    answer = reply.json()
    if answer.get("response_action") == "update":
        return UNREADABLE_TEXT in str(answer["view"])
    return answer.get("text") == UNREADABLE_TEXT and answer.get("response_type") == "ephemeral"


# -- what the app sent to Slack ---------------------------------------------------------------

_TOKEN = re.compile(r"<([^<>]*)>")


def mrkdwn_in(value: Any) -> Iterator[str]:
    """Every mrkdwn text object in blocks or a view: where Slack turns `<!here>`, `<@U1>` and
    `<url|label>` into live mentions and links. (plain_text objects and input values are shown
    as typed, so a literal "<!here>" in them pings nobody.)"""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for item in value.values():
            yield from mrkdwn_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_in(item)


_POSTS = ("chat.postMessage", "chat.postEphemeral", "chat.update", "response_url")


def live_tokens(app: RunningApp, *, allowed: set[str]) -> list[str]:
    """Mentions, broadcasts and links in what the app posted, other than `allowed` mentions
    (the app names a named reporter and leads on purpose)."""
    found = []
    for call in app.standin.calls:
        texts = list(mrkdwn_in([call.params.get(k) for k in ("blocks", "view", "attachments")]))
        if call.method in _POSTS and isinstance(call.params.get("text"), str):
            texts.append(call.params["text"])  # a message's text is mrkdwn too
        for text in texts:
            for token in _TOKEN.findall(text):
                if f"<{token}>" not in allowed:
                    found.append(f"{call.method}: <{token}>")
    return found


def rejected_payloads(app: RunningApp) -> list[str]:
    """Calls the stand-in refused because a payload broke Block Kit's rules or limits."""
    return [
        f"{call.method}: {call.response.get('error')} {call.response.get('errors')}"
        for call in app.standin.calls
        if not call.ok and "invalid" in str(call.response.get("error", ""))
    ]


ALLOWED_MENTIONS = {f"<@{LEAD.id}>", "<@UALICE0001>"}
LEAD_MODALS = (ids.TRIAGE_MODAL, ids.ASK_MODAL, ids.RESOLVE_MODAL)
