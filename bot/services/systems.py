"""AI systems on record: their card, editing them, and keeping `signals.system` canonical.

`signals.system` always holds a system's canonical name when the system is on record: filing
stores the canonical name for a name or alias (`canonical_system`), and every save here (a new
record, a rename, a new alias, a merge) rewrites the signals that carry one of the record's names
to it. Whatever groups by `signals.system` therefore sees aliases merged. Plain Python: nothing
here knows about Slack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.db import DEFAULT_DEADLINE_MS
from bot.services.errors import NotFound, ServiceError
from bot.services.outbox import no_worker, outbox_item, pending_parent_update, queue_posts
from bot.services.records import (
    ReviewAnswers,
    SystemCard,
    SystemLesson,
    SystemRecord,
    SystemSaved,
)
from bot.services.transactions import request_read, request_transaction
from bot.services.vocabulary import OPEN_STATUSES, STAGES, system_key
from models import OutboxPurpose, Signal, System, SystemAlias, resolved_rows

# An option's value carries the name (Slack allows 150 characters there).
MAX_NAME = 150
MAX_ALIAS = 200
# The edit form shows the other names in one input (3000 characters at most): 12 of 200 fit.
MAX_ALIASES = 12
MAX_FIELD = 2000
MAX_URL = 500
CARD_LESSONS = 3
# A save queues an update of at most this many triage posts (the newest) to show the new name.
MAX_POST_UPDATES = 100
SAVED_MEANWHILE = (
    "Another lead saved a system with one of these names just now, so nothing was saved. "
    "Please look again."
)
NOT_SAVED_BUSY = "Nothing was saved — the database was busy; please try again."

TEXT_FIELDS = ("decision", "success", "data_sources", "constraints", "ethics")


class SystemInvalid(ServiceError):
    """A system form with problems: `errors` maps each field to its sentence."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors
        self.field = next(iter(errors), None)


class AlreadyOnRecord(ServiceError):
    field = "name"


@dataclass(frozen=True, kw_only=True)
class SystemFields:
    """What a lead typed into the system form (raw; `save` checks it)."""

    name: str
    aliases: str = ""  # separated by commas or new lines
    decision: str = ""
    success: str = ""
    stage: str = "idea"
    data_sources: str = ""
    constraints: str = ""
    ethics: str = ""
    doc_url: str = ""


def canonical_system(session: Session | Connection, name: str) -> str:
    """The canonical name of the system `name` names (its name or an alias, case and spacing
    folded), or `name` as typed when no system on record has it."""
    key = system_key(name)
    found = session.scalar(select(System.name).where(System.name_key == key))
    if found is None:
        found = session.scalar(
            select(System.name)
            .join(SystemAlias, SystemAlias.system_id == System.id)
            .where(SystemAlias.alias_key == key)
        )
    return found or name


def split_aliases(text: str) -> list[str]:
    """`a, b\\nc` -> [a, b, c]: each stripped, empty ones dropped, repeats (folded) once."""
    seen: set[str] = set()
    aliases = []
    for part in text.replace("\n", ",").split(","):
        alias = " ".join(part.split())
        if alias and system_key(alias) not in seen:
            seen.add(system_key(alias))
            aliases.append(alias)
    return aliases


def _clean(value: str) -> str:
    # As `signals.storable` does (that module looks names up here): no NUL, no lone surrogate.
    value = value.replace("\x00", "")
    return "".join(c if not 0xD800 <= ord(c) <= 0xDFFF else "\ufffd" for c in value).strip()


def check_fields(fields: SystemFields) -> tuple[dict[str, str | None], list[str]]:
    """(the fields as stored, the aliases), or SystemInvalid naming every field with a
    problem."""
    errors: dict[str, str] = {}
    name = " ".join(_clean(fields.name).split())
    if not name:
        errors["name"] = "Give the system a name."
    elif len(name) > MAX_NAME:
        errors["name"] = f"The name is limited to {MAX_NAME} characters."
    aliases = [
        a for a in split_aliases(_clean(fields.aliases)) if system_key(a) != system_key(name)
    ]
    if len(aliases) > MAX_ALIASES:
        errors["aliases"] = f"At most {MAX_ALIASES} other names."
    elif any(len(a) > MAX_ALIAS for a in aliases):
        errors["aliases"] = f"Each other name is limited to {MAX_ALIAS} characters."
    if fields.stage not in STAGES:
        errors["stage"] = "Choose a stage: " + ", ".join(STAGES.values()) + "."
    cleaned: dict[str, str | None] = {"name": name}
    for field in TEXT_FIELDS:
        value = _clean(getattr(fields, field)) or None
        if value is not None and len(value) > MAX_FIELD:
            errors[field] = f"This is limited to {MAX_FIELD:,} characters."
        cleaned[field] = value
    url = _clean(fields.doc_url) or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url):
            errors["doc_url"] = "Use an https:// link (a model card, a design doc)."
        elif len(url) > MAX_URL:
            errors["doc_url"] = f"The link is limited to {MAX_URL} characters."
    cleaned["doc_url"] = url
    cleaned["stage"] = fields.stage
    if errors:
        raise SystemInvalid(errors)
    return cleaned, aliases


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


class SystemService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        triage_channel: str,
        clock: Clock = utc_now,
        deadline_ms: int | None = DEFAULT_DEADLINE_MS,
        wake: Callable[[], None] = no_worker,
    ) -> None:
        """`wake` is called after a save that queued updates of triage posts."""
        self._sessions = sessions
        self._triage_channel = triage_channel
        self._clock = clock
        self._deadline_ms = deadline_ms
        self._wake = wake

    # -- reading ---------------------------------------------------------------------------

    def find(self, *, name: str) -> SystemRecord | None:
        """The system `name` names (its name or an alias), or None."""
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            system = self._find(session, name)
            return self._record(session, system) if system else None

    def get(self, *, system_id: str) -> SystemRecord:
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            system = session.get(System, system_id[:32])
            if system is None:
                raise NotFound("That system is no longer on record.")
            return self._record(session, system)

    def list_systems(self) -> list[SystemRecord]:
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            systems = session.scalars(select(System).order_by(System.name_key)).all()
            aliases = self._aliases(session, [s.id for s in systems])
            return [self._record(session, s, aliases.get(s.id, ())) for s in systems]

    def suggest(self, *, query: str, limit: int = 100) -> list[str]:
        """Names of systems whose name or an alias contains `query` (folded); names starting
        with it first, then alphabetical. An empty query lists them all (up to `limit`)."""
        key = system_key(query)
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            rows = session.execute(
                select(System.name, System.name_key, SystemAlias.alias_key).outerjoin(
                    SystemAlias, SystemAlias.system_id == System.id
                )
            ).all()
        matches: dict[str, tuple[bool, str]] = {}
        for name, name_key, alias_key in rows:
            keys = [name_key] + ([alias_key] if alias_key else [])
            if any(key in k for k in keys):
                prefix = any(k.startswith(key) for k in keys)
                best = matches.get(name, (False, name_key))
                matches[name] = (best[0] or prefix, name_key)
        ordered = sorted(matches, key=lambda n: (not matches[n][0], matches[n][1]))
        return ordered[:limit]

    def card(self, *, name: str) -> SystemCard | None:
        """The card of the system `name` names, or None when it is not on record."""
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            system = self._find(session, name)
            if system is None:
                return None
            return SystemCard(
                record=self._record(session, system),
                open_by_kind=self._open_by_kind(session, system.name),
                patterns=self._patterns(session, system.name),
                lessons=self._lessons(session, system.name),
                last_review=self._last_review(session, system.name),
            )

    # -- saving ----------------------------------------------------------------------------

    def save(self, *, system_id: str | None, fields: SystemFields) -> SystemSaved:
        """Create (no `system_id`) or update a system; rewrite the signals that carry one of its
        names to its name; queue updates of their triage posts. SystemInvalid per field."""
        try:
            return self._save(system_id=system_id, fields=fields)
        except IntegrityError:
            raise SystemInvalid({"name": SAVED_MEANWHILE}) from None

    def _save(self, *, system_id: str | None, fields: SystemFields) -> SystemSaved:
        cleaned, aliases = check_fields(fields)
        now = self._clock()
        with request_transaction(
            self._sessions, deadline_ms=self._deadline_ms, busy=NOT_SAVED_BUSY
        ) as session:
            system = None
            if system_id:
                system = session.scalar(
                    select(System).where(System.id == system_id[:32]).with_for_update()
                )
                if system is None:
                    raise NotFound("That system is no longer on record; nothing was saved.")
            old_names = set()
            if system is not None and system_key(system.name) != system_key(str(cleaned["name"])):
                aliases.append(system.name)  # a rename keeps the old name as an alias
            if system is not None:
                old_names.add(system.name)
            self._check_names(session, str(cleaned["name"]), aliases, own_id=system_id)
            created = system is None
            if system is None:
                system = System(created_at=now, stage="idea", name="", name_key="")
                session.add(system)
            for field, value in cleaned.items():
                setattr(system, field, value)
            system.name_key = system_key(system.name)
            system.updated_at = now
            session.flush()
            self._set_aliases(session, system, aliases)
            rewritten = self._rewrite(session, system, [*aliases, *old_names], now)
            record = self._record(session, system)
        if rewritten[1]:
            self._wake()
        return SystemSaved(record=record, created=created, rewritten=rewritten[0])

    def merge(self, *, name: str, into: str) -> SystemSaved:
        """Make `name` (a name no other system has) an alias of the system named `into` (its
        name or an alias) and rewrite the signals that carry it."""
        try:
            return self._merge(name=name, into=into)
        except IntegrityError:
            raise AlreadyOnRecord(SAVED_MEANWHILE) from None

    def _merge(self, *, name: str, into: str) -> SystemSaved:
        alias = " ".join(_clean(name).split())
        now = self._clock()
        with request_transaction(
            self._sessions, deadline_ms=self._deadline_ms, busy=NOT_SAVED_BUSY
        ) as session:
            found = self._find(session, into)
            system = (
                session.scalar(select(System).where(System.id == found.id).with_for_update())
                if found
                else None
            )
            if system is None:
                raise NotFound("That system is not on record; nothing changed.")
            if not alias or len(alias) > MAX_ALIAS:
                raise ServiceError("That signal names no system that can be merged.")
            existing = self._find(session, alias)
            if existing is not None and existing.id != system.id:
                raise AlreadyOnRecord(f"“{alias}” is already on record as {existing.name}.")
            if existing is None and len(self._aliases(session, [system.id]).get(system.id, ())) >= (
                MAX_ALIASES
            ):
                raise ServiceError(
                    f"{system.name} already has {MAX_ALIASES} other names; edit its record first."
                )
            if existing is None:
                session.add(
                    SystemAlias(system_id=system.id, alias=alias, alias_key=system_key(alias))
                )
                system.updated_at = now
            rewritten = self._rewrite(session, system, [alias], now)
            record = self._record(session, system)
        if rewritten[1]:
            self._wake()
        return SystemSaved(record=record, created=False, rewritten=rewritten[0])

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _find(session: Session, name: str) -> System | None:
        key = system_key(name)
        if not key:
            return None
        system = session.scalar(select(System).where(System.name_key == key))
        if system is None:
            system = session.scalar(
                select(System)
                .join(SystemAlias, SystemAlias.system_id == System.id)
                .where(SystemAlias.alias_key == key)
            )
        return system

    def _check_names(
        self, session: Session, name: str, aliases: list[str], *, own_id: str | None
    ) -> None:
        errors: dict[str, str] = {}
        other = self._find(session, name)
        if other is not None and other.id != own_id:
            errors["name"] = f"“{name}” is already on record as {other.name}."
        taken = []
        for alias in aliases:
            other = self._find(session, alias)
            if other is not None and other.id != own_id:
                taken.append(f"“{alias}” ({other.name})")
        if taken:
            errors["aliases"] = ("Already names another system: " + ", ".join(taken))[:150]
        if errors:
            raise SystemInvalid(errors)

    @staticmethod
    def _set_aliases(session: Session, system: System, aliases: list[str]) -> None:
        current = {
            a.alias_key: a
            for a in session.scalars(select(SystemAlias).where(SystemAlias.system_id == system.id))
        }
        wanted = {system_key(a): a for a in aliases if system_key(a) != system.name_key}
        for key, row in current.items():
            if key not in wanted:
                session.delete(row)
            else:
                row.alias = wanted[key]
        session.flush()
        for key, alias in wanted.items():
            if key not in current:
                session.add(SystemAlias(system_id=system.id, alias=alias, alias_key=key))
        session.flush()

    def _rewrite(
        self, session: Session, system: System, names: Iterable[str], now: datetime
    ) -> tuple[int, bool]:
        """Signals carrying a name of `system` (folded) now carry its name; their triage posts
        (the newest, up to MAX_POST_UPDATES) are updated. (signals rewritten, posts queued)."""
        keys = {system_key(n) for n in names} | {system.name_key}
        carried = session.scalars(
            select(Signal.system).where(Signal.system.is_not(None)).distinct()
        )
        values = [v for v in carried if system_key(v) in keys]
        others = [v for v in values if v != system.name]
        rewritten = 0
        if others:
            rewritten = session.execute(
                update(Signal).where(Signal.system.in_(others)).values(system=system.name)
            ).rowcount
        if not values:
            return rewritten, False
        posts = session.execute(
            select(Signal.id, Signal.triage_channel)
            .where(Signal.system == system.name, Signal.triage_ts.is_not(None))
            .order_by(Signal.created_at.desc())
            .limit(MAX_POST_UPDATES)
        ).all()
        rows = [
            outbox_item(
                signal_id=signal_id,
                purpose=OutboxPurpose.PARENT_UPDATE,
                channel=channel or self._triage_channel,
                due_at=now,
            )
            for signal_id, channel in posts
            if session.scalar(pending_parent_update(signal_id)) is None
        ]
        if rows:
            queue_posts(session, *rows)
        return rewritten, bool(rows)

    @staticmethod
    def _aliases(session: Session, system_ids: list[str]) -> dict[str, tuple[str, ...]]:
        if not system_ids:
            return {}
        found: dict[str, list[str]] = {}
        rows = session.execute(
            select(SystemAlias.system_id, SystemAlias.alias)
            .where(SystemAlias.system_id.in_(system_ids))
            .order_by(SystemAlias.alias_key)
        )
        for system_id, alias in rows:
            found.setdefault(system_id, []).append(alias)
        return {k: tuple(v) for k, v in found.items()}

    def _record(
        self, session: Session, system: System, aliases: tuple[str, ...] | None = None
    ) -> SystemRecord:
        if aliases is None:
            aliases = self._aliases(session, [system.id]).get(system.id, ())
        return SystemRecord(
            id=system.id,
            name=system.name,
            aliases=aliases,
            decision=system.decision,
            success=system.success,
            stage=system.stage,
            data_sources=system.data_sources,
            constraints=system.constraints,
            ethics=system.ethics,
            doc_url=system.doc_url,
            created_at=system.created_at,
            updated_at=system.updated_at,
        )

    @staticmethod
    def _open_by_kind(session: Session, name: str) -> tuple[tuple[str, int], ...]:
        # Only posted signals: a count that rose when an anonymous signal was filed would undo
        # its delayed release.
        rows = session.execute(
            select(Signal.kind, func.count())
            .where(
                Signal.system == name,
                Signal.status.in_(OPEN_STATUSES),
                Signal.posted_at.is_not(None),
            )
            .group_by(Signal.kind)
            .order_by(func.count().desc(), Signal.kind)
        ).all()
        return tuple((kind, count) for kind, count in rows)

    @staticmethod
    def _patterns(session: Session, name: str) -> tuple[tuple[str, int], ...]:
        rows = session.execute(
            select(Signal.pattern, func.count())
            .where(
                Signal.system == name,
                resolved_rows(),
                Signal.pattern.is_not(None),
                Signal.pattern != "none",
            )
            .group_by(Signal.pattern)
            .order_by(func.count().desc(), Signal.pattern)
        ).all()
        return tuple((pattern, count) for pattern, count in rows)

    @staticmethod
    def _lessons(session: Session, name: str) -> tuple[SystemLesson, ...]:
        rows = session.execute(
            select(Signal.ref, Signal.lesson, Signal.resolved_at, Signal.key_lesson)
            .where(
                Signal.system == name,
                resolved_rows(),
                Signal.lesson.is_not(None),
            )
            # The playbook (key lessons) first, then the most recent.
            .order_by(Signal.key_lesson.desc(), Signal.resolved_at.desc())
            .limit(CARD_LESSONS)
        ).all()
        return tuple(
            SystemLesson(ref=ref, lesson=lesson, resolved_on=_day(at), key=bool(key))
            for ref, lesson, at, key in rows
        )

    @staticmethod
    def _last_review(session: Session, name: str) -> ReviewAnswers | None:
        answered = or_(
            Signal.review_decision.is_not(None),
            Signal.review_success.is_not(None),
            Signal.review_constraint.is_not(None),
            Signal.review_missed_signal.is_not(None),
            Signal.failed_assumption.is_not(None),
        )
        signal = session.scalar(
            select(Signal)
            .where(Signal.system == name, resolved_rows(), answered)
            .order_by(Signal.resolved_at.desc())
            .limit(1)
        )
        if signal is None:
            return None
        return ReviewAnswers(
            ref=signal.ref,
            resolved_on=_day(signal.resolved_at),
            failed_assumption=signal.failed_assumption,
            decision=signal.review_decision,
            success=signal.review_success,
            constraint=signal.review_constraint,
            missed_signal=signal.review_missed_signal,
        )
