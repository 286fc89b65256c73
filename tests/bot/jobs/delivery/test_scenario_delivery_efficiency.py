"""The delivery worker and the write paths do not waste work under load (what the benchmarks in bench/ measure).

Real SQLite database, real worker and sender, the Slack stand-in over HTTP. What is counted is
what reaches the database: the worker's claim queries, seen through the engine's own events.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, event, text

from bot import db
from bot.http import HttpServer
from bot.jobs.delivery import DeliveryWorker, Pace
from bot.services.delivery import DeliveryService
from bot.services.signals import SignalService
from bot.services.triage import pending_parent_update
from bot.standin import SlackStandIn
from handlers.leads import LeadDirectory
from handlers.sender import OutboxSender
from tests.conftest import BOT_TOKEN, TRIAGE, wait_until

OTHER = "COTHER0001"


class ClaimCounter:
    """Counts the worker's claim queries (the SELECT that looks for due outbox items)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM outbox" in statement:
            if "ORDER BY outbox.due_at" in statement:
                with self._lock:
                    self.count += 1


@pytest.fixture
def pipeline(standin: SlackStandIn, sqlite_url: str):
    """Signal services for two channels, the outbox, and a worker posting to the stand-in."""
    standin.add_channel(OTHER, name="other-triage", is_member=True)
    db.upgrade(sqlite_url)
    engine = db.create_db_engine(sqlite_url)
    sessions = db.create_session_factory(engine)

    def signals_for(channel: str) -> SignalService:
        # No request deadline: these tests count the worker's queries, and on a loaded machine
        # a filing racing the worker for SQLite's lock may take longer than a request may.
        return SignalService(
            sessions=sessions,
            code_key=b"k",
            triage_channel=channel,
            anon_delay=(0, 0),
            deadline_ms=None,
        )

    delivery = DeliveryService(sessions=sessions)
    client = WebClient(token=BOT_TOKEN, base_url=standin.url)
    worker = DeliveryWorker(
        delivery=delivery,
        send=OutboxSender(client=client, leads=LeadDirectory(client=client, leads=(), group=None)),
        poll_interval=1.0,
        # Pacing is not what these tests look at (tests/bot/jobs/delivery/test_pacing.py is).
        pace=Pace(rate=50.0, burst=25),
    )
    yield {
        "triage": signals_for(TRIAGE),
        "other": signals_for(OTHER),
        "delivery": delivery,
        "worker": worker,
        "claims": ClaimCounter(engine),
        "engine": engine,
    }
    worker.stop()
    engine.dispose()


def file(signals: SignalService, worker: DeliveryWorker, text_: str) -> None:
    """What the command handler does: store, then wake the worker."""
    signals.file_signal(kind="drift", text=text_, anonymous=False, reporter_id="U1")
    worker.wake()


def ok_posts(standin: SlackStandIn, channel: str) -> list:
    return [c for c in standin.calls_to("chat.postMessage") if c.params.get("channel") == channel]


def test_wakeups_while_slack_holds_a_channel_back_do_not_each_query(pipeline, standin):
    worker, claims = pipeline["worker"], pipeline["claims"]
    standin.fail_next("chat.postMessage", status=429, retry_after=3)
    worker.start()
    file(pipeline["triage"], worker, "drift first, rate limited")
    assert wait_until(
        lambda: standin.calls_to("chat.postMessage", include_errors=True), timeout=5
    ), "the worker never tried the first post"

    before = claims.count
    for n in range(20):  # 20 filings while the channel is paused, each waking the worker
        file(pipeline["triage"], worker, f"drift while paused {n}")
        time.sleep(0.02)
    during = claims.count - before
    assert during <= 4, f"{during} claim queries for 20 wake-ups during the pause"
    assert ok_posts(standin, TRIAGE) == []  # nothing went out before Retry-After

    # Once the pause is over, every one of them is posted, once.
    assert wait_until(lambda: len(ok_posts(standin, TRIAGE)) == 21, timeout=15)
    texts = [c.params.get("text", "") for c in ok_posts(standin, TRIAGE)]
    assert len(set(texts)) == 21


def test_other_channels_keep_flowing_while_one_is_paused(pipeline, standin):
    worker = pipeline["worker"]
    standin.fail_next("chat.postMessage", status=429, retry_after=4)
    worker.start()
    file(pipeline["triage"], worker, "drift, rate limited")
    assert wait_until(lambda: standin.calls_to("chat.postMessage", include_errors=True), timeout=5)
    paused_at = time.monotonic()
    file(pipeline["other"], worker, "drift on the other channel")
    assert wait_until(lambda: ok_posts(standin, OTHER), timeout=3)
    # Woken by the filing, not left to the poll interval (1 s) or the end of the pause (4 s).
    assert time.monotonic() - paused_at < 0.8
    assert ok_posts(standin, TRIAGE) == []  # the paused channel is still waiting
    assert wait_until(lambda: ok_posts(standin, TRIAGE), timeout=10)


def test_a_burst_of_wakeups_settles_into_few_rounds(pipeline):
    worker, claims = pipeline["worker"], pipeline["claims"]
    worker.start()
    time.sleep(0.1)
    before = claims.count
    for _ in range(100):  # nothing to send: each wake-up alone would be one claim query
        worker.wake()
        time.sleep(0.005)
    time.sleep(0.1)
    rounds = claims.count - before
    assert 1 <= rounds <= 40, f"{rounds} claim queries for 100 wake-ups"


def test_claims_come_back_in_due_order(sqlite_url):
    db.upgrade(sqlite_url)
    sessions = db.create_session_factory(db.create_db_engine(sqlite_url))
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    times = iter(start + timedelta(minutes=n) for n in range(10))
    signals = SignalService(
        sessions=sessions,
        code_key=b"k",
        triage_channel=TRIAGE,
        anon_delay=(0, 0),
        clock=lambda: next(times),
    )
    for n in range(6):
        signals.file_signal(kind="drift", text=f"drift {n}", anonymous=False, reporter_id="U1")
    delivery = DeliveryService(sessions=sessions, clock=lambda: start + timedelta(hours=1))
    first, second = delivery.claim_due(limit=4), delivery.claim_due(limit=4)
    assert [t.signal.ref for t in first] == ["SIG-1", "SIG-2", "SIG-3", "SIG-4"]
    assert [t.signal.ref for t in second] == ["SIG-5", "SIG-6"]
    assert delivery.claim_due(limit=4) == []  # all leased


def test_pending_parent_update_lookup_uses_the_signal_index(pipeline):
    statement = pending_parent_update("0" * 32).compile(
        dialect=pipeline["engine"].dialect, compile_kwargs={"literal_binds": True}
    )
    with pipeline["engine"].connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.execute(text(f"EXPLAIN QUERY PLAN {statement}")).all()
        )
    assert "ix_outbox_signal_id_purpose_state" in plan, plan


def test_http_server_stops_even_when_its_trigger_is_already_closed(tmp_path):
    def wsgi(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = HttpServer(wsgi, host="127.0.0.1", port=0).start()
    url = f"http://127.0.0.1:{server.port}/"
    assert urllib.request.urlopen(url, timeout=5).read() == b"ok"
    # The request's worker thread wakes the loop once more after the answer is sent: let it
    # finish, so the only writes left to check are stop()'s.
    dispatcher = server._server.task_dispatcher
    wait_until(lambda: dispatcher.active_count == 0 and not dispatcher.queue, "idle workers")
    server._server.trigger.close()  # as when the loop is already on its way out
    # Files opened now take the trigger's old descriptor numbers: nothing may be written there.
    bystanders = [open(tmp_path / f"file{n}", "wb") for n in range(2)]
    try:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3
        assert not server._thread.is_alive()
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)
    finally:
        for handle in bystanders:
            handle.close()
    assert [(tmp_path / f"file{n}").read_bytes() for n in range(2)] == [b"", b""]


def test_a_loop_whose_trigger_pipe_is_gone_is_reported_not_raised():
    """The flaky teardown seen in full-suite runs: writing to the trigger failed with EBADF."""
    from waitress import wasyncore
    from waitress.trigger import trigger

    from bot.http import _wake_to_close

    class Server:  # what _wake_to_close reads of a waitress server: its map and trigger
        _map: dict = {}

    server = Server()
    server.trigger = trigger(server._map)
    try:
        assert _wake_to_close(server) is True  # a working pipe takes the request
        os.close(server.trigger.trigger)  # the write end, gone behind waitress's back
        assert _wake_to_close(server) is False
    finally:
        wasyncore.close_all(server._map)


def test_a_second_instance_takes_other_items_instead_of_waiting(postgres_url):
    """PostgreSQL: while one instance holds its claim open, another claims the rest at once.
    (On SQLite writers take turns, so two claims never overlap.)"""
    db.upgrade(postgres_url)
    engine = db.create_db_engine(postgres_url)
    sessions = db.create_session_factory(engine)
    signals = SignalService(
        sessions=sessions, code_key=b"k", triage_channel=TRIAGE, anon_delay=(0, 0)
    )
    for n in range(6):
        signals.file_signal(kind="drift", text=f"drift {n}", anonymous=False, reporter_id="U1")
    delivery = DeliveryService(sessions=sessions)
    holder = engine.connect()
    try:
        held = holder.begin()
        # The first instance, mid-claim: it has locked the three oldest items.
        locked = (
            holder.execute(text("SELECT id FROM outbox ORDER BY due_at LIMIT 3 FOR UPDATE"))
            .scalars()
            .all()
        )
        result: list = []
        claimer = threading.Thread(target=lambda: result.append(delivery.claim_due(limit=3)))
        claimer.start()
        claimer.join(5)
        assert not claimer.is_alive(), "the second instance waited for the first one's locks"
        (claimed,) = result
        assert len(claimed) == 3 and not {t.item_id for t in claimed} & set(locked)
        held.rollback()
    finally:
        holder.close()
        engine.dispose()
