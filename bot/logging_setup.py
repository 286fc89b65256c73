"""Logging that cannot leak who a reporter is.

Every line the app writes goes through `RedactingFormatter`, which removes Slack user, team and
DM ids, names, e-mail addresses, tokens, response URLs and trigger ids, and blanks request and
response payloads that slack-bolt and slack-sdk print (bolt logs a whole request body when a
signature check fails; slack-sdk logs every API call's parameters at DEBUG; Socket Mode logs each
envelope). It works on the final text, tracebacks included, so no code path can slip past it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

_SLACK_LOGGERS = ("slack_bolt", "slack_sdk", "ai_signal.bolt", "waitress")

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bx(?:ox[abposer]|app)-[A-Za-z0-9-]+"), "[token]"),
    (re.compile(r"https?://hooks\.[^\s\"'&,)]+"), "[response_url]"),
    (re.compile(r"\b\d{5,}\.\d{5,}\.[0-9a-f]{16,}\b"), "[trigger_id]"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (
        # key=value, "key": "value" and 'key': 'value' (a Python dict, as `logger.info(body)`
        # writes it). channel_id: the channel a command was typed in identifies people too.
        re.compile(
            r"(?i)([\"']?(?:user_?name|real_name|display_name|name|email|team_domain|channel_name|"
            r"channel_id|response_url|trigger_id|user_id|user|enterprise_name|domain)[\"']?"
            r"\s*[=:]\s*)"
            r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s&,}]+)"
        ),
        r"\1[redacted]",
    ),
    (re.compile(r"\b[UWTDE](?=[A-Z0-9]*\d)[A-Z0-9]{8,}\b"), "[id]"),
]
_PAYLOAD = re.compile(r"(?s)(\{.*\}|\bbody\b\s*[:=].*|\bpayload=.*)")
# An interaction's form field (URL-encoded JSON, which the patterns above cannot read), whatever
# logger writes it.
_FORM_PAYLOAD = re.compile(r"\bpayload=[^\s&]+")


def redact(text: str, *, payloads: bool = False) -> str:
    if payloads:
        text = _PAYLOAD.sub("[payload redacted]", text)
    text = _FORM_PAYLOAD.sub("payload=[payload redacted]", text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return redact(line, payloads=record.name.startswith(_SLACK_LOGGERS))


# Fields a log call may add (`extra=`) that the JSON lines carry: what kind of request, how it
# ended, how long it took. Never ids or text.
JSON_EXTRA_FIELDS = ("kind", "outcome", "duration_ms")
LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and kind, outcome, duration_ms
    when the call gave them, exception when there is one). Every text in it goes through the
    same `redact` as the text format, before it is serialised."""

    def format(self, record: logging.LogRecord) -> str:
        payloads = record.name.startswith(_SLACK_LOGGERS)
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage(), payloads=payloads),
        }
        for name in JSON_EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                entry[name] = value
            elif value is not None:
                entry[name] = redact(str(value), payloads=payloads)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info), payloads=payloads)
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text, payloads=payloads)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info), payloads=payloads)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "INFO", *, stream: TextIO | None = None, fmt: str = "text"
) -> logging.Handler:
    """Route every logger to one redacting handler on `stream` (stderr by default); `fmt` is
    "text" (one readable line) or "json" (one JSON object per line)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # waitress warns "Task queue depth is N" for every request that waits for a thread; under
    # load that is one line per request. Real server errors still come through.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return handler
