"""Settings.from_env and the command line's handling of bad configuration."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.config import DEFAULT_ANON_DELAY, ConfigError, Settings, parse_delay
from tests.conftest import run_cli

BASE = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_SIGNING_SECRET": "secret",
    "AI_SIGNAL_TRIAGE_CHANNEL": "CTRIAGE001",
}


def settings(**overrides: str | None) -> Settings:
    env = dict(BASE)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return Settings.from_env(env)


def config_error(**overrides: str | None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        settings(**overrides)
    return info.value


# -- defaults ------------------------------------------------------------------------------


def test_defaults():
    s = settings()
    assert s.api_url == "https://slack.com/api/"
    assert s.database_url == "sqlite:///ai_signal.db"
    assert s.timezone == "UTC"
    assert s.anon_delay == (300, 1800) == DEFAULT_ANON_DELAY
    assert s.digest_channel == "CTRIAGE001"  # falls back to the triage channel
    assert s.leads == ()
    assert s.lead_group is None
    assert s.log_level == "INFO"
    assert s.port == 3000
    assert s.socket_mode is False
    assert s.app_token is None
    assert s.channel_posts_per_second == 1.0  # Slack's chat.postMessage pace


def test_reads_os_environ_by_default(monkeypatch):
    for key in list(os.environ):
        if key.startswith(("SLACK_", "AI_SIGNAL_")) or key in ("DATABASE_URL", "PORT", "LOG_LEVEL"):
            monkeypatch.delenv(key)
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PORT", "8080")
    assert Settings.from_env().port == 8080


def test_explicit_values():
    s = settings(
        SLACK_API_URL="https://slack-gov.com/api",
        DATABASE_URL="postgresql+psycopg://u@db/x",
        AI_SIGNAL_DIGEST_CHANNEL="GDIGEST01",
        AI_SIGNAL_LEADS=" UAAA111 , WBBB222 ,",
        AI_SIGNAL_LEAD_GROUP="S0LEADS1",
        AI_SIGNAL_TIMEZONE="Europe/Berlin",
        AI_SIGNAL_ANON_DELAY="60",
        LOG_LEVEL="debug",
        PORT="8080",
        AI_SIGNAL_CHANNEL_POSTS_PER_SECOND="2.5",
    )
    assert s.channel_posts_per_second == 2.5
    assert s.api_url == "https://slack-gov.com/api/"  # trailing slash added
    assert s.database_url == "postgresql+psycopg://u@db/x"
    assert s.digest_channel == "GDIGEST01"
    assert s.leads == ("UAAA111", "WBBB222")
    assert s.lead_group == "S0LEADS1"
    assert s.timezone == "Europe/Berlin"
    assert str(s.tzinfo) == "Europe/Berlin"
    assert s.anon_delay == (0, 60)
    assert s.log_level == "DEBUG"
    assert s.port == 8080


def test_blank_values_count_as_unset():
    s = settings(SLACK_API_URL="  ", AI_SIGNAL_TIMEZONE="", AI_SIGNAL_ANON_DELAY=" ")
    assert s.api_url == "https://slack.com/api/"
    assert s.timezone == "UTC"
    assert s.anon_delay == DEFAULT_ANON_DELAY


# -- required variables --------------------------------------------------------------------


@pytest.mark.parametrize(
    "variable", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "AI_SIGNAL_TRIAGE_CHANNEL"]
)
@pytest.mark.parametrize("value", [None, "", "   "])
def test_each_required_variable_missing(variable, value):
    error = config_error(**{variable: value})
    assert error.variable == variable
    assert str(error).startswith(variable + ":")
    assert "\n" not in str(error)


# -- malformed values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "variable, value",
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token"),
        ("SLACK_BOT_TOKEN", "hello"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token"),
        ("SLACK_API_URL", "slack.com/api"),
        ("SLACK_API_URL", "ftp://slack.com/api/"),
        ("AI_SIGNAL_TRIAGE_CHANNEL", "#ai-triage"),
        ("AI_SIGNAL_TRIAGE_CHANNEL", "ctriage001"),
        ("AI_SIGNAL_TRIAGE_CHANNEL", "UALICE0001"),
        ("AI_SIGNAL_TRIAGE_CHANNEL", "C"),
        ("AI_SIGNAL_DIGEST_CHANNEL", "ai-digest"),
        ("AI_SIGNAL_DIGEST_CHANNEL", "D0123ABCD"),
        ("AI_SIGNAL_LEADS", "bob"),
        ("AI_SIGNAL_LEADS", "UAAA111,@carol"),
        ("AI_SIGNAL_LEADS", "CAAA111"),
        ("AI_SIGNAL_LEAD_GROUP", "UAAA111"),
        ("AI_SIGNAL_LEAD_GROUP", "@leads"),
        ("AI_SIGNAL_TIMEZONE", "Mars/Olympus_Mons"),
        ("AI_SIGNAL_TIMEZONE", "Europe"),
        ("AI_SIGNAL_TIMEZONE", "../../etc/passwd"),
        ("AI_SIGNAL_TIMEZONE", "/etc/passwd"),
        ("AI_SIGNAL_ANON_DELAY", "5-2"),
        ("AI_SIGNAL_ANON_DELAY", "abc"),
        ("AI_SIGNAL_ANON_DELAY", "-5"),
        ("AI_SIGNAL_ANON_DELAY", "1.5"),
        ("AI_SIGNAL_ANON_DELAY", "10-"),
        ("LOG_LEVEL", "verbose"),
        ("LOG_LEVEL", "10"),
        ("PORT", "abc"),
        ("PORT", "0"),
        ("PORT", "65536"),
        ("PORT", "-1"),
        ("PORT", "80.5"),
        ("DATABASE_URL", "ai_signal.db"),
        ("AI_SIGNAL_CHANNEL_POSTS_PER_SECOND", "0"),
        ("AI_SIGNAL_CHANNEL_POSTS_PER_SECOND", "fast"),
    ],
)
def test_malformed_value_names_the_variable(variable, value):
    error = config_error(**{variable: value})
    assert error.variable == variable
    assert str(error).startswith(variable + ":")
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", (0, 0)),
        ("60", (0, 60)),
        ("300-1800", (300, 1800)),
        (" 300 - 1800 ", (300, 1800)),
        ("5-5", (5, 5)),
        (None, DEFAULT_ANON_DELAY),
    ],
)
def test_anon_delay_forms(text, expected):
    assert parse_delay(text) == expected
    if text is not None:
        assert settings(AI_SIGNAL_ANON_DELAY=text).anon_delay == expected


@pytest.mark.parametrize("text", ["5-2", "abc", "", "1e3", "10s"])
def test_anon_delay_rejects(text):
    with pytest.raises(ConfigError) as info:
        parse_delay(text)
    assert info.value.variable == "AI_SIGNAL_ANON_DELAY"


@pytest.mark.parametrize("value", ["C0123ABCD", "G0123ABCD", "C01"])
def test_channel_ids_accepted(value):
    assert settings(AI_SIGNAL_TRIAGE_CHANNEL=value).triage_channel == value


@pytest.mark.parametrize("value", ["1", "65535", " 8080 "])
def test_ports_accepted(value):
    assert settings(PORT=value).port == int(value)


# -- HTTP vs Socket Mode --------------------------------------------------------------------


def test_without_app_token_http_mode_needs_signing_secret():
    error = config_error(SLACK_SIGNING_SECRET=None)
    assert error.variable == "SLACK_SIGNING_SECRET"


def test_app_token_selects_socket_mode_and_signing_secret_is_optional():
    s = settings(SLACK_APP_TOKEN="xapp-1-abc", SLACK_SIGNING_SECRET=None)
    assert s.socket_mode is True
    assert s.app_token == "xapp-1-abc"
    assert s.signing_secret is None


def test_forced_http_mode_needs_signing_secret_even_with_app_token():
    env = dict(BASE, SLACK_APP_TOKEN="xapp-1-abc")
    del env["SLACK_SIGNING_SECRET"]
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env, http=True)
    assert info.value.variable == "SLACK_SIGNING_SECRET"
    s = Settings.from_env(dict(env, SLACK_SIGNING_SECRET="secret"), http=True)
    assert s.socket_mode is False
    assert s.app_token is None


def test_forced_socket_mode_needs_app_token():
    with pytest.raises(ConfigError) as info:
        Settings.from_env(dict(BASE), http=False)
    assert info.value.variable == "SLACK_APP_TOKEN"


# -- the command line ------------------------------------------------------------------------

FULL_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_SIGNING_SECRET": "secret",
    "AI_SIGNAL_TRIAGE_CHANNEL": "CTRIAGE001",
    # Never reached: configuration fails before anything connects.
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
}


@pytest.fixture
def cli(tmp_path: Path, monkeypatch, capsys):
    """`ai-signal ARGS` as an operator runs it (a clean environment, a working directory without
    a .env), through the CLI's `main` in this process (tests.conftest.run_cli). That a real
    process prints the same one line and exits 2 is tests/bot/test_startup_edges.py's."""

    def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            args,
            environment={"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **env},
            workdir=tmp_path,
            monkeypatch=monkeypatch,
            capsys=capsys,
            timeout=30,
        )

    return run


@pytest.mark.parametrize(
    "variable, value",
    [
        ("SLACK_BOT_TOKEN", None),
        ("SLACK_SIGNING_SECRET", None),
        ("AI_SIGNAL_TRIAGE_CHANNEL", None),
        ("AI_SIGNAL_TRIAGE_CHANNEL", "#triage"),
        ("AI_SIGNAL_ANON_DELAY", "5-2"),
        ("AI_SIGNAL_TIMEZONE", "Mars/Base"),
        ("PORT", "http"),
    ],
)
def test_cli_config_error_is_one_line_and_exit_2(cli, tmp_path, variable, value):
    env = dict(FULL_ENV)
    if value is None:
        env.pop(variable)
    else:
        env[variable] = value
    result = cli(env, "run")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "cli.db").exists()  # stopped before touching the database


def test_cli_reads_dotenv_from_working_directory(cli, tmp_path):
    """`.env` in the directory the operator runs `ai-signal` from is read; the environment wins."""
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-from-dotenv\n"
        "SLACK_SIGNING_SECRET=secret\n"
        "AI_SIGNAL_TRIAGE_CHANNEL=CTRIAGE001\n"
        "AI_SIGNAL_ANON_DELAY=9-1\n"
    )
    result = cli({"SLACK_API_URL": "http://127.0.0.1:9/api/"}, "run")
    assert result.returncode == 2, result.stderr
    assert "AI_SIGNAL_ANON_DELAY" in result.stderr  # so SLACK_BOT_TOKEN etc. came from .env
    assert "xoxb-from-dotenv" not in os.environ.values()  # and left with the command
    result = cli({"AI_SIGNAL_ANON_DELAY": "abc"}, "run")
    assert result.returncode == 2
    assert "'abc'" in result.stderr  # the real environment overrides .env


def test_small_crowd_threshold():
    assert settings().small_crowd == 10
    assert settings(AI_SIGNAL_SMALL_CROWD="0").small_crowd == 0
    assert settings(AI_SIGNAL_SMALL_CROWD="25").small_crowd == 25
    for bad in ("-3", "ten", "2.5"):
        assert config_error(AI_SIGNAL_SMALL_CROWD=bad).variable == "AI_SIGNAL_SMALL_CROWD"
