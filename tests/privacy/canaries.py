"""Canary identities for the anonymity tests, and the searches that must never find them.

A canary is an identifier of the reporter that an anonymous path must not keep: the Slack user
id, handle, workspace domain, the invoking channel, the response_url and the trigger_id. The
tests plant them in the requests Slack would send and then look for them, in several encodings,
in the database files, in the captured log output and in every request the app sent to the Slack
stand-in.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bot.services.codes import normalize_code
from bot.standin import Call, SlackStandIn
from bot.standin.sender import SlackSender, SlackUser, Transport, http_transport
from handlers import ids
from models import Base
from tests.conftest import SIGNING_SECRET

CANARY_USER_ID = "UCANARY7Q2X"
CANARY_USER_NAME = "canary.zeta"
CANARY_TEAM_DOMAIN = "canary-team"
CANARY_CHANNEL = "CCANARY9K4"
CANARY_CHANNEL_NAME = "canary-room"
CANARY_RESPONSE_MARK = "canaryresp"
CANARY_TRIGGER_MARK = "canarytrig"

CANARY_USER = SlackUser(id=CANARY_USER_ID, name=CANARY_USER_NAME, team_domain=CANARY_TEAM_DOMAIN)

# Every planted value contains one of these; "canary" alone catches a half-redacted one too.
FIXED_NEEDLES = (
    CANARY_USER_ID,
    CANARY_USER_NAME,
    CANARY_TEAM_DOMAIN,
    CANARY_CHANNEL,
    CANARY_CHANNEL_NAME,
    CANARY_RESPONSE_MARK,
    CANARY_TRIGGER_MARK,
    "canary",
)


def encodings(value: str) -> set[str]:
    """The forms a value takes on the wire and in logs, lower-cased for a case-blind search."""
    json_escaped = json.dumps(value)[1:-1]
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value),
        json_escaped,
        json_escaped.replace("/", "\\/"),
        json.dumps(json_escaped)[1:-1],  # JSON inside JSON (a `payload=` or a `view` field)
        quote_plus(json_escaped),
        html.escape(value),
    }
    return {form.lower() for form in forms if form}


@dataclass(frozen=True)
class Leak:
    needle: str
    where: str
    context: str

    def __str__(self) -> str:
        return f"{self.needle!r} in {self.where}: …{self.context}…"


def find_in(haystack: str, needles: Iterable[str], where: str) -> list[Leak]:
    lowered = haystack.lower()
    leaks = []
    for needle in needles:
        for form in encodings(needle):
            at = lowered.find(form)
            if at != -1:
                context = haystack[max(0, at - 120) : at + len(form) + 120]
                leaks.append(Leak(needle, where, context.replace("\n", "⏎")))
                break
    return leaks


# ---- where to look ------------------------------------------------------------------------------


def sqlite_files(database_url: str) -> list[Path]:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return []
    main = Path(url.database or "")
    return [p for p in (main, Path(f"{main}-wal"), Path(f"{main}-shm")) if p.exists()]


def database_dump(database_url: str) -> str:
    """Every row of every table (Base.metadata's and any other in the schema), as text."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = set(Base.metadata.tables) | set(inspect(connection).get_table_names())
            lines = []
            for table in sorted(tables):
                if engine.dialect.name == "postgresql":
                    rows = connection.execute(text(f'SELECT CAST(t AS text) FROM "{table}" t'))
                else:
                    rows = connection.execute(text(f'SELECT * FROM "{table}"'))
                lines.extend(f"{table}: {tuple(row)}" for row in rows)
    finally:
        engine.dispose()
    return "\n".join(lines)


def database_leaks(database_url: str, needles: Iterable[str]) -> list[Leak]:
    needles = list(needles)
    leaks = find_in(database_dump(database_url), needles, "database rows")
    for path in sqlite_files(database_url):
        # Bytes as latin-1: a 1:1 mapping, so every ASCII canary is found wherever it sits,
        # including free pages and WAL frames that no SELECT can see any more.
        leaks += find_in(path.read_bytes().decode("latin-1"), needles, f"file {path.name}")
    return leaks


def _without_field(call: Call, name: str) -> tuple[dict[str, Any], str]:
    params = {k: v for k, v in call.params.items() if k != name}
    raw = call.raw_body.decode("utf-8", "replace")
    content_type = call.headers.get("content-type", "")
    if "json" in content_type:
        body = json.loads(raw or "{}")
        body.pop(name, None)
        raw = json.dumps(body)
    else:
        raw = json.dumps([(k, v) for k, v in parse_qsl(raw, keep_blank_values=True) if k != name])
    return params, raw


def call_text(call: Call, *, drop_trigger: bool = False) -> str:
    if drop_trigger:
        params, raw = _without_field(call, "trigger_id")
    else:
        params, raw = call.params, call.raw_body.decode("utf-8", "replace")
    return "\n".join(
        (
            f"{call.method} {call.path}",
            json.dumps(params, default=str, ensure_ascii=False),
            raw,
            json.dumps(dict(call.headers), default=str),
        )
    )


# ---- the planting side ---------------------------------------------------------------------------


@dataclass
class Canaries:
    """Senders that plant canaries, and a record of every identifier the app was handed."""

    events_url: str  # the app's /slack/events
    standin: SlackStandIn
    read_log: Callable[[], str]  # the app's log output so far
    transport: Transport = http_transport  # e.g. a RunningApp's `sender.transport`
    trigger_ids: list[str] = field(default_factory=list)
    response_urls: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    # Stand-in trigger ids of the commands that open a form (`/ai-signal`, `anon` alone,
    # `reveal <code>`): views.open must carry them back to Slack.
    modal_triggers: set[str] = field(default_factory=set)
    # An in-process app's `RunningApp.settle` (listeners finished, the outbox delivered); None
    # for an app in another process, whose posts can only be waited for.
    settle: Callable[..., None] | None = None

    def __post_init__(self) -> None:
        url = self.events_url
        self.sender = SlackSender(
            url=url,
            signing_secret=SIGNING_SECRET,
            trigger_ids=self.new_trigger,
            response_urls=self._canary_response_url,
            transport=self.transport,
        )
        self.modal_sender = SlackSender(
            url=url,
            signing_secret=SIGNING_SECRET,
            trigger_ids=self._modal_trigger,
            response_urls=self._canary_response_url,
            transport=self.transport,
        )

    def new_trigger(self) -> str:
        trigger = f"{int(time.time())}.{secrets.randbelow(10**9)}.{CANARY_TRIGGER_MARK}"
        trigger += secrets.token_hex(8)
        self.trigger_ids.append(trigger)
        return trigger

    def _modal_trigger(self) -> str:
        trigger = self.standin.issue_trigger_id()
        self.trigger_ids.append(trigger)
        self.modal_triggers.add(trigger)
        return trigger

    def _canary_response_url(self) -> str:
        # A real stand-in response_url (so a POST to it is recorded), marked in its query string.
        response_url = (
            f"{self.standin.new_response_url()}?{CANARY_RESPONSE_MARK}={secrets.token_hex(4)}"
        )
        self.response_urls.append(response_url)
        return response_url

    # -- requests, as Slack sends them ---------------------------------------------------------

    def command_fields(self, text: str, *, sender: SlackSender | None = None) -> dict[str, str]:
        return (sender or self.sender).command_fields(
            user=CANARY_USER,
            text=text,
            channel_id=CANARY_CHANNEL,
            channel_name=CANARY_CHANNEL_NAME,
        )

    def command(self, text: str, *, sender: SlackSender | None = None, **kw: Any):
        sender = sender or self.sender
        return sender.post_form(self.command_fields(text, sender=sender), **kw)

    def remember_code(self, code: str) -> str:
        self.codes.append(code)
        return code

    # -- what must never be found --------------------------------------------------------------

    def identity_needles(self) -> list[str]:
        """What identifies the reporter: planted values and the ids Slack handed out for them."""
        found = list(FIXED_NEEDLES) + self.trigger_ids + self.response_urls
        found += [u.split("/response/", 1)[1].split("?", 1)[0] for u in self.response_urls]
        return found

    def needles(self) -> list[str]:
        """Identity, plus every follow-up code: shown once to the reporter, stored nowhere."""
        found = self.identity_needles()
        for code in self.codes:
            found += [code, normalize_code(code)]
        return found

    def outbound_leaks(self, calls: Iterable[Call] | None = None) -> list[Leak]:
        """Every request the app sent to "Slack". One exception, and only one field of it:
        views.open must carry the trigger_id Slack issued for the command that opens a form
        (`/ai-signal` alone, `anon` alone, `reveal <code>`): it is Slack's own one-time token,
        handed back to Slack and kept nowhere, so that field of those calls is skipped.
        """
        needles = self.needles()
        leaks: list[Leak] = []
        for index, call in enumerate(self.standin.calls if calls is None else calls):
            drop = call.method == "views.open" and call.params.get("trigger_id") in (
                self.modal_triggers
            )
            leaks += find_in(
                call_text(call, drop_trigger=drop), needles, f"stand-in call #{index} {call.method}"
            )
        return leaks

    def log_leaks(self, log: str | None = None, where: str = "log") -> list[Leak]:
        return find_in(self.read_log() if log is None else log, self.needles(), where)

    def database_leaks(self, database_url: str) -> list[Leak]:
        return database_leaks(database_url, self.needles())

    def all_leaks(self, database_url: str) -> list[Leak]:
        return self.database_leaks(database_url) + self.log_leaks() + self.outbound_leaks()


# ---- reading what the app answered -----------------------------------------------------------

CODE = re.compile(r"`([A-Z2-7]{4}(?:-[A-Z2-7]{4}){7})`")
ANON_REF = re.compile(r"\bSIG-[A-Z][A-Z2-9]{5}\b")


def receipt(reply_json: dict[str, Any]) -> tuple[str, str]:
    """(reference, follow-up code) from a command's ephemeral answer or a modal's receipt view."""
    if "view" in reply_json:
        body = json.dumps(reply_json["view"]["blocks"])
    else:
        assert reply_json.get("response_type") == "ephemeral", reply_json
        body = reply_json["text"]
    code, ref = CODE.search(body), ANON_REF.search(body)
    assert code and ref, f"no anonymous receipt in {body!r}"
    return ref.group(0), code.group(1)


def file_anonymous(canaries: Canaries, text: str = "anon drift fraud-model precision fell 0.78"):
    reply = canaries.command(text)
    assert reply.status == 200, reply.text
    ref, code = receipt(reply.json())
    canaries.remember_code(code)
    return ref, code, reply


def triage_post(canaries: Canaries, ref: str, timeout: float = 8.0) -> dict[str, Any]:
    def posted():
        return [
            c
            for c in canaries.standin.calls_to("chat.postMessage")
            # Its own post (the text starts with its reference): a later post of the same
            # system names it too, under "seen before".
            if str(c.params.get("text", "")).startswith(f"{ref}:") and not c.params.get("thread_ts")
        ]

    if canaries.settle is not None:
        canaries.settle(held=True)
        calls = posted()
    else:
        # Another process posts: the stand-in wakes this wait whenever it records a call.
        calls = canaries.standin.wait_until(
            posted, timeout=timeout, what=f"the triage post of {ref}"
        )
    assert len(calls) == 1, f"{ref} posted {len(calls)} times"
    return calls[0].params


def modal_values(
    *, kind: str = "bias", text: str = "loan-model rejects more applicants over 60"
) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": "x"}}
    return {
        ids.KIND_BLOCK: {
            ids.KIND_INPUT: {"type": "static_select", "selected_option": {**option, "value": kind}}
        },
        ids.SYSTEM_BLOCK: {ids.SYSTEM_INPUT: {"type": "plain_text_input", "value": "loan-model"}},
        ids.TEXT_BLOCK: {ids.TEXT_INPUT: {"type": "plain_text_input", "value": text}},
        ids.IMPACT_BLOCK: {
            ids.IMPACT_INPUT: {"type": "plain_text_input", "value": "older applicants"}
        },
        ids.IDENTITY_BLOCK: {
            ids.IDENTITY_INPUT: {
                "type": "radio_buttons",
                "selected_option": {**option, "value": ids.IDENTITY_ANONYMOUS},
            }
        },
    }


def assert_no_leaks(leaks: list[Leak]) -> None:
    assert not leaks, "the reporter's identity leaked:\n" + "\n".join(map(str, leaks))
