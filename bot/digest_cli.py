"""`ai-signal digest preview|send` and `ai-signal export`: the command-line side of issue 4.

`bot/__main__.py` adds these sub-commands with `add_commands` and hands them to `run_command`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.config import Settings, database_url_from_env

EXIT_OK = 0
EXIT_FAILED = 1


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def add_commands(commands: Any) -> None:
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
    export.add_argument("--output", metavar="FILE", help="write to FILE (default: stdout)")


def run_command(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    try:
        if args.command == "export":
            return _export(args)
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


def _sessions(url: str):  # type: ignore[no-untyped-def]
    from bot import db

    db.upgrade(url)
    engine = db.create_db_engine(url)
    return engine, db.create_session_factory(engine)


def _preview() -> int:
    from bot.clock import utc_now
    from bot.jobs.digest import digest_service
    from bot.logging_setup import configure_logging
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
    from bot.jobs.digest import DigestSender, SendStatus, digest_service
    from bot.logging_setup import configure_logging
    from handlers.blocks.digest import period_sentence
    from handlers.client import create_web_client

    settings = Settings.from_env()
    configure_logging("WARNING")
    engine, sessions = _sessions(settings.database_url)
    try:
        sender = DigestSender(
            digest=digest_service(settings, sessions, utc_now),
            client=create_web_client(settings, retries=False),
            channel=settings.digest_channel,
            triage_channel=settings.triage_channel,
        )
        result = sender.send(force=force, manual=True)
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
    engine, sessions = _sessions(database_url_from_env())
    try:
        service = ExportService(sessions=sessions)
        if args.output:
            path = Path(args.output)
            newline = "" if args.format == "csv" else None
            with path.open("w", encoding="utf-8", newline=newline) as out:
                count = service.write(out, fmt=args.format, since=since)
            print(f"exported {count} signal(s) to {path}", file=sys.stderr)
        else:
            count = service.write(sys.stdout, fmt=args.format, since=since)
            sys.stdout.flush()
    finally:
        engine.dispose()
    return EXIT_OK
