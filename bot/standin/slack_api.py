"""A local stand-in for the Slack Web API.

`SlackStandIn` runs a small HTTP server (standard library only) on a background thread. Point a
`slack_sdk.WebClient(base_url=stand_in.url)` at it and it answers the Web API methods this app
uses the way Slack does: same wire format, same error codes, Block Kit limits enforced, trigger ids
that expire, per-channel rate limits, and failures that can be queued on demand. Every request is
recorded as a `Call` so tests and demos can inspect what the app sent.

The Block Kit checks live in the pure functions `validate_blocks` and `validate_view`.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import itertools
import json
import math
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_ID",
    "Call",
    "SlackStandIn",
    "validate_blocks",
    "validate_view",
]

BOT_USER_ID = "UBOTSTANDIN"
BOT_ID = "BSTANDIN"
TEAM_ID = "TSTANDIN"
TEAM_NAME = "Stand-in"
TEAM_URL = "https://standin.slack.test/"
APP_ID = "ASTANDIN"

Surface = Literal["message", "modal", "home"]

# --------------------------------------------------------------------------------------------
# Block Kit validation (pure functions)
# --------------------------------------------------------------------------------------------

MAX_BLOCKS: dict[str, int] = {"message": 50, "modal": 100, "home": 100}
MESSAGE_TEXT_TRUNCATE_AT = 40_000
UPDATE_TEXT_MAX = 4_000

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_INPUT_ELEMENTS = frozenset(
    {
        "channels_select",
        "checkboxes",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "external_select",
        "file_input",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "number_input",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "static_select",
        "timepicker",
        "url_text_input",
        "users_select",
    }
)
_ELEMENT_TYPES = _INPUT_ELEMENTS | {"button", "image", "overflow", "workflow_button"}
_STATIC_SELECTS = frozenset({"static_select", "multi_static_select"})
_CHOICE_ELEMENTS = frozenset({"radio_buttons", "checkboxes"})


class _Problems:
    """Collects problems as '<message> [json-pointer:<path>]' strings."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, pointer: str, message: str) -> None:
        self.items.append(f"{message} [json-pointer:{pointer}]")


def _too_long(text: str, limit: int) -> str:
    return f"must be at most {limit} characters (got {len(text)})"


def _check_str(
    problems: _Problems, value: Any, pointer: str, limit: int, *, required: bool = False
) -> None:
    if value is None:
        if required:
            problems.add(pointer, "missing required field")
        return
    if not isinstance(value, str):
        problems.add(pointer, "must be a string")
    elif required and not value:
        problems.add(pointer, "must be more than 0 characters")
    elif len(value) > limit:
        problems.add(pointer, _too_long(value, limit))


def _check_text(
    problems: _Problems,
    obj: Any,
    pointer: str,
    limit: int,
    *,
    plain_only: bool = False,
    required: bool = True,
) -> None:
    """Check a composition text object ({"type": "plain_text"|"mrkdwn", "text": ...})."""
    if obj is None:
        if required:
            problems.add(pointer, "missing required field")
        return
    if not isinstance(obj, dict):
        problems.add(pointer, "must be a text object")
        return
    kind = obj.get("type")
    if plain_only and kind != "plain_text":
        problems.add(f"{pointer}/type", "must be plain_text")
    elif kind not in ("plain_text", "mrkdwn"):
        problems.add(f"{pointer}/type", "must be plain_text or mrkdwn")
    text = obj.get("text")
    if not isinstance(text, str):
        problems.add(f"{pointer}/text", "must be a string")
    elif not text:
        problems.add(f"{pointer}/text", "must be more than 0 characters")
    elif len(text) > limit:
        problems.add(f"{pointer}/text", _too_long(text, limit))


def _check_list(
    problems: _Problems, value: Any, pointer: str, *, minimum: int, maximum: int
) -> list[Any]:
    if not isinstance(value, list):
        problems.add(pointer, "must be an array")
        return []
    if len(value) < minimum:
        problems.add(pointer, f"must have at least {minimum} items (got {len(value)})")
    if len(value) > maximum:
        problems.add(pointer, f"must have at most {maximum} items (got {len(value)})")
    return value


def _check_option(problems: _Problems, option: Any, pointer: str, *, plain_only: bool) -> None:
    if not isinstance(option, dict):
        problems.add(pointer, "must be an option object")
        return
    _check_text(problems, option.get("text"), f"{pointer}/text", 75, plain_only=plain_only)
    _check_str(problems, option.get("value"), f"{pointer}/value", 150, required=True)
    _check_text(problems, option.get("description"), f"{pointer}/description", 75, required=False)
    _check_str(problems, option.get("url"), f"{pointer}/url", 3000)


def _check_confirm(problems: _Problems, confirm: Any, pointer: str) -> None:
    if not isinstance(confirm, dict):
        problems.add(pointer, "must be a confirmation dialog object")
        return
    _check_text(problems, confirm.get("title"), f"{pointer}/title", 100, plain_only=True)
    _check_text(problems, confirm.get("text"), f"{pointer}/text", 300)
    _check_text(problems, confirm.get("confirm"), f"{pointer}/confirm", 30, plain_only=True)
    _check_text(problems, confirm.get("deny"), f"{pointer}/deny", 30, plain_only=True)


def _check_image_element(problems: _Problems, element: dict[str, Any], pointer: str) -> None:
    if element.get("image_url") is None and element.get("slack_file") is None:
        problems.add(pointer, "must provide image_url or slack_file")
    _check_str(problems, element.get("image_url"), f"{pointer}/image_url", 3000)
    _check_str(problems, element.get("alt_text"), f"{pointer}/alt_text", 2000, required=True)


def _check_element(
    problems: _Problems, element: Any, pointer: str, action_ids: set[str] | None = None
) -> None:
    if not isinstance(element, dict):
        problems.add(pointer, "must be an element object")
        return
    kind = element.get("type")
    if kind not in _ELEMENT_TYPES:
        problems.add(f"{pointer}/type", f"unknown element type {kind!r}")
        return
    if kind == "image":
        _check_image_element(problems, element, pointer)
        return

    action_id = element.get("action_id")
    _check_str(problems, action_id, f"{pointer}/action_id", 255)
    if isinstance(action_id, str) and action_ids is not None:
        if action_id in action_ids:
            problems.add(f"{pointer}/action_id", f"duplicate action_id {action_id!r}")
        action_ids.add(action_id)
    if "placeholder" in element:
        _check_text(
            problems, element["placeholder"], f"{pointer}/placeholder", 150, plain_only=True
        )
    if "confirm" in element:
        _check_confirm(problems, element["confirm"], f"{pointer}/confirm")

    if kind in ("button", "workflow_button"):
        _check_text(problems, element.get("text"), f"{pointer}/text", 75, plain_only=True)
        _check_str(problems, element.get("value"), f"{pointer}/value", 2000)
        _check_str(problems, element.get("url"), f"{pointer}/url", 3000)
        style = element.get("style")
        if style is not None and style not in ("primary", "danger"):
            problems.add(f"{pointer}/style", "must be primary or danger")
    elif kind in _STATIC_SELECTS:
        options, groups = element.get("options"), element.get("option_groups")
        if (options is None) == (groups is None):
            problems.add(pointer, "must provide exactly one of options or option_groups")
        if options is not None:
            for i, opt in enumerate(
                _check_list(problems, options, f"{pointer}/options", minimum=1, maximum=100)
            ):
                _check_option(problems, opt, f"{pointer}/options/{i}", plain_only=True)
        if groups is not None:
            for g, group in enumerate(
                _check_list(problems, groups, f"{pointer}/option_groups", minimum=1, maximum=100)
            ):
                gp = f"{pointer}/option_groups/{g}"
                if not isinstance(group, dict):
                    problems.add(gp, "must be an option group object")
                    continue
                _check_text(problems, group.get("label"), f"{gp}/label", 75, plain_only=True)
                for i, opt in enumerate(
                    _check_list(
                        problems, group.get("options"), f"{gp}/options", minimum=1, maximum=100
                    )
                ):
                    _check_option(problems, opt, f"{gp}/options/{i}", plain_only=True)
    elif kind in _CHOICE_ELEMENTS:
        options = element.get("options")
        for i, opt in enumerate(
            _check_list(problems, options, f"{pointer}/options", minimum=1, maximum=10)
        ):
            _check_option(problems, opt, f"{pointer}/options/{i}", plain_only=False)
    elif kind == "overflow":
        options = element.get("options")
        for i, opt in enumerate(
            _check_list(problems, options, f"{pointer}/options", minimum=1, maximum=5)
        ):
            _check_option(problems, opt, f"{pointer}/options/{i}", plain_only=True)
    elif kind == "plain_text_input":
        for key in ("max_length", "min_length"):
            value = element.get(key)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                problems.add(f"{pointer}/{key}", "must be an integer")
            elif not 0 <= value <= 3000:
                problems.add(f"{pointer}/{key}", f"must be between 0 and 3000 (got {value})")
        initial = element.get("initial_value")
        max_length = element.get("max_length")
        if isinstance(initial, str) and isinstance(max_length, int) and len(initial) > max_length:
            problems.add(f"{pointer}/initial_value", _too_long(initial, max_length))


def _check_block(
    problems: _Problems,
    block: Any,
    pointer: str,
    block_ids: set[str],
) -> None:
    if not isinstance(block, dict):
        problems.add(pointer, "must be a block object")
        return
    kind = block.get("type")
    if kind not in _BLOCK_TYPES:
        problems.add(f"{pointer}/type", f"unknown block type {kind!r}")
        return
    block_id = block.get("block_id")
    _check_str(problems, block_id, f"{pointer}/block_id", 255)
    if isinstance(block_id, str):
        if block_id in block_ids:
            problems.add(f"{pointer}/block_id", f"duplicate block_id {block_id!r}")
        block_ids.add(block_id)

    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            problems.add(pointer, "must provide either text or fields")
        _check_text(problems, text, f"{pointer}/text", 3000, required=False)
        if fields is not None:
            for i, item in enumerate(
                _check_list(problems, fields, f"{pointer}/fields", minimum=1, maximum=10)
            ):
                _check_text(problems, item, f"{pointer}/fields/{i}", 2000)
        if "accessory" in block:
            _check_element(problems, block["accessory"], f"{pointer}/accessory", set())
    elif kind == "header":
        _check_text(problems, block.get("text"), f"{pointer}/text", 150, plain_only=True)
    elif kind == "context":
        elements = block.get("elements")
        for i, element in enumerate(
            _check_list(problems, elements, f"{pointer}/elements", minimum=1, maximum=10)
        ):
            ep = f"{pointer}/elements/{i}"
            if isinstance(element, dict) and element.get("type") == "image":
                _check_image_element(problems, element, ep)
            else:
                _check_text(problems, element, ep, 3000)
    elif kind == "actions":
        action_ids: set[str] = set()
        elements = block.get("elements")
        for i, element in enumerate(
            _check_list(problems, elements, f"{pointer}/elements", minimum=1, maximum=25)
        ):
            _check_element(problems, element, f"{pointer}/elements/{i}", action_ids)
    elif kind == "input":
        _check_text(problems, block.get("label"), f"{pointer}/label", 2000, plain_only=True)
        _check_text(
            problems, block.get("hint"), f"{pointer}/hint", 2000, plain_only=True, required=False
        )
        element = block.get("element")
        if element is None:
            problems.add(f"{pointer}/element", "missing required field")
        elif isinstance(element, dict) and element.get("type") not in _INPUT_ELEMENTS:
            problems.add(
                f"{pointer}/element/type",
                f"element type {element.get('type')!r} is not allowed in an input block",
            )
        else:
            _check_element(problems, element, f"{pointer}/element", set())
    elif kind == "image":
        _check_image_element(problems, block, pointer)
        _check_text(
            problems, block.get("title"), f"{pointer}/title", 2000, plain_only=True, required=False
        )
    elif kind == "markdown":
        _check_str(problems, block.get("text"), f"{pointer}/text", 12000, required=True)
    elif kind == "rich_text":
        if not isinstance(block.get("elements"), list):
            problems.add(f"{pointer}/elements", "must be an array")
    elif kind == "video":
        _check_text(problems, block.get("title"), f"{pointer}/title", 200, plain_only=True)
        _check_str(problems, block.get("video_url"), f"{pointer}/video_url", 3000, required=True)
        _check_str(problems, block.get("alt_text"), f"{pointer}/alt_text", 2000, required=True)


def _validate_blocks(blocks: Any, surface: str, base: str) -> list[str]:
    if surface not in MAX_BLOCKS:
        raise ValueError(f"surface must be one of {sorted(MAX_BLOCKS)}, not {surface!r}")
    problems = _Problems()
    if not isinstance(blocks, list):
        problems.add(base, "must be an array of blocks")
        return problems.items
    limit = MAX_BLOCKS[surface]
    if len(blocks) > limit:
        problems.add(base, f"a {surface} must have at most {limit} blocks (got {len(blocks)})")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        _check_block(problems, block, f"{base}/{i}", block_ids)
    return problems.items


def validate_blocks(blocks: Any, *, surface: Surface = "message") -> list[str]:
    """Check Block Kit `blocks` against Slack's limits for a surface.

    Returns problems ("<what> [json-pointer:/blocks/...]"); empty when the blocks are fine.
    """
    return _validate_blocks(blocks, surface, "/blocks")


def validate_view(view: Any, *, allowed_types: Iterable[str] = ("modal", "home")) -> list[str]:
    """Check a modal or Home tab view object. Returns problems; empty when the view is fine."""
    problems = _Problems()
    if not isinstance(view, dict):
        problems.add("/view", "must be a view object")
        return problems.items
    allowed = tuple(allowed_types)
    kind = view.get("type")
    if kind not in allowed:
        problems.add("/view/type", f"must be one of {', '.join(allowed)} (got {kind!r})")
        return problems.items
    if kind == "modal":
        _check_text(problems, view.get("title"), "/view/title", 24, plain_only=True)
        _check_text(
            problems, view.get("submit"), "/view/submit", 24, plain_only=True, required=False
        )
        _check_text(problems, view.get("close"), "/view/close", 24, plain_only=True, required=False)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and view.get("submit") is None:
            problems.add("/view/submit", "is required when the view has input blocks")
    _check_str(problems, view.get("private_metadata"), "/view/private_metadata", 3000)
    _check_str(problems, view.get("callback_id"), "/view/callback_id", 255)
    _check_str(problems, view.get("external_id"), "/view/external_id", 255)
    problems.items.extend(_validate_blocks(view.get("blocks"), kind, "/view/blocks"))
    return problems.items


# --------------------------------------------------------------------------------------------
# Recorded calls
# --------------------------------------------------------------------------------------------


class _Headers(dict[str, str]):
    """A plain dict of request headers with lower-cased keys and case-insensitive lookups."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class Call:
    """One request the stand-in received and what it answered.

    `params` merges query string and body (form, multipart or JSON); form fields holding a JSON
    array/object string (blocks, attachments, view, metadata, ...) are decoded. `headers` has
    lower-cased keys and case-insensitive lookups. `path` is the request path.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    raw_body: bytes
    status: int
    response: dict[str, Any]
    at: float
    path: str = ""

    @property
    def ok(self) -> bool:
        """True when answered with HTTP 200 and `"ok": true`."""
        return self.status == 200 and self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        """The error code answered, if any."""
        error = self.response.get("error")
        return error if isinstance(error, str) else None


# --------------------------------------------------------------------------------------------
# Request parsing
# --------------------------------------------------------------------------------------------

# Free-text form fields never decoded as JSON even when they look like it.
_NEVER_DECODE = frozenset({"text", "token", "channel", "ts", "thread_ts", "user", "value"})
# Fields decoded from a JSON string even inside a JSON body (Slack accepts both).
_JSON_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "user_auth_blocks"})


class _BadRequest(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _maybe_json(value: str) -> Any:
    stripped = value.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except ValueError:
            return value
    return value


def _parse_multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    fields: dict[str, Any] = {}
    if not message.is_multipart():
        raise _BadRequest("invalid_form_data")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            fields[name] = payload
        else:
            fields[name] = payload.decode("utf-8", errors="replace")
    return fields


def _parse_params(content_type: str, raw: bytes, query: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        if raw.strip():
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError as exc:
                raise _BadRequest("invalid_json") from exc
            if not isinstance(body, dict):
                raise _BadRequest("invalid_json")
            for key, value in body.items():
                if key in _JSON_FIELDS and isinstance(value, str):
                    value = _maybe_json(value)
                params[key] = value
        return params
    if kind == "multipart/form-data":
        form = _parse_multipart(content_type, raw)
    else:
        try:
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise _BadRequest("invalid_form_data") from exc
    params.update(form)
    for key, value in list(params.items()):
        if key not in _NEVER_DECODE and isinstance(value, str):
            params[key] = _maybe_json(value)
    return params


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # set on an accepted call whose answer comes late or never (see SlackStandIn.drop_answer_next)
    fault: _AnswerFault | None = None


@dataclass(frozen=True)
class _AnswerFault:
    delay: float
    drop: bool


@dataclass(frozen=True)
class _Failure:
    error: str
    status: int
    retry_after: int


def _ok(**fields: Any) -> _Reply:
    return _Reply({"ok": True, **fields})


def _err(
    error: str, *, status: int = 200, messages: list[str] | None = None, **extra: Any
) -> _Reply:
    body: dict[str, Any] = {"ok": False, "error": error, **extra}
    if messages:
        body["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in messages]}
    return _Reply(body, status)


def _missing(name: str) -> _Reply:
    return _err("invalid_arguments", messages=[f"missing required field: {name}"])


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stand_in: SlackStandIn


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "SlackStandIn/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging."""

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        reply = self.server.stand_in._handle_http(
            path=self.path, headers=_Headers(self.headers.items()), raw_body=raw
        )
        if reply.fault is not None:
            time.sleep(reply.fault.delay)
            if reply.fault.drop:
                self.close_connection = True
                return
        payload = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up waiting (a delayed answer)


# --------------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------------


def _check_rate_limit(rate_limit: tuple[float, float] | None) -> None:
    if rate_limit is not None:
        rate, burst = rate_limit
        if rate <= 0 or burst < 1:
            raise ValueError("channel_rate_limit needs rate > 0 and burst >= 1")


class SlackStandIn:
    """A local Slack Web API. Use `with SlackStandIn() as slack:` or `start()` / `stop()`."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-standin",
        trigger_ttl: float = 3.0,
        channel_rate_limit: tuple[float, float] | None = None,
        scopes: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        _check_rate_limit(channel_rate_limit)
        self.bot_token = bot_token
        # None: the token has every scope; otherwise methods that need one answer missing_scope
        self.scopes = None if scopes is None else frozenset(scopes)
        self.trigger_ttl = trigger_ttl
        self.channel_rate_limit = channel_rate_limit
        self.socket_mode_url: str | None = None
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # directory (kept by reset)
        self._channels: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        # state (cleared by reset)
        self._calls: list[Call] = []
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._home_view_ids: dict[str, str] = {}
        self._down = False
        self._slow: dict[str, float] = {}
        # after a post is stored: answer late (or never) — the outcome the client cannot see
        self._answer_faults: dict[str, deque[_AnswerFault]] = {}
        self._answer_delay: dict[str, float] = {}
        # issued identifiers
        self._triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self._response_urls: set[str] = set()
        self._ts_micros = 0
        self._ids = itertools.count(1)
        self._methods: dict[str, Callable[[dict[str, Any]], _Reply]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.open": self._conversations_open,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        """Bind (a free port by default) and serve on a daemon thread. Returns self."""
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _Handler)
        server.stand_in = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"slack-standin-{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("SlackStandIn is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (no trailing slash)."""
        return f"http://{self._host}:{self.port}"

    @property
    def url(self) -> str:
        """The Web API base URL to pass as `WebClient(base_url=...)`."""
        return f"{self.base_url}/api/"

    # ---- directory ---------------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        is_member: bool = True,
        num_members: int = 50,
    ) -> None:
        """Register a channel (replaces one with the same id)."""
        with self._lock:
            self._channels[channel_id] = {
                "id": channel_id,
                "name": name if name is not None else channel_id.lower(),
                "is_private": is_private,
                "is_member": is_member,
                "is_im": False,
                "num_members": num_members,
            }

    def add_usergroup(self, usergroup_id: str, *, users: Iterable[str]) -> None:
        """Register a user group (answers usergroups.users.list)."""
        with self._lock:
            self._usergroups[usergroup_id] = list(users)

    def add_user(self, user_id: str, *, name: str | None = None) -> None:
        """Register a user: chat.postMessage/postEphemeral to a user id posts in their DM."""
        with self._lock:
            self._users[user_id] = {"id": user_id, "name": name or user_id.lower()}

    def dm_channel_id(self, user_id: str) -> str:
        """The id of the bot's DM channel with a user ("D" + the id without its first letter)."""
        return f"D{user_id[1:]}"

    # ---- test controls ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget calls, messages, views, queued failures, rate buckets, set_slow and set_down.

        Channels (with their membership), users and user groups are kept.
        """
        with self._lock:
            self._calls.clear()
            self._messages.clear()
            self._ephemerals.clear()
            self._failures.clear()
            self._buckets.clear()
            self._views.clear()
            self._home_view_ids.clear()
            self._down = False
            self._slow.clear()
            self._answer_faults.clear()
            self._answer_delay.clear()
            self._changed.notify_all()

    def issue_trigger_id(self) -> str:
        """A fresh trigger id: views.open/views.push accept it once within `trigger_ttl` s."""
        with self._lock:
            trigger_id = f"{next(self._ids)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = time.monotonic()
            return trigger_id

    def new_response_url(self) -> str:
        """A response_url; POSTs there are recorded as Call(method="response_url")."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._response_urls.add(token)
        return f"{self.base_url}/response/{token}"

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail (before auth or any other check).

        status 429 answers HTTP 429 with a Retry-After header; another non-200 status answers
        that status; 200 answers {"ok": false, "error": error}. `error` defaults to "ratelimited"
        for 429 and "internal_error" otherwise. `method` may also be "response_url".
        """
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error"
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            queue.extend(_Failure(error, status, retry_after) for _ in range(times))

    def drop_answer_next(
        self, method: str = "chat.postMessage", *, delay: float = 0.0, times: int = 1
    ) -> None:
        """Accept the next `times` successful calls of `method` (the post is stored), then wait
        `delay` seconds and close the connection without an answer: the client cannot tell
        whether Slack has the message."""
        with self._lock:
            queue = self._answer_faults.setdefault(method, deque())
            queue.extend(_AnswerFault(delay=delay, drop=True) for _ in range(times))

    def delay_answer_next(
        self, method: str = "chat.postMessage", *, delay: float, times: int = 1
    ) -> None:
        """Accept the next `times` successful calls of `method`, then answer `delay` s late (a
        client that times out first never learns that the post went through)."""
        with self._lock:
            queue = self._answer_faults.setdefault(method, deque())
            queue.extend(_AnswerFault(delay=delay, drop=False) for _ in range(times))

    def set_answer_delay(self, delay: float, method: str = "chat.postMessage") -> None:
        """Answer every successful call of `method` `delay` s after storing it (0 switches it
        off): Slack slow to answer after accepting a post."""
        with self._lock:
            if delay > 0:
                self._answer_delay[method] = delay
            else:
                self._answer_delay.pop(method, None)

    def set_channel_rate_limit(self, rate_limit: tuple[float, float] | None) -> None:
        """Switch the per-channel chat.postMessage limit (messages/s, burst) on, change it, or
        switch it off (None); every channel starts again with a full burst."""
        _check_rate_limit(rate_limit)
        with self._lock:
            self.channel_rate_limit = rate_limit
            self._buckets.clear()

    def set_slow(self, method: str, seconds: float | None) -> None:
        """While set, every call of `method` is answered `seconds` late (a slow Slack); None or
        0 answers it at once again. Other calls are not held up."""
        with self._lock:
            if seconds:
                self._slow[method] = seconds
            else:
                self._slow.pop(method, None)

    def set_down(self, down: bool = True) -> None:
        """While down, every Web API call answers HTTP 503."""
        with self._lock:
            self._down = down

    # ---- inspection ----------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every recorded call, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str, *, include_errors: bool = False) -> list[Call]:
        """Calls of `method`; only those answered ok unless include_errors."""
        with self._lock:
            return [c for c in self._calls if c.method == method and (include_errors or c.ok)]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until at least `count` ok calls of `method` exist; return them all.

        Raises AssertionError (listing what was seen) after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self._calls if c.method == method and c.ok]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"waited {timeout:g}s for {count} ok {method} call(s), got {len(found)}; "
                        f"calls seen: {self._describe_calls()}"
                    )
                self._changed.wait(remaining)

    def _describe_calls(self) -> str:
        if not self._calls:
            return "none"
        counts: Counter[str] = Counter()
        for call in self._calls:
            counts[call.method if call.ok else f"{call.method} -> {call.error or call.status}"] += 1
        return ", ".join(f"{name} x{n}" for name, n in counts.items())

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages posted in a channel (id, #name, or a user id for their DM), in post order.

        Each is {"ts", "channel", "text", "blocks", "thread_ts", "metadata", "updated"} (a copy).
        """
        with self._lock:
            resolved = self._resolve_channel(channel)
            channel_id = resolved["id"] if resolved else channel
            return copy.deepcopy(self._messages.get(channel_id, []))

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Replies posted with thread_ts == ts, in post order."""
        return [m for m in self.messages(channel) if m["thread_ts"] == ts]

    def ephemerals(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages: {"message_ts", "channel", "user", "text", "blocks", "thread_ts"}."""
        with self._lock:
            resolved = self._resolve_channel(channel) if channel else None
            channel_id = resolved["id"] if resolved else channel
            found = [e for e in self._ephemerals if channel is None or e["channel"] == channel_id]
            return copy.deepcopy(found)

    def view(self, view_id: str) -> dict[str, Any] | None:
        """The current state of a view opened, pushed, updated or published here."""
        with self._lock:
            view = self._views.get(view_id)
            return copy.deepcopy(view) if view is not None else None

    # ---- HTTP entry point --------------------------------------------------------------------

    def _handle_http(self, *, path: str, headers: _Headers, raw_body: bytes) -> _Reply:
        parts = urlsplit(path)
        route = parts.path
        if route.startswith("/api/"):
            method = route[len("/api/") :]
        elif route.startswith("/response/"):
            method = "response_url"
        else:
            return _err("not_found", status=404)
        with self._lock:
            slow = self._slow.get(method, 0.0)
        if slow:
            time.sleep(slow)  # outside the lock: only this caller waits
        with self._lock:
            try:
                params = _parse_params(headers.get("content-type", ""), raw_body, parts.query)
            except _BadRequest as exc:
                params = {}
                reply = _err(exc.error)
            else:
                try:
                    if method == "response_url":
                        reply = self._response_url(route[len("/response/") :], params)
                    else:
                        reply = self._web_api(method, params, headers)
                        if reply.status == 200 and reply.body.get("ok") is True:
                            reply = self._with_answer_fault(method, reply)
                except Exception as exc:
                    reply = _err("standin_internal_error", status=500, detail=repr(exc))
            self._calls.append(
                Call(
                    method=method,
                    params=params,
                    headers=headers,
                    raw_body=raw_body,
                    status=reply.status,
                    response=reply.body,
                    at=time.time(),
                    path=route,
                )
            )
            self._changed.notify_all()
        return reply

    def _with_answer_fault(self, method: str, reply: _Reply) -> _Reply:
        queue = self._answer_faults.get(method)
        if queue:
            return _Reply(reply.body, reply.status, reply.headers, fault=queue.popleft())
        delay = self._answer_delay.get(method)
        if delay:
            return _Reply(reply.body, reply.status, reply.headers, _AnswerFault(delay, False))
        return reply

    def _queued_failure(self, method: str) -> _Reply | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue.popleft()
        if failure.status == 429:
            retry = str(max(0, int(failure.retry_after)))
            return _Reply({"ok": False, "error": failure.error}, 429, {"Retry-After": retry})
        return _Reply({"ok": False, "error": failure.error}, failure.status)

    def _web_api(self, method: str, params: dict[str, Any], headers: _Headers) -> _Reply:
        if self._down:
            return _err("service_unavailable", status=503)
        failure = self._queued_failure(method)
        if failure is not None:
            return failure
        handler = self._methods.get(method)
        if handler is None:
            return _err("unknown_method")
        token = self._token(params, headers)
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                return _err("invalid_auth")
        elif token != self.bot_token:
            return _err("invalid_auth")
        return handler(params)

    @staticmethod
    def _token(params: dict[str, Any], headers: _Headers) -> str:
        auth = headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[len("bearer ") :].strip()
        token = params.get("token")
        return token if isinstance(token, str) else ""

    # ---- helpers -------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        """Unix time in microseconds like Slack's ts, strictly increasing (so `oldest` and
        `latest` bounds in conversations.history work as they do on Slack)."""
        self._ts_micros = max(int(time.time() * 1_000_000), self._ts_micros + 100)
        seconds, micros = divmod(self._ts_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):010d}"

    def _resolve_channel(self, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, str) or not value:
            return None
        if value in self._channels:
            return self._channels[value]
        if value in self._users:
            return self._dm(value)
        for user_id in self._users:
            if self.dm_channel_id(user_id) == value:
                return self._dm(user_id)
        name = value.removeprefix("#")
        for channel in self._channels.values():
            if channel["name"] == name:
                return channel
        return None

    def _dm(self, user_id: str) -> dict[str, Any]:
        return {
            "id": self.dm_channel_id(user_id),
            "name": user_id,
            "is_private": True,
            "is_member": True,
            "is_im": True,
            "user": user_id,
        }

    def _find_message(self, channel_id: str, ts: Any) -> dict[str, Any] | None:
        for message in self._messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        return None

    def _rate_limited(self, channel_id: str) -> _Reply | None:
        if self.channel_rate_limit is None:
            return None
        rate, burst = self.channel_rate_limit
        now = time.monotonic()
        tokens, last = self._buckets.get(channel_id, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[channel_id] = (tokens - 1.0, now)
            return None
        self._buckets[channel_id] = (tokens, now)
        retry_after = max(1, math.ceil((1.0 - tokens) / rate))
        return _Reply({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after)})

    @staticmethod
    def _blocks_param(params: dict[str, Any], surface: Surface) -> tuple[Any, _Reply | None]:
        """Return (blocks or None, error reply or None)."""
        blocks = params.get("blocks")
        if blocks is None or blocks == "":
            return None, None
        if not isinstance(blocks, list):
            return None, _err("invalid_blocks_format")
        problems = validate_blocks(blocks, surface=surface)
        if problems:
            return None, _err("invalid_blocks", messages=problems, errors=problems)
        return blocks, None

    @staticmethod
    def _metadata_param(params: dict[str, Any]) -> tuple[Any, _Reply | None]:
        metadata = params.get("metadata")
        if metadata is None or metadata == "":
            return None, None
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            return None, _err("invalid_metadata_format")
        return metadata, None

    def _message_payload(self, message: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": message["ts"],
            "text": message["text"],
        }
        if message["blocks"] is not None:
            payload["blocks"] = message["blocks"]
        if message["thread_ts"] is not None:
            payload["thread_ts"] = message["thread_ts"]
        if message["metadata"] is not None:
            payload["metadata"] = message["metadata"]
        if message["updated"]:
            payload["edited"] = {"user": BOT_USER_ID, "ts": message["ts"]}
        return payload

    # ---- Web API methods ---------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> _Reply:
        return _ok(
            url=TEAM_URL,
            team=TEAM_NAME,
            user="standin-bot",
            team_id=TEAM_ID,
            user_id=BOT_USER_ID,
            bot_id=BOT_ID,
            is_enterprise_install=False,
        )

    def _apps_connections_open(self, params: dict[str, Any]) -> _Reply:
        if self.socket_mode_url is None:
            return _err("socket_mode_not_enabled")
        return _ok(url=self.socket_mode_url)

    def _chat_post_message(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        if not channel["is_member"]:
            return _err("not_in_channel")
        limited = self._rate_limited(channel["id"])
        if limited is not None:
            return limited
        blocks, problem = self._blocks_param(params, "message")
        if problem is not None:
            return problem
        metadata, problem = self._metadata_param(params)
        if problem is not None:
            return problem
        text = "" if params.get("text") is None else str(params["text"])
        if not text and not blocks and not params.get("attachments"):
            return _err("no_text")
        thread_ts = params.get("thread_ts")
        thread_ts = str(thread_ts) if thread_ts not in (None, "") else None
        if thread_ts is not None and self._find_message(channel["id"], thread_ts) is None:
            return _err("thread_not_found")
        message = {
            "ts": self._next_ts(),
            "channel": channel["id"],
            "text": text[:MESSAGE_TEXT_TRUNCATE_AT],
            "blocks": blocks,
            "thread_ts": thread_ts,
            "metadata": metadata,
            "updated": 0,
        }
        self._messages.setdefault(channel["id"], []).append(message)
        return _ok(channel=channel["id"], ts=message["ts"], message=self._message_payload(message))

    def _chat_update(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        ts = params.get("ts")
        if ts in (None, ""):
            return _missing("ts")
        message = self._find_message(channel["id"], str(ts))
        if message is None:
            return _err("message_not_found")
        text = params.get("text")
        text = None if text is None else str(text)
        if text is not None and len(text) > UPDATE_TEXT_MAX:
            return _err("msg_too_long")
        blocks, problem = self._blocks_param(params, "message")
        if problem is not None:
            return problem
        metadata, problem = self._metadata_param(params)
        if problem is not None:
            return problem
        if not text and blocks is None and not params.get("attachments"):
            return _err("no_text")
        if text is not None:
            message["text"] = text
        if "blocks" in params:
            message["blocks"] = blocks
        if metadata is not None:
            message["metadata"] = metadata
        message["updated"] += 1
        return _ok(
            channel=channel["id"],
            ts=message["ts"],
            text=message["text"],
            message=self._message_payload(message),
        )

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        if not channel["is_member"]:
            return _err("not_in_channel")
        user = params.get("user")
        if not isinstance(user, str) or not user:
            return _err("user_not_in_channel")
        blocks, problem = self._blocks_param(params, "message")
        if problem is not None:
            return problem
        text = "" if params.get("text") is None else str(params["text"])
        if not text and not blocks and not params.get("attachments"):
            return _err("no_text")
        thread_ts = params.get("thread_ts")
        message_ts = self._next_ts()
        self._ephemerals.append(
            {
                "message_ts": message_ts,
                "channel": channel["id"],
                "user": user,
                "text": text[:MESSAGE_TEXT_TRUNCATE_AT],
                "blocks": blocks,
                "thread_ts": str(thread_ts) if thread_ts not in (None, "") else None,
            }
        )
        return _ok(message_ts=message_ts)

    def _chat_get_permalink(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        message = self._find_message(channel["id"], params.get("message_ts"))
        if message is None:
            return _err("message_not_found")
        permalink = f"{TEAM_URL}archives/{channel['id']}/p{message['ts'].replace('.', '')}"
        if message["thread_ts"] is not None:
            permalink += f"?thread_ts={message['thread_ts']}&cid={channel['id']}"
        return _ok(channel=channel["id"], permalink=permalink)

    def _conversation(self, channel: dict[str, Any]) -> dict[str, Any]:
        info = {
            "id": channel["id"],
            "name": channel["name"],
            "is_private": channel["is_private"],
            "is_member": channel["is_member"],
            "is_channel": not channel["is_private"],
            "is_group": channel["is_private"] and not channel["is_im"],
            "is_im": channel["is_im"],
            "is_archived": False,
        }
        if channel["is_im"]:
            info["user"] = channel["user"]
        return info

    def _missing_scope(self, channel: dict[str, Any]) -> _Reply | None:
        if self.scopes is None:
            return None
        needed = (
            "im:history"
            if channel["is_im"]
            else "groups:history"
            if channel["is_private"]
            else "channels:history"
        )
        if needed in self.scopes:
            return None
        return _err("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))

    @staticmethod
    def _bounds(params: dict[str, Any]) -> tuple[float, float, bool] | _Reply:
        try:
            oldest = float(params.get("oldest") or 0)
            latest = float(params.get("latest") or "inf")
        except (TypeError, ValueError):
            return _err("invalid_ts_oldest")
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        return oldest, latest, inclusive

    @staticmethod
    def _limit(params: dict[str, Any]) -> int:
        try:
            return min(max(int(params.get("limit") or 100), 1), 999)
        except (TypeError, ValueError):
            return 100

    def _history_payload(self, message: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        payload = self._message_payload(message)
        # Like Slack: message metadata only when asked for with include_all_metadata.
        if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
            payload.pop("metadata", None)
        return payload

    @staticmethod
    def _page(
        messages: list[dict[str, Any]], params: dict[str, Any], limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        try:
            start = int(str(params.get("cursor") or "0").removeprefix("next:"))
        except ValueError:
            start = 0
        page = messages[start : start + limit]
        more = start + limit < len(messages)
        meta = {"next_cursor": f"next:{start + limit}" if more else ""}
        return page, {"has_more": more, "response_metadata": meta}

    def _in_bounds(self, ts: str, bounds: tuple[float, float, bool]) -> bool:
        oldest, latest, inclusive = bounds
        value = float(ts)
        if inclusive:
            return oldest <= value <= latest
        return oldest < value < latest

    def _conversations_history(self, params: dict[str, Any]) -> _Reply:
        """Top-level messages, newest first, paged with a cursor (thread replies are not in a
        channel's history, as on Slack)."""
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        problem = self._missing_scope(channel)
        if problem is not None:
            return problem
        if not channel["is_member"] and channel["is_private"]:
            return _err("channel_not_found")
        bounds = self._bounds(params)
        if isinstance(bounds, _Reply):
            return bounds
        found = [
            m
            for m in reversed(self._messages.get(channel["id"], []))
            if m["thread_ts"] is None and self._in_bounds(m["ts"], bounds)
        ]
        page, more = self._page(found, params, self._limit(params))
        return _ok(messages=[self._history_payload(m, params) for m in page], **more)

    def _conversations_replies(self, params: dict[str, Any]) -> _Reply:
        """A thread: its parent first, then the replies oldest first (bounds apply to replies)."""
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        problem = self._missing_scope(channel)
        if problem is not None:
            return problem
        ts = params.get("ts")
        if ts in (None, ""):
            return _missing("ts")
        parent = self._find_message(channel["id"], str(ts))
        if parent is None or parent["thread_ts"] is not None:
            return _err("thread_not_found")
        bounds = self._bounds(params)
        if isinstance(bounds, _Reply):
            return bounds
        replies = [
            m
            for m in self._messages.get(channel["id"], [])
            if m["thread_ts"] == parent["ts"] and self._in_bounds(m["ts"], bounds)
        ]
        page, more = self._page([parent, *replies], params, self._limit(params))
        return _ok(messages=[self._history_payload(m, params) for m in page], **more)

    def _conversations_info(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        info = self._conversation(channel)
        if str(params.get("include_num_members", "")).lower() in ("1", "true"):
            info["num_members"] = channel.get("num_members", 0)
        return _ok(channel=info)

    def _conversations_join(self, params: dict[str, Any]) -> _Reply:
        channel = self._resolve_channel(params.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        if channel["is_private"]:
            return _err("method_not_supported_for_channel_type")
        channel["is_member"] = True
        return _ok(channel=self._conversation(channel))

    def _conversations_open(self, params: dict[str, Any]) -> _Reply:
        users = params.get("users")
        if not isinstance(users, str) or not users:
            return _err("users_list_not_supplied")
        ids = [u.strip() for u in users.split(",") if u.strip()]
        if len(ids) != 1:
            return _err("not_supported", messages=["the stand-in only opens 1:1 DMs"])
        if ids[0] not in self._users:
            return _err("user_not_found")
        return _ok(channel=self._conversation(self._dm(ids[0])))

    def _usergroups_users_list(self, params: dict[str, Any]) -> _Reply:
        users = self._usergroups.get(str(params.get("usergroup") or ""))
        if users is None:
            return _err("no_such_subteam")
        return _ok(users=list(users))

    # ---- views -------------------------------------------------------------------------------

    def _check_trigger(self, trigger_id: Any) -> _Reply | None:
        if not isinstance(trigger_id, str) or not trigger_id:
            return _missing("trigger_id")
        issued_at = self._triggers.get(trigger_id)
        if issued_at is None:
            return _err("invalid_trigger_id")
        if trigger_id in self._used_triggers or time.monotonic() - issued_at > self.trigger_ttl:
            return _err("expired_trigger_id")
        return None

    @staticmethod
    def _check_view(view: Any, allowed: tuple[str, ...]) -> _Reply | None:
        if view is None or view == "":
            return _missing("view")
        problems = validate_view(view, allowed_types=allowed)
        if problems:
            return _err("invalid_arguments", messages=problems, errors=problems)
        return None

    def _store_view(
        self,
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        stored = {
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": f"h{int(time.time())}.{secrets.token_hex(4)}",
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "root_view_id": root_view_id or view_id,
            "previous_view_id": previous_view_id,
        }
        self._views[view_id] = stored
        return stored

    def _external_id_taken(self, view: dict[str, Any], except_id: str | None = None) -> bool:
        external_id = view.get("external_id")
        return bool(external_id) and any(
            v["external_id"] == external_id and v["id"] != except_id for v in self._views.values()
        )

    def _views_open(self, params: dict[str, Any]) -> _Reply:
        trigger_id = params.get("trigger_id")
        view = params.get("view")
        problem = self._check_trigger(trigger_id) or self._check_view(view, ("modal",))
        if problem is not None:
            return problem
        if self._external_id_taken(view):
            return _err("duplicate_external_id")
        self._used_triggers.add(trigger_id)
        return _ok(view=self._store_view(view))

    def _views_push(self, params: dict[str, Any]) -> _Reply:
        trigger_id = params.get("trigger_id")
        view = params.get("view")
        problem = self._check_trigger(trigger_id) or self._check_view(view, ("modal",))
        if problem is not None:
            return problem
        if self._external_id_taken(view):
            return _err("duplicate_external_id")
        self._used_triggers.add(trigger_id)
        return _ok(view=self._store_view(view))

    def _views_update(self, params: dict[str, Any]) -> _Reply:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            return _missing("view_id")
        current = None
        if view_id:
            current = self._views.get(str(view_id))
        else:
            current = next(
                (v for v in self._views.values() if v["external_id"] == external_id), None
            )
        if current is None:
            return _err("not_found")
        view = params.get("view")
        problem = self._check_view(view, (current["type"],))
        if problem is not None:
            return problem
        expected_hash = params.get("hash")
        if expected_hash and expected_hash != current["hash"]:
            return _err("hash_conflict")
        if self._external_id_taken(view, except_id=current["id"]):
            return _err("duplicate_external_id")
        if not view.get("external_id") and current["external_id"]:
            view = {**view, "external_id": current["external_id"]}  # kept across updates
        stored = self._store_view(
            view,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        return _ok(view=stored)

    def _views_publish(self, params: dict[str, Any]) -> _Reply:
        user_id = params.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            return _missing("user_id")
        view = params.get("view")
        problem = self._check_view(view, ("home",))
        if problem is not None:
            return problem
        current_id = self._home_view_ids.get(user_id)
        expected_hash = params.get("hash")
        if expected_hash and current_id and expected_hash != self._views[current_id]["hash"]:
            return _err("hash_conflict")
        stored = self._store_view(view, view_id=current_id)
        self._home_view_ids[user_id] = stored["id"]
        return _ok(view=stored)

    # ---- response_url --------------------------------------------------------------------------

    def _response_url(self, token: str, params: dict[str, Any]) -> _Reply:
        failure = self._queued_failure("response_url")
        if failure is not None:
            return failure
        if token not in self._response_urls:
            return _err("no_active_hooks", status=404)
        blocks = params.get("blocks")
        if blocks is not None:
            problems = validate_blocks(blocks, surface="message")
            if problems:
                return _err("invalid_blocks", status=400, messages=problems, errors=problems)
        return _ok()
