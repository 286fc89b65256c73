"""`ai-signal run` in Socket Mode, end to end and offline.

The real CLI runs as a subprocess. Its Web API calls go to `SlackStandIn`; apps.connections.open
there answers the URL of `SocketModeStandIn`, which plays Slack's WebSocket endpoint: it greets the
app with `hello`, delivers envelopes and records the acks that come back.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.standin import SlackStandIn
from bot.standin.sender import SlackSender, SlackUser
from handlers import ids
from tests.bot.socket_mode.ws_standin import SocketModeStandIn
from tests.conftest import ALICE, BOT_TOKEN, DIGEST, REPO_ROOT, TRIAGE, migrated_sqlite_url

REPO = REPO_ROOT
APP_TOKEN = "xapp-test"
BOB = SlackUser(id="UBOB000001", name="bob.k")
START_TIMEOUT = 15.0
# slack-sdk's client.close() waits out its 3 s socket receive timeout, so a clean stop takes ~3.2 s.
STOP_TIMEOUT = 8.0

# Every setting the app reads. Unset ones are pinned to "" so that a developer's .env (which
# load_dotenv(override=False) would otherwise fill in) cannot reach the test.
_PINNED_EMPTY = (
    "SLACK_SIGNING_SECRET",
    "AI_SIGNAL_LEADS",
    "AI_SIGNAL_LEAD_GROUP",
    "AI_SIGNAL_TIMEZONE",
    "PORT",
)
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def cli_env(*, api_url: str, database_url: str) -> dict[str, str]:
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "AI_SIGNAL_"))
        and key not in ("DATABASE_URL", "LOG_LEVEL", "PYTHONPATH")
        and key.lower() not in _PROXY_VARIABLES
    }
    return {
        **inherited,
        **dict.fromkeys(_PINNED_EMPTY, ""),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "AI_SIGNAL_TRIAGE_CHANNEL": TRIAGE,
        "AI_SIGNAL_DIGEST_CHANNEL": DIGEST,
        "AI_SIGNAL_ANON_DELAY": "0",
        "AI_SIGNAL_CODE_KEY": "k",
        "AI_SIGNAL_CHANNEL_POSTS_PER_SECOND": "20",  # the stand-in has no rate limit here
        "LOG_LEVEL": "DEBUG",
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class CliApp:
    process: subprocess.Popen[bytes]
    standin: SlackStandIn
    ws: SocketModeStandIn
    sender: SlackSender  # only to build what Slack sends; nothing is POSTed
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def command(
        self, text: str, *, user: SlackUser = ALICE, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Run `/ai-signal <text>` through Socket Mode; return the ack's payload."""
        fields = self.sender.command_fields(user=user, text=text, channel_id="CGENERAL01")
        envelope_id = self.ws.push_slash_command(fields)
        return self.ack_payload(envelope_id, timeout=timeout)

    def ack_payload(self, envelope_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        try:
            ack = self.ws.wait_for_ack(envelope_id, timeout=timeout)
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- app log ---\n{self.log()[-4000:]}") from None
        return ack.payload or {}


@pytest.fixture
def socket_standin() -> Iterator[SocketModeStandIn]:
    with SocketModeStandIn() as ws:
        yield ws


@pytest.fixture
def cli_app(
    standin: SlackStandIn, socket_standin: SocketModeStandIn, tmp_path: Path
) -> Iterator[CliApp]:
    """`python -m bot run` in Socket Mode, connected; killed at teardown whatever happened."""
    standin.add_user(ALICE.id, name=ALICE.name)
    standin.add_user(BOB.id, name=BOB.name)
    standin.socket_mode_url = socket_standin.url
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    log_path = tmp_path / "app.log"
    env = cli_env(api_url=standin.url, database_url=migrated_sqlite_url(tmp_path / "ai_signal.db"))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    app = CliApp(
        process=process,
        standin=standin,
        ws=socket_standin,
        sender=SlackSender(
            url="http://127.0.0.1:9/unused",
            signing_secret="unused",
            trigger_ids=standin.issue_trigger_id,
            response_urls=standin.new_response_url,
        ),
        log_path=log_path,
    )
    try:
        try:
            socket_standin.wait_for_connection(timeout=START_TIMEOUT, alive=app.alive)
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- app log ---\n{app.log()[-4000:]}") from None
        yield app
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(STOP_TIMEOUT)


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """What Slack puts in an events_api envelope's payload."""
    return {
        "token": "verification-token-unused",
        "team_id": "TSTANDIN",
        "api_app_id": "ASTANDIN",
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "TSTANDIN",
                "user_id": "UBOTSTANDIN",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def app_home_opened(user: SlackUser) -> dict[str, Any]:
    return {
        "type": "app_home_opened",
        "user": user.id,
        "channel": "D" + user.id[1:],
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }


def _user(user: SlackUser) -> dict[str, str]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}


def test_cli_runs_in_socket_mode(cli_app: CliApp) -> None:
    app, slack, ws = cli_app, cli_app.standin, cli_app.ws

    # Connected with the app-level token, over the URL apps.connections.open handed out.
    opens = slack.calls_to("apps.connections.open")
    assert len(opens) == 1
    assert opens[0].headers.get("authorization") == f"Bearer {APP_TOKEN}"
    assert ws.connections[0].path.startswith("/link/?ticket=")

    # A quick named signal: the receipt is the ack's payload, the post reaches triage.
    receipt = app.command("drift fraud model precision fell")
    assert receipt["response_type"] == "ephemeral"
    assert "SIG-1" in receipt["text"]
    post = slack.wait_for("chat.postMessage")[0]
    assert post.params["channel"] == TRIAGE
    assert f"<@{ALICE.id}>" in str(post.params["blocks"])

    # An anonymous one: the ack carries the follow-up code, the post names nobody.
    receipt = app.command("anon bias loan model rejects more applicants over 60")
    ref = re.search(r"\*(SIG-[A-Z0-9]+)\*", receipt["text"])
    code = re.search(r"follow-up code: `([^`]+)`", receipt["text"])
    assert ref is not None and code is not None, receipt["text"]
    post = slack.wait_for("chat.postMessage", 2)[1]
    assert post.params["channel"] == TRIAGE
    assert "Anonymous" in str(post.params["blocks"])
    assert ref.group(1) in str(post.params["blocks"])
    assert ALICE.id not in str(post.params)
    assert ref.group(1) in app.command(f"status {code.group(1)}")["text"]

    # App Home: published once; Slack's redelivery of the same event_id publishes nothing.
    home = event_callback(app_home_opened(ALICE))
    app.ack_payload(ws.push_event(home))
    assert slack.wait_for("views.publish")[0].params["user_id"] == ALICE.id
    app.ack_payload(ws.push_event(home, retry_attempt=1, retry_reason="timeout"))
    # A later, distinct event is the marker: once its publish is in, the redelivery's would be.
    app.ack_payload(ws.push_event(event_callback(app_home_opened(BOB))))
    published = slack.wait_for("views.publish", 2)
    assert [c.params["user_id"] for c in published] == [ALICE.id, BOB.id]

    # Slack asks for a reconnect now and then: the app opens a new connection and carries on.
    ws.request_reconnect()
    ws.wait_for_connection(2, timeout=10, alive=app.alive)
    assert len(slack.calls_to("apps.connections.open")) == 2
    # (slack-sdk's client reads the new connection once the old one's 3 s recv timeout ends)
    assert "status" in app.command("help", timeout=10)["text"]

    # SIGTERM: a clean stop, exit code 0.
    app.process.send_signal(signal.SIGTERM)
    try:
        exit_code = app.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit within {STOP_TIMEOUT}s of SIGTERM\n{app.log()[-4000:]}")
    assert exit_code == 0, app.log()[-4000:]
    assert "ai-signal stopped" in app.log()


def test_modal_submission_through_socket_mode(cli_app: CliApp) -> None:
    app, slack, ws = cli_app, cli_app.standin, cli_app.ws

    # The App Home button opens the modal (block_actions: ack without payload, then views.open).
    action = {
        "type": "block_actions",
        "team": {"id": ALICE.team_id, "domain": ALICE.team_domain},
        "user": _user(ALICE),
        "api_app_id": "ASTANDIN",
        "token": "verification-token-unused",
        "trigger_id": slack.issue_trigger_id(),
        "container": {"type": "view", "view_id": "VHOME00001"},
        "actions": [
            {
                "type": "button",
                "action_id": ids.HOME_OPEN_MODAL_ACTION,
                "block_id": "home_actions",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    assert app.ack_payload(ws.push_interactive(action)) == {}
    view = slack.wait_for("views.open")[0].response["view"]
    assert view["callback_id"] == ids.SIGNAL_MODAL

    # Submitting it: the ack answers response_action=update with the receipt view.
    values = {
        ids.KIND_BLOCK: {
            ids.KIND_INPUT: {"type": "static_select", "selected_option": {"value": "drift"}}
        },
        ids.SYSTEM_BLOCK: {ids.SYSTEM_INPUT: {"type": "plain_text_input", "value": "fraud v3"}},
        ids.TEXT_BLOCK: {
            ids.TEXT_INPUT: {"type": "plain_text_input", "value": "precision fell to 0.78"}
        },
        ids.IMPACT_BLOCK: {ids.IMPACT_INPUT: {"type": "plain_text_input", "value": None}},
        ids.IDENTITY_BLOCK: {
            ids.IDENTITY_INPUT: {
                "type": "radio_buttons",
                "selected_option": {"value": ids.IDENTITY_NAMED},
            }
        },
    }
    submission = {
        "type": "view_submission",
        "team": {"id": ALICE.team_id, "domain": ALICE.team_domain},
        "user": _user(ALICE),
        "api_app_id": "ASTANDIN",
        "token": "verification-token-unused",
        "trigger_id": slack.issue_trigger_id(),
        "view": {**view, "state": {"values": values}},
        "response_urls": [],
        "is_enterprise_install": False,
    }
    answer = app.ack_payload(ws.push_interactive(submission))
    assert answer["response_action"] == "update", answer
    assert answer["view"]["callback_id"] == ids.SIGNAL_MODAL + "_done"
    assert "SIG-1" in str(answer["view"]["blocks"])

    post = slack.wait_for("chat.postMessage")[0]
    assert post.params["channel"] == TRIAGE
    assert f"<@{ALICE.id}>" in str(post.params["blocks"])


def test_the_form_type_ahead_through_socket_mode(cli_app: CliApp, tmp_path: Path) -> None:
    """A block_suggestion over the WebSocket: the ack's payload carries the options."""
    from datetime import UTC, datetime

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from bot.standin import validate_options
    from models import System, SystemAlias

    engine = create_engine(f"sqlite:///{tmp_path / 'ai_signal.db'}")
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        system = System(
            name="fraud-model",
            name_key="fraud-model",
            stage="pilot",
            created_at=now,
            updated_at=now,
        )
        session.add(system)
        session.flush()
        session.add(SystemAlias(system_id=system.id, alias="Scorer", alias_key="scorer"))
    engine.dispose()

    suggestion = {
        "type": "block_suggestion",
        "user": _user(ALICE),
        "team": {"id": ALICE.team_id, "domain": ALICE.team_domain},
        "api_app_id": "ASTANDIN",
        "token": "verification-token-unused",
        "container": {"type": "view", "view_id": "VFORM00001"},
        "view": {"id": "VFORM00001", "type": "modal", "callback_id": ids.SIGNAL_MODAL},
        "action_id": ids.SYSTEM_PICK_INPUT,
        "block_id": ids.SYSTEM_PICK_BLOCK,
        "value": "SCOR",
        "action_ts": f"{time.time():.6f}",
    }
    answer = cli_app.ack_payload(cli_app.ws.push_interactive(suggestion))
    assert validate_options(answer) == [], answer
    assert [o["value"] for o in answer["options"]] == ["fraud-model"]
