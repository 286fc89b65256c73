"""HTTP mode: the Slack edge (signature check, parsing) in front of Bolt, behind waitress.

Routes: POST /slack/events (commands, interactivity, events), GET /healthz, GET /metrics
(Prometheus, see bot.health).

The edge, not Bolt, reads the raw request. In order:

1. no signature headers, a timestamp outside Slack's 5-minute window or a bad signature: 401,
   before anything is parsed (a body over `MAX_BODY_BYTES`: 413, unread). Refusals are counted
   and logged as at most one short WARNING line a minute (`RefusalLog`), never with the body;
2. the signed body is parsed with the standard library: `application/json` as JSON; a form
   (`application/x-www-form-urlencoded`) with `urllib.parse.parse_qs`, and its `payload` field,
   when there is one, as JSON. Bolt's own parser guesses from the substring "payload" and loses
   any slash command whose text contains that word;
3. a signed body that is not JSON where JSON is due (or not a JSON object) is answered 400 and
   nothing is done; a readable body whose envelope has shapes Bolt cannot handle (see
   `bolt_can_read`) gets the app's "couldn't read that" answer with a 200;
4. Bolt gets the parsed body itself (no text for it to parse, or re-guess, again) and its
   response is written back as it is.

Bolt's own signature check is off (`bot.app.create_app`): it would check the signature against
what it is given, not against the bytes Slack signed. The edge always checks.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from waitress import wasyncore
from waitress.server import create_server

from bot.db import database_reachable
from bot.health import METRICS_PATH, monitor_for
from bot.metrics import CONTENT_TYPE
from bot.services.delivery import DeliveryService
from handlers.listeners.errors import log_unreadable, unreadable_response

if TYPE_CHECKING:
    from bot.runtime import Runtime

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# How JSON text spells a surrogate, paired or not (only then is the parsed body searched).
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")

logger = logging.getLogger("ai_signal.http")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
SERVER_THREADS = 16
# Slack's own payloads are a few kB; a modal with every field full stays far below this.
MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_MAX_AGE = 5 * 60
REFUSAL_LOG_INTERVAL = 60.0

StartResponse = Callable[..., Any]
Answer = tuple[int, list[tuple[str, str]], bytes]


class RefusalLog:
    """Refused requests as at most one short WARNING line per `interval`, with counts by reason.

    A flood of forged requests must not fill the log: one line when the first refusal of a quiet
    spell arrives, then nothing until `interval` has passed, when the next refusal reports how many
    came meanwhile. Thread-safe (waitress serves on many threads). It never sees a body.
    """

    def __init__(
        self,
        log: logging.Logger = logger,
        *,
        interval: float = REFUSAL_LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._last: float | None = None

    def refused(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1
            now = self._clock()
            if self._last is not None and now - self._last < self._interval:
                return
            counts, self._counts = self._counts, Counter()
            self._last = now
        total = sum(counts.values())
        reasons = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
        self._log.warning(
            "refused %d request%s without a valid Slack signature (%s)",
            total,
            "" if total == 1 else "s",
            reasons,
        )


def _json_answer(status: int, payload: Mapping[str, Any]) -> Answer:
    body = json.dumps(payload).encode()
    return status, [("Content-Type", "application/json")], body


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


class Unparsable(ValueError):
    """A signed body that is not what its content type says (no JSON object where one is due)."""


def parse_body(text: str, content_type: str) -> dict[str, Any]:
    """A signed request body -> the dict Slack meant. Raises Unparsable."""
    return _parse(text, content_type)[0]


def _parse(text: str, content_type: str) -> tuple[dict[str, Any], str | None]:
    """`parse_body`, and the JSON text the dict was read from (None for a slash command's form
    fields, which the form decoder gives as valid text)."""
    if content_type == "application/json" or (
        content_type != "application/x-www-form-urlencoded" and text.lstrip().startswith("{")
    ):
        return _json_object(text), text
    fields = {
        key: values[0]
        for key, values in parse_qs(text, keep_blank_values=True, max_num_fields=1000).items()
    }
    if "payload" in fields:  # interactivity: one form field holding the JSON payload
        return _json_object(fields["payload"]), fields["payload"]
    return fields, None  # a slash command: the form fields themselves


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise Unparsable("not JSON") from error
    if not isinstance(value, dict):
        raise Unparsable("not a JSON object")
    return value


# -- what Bolt reads before any listener runs -------------------------------------------------

_TEXT_KEYS = (
    "type",
    "command",
    "callback_id",
    "user_id",
    "channel_id",
    "team_id",
    "enterprise_id",
    "response_url",
    "trigger_id",
    "text",
    "event_id",
    "thread_ts",
    "function_execution_id",
    "bot_access_token",
    "action_id",
    "tab",
    "subtype",
)
_REF_KEYS = ("user", "team", "channel", "enterprise")  # a string id or {"id": ...}
_NESTED_KEYS = ("event", "message", "previous_message", "item", "assistant_thread")
_DICT_KEYS = ("container", "function_data", "workflow_step", "function")


def _optional(value: Any, kind: type | tuple[type, ...]) -> bool:
    return value is None or isinstance(value, kind)


# Bolt reads these as `part.get(key, {}).get(...)`: present, they must be objects (not null).
_OBJECT_IF_PRESENT = ("event", "view", "function", "tokens")


def _readable_part(part: dict[str, Any], depth: int = 0) -> bool:
    if depth > 3:
        return True
    if any(key in part and not isinstance(part[key], dict) for key in _OBJECT_IF_PRESENT):
        return False
    if not all(_optional(part.get(key), str) for key in _TEXT_KEYS):
        return False
    for key in _REF_KEYS:
        ref = part.get(key)
        if not _optional(ref, (str, dict)) or (isinstance(ref, dict) and not _ids_are_text(ref)):
            return False
    if not all(_optional(part.get(key), dict) for key in _DICT_KEYS):
        return False
    for key in _NESTED_KEYS:
        nested = part.get(key)
        if not _optional(nested, dict) or (nested and not _readable_part(nested, depth + 1)):
            return False
    return True


def _ids_are_text(ref: dict[str, Any]) -> bool:
    return all(_optional(ref.get(key), str) for key in ("id", "team_id", "enterprise_id"))


def _list_of_dicts(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, dict) for v in value))


def bolt_can_read(body: dict[str, Any]) -> bool:
    """True when Bolt's request context, listener matching and payload helpers can read `body`.

    Bolt indexes the envelope without checks (`"id" in body["user"]`, `body["actions"][0]`,
    `body["view"]["callback_id"]`) and would answer a wrong type with a 500. What is inside the
    fields a listener reads (state.values, private_metadata, values) is the listeners' business.
    """
    if not _readable_part(body):
        return False
    if body.get("type") == "event_callback" and not (
        isinstance(body.get("event"), dict) and isinstance(body["event"].get("type"), str)
    ):
        return False
    for key in ("authorizations", "response_urls"):
        if not _list_of_dicts(body.get(key)):
            return False
    if not all(_readable_part(a) for a in body.get("authorizations") or []):
        return False
    if not all(_optional(u.get("response_url"), str) for u in body.get("response_urls") or []):
        return False
    view = body.get("view")
    if not _optional(view, dict):
        return False
    if body.get("type") in ("view_submission", "view_closed") and not (
        isinstance(view, dict)
        and isinstance(view.get("callback_id"), str)
        and isinstance(view.get("type"), str)
    ):
        return False  # Bolt reads body["view"]["type"] once a view has a callback_id
    if view is not None:
        keys = ("id", "callback_id", "type", "team_id", "app_installed_team_id", "hash")
        if not all(_optional(view.get(key), str) for key in keys):
            return False
    actions = body.get("actions")
    if not _list_of_dicts(actions):
        return False
    if body.get("type") == "block_actions" and not (
        actions and all(isinstance(action.get("action_id"), str) for action in actions)
    ):
        return False  # Bolt matches on body["actions"][0]["action_id"]
    for action in actions or []:
        if not all(_optional(action.get(k), str) for k in ("action_id", "block_id", "value")):
            return False
    return True


# -- the edge ---------------------------------------------------------------------------------


_FORWARDED_HEADERS = ("HTTP_X_SLACK_RETRY_NUM", "HTTP_X_SLACK_RETRY_REASON")


class SlackEdge:
    """Check, parse and hand one request from Slack to Bolt; see the module docstring."""

    def __init__(
        self,
        app: App,
        *,
        signing_secret: str,
        refusals: RefusalLog | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not signing_secret:
            raise ValueError("HTTP mode needs the signing secret")
        self._app = app
        self._verifier = SignatureVerifier(signing_secret)
        self._refusals = refusals or RefusalLog()
        self._max_body_bytes = max_body_bytes
        self._clock = clock

    def _refuse(self, reason: str, status: int = 401) -> Answer:
        self._refusals.refused(reason)
        return _json_answer(status, {"error": "invalid request"})

    def handle(self, environ: Mapping[str, Any]) -> Answer:
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE")
        if not timestamp or not signature:
            return self._refuse("unsigned")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) < 16):
            return self._refuse("bad timestamp")
        if abs(self._clock() - int(timestamp)) > SIGNATURE_MAX_AGE:
            return self._refuse("stale timestamp")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self._refuse("bad length", 400)
        if length < 0:
            return self._refuse("bad length", 400)
        if length > self._max_body_bytes:
            return self._refuse("too large", 413)
        raw = environ["wsgi.input"].read(length) if length else b""
        if len(raw) != length:
            return self._refuse("truncated", 400)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._refuse("bad signature")  # Slack signs UTF-8; this is not from Slack
        if not self._verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
            return self._refuse("bad signature")
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        try:
            body, json_text = _parse(text, content_type)
        except Unparsable as error:
            logger.warning("a signed request was unreadable (%s); nothing done", error)
            return _json_answer(400, {"error": "unreadable request"})
        if not bolt_can_read(body):
            log_unreadable(body, "envelope")
            return _from_bolt(unreadable_response(body))
        if json_text is not None and _ESCAPED_SURROGATE.search(json_text):
            # JSON may spell lone surrogates ("\\ud800"), which no UTF-8 text (the database, the
            # logs, Slack) can hold: they become U+FFFD, as the services' `storable` does, and
            # the rest is handled as sent. Only a JSON escape can make one: UTF-8 that holds one
            # was refused above, and the form decoder turns invalid bytes into U+FFFD itself.
            serialised = json.dumps(body, ensure_ascii=False)
            if _LONE_SURROGATE.search(serialised):
                body = json.loads(_LONE_SURROGATE.sub("\ufffd", serialised))
        return _from_bolt(self._dispatch(body, environ))

    def _dispatch(self, body: dict[str, Any], environ: Mapping[str, Any]) -> BoltResponse:
        headers = {"content-type": "application/json"}
        for key in _FORWARDED_HEADERS:
            if environ.get(key):
                headers[key[5:].replace("_", "-").lower()] = environ[key]
        try:
            # The parsed body itself, not JSON text for Bolt to parse again. Bolt takes a dict
            # only in its "socket_mode"; the mode decides nothing else but that Bolt's own
            # signature check is skipped, and that check is off here anyway (the edge did it).
            request = BoltRequest(
                body=body,
                query=environ.get("QUERY_STRING") or "",
                headers=headers,
                mode="socket_mode",
            )
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            # bolt_can_read missed a shape Bolt's context builder trips on.
            log_unreadable(body, "context")
            return unreadable_response(body)
        return self._app.dispatch(request)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body = self.handle(environ)
        start_response(_status_line(status), [*headers, ("Content-Length", str(len(body)))])
        return [body]


def _from_bolt(response: BoltResponse) -> Answer:
    headers = [
        (name.title(), str(value))
        for name, values in response.headers.items()
        if name != "content-length"
        for value in values
    ]
    return response.status, headers, (response.body or "").encode("utf-8")


def runtime_wsgi_app(runtime: Runtime, *, signing_secret: str) -> Callable[..., Iterable[bytes]]:
    """`create_wsgi_app` for what `bot.runtime.build_runtime` built."""
    return create_wsgi_app(
        app=runtime.app,
        engine=runtime.engine,
        delivery=runtime.services.delivery,
        signing_secret=signing_secret,
    )


def create_wsgi_app(
    *, app: App, engine: Engine, delivery: DeliveryService, signing_secret: str
) -> Callable[..., Iterable[bytes]]:
    slack = SlackEdge(app, signing_secret=signing_secret)
    monitor = monitor_for(app)  # bot.health: /healthz in full and /metrics

    def respond(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
        body = json.dumps(payload).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH:
            if method != "POST":
                return respond(start_response, "405 Method Not Allowed", {"error": "POST only"})
            return slack(environ, start_response)
        if monitor is not None and path == METRICS_PATH:
            body = monitor.metrics_text()
            start_response(
                "200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))]
            )
            return [body]
        if monitor is not None and path == HEALTH_PATH:
            code, payload = monitor.health()
            return respond(start_response, _status_line(code), payload)
        if path == HEALTH_PATH:
            outbox = _outbox_counts(delivery) if database_reachable(engine) else None
            if outbox is None:
                return respond(
                    start_response,
                    "503 Service Unavailable",
                    {"status": "unavailable", "database": "unreachable"},
                )
            return respond(
                start_response, "200 OK", {"status": "ok", "database": "ok", "outbox": outbox}
            )
        return respond(start_response, "404 Not Found", {"error": "not found"})

    return wsgi


def _outbox_counts(delivery: DeliveryService) -> dict[str, int] | None:
    """None when the database answers but cannot be used (e.g. tables missing): a 503, not a 500."""
    try:
        return delivery.health()
    except Exception as error:
        logger.warning("health check: the database is not usable (%s)", type(error).__name__)
        return None


def _wake_to_close(server: Any) -> bool:
    """Ask the loop to close every socket from inside (with nothing left to watch, it returns).
    False when the trigger's pipe is gone (EBADF)."""
    try:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    except OSError:
        return False
    return True


class HttpServer:
    """A waitress server on a background thread (so tests and the demo can run it in-process)."""

    def __init__(self, wsgi: Callable[..., Iterable[bytes]], *, host: str, port: int) -> None:
        self._server = create_server(
            wsgi, host=host, port=port, threads=SERVER_THREADS, ident="ai-signal"
        )
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._serve, name="ai-signal-http", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        try:
            self._server.run()
        except OSError:
            # Closing the sockets from outside the loop (see stop) can make its select() fail;
            # that is the end we asked for, not an error.
            if not self._stopping:
                raise

    def stop(self) -> None:
        """Finish the requests being handled, stop the worker threads, then end the loop."""
        server = self._server
        self._stopping = True
        # waitress's close() alone neither stops the worker threads nor ends the loop thread
        # (and closing sockets from another thread breaks the loop's select() with EBADF).
        server.task_dispatcher.shutdown(timeout=5)
        if self._thread is not None and self._thread.is_alive():
            if getattr(server.trigger, "_closed", False) or not _wake_to_close(server):
                # The loop cannot be woken: its trigger is closed already (and writing to its
                # old fd number could reach whatever file reuses it), or its pipe is gone. Close
                # from here: the loop ends at its next turn, or its select() fails on the closed
                # sockets, which ends the thread quietly (see _serve).
                logger.debug("http server: loop trigger unusable at stop; closing from outside")
                wasyncore.close_all(server._map)
            self._thread.join(5)
        else:
            wasyncore.close_all(server._map)
