"""Settings read from the environment.

`Settings.from_env()` is the only place that reads configuration. A missing or malformed value
raises `ConfigError`, which the entry point turns into one line naming the variable and exit code 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///ai_signal.db"
DEFAULT_ANON_DELAY = (300, 1800)
DEFAULT_DIGEST_SCHEDULE = "0 9 * * mon"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


class ConfigError(Exception):
    """A setting is missing or malformed. `variable` names it; str() is one readable line."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True, kw_only=True)
class Settings:
    bot_token: str
    signing_secret: str | None
    app_token: str | None
    api_url: str
    database_url: str
    triage_channel: str
    digest_channel: str
    leads: tuple[str, ...] = ()
    lead_group: str | None = None
    timezone: str = "UTC"
    anon_delay: tuple[int, int] = DEFAULT_ANON_DELAY
    code_key: str | None = None
    digest_schedule: str = DEFAULT_DIGEST_SCHEDULE
    ack_reminder_hours: float = 48.0
    # Where a signal is raised once its last reminder went unanswered (none: not escalated).
    escalation_channel: str | None = None
    escalation_group: str | None = None
    small_crowd: int = 10
    log_level: str = "INFO"
    port: int = 3000
    db_deadline_ms: int = 2000
    outbox_lease_seconds: float = 60.0
    # Posts a second to one channel (Slack's chat.postMessage limit is about one); above it, Slack
    # answers 429 and the worker waits out Retry-After.
    channel_posts_per_second: float = 1.0
    retention_days: int | None = None  # None: keep the text of closed signals forever
    retention_keep_lessons: bool = True
    log_format: str = "text"  # or "json": one JSON object per line
    health_port: int | None = None  # /healthz and /metrics on a port of their own
    health_host: str = "127.0.0.1"
    # Privacy: a report or chart cell (system x kind) of fewer signals is merged into "other".
    min_bucket: int = 3
    digest_chart: bool = True  # the weekly digest's chart of signals by kind (PNG upload)

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def escalation_target(self) -> str | None:
        """The channel escalations go to: the escalation channel, or with only a group the
        triage channel (the post mentions the group); None when neither is set."""
        if self.escalation_channel:
            return self.escalation_channel
        return self.triage_channel if self.escalation_group else None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, http: bool | None = None
    ) -> Settings:
        """Build settings from `env` (default: os.environ).

        `http` says which connection mode will run: True needs the signing secret, False needs the
        app-level token; None (the default) picks Socket Mode when SLACK_APP_TOKEN is set.
        Each variable is checked in the order of `SETTINGS`; the first problem is raised.
        """
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        values: dict[str, Any] = _connection(get, http)
        for setting in SETTINGS:
            text = get(setting.variable) or setting.default
            if text is None and setting.required:
                raise ConfigError(setting.variable, NOT_SET)
            try:
                values[setting.field] = setting.parse(text, values)
            except _Invalid as problem:
                raise ConfigError(setting.variable, str(problem)) from None
        return cls(**values)


NOT_SET = "is not set (see .env.example)"


class _Invalid(Exception):
    """A value that does not parse; str() is the problem, said after the variable's name."""


def _connection(get: Callable[[str], str | None], http: bool | None) -> dict[str, Any]:
    """The tokens and the signing secret, which depend on each other and on the mode."""
    bot_token = get("SLACK_BOT_TOKEN")
    if bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN", NOT_SET)
    if not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN", "must be a bot token starting with xoxb-")
    app_token = get("SLACK_APP_TOKEN")
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN", "must be an app-level token starting with xapp-")
    use_http = (app_token is None) if http is None else http
    signing_secret = get("SLACK_SIGNING_SECRET")
    if use_http and signing_secret is None:
        raise ConfigError("SLACK_SIGNING_SECRET", NOT_SET)
    if not use_http and app_token is None:
        raise ConfigError("SLACK_APP_TOKEN", "is required for Socket Mode")
    return {
        "bot_token": bot_token,
        "signing_secret": signing_secret,
        "app_token": app_token if not use_http else None,
    }


def _api_url(text: str, _: dict[str, Any]) -> str:
    if not re.match(r"^https?://[^/\s]+", text):
        raise _Invalid(f"must be an http(s) URL, got {text!r}")
    return text if text.endswith("/") else text + "/"


def _channel(text: str | None, values: dict[str, Any]) -> str:
    text = text or values["triage_channel"]  # the digest channel defaults to the triage channel
    if not _CHANNEL_ID.match(text):
        raise _Invalid(f"must be a channel id such as C0123ABCD, got {text!r}")
    return text


def _leads(text: str, _: dict[str, Any]) -> tuple[str, ...]:
    leads = tuple(x.strip() for x in text.split(",") if x.strip())
    for lead in leads:
        if not _USER_ID.match(lead):
            raise _Invalid(f"must be comma-separated user ids (U…), got {lead!r}")
    return leads


def _lead_group(text: str | None, _: dict[str, Any]) -> str | None:
    if text is not None and not _GROUP_ID.match(text):
        raise _Invalid(f"must be a user-group id such as S0123ABCD, got {text!r}")
    return text


def _escalation_channel(text: str | None, _: dict[str, Any]) -> str | None:
    if text is not None and not _CHANNEL_ID.match(text):
        raise _Invalid(f"must be a channel id such as C0123ABCD, got {text!r}")
    return text


def _timezone(text: str, _: dict[str, Any]) -> str:
    try:
        ZoneInfo(text)
    # A folder of the zone database ("Europe") is an OSError when tzdata is installed.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _Invalid(f"unknown timezone {text!r} (use e.g. Europe/Berlin)") from None
    return text


def _schedule(text: str, values: dict[str, Any]) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text, timezone=values["timezone"])
    except ValueError as error:
        raise _Invalid(
            f"is not a cron expression ({error}); e.g. '0 9 * * mon' for Mondays 09:00"
        ) from None
    return text


def _positive(unit: str) -> Callable[[str, dict[str, Any]], float]:
    def parse(text: str, _: dict[str, Any]) -> float:
        try:
            number = float(text)
        except ValueError:
            number = -1.0
        if not number > 0:
            raise _Invalid(f"must be a positive number of {unit}, got {text!r}")
        return number

    return parse


def _small_crowd(text: str, _: dict[str, Any]) -> int:
    if not text.isdigit():
        raise _Invalid(f"must be a whole number of people (0 disables), got {text!r}")
    return int(text)


def _log_level(text: str, _: dict[str, Any]) -> str:
    if text.upper() not in LOG_LEVELS:
        raise _Invalid(f"must be one of {', '.join(LOG_LEVELS)}")
    return text.upper()


def _port(text: str, _: dict[str, Any]) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise _Invalid(f"must be a port number 1-65535, got {text!r}")
    return int(text)


def _deadline(text: str, _: dict[str, Any]) -> int:
    if not text.isdigit() or not 100 <= int(text) <= 2800:
        raise _Invalid(f"must be milliseconds from 100 to 2800 (Slack waits 3 s), got {text!r}")
    return int(text)


def _as_is(text: str | None, _: dict[str, Any]) -> str | None:
    return text


def _retention_days(text: str | None, _: dict[str, Any]) -> int | None:
    if text is not None and not (text.isdigit() and int(text) > 0):
        raise _Invalid(f"must be a whole number of days (unset keeps text forever), got {text!r}")
    return int(text) if text is not None else None


def _true_or_false(text: str, _: dict[str, Any]) -> bool:
    if text.lower() not in ("true", "false"):
        raise _Invalid(f"must be true or false, got {text.lower()!r}")
    return text.lower() == "true"


def _log_format(text: str, _: dict[str, Any]) -> str:
    if text.lower() not in LOG_FORMATS:
        raise _Invalid(f"must be text or json, got {text.lower()!r}")
    return text.lower()


def _health_port(text: str | None, _: dict[str, Any]) -> int | None:
    if text is not None and not (text.isdigit() and 0 < int(text) < 65536):
        raise _Invalid(f"must be a port number 1-65535, got {text!r}")
    return int(text) if text is not None else None


def _min_bucket(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise _Invalid(f"must be a whole number of signals from 1 to 1000, got {text!r}")
    return int(text)


def _on_or_off(text: str, _: dict[str, Any]) -> bool:
    word = text.lower()
    if word not in ("on", "off", "true", "false"):
        raise _Invalid(f"must be on or off, got {word!r}")
    return word in ("on", "true")


@dataclass(frozen=True)
class Setting:
    """One environment variable: the `Settings` field it fills, the text used when it is unset
    or blank, and the parser that checks it (raising `_Invalid` with the problem). A parser
    sees the fields parsed before it (the digest channel defaults to the triage channel; the
    schedule is read in the timezone)."""

    field: str
    variable: str
    default: str | None
    parse: Callable[[Any, dict[str, Any]], Any]
    required: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("api_url", "SLACK_API_URL", DEFAULT_API_URL, _api_url),
    Setting("triage_channel", "AI_SIGNAL_TRIAGE_CHANNEL", None, _channel, required=True),
    Setting("digest_channel", "AI_SIGNAL_DIGEST_CHANNEL", None, _channel),
    Setting("leads", "AI_SIGNAL_LEADS", "", _leads),
    Setting("lead_group", "AI_SIGNAL_LEAD_GROUP", None, _lead_group),
    Setting("timezone", "AI_SIGNAL_TIMEZONE", "UTC", _timezone),
    Setting("anon_delay", "AI_SIGNAL_ANON_DELAY", None, lambda text, _: parse_delay(text)),
    Setting("digest_schedule", "AI_SIGNAL_DIGEST_SCHEDULE", DEFAULT_DIGEST_SCHEDULE, _schedule),
    Setting("ack_reminder_hours", "AI_SIGNAL_ACK_REMINDER_HOURS", "48", _positive("hours")),
    Setting("escalation_channel", "AI_SIGNAL_ESCALATION_CHANNEL", None, _escalation_channel),
    Setting("escalation_group", "AI_SIGNAL_ESCALATION_GROUP", None, _lead_group),
    Setting("small_crowd", "AI_SIGNAL_SMALL_CROWD", "10", _small_crowd),
    Setting("outbox_lease_seconds", "AI_SIGNAL_OUTBOX_LEASE_SECONDS", "60", _positive("seconds")),
    Setting(
        "channel_posts_per_second",
        "AI_SIGNAL_CHANNEL_POSTS_PER_SECOND",
        "1",
        _positive("posts a second"),
    ),
    Setting("log_level", "LOG_LEVEL", "INFO", _log_level),
    Setting("port", "PORT", "3000", _port),
    Setting(
        "database_url",
        "DATABASE_URL",
        DEFAULT_DATABASE_URL,
        lambda text, _: check_database_url(text),
    ),
    Setting("db_deadline_ms", "AI_SIGNAL_DB_DEADLINE_MS", "2000", _deadline),
    Setting("code_key", "AI_SIGNAL_CODE_KEY", None, _as_is),
    Setting("retention_days", "AI_SIGNAL_RETENTION_DAYS", None, _retention_days),
    Setting("retention_keep_lessons", "AI_SIGNAL_RETENTION_KEEP_LESSONS", "true", _true_or_false),
    Setting("log_format", "LOG_FORMAT", "text", _log_format),
    Setting("health_port", "AI_SIGNAL_HEALTH_PORT", None, _health_port),
    Setting("health_host", "AI_SIGNAL_HEALTH_HOST", "127.0.0.1", _as_is),
    Setting("min_bucket", "AI_SIGNAL_MIN_BUCKET", "3", lambda text, _: _min_bucket(text)),
    Setting("digest_chart", "AI_SIGNAL_DIGEST_CHART", "on", _on_or_off),
)

LOG_FORMATS = ("text", "json")


def log_format_from_env(env: Mapping[str, str] | None = None) -> str:
    """LOG_FORMAT alone ("text", the default, or "json"), for commands that need no Slack settings."""
    env = os.environ if env is None else env
    try:
        return _log_format((env.get("LOG_FORMAT") or "").strip() or "text", {})
    except _Invalid as problem:
        raise ConfigError("LOG_FORMAT", str(problem)) from None


def parse_delay(text: str | None) -> tuple[int, int]:
    """`300-1800` -> (300, 1800); `600` -> (0, 600); `0` -> (0, 0); None -> the default range.

    A single number is an upper bound, not a fixed delay: a fixed delay would let anyone work
    back from the posting time to the minute the signal was filed.
    """
    if text is None:
        return DEFAULT_ANON_DELAY
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise ConfigError(
            "AI_SIGNAL_ANON_DELAY",
            f"must be seconds (e.g. 600) or a range (e.g. 300-1800), got {text!r}",
        )
    low = int(match.group(1))
    if match.group(2) is None:
        low, high = 0, low
    else:
        high = int(match.group(2))
    if high < low:
        raise ConfigError("AI_SIGNAL_ANON_DELAY", f"range {text!r} ends before it starts")
    return low, high


def min_bucket_from_env(env: Mapping[str, str] | None = None) -> int:
    """AI_SIGNAL_MIN_BUCKET alone (default 3), for commands that need no Slack settings."""
    env = os.environ if env is None else env
    try:
        return _min_bucket((env.get("AI_SIGNAL_MIN_BUCKET") or "").strip() or "3")
    except _Invalid as problem:
        raise ConfigError("AI_SIGNAL_MIN_BUCKET", str(problem)) from None


def database_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """The database URL alone, for commands (db upgrade) that need no Slack settings."""
    env = os.environ if env is None else env
    return check_database_url((env.get("DATABASE_URL") or "").strip() or DEFAULT_DATABASE_URL)


# The databases this app runs on, and the driver names accepted for each ("" is the default
# driver; postgresql and postgresql+psycopg2 URLs are served by psycopg 3, see bot/db.py).
DATABASE_DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg", "psycopg2")}
_DATABASE_EXAMPLES = "sqlite:///ai_signal.db or postgresql+psycopg://user:pass@host/db"


def check_database_url(url: str) -> str:
    """`url` if it names a database this app can use; otherwise ConfigError naming DATABASE_URL.

    Only the form is checked here (no file system, no network: see `bot.db.check_database`).
    Messages never repeat the URL itself, which may hold a password.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if "://" not in url:
        raise ConfigError("DATABASE_URL", f"must be a SQLAlchemy URL such as {_DATABASE_EXAMPLES}")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(
            "DATABASE_URL",
            f"is not a valid database URL (check the port and special characters; a password "
            f"with @, / or : must be percent-encoded). Examples: {_DATABASE_EXAMPLES}",
        ) from None
    backend, _, driver = parsed.drivername.partition("+")  # get_driver_name() loads the dialect
    if backend == "postgres":
        raise ConfigError(
            "DATABASE_URL",
            "unknown database 'postgres': write postgresql://… (or postgresql+psycopg://…)",
        )
    if backend not in DATABASE_DRIVERS:
        raise ConfigError(
            "DATABASE_URL",
            f"unknown database {parsed.drivername!r}: ai-signal runs on SQLite or PostgreSQL, "
            f"e.g. {_DATABASE_EXAMPLES}",
        )
    if driver not in DATABASE_DRIVERS[backend]:
        raise ConfigError(
            "DATABASE_URL",
            f"driver {parsed.drivername!r} is not supported; use "
            + ("sqlite:///…" if backend == "sqlite" else "postgresql+psycopg://…"),
        )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ConfigError("DATABASE_URL", f"port {parsed.port} is not a port number 1-65535")
    return url
