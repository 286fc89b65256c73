"""`ai-signal` command line: run the app, manage the database."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from urllib.error import URLError

from bot.config import ConfigError, Settings, database_url_from_env, log_format_from_env

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
    from bot.digest_cli import add_commands

    add_commands(commands)  # digest preview|send, export
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
        if args.command in ("digest", "export"):
            from bot.digest_cli import run_command

            return run_command(args)
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

    scheduler = start_scheduler(runtime)  # digest (+ catch-up) and reminders

    health = None
    if settings.health_port is not None and runtime.monitor is not None:
        from bot.health import HealthServer

        health = HealthServer(
            runtime.monitor, host=settings.health_host, port=settings.health_port
        ).start()
        logger.info("health and metrics on http://%s:%d/healthz", settings.health_host, health.port)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    if settings.socket_mode:
        from bot.socket_mode import start_socket_mode

        if runtime.monitor is not None:
            runtime.monitor.set_connection(lambda: "connecting")
        try:
            # While Slack cannot be reached: one warning per attempt, retried until `stop`.
            handler = start_socket_mode(
                runtime.app, app_token=settings.app_token, api_url=settings.api_url, stop=stop
            )
        except StartupError as error:
            print(f"ai-signal: {error}", file=sys.stderr)
            scheduler.shutdown(wait=False)
            runtime.stop()
            return EXIT_SLACK_SETUP
        if handler is not None:
            if runtime.monitor is not None:
                runtime.monitor.set_connection(
                    lambda: "connected" if handler.client.is_connected() else "reconnecting"
                )
            logger.info("ai-signal running in Socket Mode")
            stop.wait()
            handler.close()
    else:
        from bot.http import HttpServer, create_wsgi_app

        wsgi = create_wsgi_app(
            app=runtime.app,
            engine=runtime.engine,
            delivery=runtime.services.delivery,
            signing_secret=settings.signing_secret or "",
        )
        port = settings.port if args.port is None else args.port
        server = HttpServer(wsgi, host=args.host, port=port).start()
        # The bound port: with --port 0 the system picked it.
        logger.info("ai-signal listening on http://%s:%d/slack/events", args.host, server.port)
        stop.wait()
        server.stop()
    scheduler.shutdown(wait=False)
    if health is not None:
        health.stop()
    runtime.stop()
    logger.info("ai-signal stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
