"""Fixtures for the lead-triage scenario tests (issue 3): the real app over HTTP, on SQLite and
PostgreSQL, optionally with a clock the test moves forward."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import pytest

from bot.clock import Clock
from bot.config import Settings
from bot.http import HttpServer, create_wsgi_app
from bot.logging_setup import configure_logging
from bot.runtime import build_runtime
from bot.standin import SlackStandIn
from bot.standin.sender import SlackSender
from tests.conftest import ALICE, LEAD, SIGNING_SECRET, RunningApp, make_env
from tests.triage.helpers import BOB, OTHER_LEAD


def launch(
    standin: SlackStandIn, database_url: str, *, clock: Clock | None = None, **env: str
) -> RunningApp:
    """The real app (migrations, Bolt, waitress, delivery worker) on a free port."""
    log = io.StringIO()
    settings = Settings.from_env(
        make_env(api_url=standin.url, database_url=database_url, **env), http=True
    )
    configure_logging("DEBUG", stream=log)
    kwargs = {"clock": clock} if clock is not None else {}
    runtime = build_runtime(settings, poll_interval=0.05, **kwargs)
    runtime.worker.start()
    wsgi = create_wsgi_app(
        app=runtime.app, engine=runtime.engine, delivery=runtime.services.delivery
    )
    server = HttpServer(wsgi, host="127.0.0.1", port=0).start()
    sender = SlackSender(
        url=f"http://127.0.0.1:{server.port}/slack/events",
        signing_secret=SIGNING_SECRET,
        trigger_ids=standin.issue_trigger_id,
        response_urls=standin.new_response_url,
    )
    return RunningApp(runtime=runtime, server=server, sender=sender, standin=standin, log=log)


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
