"""The runtime's wiring of the Bolt app and the delivery worker: quiet about the token it is
given through its client, matchers fed the body directly, listeners tried by their key as Bolt
would try them all, and the per-channel pace taken from the settings."""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.runtime import build_runtime


def settings_for(tmp_path, token: str = "xoxb-test", **extra: str) -> Settings:
    """HTTP-mode settings of an app on SQLite in `tmp_path`, with `extra` variables on top."""
    env = {
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
        "AI_SIGNAL_TRIAGE_CHANNEL": "CTRIAGE001",
    }
    return Settings.from_env(env | extra, http=True)


def test_no_ignored_token_warning_when_the_token_is_in_the_environment(
    monkeypatch, caplog, tmp_path
):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    settings = settings_for(tmp_path, token="xoxb-from-env")
    with caplog.at_level(logging.DEBUG):
        runtime = build_runtime(settings)
    try:
        assert runtime.app is not None
        noise = [r.getMessage() for r in caplog.records if "`token`" in r.getMessage()]
        assert noise == []
    finally:
        runtime.stop()


def test_listener_matchers_get_the_body_directly_and_answer_as_bolts_own(tmp_path):
    from slack_bolt import BoltRequest, BoltResponse
    from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher, command

    settings = settings_for(tmp_path)
    runtime = build_runtime(settings)
    try:
        matchers = [m for listener in runtime.app._listeners for m in listener.matchers]
        assert matchers
        assert not [m for m in matchers if type(m) is BuiltinListenerMatcher]
        # The app's matcher class, around Bolt's own command matcher, answers as Bolt's does.
        body_matcher = type(runtime.app._listeners[0].matchers[0])
        bolts = command("/ai-signal", asyncio=False)
        ours = body_matcher(bolts.func)
        answers = []
        for text in ("command=%2Fai-signal&text=x", "command=%2Fother&text=x", "text=x"):
            request, response = BoltRequest(body=text, headers={}), BoltResponse(status=200)
            answers.append(ours.matches(request, response))
            assert answers[-1] == bolts.matches(request, response)
        assert answers == [True, False, False]
    finally:
        runtime.stop()


def test_the_delivery_worker_posts_at_the_configured_pace(tmp_path):
    from bot.jobs.delivery import SLACK_PACE

    default = build_runtime(settings_for(tmp_path))
    faster = build_runtime(settings_for(tmp_path, AI_SIGNAL_CHANNEL_POSTS_PER_SECOND="20"))
    try:
        assert default.worker.pace == SLACK_PACE and SLACK_PACE.rate == 1.0
        assert faster.worker.pace.rate == 20.0
        assert (faster.worker.pace.burst, faster.worker.pace.max_wait) == (
            SLACK_PACE.burst,
            SLACK_PACE.max_wait,
        )
    finally:
        default.stop()
        faster.stop()


def test_listeners_tried_by_their_key_answer_as_bolt_tries_them_all(tmp_path):
    """A listener registered for a plain string is skipped for a request that carries another
    one; listeners Bolt matches otherwise (a pattern, extra matchers) are still tried, and the
    first match in registration order still wins."""
    import re
    import threading

    from slack_bolt import BoltRequest

    settings = settings_for(tmp_path)
    runtime = build_runtime(settings)
    app = runtime.app
    ran: list[str] = []
    done = threading.Event()

    def listener(name: str):
        def run(ack, body):
            ack()
            ran.append(name)
            done.set()

        return run

    try:
        app.action("probe_exact")(listener("exact"))
        app.action(re.compile("^probe_"))(listener("pattern"))
        app.action("probe_late")(listener("late, behind the pattern"))
        app.action("checked_x", matchers=[lambda body: body["user"]["id"] == "U1"])(
            listener("checked")
        )
        app.command("/probe")(listener("command"))
        answers = {}
        for action_id, user in (
            ("probe_exact", "U1"),
            ("probe_late", "U1"),
            ("probe_other", "U1"),
            ("checked_x", "U1"),
        ):
            done.clear()
            body = {
                "type": "block_actions",
                "user": {"id": user},
                "team": {"id": "T1"},
                "actions": [{"action_id": action_id, "value": "x"}],
            }
            response = app.dispatch(BoltRequest(body=body, mode="socket_mode"))
            assert response.status == 200
            assert done.wait(5)
            answers[action_id] = ran.pop()
        done.clear()
        command = {"command": "/probe", "text": "", "user_id": "U1", "team_id": "T1"}
        assert app.dispatch(BoltRequest(body=command, mode="socket_mode")).status == 200
        assert done.wait(5)
        answers["/probe"] = ran.pop()
        assert answers == {
            "probe_exact": "exact",
            "probe_late": "pattern",
            "probe_other": "pattern",
            "checked_x": "checked",
            "/probe": "command",
        }
    finally:
        runtime.stop()
