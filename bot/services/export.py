"""Export for a review board: every signal with its triage history, as CSV or JSON. No Slack.

No person is in an export: no reporter, no lead, no owner — no user id of anyone, for anonymous
and named signals alike. The queries select named columns and never read `reporter_id`,
`owner_id`, `followup_hash` or an event's `actor_id`; an event says only which role acted
(`lead`, `reporter` or `app`). A review board looks at systems and assumptions, not at people.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.services.redaction import redact_user_ids
from bot.services.vocabulary import system_key
from models import EventAction, Signal, SignalEvent, System

FORMATS = ("csv", "json")
BATCH = 500

SIGNAL_FIELDS = (
    "ref",
    "kind",
    "system",
    "status",
    "anonymous",
    "created_at",
    "posted_at",
    "acknowledged_at",
    "resolved_at",
    "updated_at",
    "text",
    "impact",
    "confirmed_impact",
    "next_step",
    "decline_reason",
    "resolution_done",
    "failed_assumption",
    "pattern",
    "lesson",
    "reminders_sent",
    "respond_by",
    "escalated_at",
    "tracker_url",
)
# The system's record, beside the signal's own `system` (the canonical name).
SYSTEM_FIELDS = ("system_name", "system_stage")
EMPTY_SYSTEM_FIELDS: dict[str, Any] = dict.fromkeys(SYSTEM_FIELDS)
CSV_FIELDS = (*SIGNAL_FIELDS, *SYSTEM_FIELDS, "history")
EVENT_FIELDS = ("at", "action", "by", "note")
# Free text people typed: a user id typed into it is replaced too.
TEXT_FIELDS = frozenset(
    {
        "system",
        "text",
        "impact",
        "next_step",
        "decline_reason",
        "resolution_done",
        "failed_assumption",
        "lesson",
    }
)

_COLUMNS = {name: getattr(Signal, name) for name in SIGNAL_FIELDS}
# Spreadsheet programs run a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PRIVACY_NOTE = (
    "No user ids or names: reporters, leads and owners are not exported. Events name only the "
    "role that acted (lead, reporter, app)."
)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _role(action: str) -> str:
    if action in (
        EventAction.REPLIED.value,
        EventAction.REVEALED.value,
        EventAction.WITHDRAWN.value,
    ):
        return "reporter"
    if action in (EventAction.REMINDED.value, EventAction.ESCALATED.value):
        return "app"
    return "lead"


class ExportService:
    def __init__(self, *, sessions: sessionmaker[Session], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    def signals(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Signals filed at or after `since` and before `until` (no bound when None), oldest
        first, with `history` and the system's fields (`system_fields`)."""
        query = select(Signal.id, *_COLUMNS.values()).order_by(Signal.created_at, Signal.ref)
        if since is not None:
            query = query.where(Signal.created_at >= since)
        if until is not None:
            query = query.where(Signal.created_at < until)
        with self._sessions() as session:
            result = session.execute(query.execution_options(yield_per=BATCH))
            for batch in result.partitions():
                history = self._history(session, [row.id for row in batch])
                systems = system_fields(session, {row.system for row in batch if row.system})
                for row in batch:
                    record: dict[str, Any] = {}
                    for name in SIGNAL_FIELDS:
                        value = getattr(row, name)
                        if isinstance(value, datetime):
                            value = _iso(value)
                        elif name in TEXT_FIELDS and value is not None:
                            value = redact_user_ids(value)
                        record[name] = value
                    record["anonymous"] = bool(record["anonymous"])
                    record.update(systems.get(row.system or "", EMPTY_SYSTEM_FIELDS))
                    record["history"] = history.get(row.id, [])
                    yield record

    @staticmethod
    def _history(session: Session, signal_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        history: dict[str, list[dict[str, Any]]] = {}
        if not signal_ids:
            return history
        rows = session.execute(
            select(
                SignalEvent.signal_id, SignalEvent.action, SignalEvent.note, SignalEvent.created_at
            )
            .where(SignalEvent.signal_id.in_(signal_ids))
            .order_by(SignalEvent.signal_id, SignalEvent.created_at)
        )
        for signal_id, action, note, created_at in rows:
            history.setdefault(signal_id, []).append(
                {
                    "at": _iso(created_at),
                    "action": action,
                    "by": _role(action),
                    "note": redact_user_ids(note) if note else note,
                }
            )
        return history

    def write(
        self,
        out: TextIO,
        *,
        fmt: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Write the export to `out`; return how many signals it holds."""
        records = self.signals(since=since, until=until)
        if fmt == "csv":
            return write_csv(records, out)
        if fmt == "json":
            return write_json(records, out, exported_at=self._clock(), since=since, until=until)
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def system_fields(session: Session, names: set[str]) -> dict[str, dict[str, Any]]:
    """Each system's fields from its record, by the signals' system name: the name on record
    and its stage; for a name not on record, the name as typed (trimmed) and no stage."""
    fields = {name: {"system_name": name.strip(), "system_stage": None} for name in names}
    keys: dict[str, list[str]] = {}
    for name in names:
        keys.setdefault(system_key(name), []).append(name)
    if keys:
        rows = session.execute(
            select(System.name_key, System.name, System.stage).where(
                System.name_key.in_(list(keys))
            )
        )
        for key, on_record, stage in rows:
            for name in keys[key]:
                fields[name] = {"system_name": on_record, "system_stage": stage}
    return fields


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def history_text(history: list[dict[str, Any]]) -> str:
    lines = []
    for event in history:
        line = f"{event['at']} {event['action']} ({event['by']})"
        if event["note"]:
            line += f": {event['note']}"
        lines.append(line)
    return "\n".join(lines)


def write_csv(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    """One row per signal; the history as readable lines in one cell."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    count = 0
    for record in records:
        row = [_cell(record[name]) for name in (*SIGNAL_FIELDS, *SYSTEM_FIELDS)]
        row.append(_cell(history_text(record["history"])))
        writer.writerow(row)
        count += 1
    return count


def write_json(
    records: Iterator[dict[str, Any]],
    out: TextIO,
    *,
    exported_at: datetime,
    since: datetime | None,
    until: datetime | None = None,
) -> int:
    """{"exported_at", "since", "until", "note", "signals": [...]}, streamed one at a time.
    `until` is exclusive (midnight after the last day asked for)."""
    head = {
        "exported_at": _iso(exported_at),
        "since": _iso(since),
        "until": _iso(until),
        "note": PRIVACY_NOTE,
    }
    out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "signals": [')
    count = 0
    for record in records:
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]}\n" if count else "]}\n")
    return count
