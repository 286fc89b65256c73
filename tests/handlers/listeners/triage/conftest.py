"""Fixtures for the lead-triage scenario tests: the real app, on SQLite and
PostgreSQL, optionally with a clock the test moves forward."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from bot.clock import Clock
from bot.standin import SlackStandIn
from tests.conftest import ALICE, LEAD, RunningApp, start_app
from tests.handlers.listeners.triage.helpers import BOB, OTHER_LEAD


def launch(
    standin: SlackStandIn, database_url: str, *, clock: Clock | None = None, **env: str
) -> RunningApp:
    """The real app (migrations, Bolt, the HTTP edge, delivery worker), requests in-process."""
    return start_app(standin, database_url, clock=clock, **env)


@pytest.fixture
def people(standin: SlackStandIn) -> SlackStandIn:
    """Users the stand-in knows, so a DM to them (chat.postMessage channel=<user id>) lands."""
    for user in (ALICE, BOB, LEAD, OTHER_LEAD):
        standin.add_user(user.id, name=user.name)
    return standin


@pytest.fixture
def launcher(people: SlackStandIn, database_url: str) -> Iterator[Callable[..., RunningApp]]:
    """`launcher(clock=None, **env)` starts the app; everything started is stopped afterwards."""
    started: list[RunningApp] = []

    def start(*, clock: Clock | None = None, **env: str) -> RunningApp:
        app = launch(people, database_url, clock=clock, **env)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()
    logging.getLogger().handlers.clear()


@pytest.fixture
def app(launcher: Callable[..., RunningApp]) -> RunningApp:
    """The app with AI_SIGNAL_LEADS=ULEAD00001,ULEAD00002 and no anonymous delay."""
    return launcher(AI_SIGNAL_LEADS=f"{LEAD.id},{OTHER_LEAD.id}")
