"""A local stand-in for Slack's Socket Mode WebSocket endpoint.

`SocketModeStandIn` serves WebSockets on 127.0.0.1 (a free port) from a background thread with its
own asyncio loop. Give its `url` to `SlackStandIn.socket_mode_url` so that apps.connections.open
hands it to the app. Like Slack it greets every connection with a `hello`, answers pings, and
delivers envelopes (`slash_commands`, `interactive`, `events_api`) to the newest connection; the
acks the app sends back ({"envelope_id": ..., "payload": {...}}) are recorded so a test can wait for
the ack of one envelope and read its payload.

slack-sdk's built-in client connects over plain ws:// whenever the port is not 443, and sends the
handshake as `GET <path>?<query>`, so the URL always carries a path and a query (as Slack's do).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

__all__ = ["Ack", "SocketModeConnection", "SocketModeStandIn"]


@dataclass(frozen=True)
class Ack:
    """What the app sent back for one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None
    at: float


@dataclass
class SocketModeConnection:
    """One WebSocket connection the app opened."""

    number: int
    path: str
    opened_at: float
    closed_at: float | None = None
    received: list[str] = field(default_factory=list)  # every text frame, raw

    @property
    def open(self) -> bool:
        return self.closed_at is None


class SocketModeStandIn:
    """Slack's Socket Mode endpoint, locally. Use `with SocketModeStandIn() as ws:`."""

    def __init__(self, *, host: str = "127.0.0.1", app_id: str = "ASTANDIN") -> None:
        self.app_id = app_id
        self._host = host
        self._port: int | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._stopping: asyncio.Event | None = None
        self._connections: list[SocketModeConnection] = []
        self._sockets: dict[int, ServerConnection] = {}
        self._acks: dict[str, Ack] = {}
        self._sent: dict[str, dict[str, Any]] = {}
        self._startup_error: BaseException | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> SocketModeStandIn:
        """Bind a free port and serve on a daemon thread. Returns self."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="socket-mode-standin", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the Socket Mode stand-in did not start in time")
        if self._startup_error is not None:
            raise RuntimeError("the Socket Mode stand-in failed to start") from self._startup_error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection (1001 going away) and the server. Safe to call twice."""
        loop, thread, stopping = self._loop, self._thread, self._stopping
        self._thread = None
        if loop is not None and stopping is not None and thread is not None:
            loop.call_soon_threadsafe(stopping.set)
            thread.join(timeout)

    def __enter__(self) -> SocketModeStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as error:
            self._startup_error = error
            ready.set()
        finally:
            loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        # No server-side pings: the client pings every few seconds and checks the pongs itself.
        async with serve(self._handle, self._host, 0, ping_interval=None) as server:
            self._server = server
            self._port = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            await self._stopping.wait()
            server.close()
            await server.wait_closed()

    # ---- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SocketModeStandIn is not started; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """What apps.connections.open should answer (Slack's look: /link/?ticket=…&app_id=…)."""
        return f"ws://{self._host}:{self.port}/link/?ticket={secrets.token_hex(8)}&app_id={self.app_id}"

    # ---- the WebSocket side --------------------------------------------------------------------

    async def _handle(self, websocket: ServerConnection) -> None:
        path = websocket.request.path if websocket.request is not None else ""
        with self._changed:
            number = len(self._connections) + 1
            connection = SocketModeConnection(number=number, path=path, opened_at=time.time())
            self._connections.append(connection)
        try:
            await websocket.send(json.dumps(self._hello()))
            with self._changed:  # envelopes go out only after the hello
                self._sockets[number] = websocket
                self._changed.notify_all()
            async for message in websocket:
                if isinstance(message, bytes):
                    message = message.decode("utf-8", "replace")
                self._record(connection, message)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                connection.closed_at = time.time()
                self._sockets.pop(number, None)
                self._changed.notify_all()

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": sum(1 for c in self.connections if c.open),
            "debug_info": {
                "host": "applink-standin",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }

    def _record(self, connection: SocketModeConnection, message: str) -> None:
        with self._changed:
            connection.received.append(message)
            try:
                data = json.loads(message)
            except ValueError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("envelope_id"), str):
                envelope_id = data["envelope_id"]
                payload = data.get("payload")
                self._acks.setdefault(
                    envelope_id,
                    Ack(envelope_id=envelope_id, payload=payload, at=time.time()),
                )
            self._changed.notify_all()

    # ---- connections -------------------------------------------------------------------------

    @property
    def connections(self) -> list[SocketModeConnection]:
        with self._lock:
            return list(self._connections)

    def wait_for_connection(
        self,
        count: int = 1,
        *,
        timeout: float = 10.0,
        alive: Callable[[], bool] | None = None,
    ) -> SocketModeConnection:
        """Block until `count` connections were opened and greeted; return the newest open one.

        `alive` is polled while waiting (e.g. "the app's process is still running") so a crash
        fails fast instead of running out the clock.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                opened = [c for c in self._connections if c.number in self._sockets]
                if len(self._connections) >= count and opened:
                    return opened[-1]
                if alive is not None and not alive():
                    raise AssertionError("the app stopped before it connected to Socket Mode")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"waited {timeout:g}s for {count} Socket Mode connection(s), "
                        f"got {len(self._connections)}"
                    )
                self._changed.wait(min(remaining, 0.1))

    # ---- sending -----------------------------------------------------------------------------

    def send_raw(self, message: dict[str, Any], *, timeout: float = 5.0) -> None:
        """Send one JSON text frame on the newest open connection."""
        with self._lock:
            if not self._sockets:
                raise AssertionError("no open Socket Mode connection to send on")
            websocket = self._sockets[max(self._sockets)]
        loop = self._loop
        assert loop is not None
        future = asyncio.run_coroutine_threadsafe(websocket.send(json.dumps(message)), loop)
        future.result(timeout)

    def push(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        envelope_id: str | None = None,
        **extra: Any,
    ) -> str:
        """Deliver an envelope as Slack does; returns its envelope_id."""
        envelope_id = envelope_id or _envelope_id()
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "accepts_response_payload": accepts_response_payload,
            "payload": payload,
            **extra,
        }
        with self._lock:
            self._sent[envelope_id] = envelope
        self.send_raw(envelope)
        return envelope_id

    def push_slash_command(self, fields: dict[str, Any]) -> str:
        """`fields` are what Slack would POST form-encoded, here as one JSON object."""
        return self.push("slash_commands", fields, accepts_response_payload=True)

    def push_interactive(self, payload: dict[str, Any]) -> str:
        """block_actions, view_submission, shortcut …; only view submissions take a payload."""
        accepts = payload.get("type") in ("view_submission", "block_suggestion")
        return self.push("interactive", payload, accepts_response_payload=accepts)

    def push_event(
        self,
        callback: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
    ) -> str:
        """An Events API `event_callback`; Slack redelivers with the same event_id and
        retry_attempt >= 1 in a new envelope."""
        return self.push(
            "events_api",
            callback,
            accepts_response_payload=False,
            envelope_id=envelope_id,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )

    def request_reconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's `disconnect` message: the client should open a new connection."""
        self.send_raw(
            {
                "type": "disconnect",
                "reason": reason,
                "debug_info": {"host": "applink-standin"},
            }
        )

    # ---- acks --------------------------------------------------------------------------------

    @property
    def acks(self) -> list[Ack]:
        with self._lock:
            return sorted(self._acks.values(), key=lambda a: a.at)

    def wait_for_ack(self, envelope_id: str, *, timeout: float = 5.0) -> Ack:
        """Block until the app acknowledges `envelope_id`; raises AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while envelope_id not in self._acks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    kind = self._sent.get(envelope_id, {}).get("type", "unknown")
                    raise AssertionError(
                        f"waited {timeout:g}s for the ack of {kind} envelope {envelope_id}; "
                        f"acks seen: {len(self._acks)}"
                    )
                self._changed.wait(remaining)
            return self._acks[envelope_id]


def _envelope_id() -> str:
    """uuid-like, as Slack's envelope ids are."""
    return "-".join(secrets.token_hex(n) for n in (4, 2, 2, 2, 6))
