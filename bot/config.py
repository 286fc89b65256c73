"""Settings read from the environment.

`Settings.from_env()` is the only place that reads configuration. A missing or malformed value
raises `ConfigError`, which the entry point turns into one line naming the variable and exit code 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
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
    small_crowd: int = 10
    log_level: str = "INFO"
    port: int = 3000
    db_deadline_ms: int = 2000
    outbox_lease_seconds: float = 60.0
    retention_days: int | None = None  # None: keep the text of closed signals forever
    retention_keep_lessons: bool = True
    log_format: str = "text"  # or "json": one JSON object per line
    health_port: int | None = None  # /healthz and /metrics on a port of their own
    health_host: str = "127.0.0.1"

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, http: bool | None = None
    ) -> Settings:
        """Build settings from `env` (default: os.environ).

        `http` says which connection mode will run: True needs the signing secret, False needs the
        app-level token; None (the default) picks Socket Mode when SLACK_APP_TOKEN is set.
        """
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def required(name: str) -> str:
            value = get(name)
            if value is None:
                raise ConfigError(name, "is not set (see .env.example)")
            return value

        bot_token = required("SLACK_BOT_TOKEN")
        if not bot_token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN", "must be a bot token starting with xoxb-")
        app_token = get("SLACK_APP_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN", "must be an app-level token starting with xapp-")
        use_http = (app_token is None) if http is None else http
        if use_http:
            signing_secret = required("SLACK_SIGNING_SECRET")
        else:
            if app_token is None:
                raise ConfigError("SLACK_APP_TOKEN", "is required for Socket Mode")
            signing_secret = get("SLACK_SIGNING_SECRET")

        api_url = get("SLACK_API_URL") or DEFAULT_API_URL
        if not re.match(r"^https?://[^/\s]+", api_url):
            raise ConfigError("SLACK_API_URL", f"must be an http(s) URL, got {api_url!r}")
        if not api_url.endswith("/"):
            api_url += "/"

        triage = required("AI_SIGNAL_TRIAGE_CHANNEL")
        if not _CHANNEL_ID.match(triage):
            raise ConfigError(
                "AI_SIGNAL_TRIAGE_CHANNEL",
                f"must be a channel id such as C0123ABCD, got {triage!r}",
            )
        digest = get("AI_SIGNAL_DIGEST_CHANNEL") or triage
        if not _CHANNEL_ID.match(digest):
            raise ConfigError(
                "AI_SIGNAL_DIGEST_CHANNEL",
                f"must be a channel id such as C0123ABCD, got {digest!r}",
            )

        leads = tuple(x.strip() for x in (get("AI_SIGNAL_LEADS") or "").split(",") if x.strip())
        for lead in leads:
            if not _USER_ID.match(lead):
                raise ConfigError(
                    "AI_SIGNAL_LEADS", f"must be comma-separated user ids (U…), got {lead!r}"
                )
        lead_group = get("AI_SIGNAL_LEAD_GROUP")
        if lead_group is not None and not _GROUP_ID.match(lead_group):
            raise ConfigError(
                "AI_SIGNAL_LEAD_GROUP",
                f"must be a user-group id such as S0123ABCD, got {lead_group!r}",
            )

        timezone = get("AI_SIGNAL_TIMEZONE") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                "AI_SIGNAL_TIMEZONE", f"unknown timezone {timezone!r} (use e.g. Europe/Berlin)"
            ) from None

        anon_delay = parse_delay(get("AI_SIGNAL_ANON_DELAY"))

        digest_schedule = get("AI_SIGNAL_DIGEST_SCHEDULE") or DEFAULT_DIGEST_SCHEDULE
        try:
            from apscheduler.triggers.cron import CronTrigger

            CronTrigger.from_crontab(digest_schedule, timezone=timezone)
        except ValueError as error:
            raise ConfigError(
                "AI_SIGNAL_DIGEST_SCHEDULE",
                f"is not a cron expression ({error}); e.g. '0 9 * * mon' for Mondays 09:00",
            ) from None

        reminder_text = get("AI_SIGNAL_ACK_REMINDER_HOURS") or "48"
        try:
            ack_reminder_hours = float(reminder_text)
        except ValueError:
            ack_reminder_hours = -1.0
        if not ack_reminder_hours > 0:
            raise ConfigError(
                "AI_SIGNAL_ACK_REMINDER_HOURS",
                f"must be a positive number of hours, got {reminder_text!r}",
            )

        crowd_text = get("AI_SIGNAL_SMALL_CROWD") or "10"
        if not crowd_text.isdigit():
            raise ConfigError(
                "AI_SIGNAL_SMALL_CROWD",
                f"must be a whole number of people (0 disables), got {crowd_text!r}",
            )

        lease_text = get("AI_SIGNAL_OUTBOX_LEASE_SECONDS") or "60"
        try:
            outbox_lease = float(lease_text)
        except ValueError:
            outbox_lease = -1.0
        if not outbox_lease > 0:
            raise ConfigError(
                "AI_SIGNAL_OUTBOX_LEASE_SECONDS",
                f"must be a positive number of seconds, got {lease_text!r}",
            )

        log_level = (get("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")

        port_text = get("PORT") or "3000"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError("PORT", f"must be a port number 1-65535, got {port_text!r}")

        database_url = check_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL)

        deadline_text = get("AI_SIGNAL_DB_DEADLINE_MS") or "2000"
        if not deadline_text.isdigit() or not 100 <= int(deadline_text) <= 2800:
            raise ConfigError(
                "AI_SIGNAL_DB_DEADLINE_MS",
                f"must be milliseconds from 100 to 2800 (Slack waits 3 s), got {deadline_text!r}",
            )

        retention_text = get("AI_SIGNAL_RETENTION_DAYS")
        if retention_text is not None and not (
            retention_text.isdigit() and int(retention_text) > 0
        ):
            raise ConfigError(
                "AI_SIGNAL_RETENTION_DAYS",
                f"must be a whole number of days (unset keeps text forever), got {retention_text!r}",
            )
        keep_text = (get("AI_SIGNAL_RETENTION_KEEP_LESSONS") or "true").lower()
        if keep_text not in ("true", "false"):
            raise ConfigError(
                "AI_SIGNAL_RETENTION_KEEP_LESSONS", f"must be true or false, got {keep_text!r}"
            )

        log_format = log_format_from_env(env)

        health_text = get("AI_SIGNAL_HEALTH_PORT")
        if health_text is not None and not (health_text.isdigit() and 0 < int(health_text) < 65536):
            raise ConfigError(
                "AI_SIGNAL_HEALTH_PORT", f"must be a port number 1-65535, got {health_text!r}"
            )

        return cls(
            bot_token=bot_token,
            signing_secret=signing_secret,
            app_token=app_token if not use_http else None,
            api_url=api_url,
            database_url=database_url,
            triage_channel=triage,
            digest_channel=digest,
            leads=leads,
            lead_group=lead_group,
            timezone=timezone,
            anon_delay=anon_delay,
            code_key=get("AI_SIGNAL_CODE_KEY"),
            digest_schedule=digest_schedule,
            ack_reminder_hours=ack_reminder_hours,
            small_crowd=int(crowd_text),
            log_level=log_level,
            port=int(port_text),
            db_deadline_ms=int(deadline_text),
            outbox_lease_seconds=outbox_lease,
            retention_days=int(retention_text) if retention_text is not None else None,
            retention_keep_lessons=keep_text == "true",
            log_format=log_format,
            health_port=int(health_text) if health_text is not None else None,
            health_host=get("AI_SIGNAL_HEALTH_HOST") or "127.0.0.1",
        )


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


def database_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """The database URL alone, for commands (db upgrade) that need no Slack settings."""
    env = os.environ if env is None else env
    return check_database_url((env.get("DATABASE_URL") or "").strip() or DEFAULT_DATABASE_URL)


def log_format_from_env(env: Mapping[str, str] | None = None) -> str:
    """LOG_FORMAT alone ("text", the default, or "json"), for commands that need no Slack settings."""
    env = os.environ if env is None else env
    log_format = (env.get("LOG_FORMAT") or "").strip().lower() or "text"
    if log_format not in ("text", "json"):
        raise ConfigError("LOG_FORMAT", f"must be text or json, got {log_format!r}")
    return log_format


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
