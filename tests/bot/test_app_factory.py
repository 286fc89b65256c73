"""The Bolt app factory: quiet about the token it is given through its client (neither of Bolt's
two notices about an unused `token` reaches the log)."""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.runtime import build_runtime


def test_no_ignored_token_warning_when_the_token_is_in_the_environment(
    monkeypatch, caplog, tmp_path
):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-from-env",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
            "AI_SIGNAL_TRIAGE_CHANNEL": "CTRIAGE001",
        },
        http=True,
    )
    with caplog.at_level(logging.DEBUG):
        runtime = build_runtime(settings)
    try:
        assert runtime.app is not None
        noise = [r.getMessage() for r in caplog.records if "`token`" in r.getMessage()]
        assert noise == []
    finally:
        runtime.stop()
