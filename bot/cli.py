"""The `ai-signal` command line: every sub-command, its flags and exit codes.

`run` serves the app, `db upgrade` migrates, `demo` plays a week against the stand-in,
`digest preview|send` and `export` work on the database (and, for `digest send`, Slack) alone.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

from bot.config import (
    ConfigError,
    Settings,
    database_url_from_env,
    log_format_from_env,
    min_bucket_from_env,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_SLACK_SETUP = 3

logger = logging.getLogger("ai_signal")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ai-signal", description="Slack app for raising AI signals."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the app (Socket Mode when SLACK_APP_TOKEN is set)")
    run.add_argument(
        "--http",
        action="store_true",
        help="serve HTTP at /slack/events even if SLACK_APP_TOKEN is set",
    )
    run.add_argument(
        "--port", type=_port, help="HTTP port; 0 picks a free one (default: PORT or 3000)"
    )
    run.add_argument("--host", default="0.0.0.0", help="HTTP bind address (default 0.0.0.0)")

    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    database_commands.add_parser("upgrade", help="apply migrations up to the newest")

    demo = commands.add_parser("demo", help="play a short week against a local Slack stand-in")
    demo.add_argument("--keep", metavar="DIR", help="keep the demo's SQLite database in DIR")
    _add_digest_and_export(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ai-signal")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    from dotenv import find_dotenv, load_dotenv

    # The operator's .env is in the directory they run the command from (python-dotenv's
    # default would search upwards from this file, i.e. the installed package).
    load_dotenv(find_dotenv(usecwd=True), override=False)
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from bot.demo import run_demo

            return run_demo(keep=args.keep)
        if args.command in ("digest", "export", "review"):
            return _run_offline(args)
        if args.command == "db":
            return _db_upgrade()
        return _run(args)
    except ConfigError as error:
        print(f"ai-signal: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG


def _db_upgrade() -> int:
    from bot import db
    from bot.logging_setup import configure_logging

    configure_logging("INFO", fmt=log_format_from_env())
    db.upgrade(database_url_from_env())
    print("database is up to date")
    return 0


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(http=True if args.http else None)
    from bot.logging_setup import configure_logging
    from bot.runtime import build_runtime
    from handlers.client import StartupError, check_slack

    configure_logging(settings.log_level, fmt=settings.log_format)
    runtime = build_runtime(settings)
    try:
        check_slack(runtime.client, settings)
    except StartupError as error:
        print(f"ai-signal: {error}", file=sys.stderr)
        runtime.stop()
        return EXIT_SLACK_SETUP
    except (URLError, OSError) as error:
        logger.warning(
            "Slack is unreachable at start (%s); signals are stored and posted later",
            type(error).__name__,
        )

    runtime.warm_up()
    requeued = runtime.services.delivery.requeue_failed()
    if requeued:
        logger.warning("%d post(s) Slack refused earlier are queued again", requeued)
    runtime.worker.start()
    from bot.jobs.scheduler import start_scheduler

    scheduler = start_scheduler(runtime)  # digest (+ catch-up), reminders and retention

    health = _start_health(runtime)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    if settings.socket_mode:
        code = _serve_socket_mode(runtime, stop)
    else:
        code = _serve_http(runtime, args, stop)
    scheduler.shutdown(wait=False)
    if health is not None:
        health.stop()
    runtime.stop()
    if code == 0:
        logger.info("ai-signal stopped")
    return code


def _start_health(runtime: Any) -> Any:
    """The /healthz and /metrics listener of Socket Mode (AI_SIGNAL_HEALTH_PORT), if set."""
    settings = runtime.settings
    if settings.health_port is None or runtime.monitor is None:
        return None
    from bot.health import HealthServer

    health = HealthServer(runtime.monitor, host=settings.health_host, port=settings.health_port)
    health.start()
    logger.info("health and metrics on http://%s:%d/healthz", settings.health_host, health.port)
    return health


def _serve_socket_mode(runtime: Any, stop: threading.Event) -> int:
    from bot.socket_mode import close_socket_mode, start_socket_mode
    from handlers.client import StartupError

    settings = runtime.settings
    if runtime.monitor is not None:
        runtime.monitor.set_connection(lambda: "connecting")
    try:
        # While Slack cannot be reached: one warning per attempt, retried until `stop`.
        handler = start_socket_mode(
            runtime.app, app_token=settings.app_token, api_url=settings.api_url, stop=stop
        )
    except StartupError as error:
        print(f"ai-signal: {error}", file=sys.stderr)
        return EXIT_SLACK_SETUP
    if handler is not None:
        if runtime.monitor is not None:
            runtime.monitor.set_connection(
                lambda: "connected" if handler.client.is_connected() else "reconnecting"
            )
        logger.info("ai-signal running in Socket Mode")
        stop.wait()
        close_socket_mode(handler)
    return 0


def _serve_http(runtime: Any, args: argparse.Namespace, stop: threading.Event) -> int:
    from bot.http import HttpServer, runtime_wsgi_app

    settings = runtime.settings
    wsgi = runtime_wsgi_app(runtime, signing_secret=settings.signing_secret or "")
    port = settings.port if args.port is None else args.port
    try:
        server = HttpServer(wsgi, host=args.host, port=port).start()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(
            f"ai-signal: configuration error: PORT: {args.host}:{port} is already in use by "
            "another program (set PORT or --port to a free one)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    # The bound port: with --port 0 the system picked it.
    logger.info("ai-signal listening on http://%s:%d/slack/events", args.host, server.port)
    stop.wait()
    server.stop()
    return 0


# -- digest preview|send and export: the database (and Slack, to send) without the app ----------


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _add_digest_and_export(commands: Any) -> None:
    """Add `digest` and `export` to the `ai-signal` sub-command parser."""
    from bot.services.export import FORMATS

    digest = commands.add_parser("digest", help="the weekly digest")
    digest_commands = digest.add_subparsers(dest="digest_command", required=True)
    digest_commands.add_parser(
        "preview", help="print the digest of the period in progress, so far, as plain text"
    )
    send = digest_commands.add_parser(
        "send",
        help="post the digest of the period that just ended now (once per period and channel)",
    )
    send.add_argument(
        "--force",
        action="store_true",
        help="post it again although it was already sent (a deliberate second digest)",
    )

    export = commands.add_parser(
        "export",
        help="write every signal with its triage history for a review board (no user ids)",
    )
    export.add_argument("--format", choices=FORMATS, required=True, help="csv or json")
    export.add_argument(
        "--since",
        type=_date,
        metavar="YYYY-MM-DD",
        help="only signals filed on or after this day (UTC)",
    )
    export.add_argument(
        "--until",
        type=_date,
        metavar="YYYY-MM-DD",
        help="only signals filed on or before this day (UTC)",
    )
    export.add_argument("--output", metavar="FILE", help="write to FILE (default: stdout)")
    _add_review(commands)


def _add_review(commands: Any) -> None:
    from bot.services.report_render import FORMATS

    review = commands.add_parser(
        "review",
        help="the review-board report of a period: kinds, patterns, systems, lessons (no names)",
    )
    # Dates are checked by the command itself: one line and exit 2 for a bad one.
    review.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="first day (UTC)")
    review.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last day, included")
    review.add_argument("--system", metavar="NAME", help="only the signals of this system")
    review.add_argument(
        "--format", choices=FORMATS, default="html", help="html (default), md, json"
    )
    review.add_argument("--output", metavar="FILE", help="write to FILE (default: stdout)")


def _run_offline(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    try:
        if args.command == "export":
            return _export(args)
        if args.command == "review":
            return _review(args)
        if args.digest_command == "preview":
            return _preview()
        return _send(force=args.force)
    except OperationalError as error:
        print(
            f"ai-signal: the database cannot be reached ({type(error.orig).__name__}); "
            "check DATABASE_URL",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _sessions(url: str) -> tuple[Engine, sessionmaker[Session]]:
    from bot import db

    db.upgrade(url)
    engine = db.create_db_engine(url)
    return engine, db.create_session_factory(engine)


def _preview() -> int:
    from bot.clock import utc_now
    from bot.logging_setup import configure_logging
    from bot.runtime import digest_service
    from handlers.blocks.digest import build_digest_text

    settings = Settings.from_env()
    configure_logging("WARNING")
    engine, sessions = _sessions(settings.database_url)
    try:
        service = digest_service(settings, sessions, utc_now)
        # The period in progress, as far as it has gone (`digest send` sends the one that ended).
        text = build_digest_text(service.gather(period=service.period_in_progress()))
    finally:
        engine.dispose()
    sys.stdout.write(text)
    return EXIT_OK


def _send(*, force: bool) -> int:
    from bot.clock import utc_now
    from bot.jobs.digest import SendStatus, send_digest
    from bot.logging_setup import configure_logging
    from bot.runtime import digest_sender
    from handlers.blocks.digest import period_sentence
    from handlers.client import create_web_client

    settings = Settings.from_env()
    configure_logging("WARNING")
    engine, sessions = _sessions(settings.database_url)
    try:
        sender = digest_sender(
            settings, sessions, clock=utc_now, client=create_web_client(settings, retries=False)
        )
        result = send_digest(sender, force=force)
    finally:
        engine.dispose()
    period = period_sentence(result.period)
    if result.status is SendStatus.SENT:
        again = f" (attempt {result.attempt})" if result.attempt else ""
        print(f"digest for {period} sent to {result.channel}{again}, ts {result.ts}")
        return EXIT_OK
    if result.status is SendStatus.ALREADY_SENT:
        print(
            f"digest for {period} was already sent to {result.channel} (ts {result.ts}); "
            "nothing posted. Use --force to send it again."
        )
        return EXIT_OK
    if result.status in (SendStatus.IN_PROGRESS, SendStatus.RETRY_LATER):
        print(
            f"digest for {period} is being sent to {result.channel} by another instance right "
            "now; nothing posted."
        )
        return EXIT_OK
    print(
        f"ai-signal: Slack did not take the digest for {period} ({result.error}). It is kept and "
        "retried: by the running app within minutes, or run this command again.",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _export(args: argparse.Namespace) -> int:
    from bot.logging_setup import configure_logging
    from bot.services.export import ExportService

    configure_logging("WARNING")
    since = datetime.combine(args.since, datetime.min.time(), UTC) if args.since else None
    until = (
        datetime.combine(args.until + timedelta(days=1), datetime.min.time(), UTC)
        if args.until
        else None
    )
    if since is not None and until is not None and since >= until:
        print("ai-signal: --since is after --until", file=sys.stderr)
        return EXIT_CONFIG
    engine, sessions = _sessions(database_url_from_env())
    try:
        service = ExportService(sessions=sessions)
        if args.output:
            path = Path(args.output)
            newline = "" if args.format == "csv" else None
            with path.open("w", encoding="utf-8", newline=newline) as out:
                count = service.write(out, fmt=args.format, since=since, until=until)
            print(f"exported {count} signal(s) to {path}", file=sys.stderr)
        else:
            count = service.write(sys.stdout, fmt=args.format, since=since, until=until)
            sys.stdout.flush()
    finally:
        engine.dispose()
    return EXIT_OK


def _review(args: argparse.Namespace) -> int:
    from bot.clock import utc_now
    from bot.logging_setup import configure_logging
    from bot.services.report_render import render
    from bot.services.review import (
        BadPeriod,
        ReviewPeriod,
        ReviewService,
        current_quarter,
        parse_day,
    )

    try:
        default = current_quarter(utc_now())
        first = parse_day(args.first, what="from") if args.first else default.first
        last = parse_day(args.last, what="to") if args.last else default.last
        period = ReviewPeriod(first=first, last=last)
    except BadPeriod as error:
        print(f"ai-signal: {error}", file=sys.stderr)
        return EXIT_CONFIG
    min_bucket = min_bucket_from_env()
    configure_logging("WARNING")
    engine, sessions = _sessions(database_url_from_env())
    try:
        report = ReviewService(sessions=sessions, min_bucket=min_bucket).report(
            period=period, system=args.system
        )
    finally:
        engine.dispose()
    text = render(report, args.format)
    if args.output:
        path = Path(args.output)
        path.write_text(text, encoding="utf-8")
        print(f"review of {period.label} ({report.total} signal(s)) written to {path}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK
