"""CPU per request on the real request path, in one process, for profiling (no sockets).

    .venv/bin/python bench/request_cpu.py [--kind filings|clicks|help|bare] [--requests 2000]
    .venv/bin/python bench/request_cpu.py --profile yappi --out /tmp/requests.prof   # pstat file
    valgrind --tool=callgrind --instr-atstart=no .venv/bin/python bench/request_cpu.py \
        --callgrind --requests 200 --kind filings        # instructions, not seconds

The app is built as `ai-signal run --http` builds it (bot.runtime, SQLite in a temporary folder,
the app's WSGI callable from bot.http, the Slack stand-in in this process as its Web API, the
delivery worker off unless `--worker`) and each signed request is handed to the WSGI callable
in this thread, one after the other (with `--one-at-a-time`, the default under `--callgrind`,
each only once the listeners of the one before have finished), as bench/wrk_load.py's requests
are: `filings` are quick
slash commands, `clicks` a lead's Acknowledge on distinct new signals, `help` is
`/ai-signal help` (the edge, Bolt and a listener without the database), `bare` the same slash
commands through bench/bare_bolt_app.py's Bolt app. After a warm-up, the process's CPU time (all
threads: Bolt runs listeners on its own), user and system, is divided by the requests.

Wall-clock CPU moves with whatever else the machine runs. Under callgrind (`--callgrind`, which
switches instrumentation on for the measured requests only, through callgrind_control) the count
is of instructions, which other processes do not change; `callgrind_annotate` on the output file
prints the total, to divide by `--requests`.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from _common import (
    SIGNING_SECRET,
    Prepared,
    app_env,
    start_standin,
    temp_workdir,
)
from wrk_load import Requests as SignedRequests


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("filings", "clicks", "help", "bare"), default="filings")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--worker", action="store_true", help="run the delivery worker too")
    parser.add_argument("--profile", choices=("yappi",), default=None)
    parser.add_argument("--out", default="request_cpu.prof", help="the --profile output file")
    parser.add_argument("--callgrind", action="store_true", help="see the module docstring")
    parser.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="wait for each request's listeners to finish before the next request (the default "
        "under --callgrind)",
    )
    args = parser.parse_args(argv)
    args.one_at_a_time = args.one_at_a_time or args.callgrind
    return args


class Requests(SignedRequests):
    """bench/wrk_load.py's signed requests, handed to the WSGI app as waitress would."""

    def command(self, text: str | None = None) -> Prepared:
        return self.filing(text)

    def environ(self, request: Prepared) -> dict[str, Any]:
        """The WSGI environ waitress would build for this request, signed now."""
        ts = str(int(time.time()))
        return {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/slack/events",
            "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_LENGTH": str(len(request.body)),
            "CONTENT_TYPE": request.content_type,
            "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts,
            "HTTP_X_SLACK_SIGNATURE": self._verifier.generate_signature(
                timestamp=ts, body=request.body
            ),
            "wsgi.input": io.BytesIO(request.body),
        }


class ListenerWatch:
    """The futures of the listeners Bolt starts on `executor` (they run after the ack), so a
    sender can wait for a request's work to be done before it sends the next. Under valgrind
    threads take turns: without waiting, clicks queue behind each other past their database
    deadline, are rolled back, and their work spills out of the measured window."""

    def __init__(self, executor: Any) -> None:
        self.pending: list[Future] = []
        submit = executor.submit

        def watched(fn: Any, /, *args: Any, **kwargs: Any) -> Future:
            future = submit(fn, *args, **kwargs)
            self.pending.append(future)
            return future

        executor.submit = watched

    def finish(self) -> None:
        while self.pending:
            self.pending.pop().result()


def send_all(
    wsgi: Any, environs: list[dict[str, Any]], watch: ListenerWatch | None = None
) -> Counter[str]:
    """Hand each request to the WSGI app; with `watch`, wait for its listeners after each."""
    statuses: Counter[str] = Counter()

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        statuses[status] += 1

    for environ in environs:
        b"".join(wsgi(environ, start_response))
        if watch is not None:
            watch.finish()
    return statuses


def build_app(args: argparse.Namespace, stand_in: Any, folder: Path) -> tuple[Any, Any]:
    """(runtime, WSGI callable) of the app as `ai-signal run --http` builds them."""
    database = folder / "ai_signal.db"
    os.environ.update(
        app_env(api_url=stand_in.url, database_url=f"sqlite:///{database}", log_level="INFO")
    )
    from bot.config import Settings
    from bot.http import runtime_wsgi_app
    from bot.logging_setup import configure_logging
    from bot.runtime import build_runtime

    settings = Settings.from_env(http=True)
    configure_logging(settings.log_level, fmt=settings.log_format)
    runtime = build_runtime(settings)
    runtime.warm_up()
    if args.worker:
        runtime.worker.start()
    wsgi = runtime_wsgi_app(runtime, signing_secret=SIGNING_SECRET)
    return runtime, wsgi


def new_refs(runtime: Any, count: int) -> list[str]:
    from sqlalchemy import select

    from models import Signal

    with runtime.sessions() as session:
        query = select(Signal.ref).where(Signal.status == "new").order_by(Signal.created_at)
        return list(session.scalars(query.limit(count)))


def measured(
    args: argparse.Namespace, wsgi: Any, environs: list[dict[str, Any]], watch: ListenerWatch | None
) -> Counter:
    """Send `environs` with the profiler or callgrind's instrumentation on; print the figure."""
    if args.profile == "yappi":
        import yappi

        yappi.set_clock_type("cpu")
        yappi.start()
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True)
    before, wall = os.times(), time.perf_counter()
    statuses = send_all(wsgi, environs, watch)
    after, wall = os.times(), time.perf_counter() - wall
    user, system = after.user - before.user, after.system - before.system
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True)
    if args.profile == "yappi":
        yappi.stop()
        yappi.get_func_stats().save(args.out, type="pstat")
    n = len(environs)
    print(
        f"{args.kind}: {n} requests, {1000 * (user + system) / n:.3f} ms CPU per request "
        f"({1000 * user / n:.3f} user, {1000 * system / n:.3f} system), "
        f"{n / wall:.0f} requests/s, answers {dict(statuses)}",
        flush=True,
    )
    return statuses


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stand_in = start_standin()
    with temp_workdir("bench-request-cpu-") as tmp:
        runtime, wsgi = build_app(args, stand_in, Path(tmp))
        requests = Requests(stand_in)
        try:
            app = runtime.app
            if args.kind == "bare":
                import bare_bolt_app

                app = bare_bolt_app.build_app()
                wsgi = bare_bolt_app.build_wsgi(app)
            executor = app.listener_runner.listener_executor
            watch = ListenerWatch(executor) if args.one_at_a_time else None
            text = "help" if args.kind == "help" else None
            send_all(
                wsgi, [requests.environ(requests.command(text)) for _ in range(args.warmup)], watch
            )
            if args.kind == "clicks":
                send_all(
                    wsgi,
                    [requests.environ(requests.command()) for _ in range(args.requests)],
                    watch,
                )
                warm = new_refs(runtime, args.warmup)  # the warm-up's filings, clicked
                send_all(wsgi, [requests.environ(requests.click(ref)) for ref in warm], watch)
                bodies = [requests.click(ref) for ref in new_refs(runtime, args.requests)]
            else:
                bodies = [requests.command(text) for _ in range(args.requests)]
            statuses = measured(args, wsgi, [requests.environ(body) for body in bodies], watch)
        finally:
            runtime.stop()
            stand_in.stop()
    return 0 if set(statuses) == {"200 OK"} else 1


if __name__ == "__main__":
    sys.exit(main())
