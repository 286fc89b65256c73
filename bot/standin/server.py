"""The Slack stand-in's HTTP server: request parsing, token check and method dispatch.

`SlackStandIn` runs a small HTTP server (standard library only) on a background thread. Point a
`slack_sdk.WebClient(base_url=stand_in.url)` at it and it answers the Web API methods this app
uses the way Slack does: same wire format, same error codes, Block Kit limits enforced
(`bot.standin.blocks`), trigger ids that expire, per-channel rate limits, and failures that can be
queued on demand (`bot.standin.workspace`). Every request is recorded as a `Call` so tests and
demos can inspect what the app sent.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import secrets
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.standin.workspace import Call, Workspace, _err, _Reply

__all__ = ["SlackStandIn"]


class _Headers(dict[str, str]):
    """A plain dict of request headers with lower-cased keys and case-insensitive lookups."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


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
        if reply.text is not None:
            payload = reply.text.encode("utf-8")
            content_type = "text/plain; charset=utf-8"
        else:
            payload = json.dumps(reply.body).encode("utf-8")
            content_type = "application/json; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up waiting (a delayed answer)


class SlackStandIn(Workspace):
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
        super().__init__(
            bot_token=bot_token,
            trigger_ttl=trigger_ttl,
            channel_rate_limit=channel_rate_limit,
            scopes=scopes,
        )
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        """Bind (a free port by default) and serve on a daemon thread. Returns self."""
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _Handler)
        server.stand_in = self
        self._server = server
        self.upload_url_base = f"http://{self._host}:{server.server_address[1]}/upload/v1"
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

    def new_response_url(self) -> str:
        """A response_url; POSTs there are recorded as Call(method="response_url")."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._response_urls.add(token)
        return f"{self.base_url}/response/{token}"

    # ---- HTTP entry point --------------------------------------------------------------------

    def _handle_http(self, *, path: str, headers: _Headers, raw_body: bytes) -> _Reply:
        parts = urlsplit(path)
        route = parts.path
        if route.startswith("/api/"):
            method = route[len("/api/") :]
        elif route.startswith("/response/"):
            method = "response_url"
        elif route.startswith("/upload/v1/"):
            return self._upload(route, headers, raw_body)
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
            self._recorded += 1
            self._changed.notify_all()
        return reply

    def _upload(self, route: str, headers: _Headers, raw_body: bytes) -> _Reply:
        """A file's bytes POSTed to the URL files.getUploadURLExternal gave: recorded as
        Call(method="upload") with the raw body."""
        with self._lock:
            reply = self.upload_bytes(route[len("/upload/v1/") :], raw_body)
            self._calls.append(
                Call(
                    method="upload",
                    params={},
                    headers=headers,
                    raw_body=raw_body,
                    status=reply.status,
                    response={"ok": reply.status == 200},
                    at=time.time(),
                    path=route,
                )
            )
            self._recorded += 1
            self._changed.notify_all()
        return reply

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
