"""Send requests into the app exactly as Slack does: signed, form-encoded or JSON.

Used by the scenario tests, the demo and the benchmarks. Standard library plus slack-sdk's own
signature code, so the signing is the same Slack and Bolt use.

Two transports carry the signed bytes: `http_transport` (the default) posts them over a socket;
`WsgiTransport` hands the same bytes and headers to the app's WSGI callable in the calling thread
(no socket, no server threads), so the app's edge still checks the signature and parses the body
exactly as it does behind waitress.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Transport = Callable[[str, bytes, dict[str, str], float], Reply]


def http_transport(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    """POST over a socket to `url` (urllib)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read(), dict(error.headers))


class WsgiTransport:
    """POST into a WSGI callable in the calling thread: the request as a WSGI environ (the path
    and query of the URL, the headers as CGI variables, the body as `wsgi.input`), the answer
    collected from `start_response`. An exception in the app is logged and answered 500, as
    waitress does."""

    def __init__(self, wsgi: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi = wsgi

    def environ(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        parts = urlsplit(url)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": "",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": parts.hostname or "127.0.0.1",
            "SERVER_PORT": str(parts.port or 80),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": parts.scheme or "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ[f"HTTP_{key}"] = value
        return environ

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
        environ = self.environ(url, body, headers)
        answer: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(
            status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            answer["status"] = int(status.split(" ", 1)[0])
            answer["headers"] = dict(response_headers)
            return chunks.append

        try:
            result = self.wsgi(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            logging.getLogger("waitress").exception(
                "Exception while serving %s", environ["PATH_INFO"]
            )
            return Reply(500, b"Internal Server Error", {"Content-Type": "text/plain"})
        return Reply(answer["status"], b"".join(chunks), answer["headers"])


@dataclass(frozen=True, kw_only=True)
class SlackUser:
    id: str
    name: str
    team_id: str = "TSTANDIN"
    team_domain: str = "standin"


class SlackSender:
    def __init__(
        self,
        *,
        url: str,
        signing_secret: str,
        api_app_id: str = "ASTANDIN",
        timeout: float = 10.0,
        trigger_ids: Any = None,
        response_urls: Any = None,
        transport: Transport = http_transport,
    ) -> None:
        """`url` is the app's /slack/events URL. `trigger_ids` / `response_urls` are callables
        returning fresh ones (e.g. a stand-in's `issue_trigger_id` / `new_response_url`).
        `transport` carries the signed request (default: over HTTP; see `WsgiTransport`)."""
        self.url = url
        self.transport = transport
        self._verifier = SignatureVerifier(signing_secret)
        self._api_app_id = api_app_id
        self._timeout = timeout
        self._trigger_ids = trigger_ids or (lambda: f"{int(time.time())}.1.{secrets.token_hex(16)}")
        self._response_urls = response_urls or (lambda: "https://hooks.slack.com/commands/T/1/x")

    # -- raw ---------------------------------------------------------------------------------

    def post(
        self,
        body: bytes,
        *,
        content_type: str,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        ts = int(time.time()) if timestamp is None else timestamp
        sig = signature or self._verifier.generate_signature(timestamp=str(ts), body=body)
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sig,
            **(headers or {}),
        }
        return self.transport(self.url, body, all_headers, self._timeout)

    def post_form(self, fields: dict[str, str], **kwargs: Any) -> Reply:
        return self.post(
            urlencode(fields).encode(), content_type="application/x-www-form-urlencoded", **kwargs
        )

    def post_payload(self, payload: dict[str, Any], **kwargs: Any) -> Reply:
        return self.post_form({"payload": json.dumps(payload)}, **kwargs)

    # -- what Slack sends -------------------------------------------------------------------

    def command_fields(
        self,
        *,
        user: SlackUser,
        text: str,
        channel_id: str,
        channel_name: str = "general",
        command: str = "/ai-signal",
    ) -> dict[str, str]:
        return {
            "token": "verification-token-unused",
            "team_id": user.team_id,
            "team_domain": user.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": self._api_app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_urls(),
            "trigger_id": self._trigger_ids(),
        }

    def command(
        self, *, user: SlackUser, text: str = "", channel_id: str = "CGENERAL01", **kw: Any
    ) -> Reply:
        return self.post_form(
            self.command_fields(user=user, text=text, channel_id=channel_id), **kw
        )

    def _user(self, user: SlackUser) -> dict[str, str]:
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}

    def view_submission(
        self,
        *,
        user: SlackUser,
        view: dict[str, Any],
        values: dict[str, dict[str, Any]],
        view_id: str | None = None,
        **kw: Any,
    ) -> Reply:
        """Submit `view` (as the app opened it) with `values` as Slack's state.values."""
        payload = {
            "type": "view_submission",
            "team": {"id": user.team_id, "domain": user.team_domain},
            "user": self._user(user),
            "api_app_id": self._api_app_id,
            "trigger_id": self._trigger_ids(),
            "view": {
                **view,
                "id": view_id or "V" + secrets.token_hex(5).upper(),
                "team_id": user.team_id,
                "app_id": self._api_app_id,
                "hash": secrets.token_hex(8),
                "private_metadata": view.get("private_metadata", ""),
                "state": {"values": values},
            },
        }
        return self.post_payload(payload, **kw)

    def block_action(
        self,
        *,
        user: SlackUser,
        action_id: str,
        value: str | None = None,
        block_id: str = "",
        channel_id: str | None = None,
        message: dict[str, Any] | None = None,
        container: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        action_type: str = "button",
        selected_option: dict[str, Any] | None = None,
        response_url: bool | None = None,
        **kw: Any,
    ) -> Reply:
        """A click. `state` is the state.values of the message's inputs (Slack sends them with
        every click on a message: e.g. ticked checkboxes); a select sends `selected_option`
        (`action_type="static_select"`). A click on a message carries a response_url (also an
        ephemeral one without `channel_id`: `response_url=True`)."""
        action: dict[str, Any] = {
            # A choice in an external_select unless the caller names the element.
            "type": "external_select"
            if selected_option is not None and action_type == "button"
            else action_type,
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": f"{time.time():.6f}",
        }
        if value is not None:
            action["value"] = value
        if selected_option is not None:
            action["selected_option"] = selected_option
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": user.team_id, "domain": user.team_domain},
            "user": self._user(user),
            "api_app_id": self._api_app_id,
            "trigger_id": self._trigger_ids(),
            "actions": [action],
            "container": container or {"type": "view"},
        }
        if channel_id is not None:
            payload["channel"] = {"id": channel_id, "name": "triage"}
        if response_url or (response_url is None and channel_id is not None):
            payload["response_url"] = self._response_urls()
        if message is not None:
            payload["message"] = message
        if view is not None:
            payload["view"] = view
        if state is not None:
            if view is not None:
                payload["view"] = {**view, "state": {"values": state}}
            else:
                payload["state"] = {"values": state}
        return self.post_payload(payload, **kw)

    def block_suggestion(
        self,
        *,
        user: SlackUser,
        action_id: str,
        value: str = "",
        block_id: str = "",
        view: dict[str, Any] | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
        **kw: Any,
    ) -> Reply:
        """What Slack sends while someone types into an external_select: in a modal (`view`,
        as the app opened it) or in a message (`channel_id`, `message_ts`)."""
        payload: dict[str, Any] = {
            "type": "block_suggestion",
            "user": self._user(user),
            "team": {"id": user.team_id, "domain": user.team_domain},
            "api_app_id": self._api_app_id,
            "token": "verification-token-unused",
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "action_ts": f"{time.time():.6f}",
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id", "")}
            payload["view"] = {**view, "state": {"values": {}}}
        else:
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts or "",
                "channel_id": channel_id or "",
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel_id or "", "name": "triage"}
        return self.post_payload(payload, **kw)

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Reply:
        envelope = {
            "token": "verification-token-unused",
            "team_id": "TSTANDIN",
            "api_app_id": self._api_app_id,
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "event": event,
        }
        return self.post(
            json.dumps(envelope).encode(), content_type="application/json", headers=headers, **kw
        )

    def message_shortcut(
        self,
        *,
        user: SlackUser,
        callback_id: str,
        channel_id: str,
        message: dict[str, Any],
        **kw: Any,
    ) -> Reply:
        """A message shortcut ("message_action") on `message` ({"text", "ts", ...})."""
        payload = {
            "type": "message_action",
            "callback_id": callback_id,
            "team": {"id": user.team_id, "domain": user.team_domain},
            "user": self._user(user),
            "channel": {"id": channel_id, "name": "channel"},
            "api_app_id": self._api_app_id,
            "trigger_id": self._trigger_ids(),
            "response_url": self._response_urls(),
            "action_ts": f"{time.time():.6f}",
            "message_ts": message.get("ts", ""),
            "message": {"type": "message", **message},
        }
        return self.post_payload(payload, **kw)
