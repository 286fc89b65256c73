"""Socket Mode: a WebSocket that cannot be opened after apps.connections.open handed out its URL
is one more retry (a warning, a pause, a fresh URL), not a traceback."""

from __future__ import annotations

import logging
import threading

from slack_bolt import App
from slack_sdk import WebClient

from bot.socket_mode import close_socket_mode, start_socket_mode
from tests.bot.socket_mode.test_socket_mode_unreachable import free_port
from tests.bot.socket_mode.ws_standin import SocketModeStandIn
from tests.conftest import BOT_TOKEN, wait_until

APP_TOKEN = "xapp-1-test"


def test_a_refused_websocket_is_retried_with_a_fresh_url(standin, caplog):
    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=standin.url),
        signing_secret="unused",
        token_verification_enabled=False,
    )
    # The first URL points at a port nobody listens on: the WebSocket cannot be opened.
    standin.socket_mode_url = f"ws://127.0.0.1:{free_port()}/link/?ticket=1"
    stop = threading.Event()
    with SocketModeStandIn() as ws:
        handed_out = threading.Thread(
            target=lambda: (
                wait_until(lambda: standin.calls_to("apps.connections.open"), what="first URL"),
                setattr(standin, "socket_mode_url", ws.url),
            )
        )
        handed_out.start()
        with caplog.at_level(logging.WARNING, logger="ai_signal.socket_mode"):
            handler = start_socket_mode(
                app,
                app_token=APP_TOKEN,
                api_url=standin.url,
                stop=stop,
                first_retry=0.5,
                max_retry=0.5,
            )
        handed_out.join()
        try:
            assert handler is not None and handler.client.is_connected()
            ws.wait_for_connection(timeout=10)
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert any("attempt 1 failed" in w for w in warnings), warnings
            assert len(standin.calls_to("apps.connections.open")) >= 2
        finally:
            stop.set()
            if handler is not None:
                close_socket_mode(handler)


class _StuckHandler:
    """Stands in for slack-sdk's handler whose close() never returns (its receiving thread
    blocked on a connection the monitor already replaced)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closing = threading.Event()

    def close(self) -> None:
        self.closing.set()
        self.release.wait()


def test_a_close_that_never_returns_does_not_hold_the_shutdown(caplog):
    stuck = _StuckHandler()
    with caplog.at_level(logging.WARNING, logger="ai_signal.socket_mode"):
        closed = close_socket_mode(stuck, timeout=0.2)
    stuck.release.set()
    assert stuck.closing.is_set() and closed is False
    assert any("did not close" in r.getMessage() for r in caplog.records)
