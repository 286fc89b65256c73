"""The lessons library: ranked full-text search over what resolved signals taught, the key
lessons leads curate (a system's playbook), and "seen before" for each new triage post.

The index (migration 0009): on SQLite an FTS5 table kept in step with `signals` by triggers,
ranked with bm25; on PostgreSQL a GIN index over a weighted `to_tsvector` document, ranked with
ts_rank. People's words never reach either as syntax: on SQLite every word is a quoted FTS5
string, on PostgreSQL the words go through plainto_tsquery / websearch_to_tsquery, which accept
any text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    union,
    union_all,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utc_now
from bot.db import DEFAULT_DEADLINE_MS
from bot.services.errors import NotFound, ServiceError
from bot.services.records import KeyLessonResult, Lesson, LessonQuery, LessonsPage, Related
from bot.services.transactions import request_read, request_transaction
from bot.services.vocabulary import PATTERNS
from models import Signal, resolved_rows
from models import SignalStatus as S
from models.base import UTCDateTime

PAGE_SIZE = 5
MAX_PAGE = 100
MAX_WORDS = 8
MAX_WORD = 40
SEEN_BEFORE = 3
PLAYBOOK_LIMIT = 10
# PostgreSQL: the weighted document of each resolved signal's lesson (lesson A, failed
# assumption B, what was done and the system C, pattern and kind D), GIN-indexed, in a narrow
# table a trigger keeps (migration 0009).
_DOCS = table(
    "lesson_documents",
    column("signal_id"),
    column("key_lesson"),
    column("resolved_at"),
    column("system_key"),
    column("pattern"),
    column("document"),
)
_DOCUMENT = _DOCS.c.document
_ENGLISH = literal_column("'english'::regconfig")
# FTS5 columns: lesson, failed_assumption, resolution_done, system, pattern, kind (then the
# unindexed ones); the lesson weighs most, as in the PostgreSQL document.
_BM25 = "bm25(lessons_fts, 4.0, 3.0, 2.0, 2.0, 1.0, 1.0, 0.0)"
# A search ranks the newest SEARCH_WINDOW matches and the newest KEY_WINDOW matching key
# lessons besides: a word most lessons share costs no more than a rare one.
SEARCH_WINDOW = 500
KEY_WINDOW = 200
_TOKEN = re.compile(r"\w+", re.UNICODE)
# Words that say nothing about a concern: left out of searches (PostgreSQL's English
# configuration drops them too) and of "seen before"'s similarity.
STOPWORDS = frozenset(
    "a about after again all also am an and any are as at be because been before being but by "
    "can could did do does doing for from had has have he her his how i if in into is it its "
    "just me more most much my no nor not of on once only or other our out over same she so "
    "some such than that the their them then there these they this those through to too under "
    "until up very was we were what when where which while who why will with would you your".split()
)
# "Seen before" looks for lessons sharing the signal's telling words: its longest words, of
# which the ones found in fewer than PROBE_LIMIT lessons (the rarest first) are used; a word
# most lessons share says nothing about this signal, and would make the look-up rank them all.
CANDIDATE_WORDS = 6
SIMILAR_WORDS = 4
PROBE_LIMIT = 200

BAD_SINCE = "`since:` takes a date like `since:2026-10-01`."
BAD_PATTERN = "`pattern:` takes one of " + ", ".join(f"`{p}`" for p in PATTERNS) + "."
NOTHING_CHANGED_BUSY = "Nothing changed — the database was busy; please try again."
NOT_RESOLVED = "Only the lesson of a resolved signal can be a key lesson; nothing changed."


class BadLessonsQuery(ServiceError):
    """A filter of `/ai-signal lessons` that cannot be read (the sentence says how)."""


def parse_lessons_query(text: str) -> LessonQuery:
    """`WORDS [system:NAME] [pattern:NAME] [since:DATE]` -> a LessonQuery; BadLessonsQuery for a
    filter that cannot be read."""
    words: list[str] = []
    system = pattern = None
    since = None
    for token in text.split():
        name, colon, value = token.partition(":")
        name = name.lower()
        if colon and name == "system" and value:
            system = value[:200]
        elif colon and name == "pattern" and value:
            pattern = parse_pattern(value)
        elif colon and name == "since":
            since = parse_since(value)
        elif len(words) < MAX_WORDS:
            words.append(token[:MAX_WORD])
    return LessonQuery(words=tuple(words), system=system, pattern=pattern, since=since)


def parse_pattern(value: str) -> str:
    key = value.strip().lower().replace("_", "-")
    if key in PATTERNS:
        return key
    starts = [p for p in PATTERNS if p.startswith(key)]
    if len(starts) == 1:
        return starts[0]
    raise BadLessonsQuery(BAD_PATTERN)


def parse_since(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadLessonsQuery(BAD_SINCE) from None


def fts5_query(words: tuple[str, ...] | list[str], *, any_word: bool = False) -> str | None:
    """An FTS5 MATCH expression for `words`: each one a quoted string (so `"`, `*`, `:`, `(`,
    NEAR or AND typed by people are only text); None when no word has a letter or digit."""
    terms = [
        '"' + word.replace('"', '""') + '"' for word in words if _TOKEN.search(word) is not None
    ]
    if not terms:
        return None
    return (" OR " if any_word else " ").join(terms)


def searchable(words: tuple[str, ...]) -> str:
    """The words as plain text for plainto_tsquery (any text is valid there)."""
    return " ".join(word for word in words if _TOKEN.search(word) is not None)


def similar_words(text_: str) -> list[str]:
    """The candidate telling words of a signal's text (longest first)."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(text_.lower()):
        if len(token) >= 4 and not token.isdigit() and token not in STOPWORDS:
            seen.setdefault(token[:MAX_WORD], None)
    return sorted(seen, key=lambda w: (-len(w), w))[:CANDIDATE_WORDS]


def content_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words of a search without the stopwords (all of them if nothing else is left)."""
    kept = tuple(w for w in words if w.lower() not in STOPWORDS)
    return kept or words


def lesson_of(signal: Signal) -> Lesson:
    return Lesson(
        ref=signal.ref,
        kind=signal.kind,
        system=signal.system,
        failed_assumption=signal.failed_assumption,
        pattern=signal.pattern,
        lesson=signal.lesson,
        resolved_at=signal.resolved_at,
        done=signal.resolution_done,
        key=bool(signal.key_lesson),
        triage_channel=signal.triage_channel,
        triage_ts=signal.triage_ts,
    )


def _since(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _in_order(session: Session, ids: list[str]) -> list[Signal]:
    if not ids:
        return []
    rows = {s.id: s for s in session.scalars(select(Signal).where(Signal.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def _sqlite_match(session: Session, query: LessonQuery) -> str | None:
    """The MATCH expression: the words, and the pattern and system filters as the tokens the
    index's `marks` column holds (migration 0009: `p<pattern>`, `s<hex of lower(system)>`)."""
    words = fts5_query(content_words(query.words))
    if words is None:
        return None
    parts = [f"({words})"]
    if query.pattern:
        parts.append(f"marks : p{query.pattern.replace('-', '')}")
    if query.system:
        token = session.scalar(text("SELECT 's' || hex(lower(:system))"), {"system": query.system})
        parts.append(f"marks : {token}")
    return " AND ".join(parts)


_NEWEST = (
    "SELECT min(rowid) FROM (SELECT rowid FROM lessons_fts WHERE lessons_fts MATCH :match "
    "AND rowid < :below ORDER BY rowid DESC LIMIT :window)"
)


def _sqlite_matches(
    session: Session, query: LessonQuery, match: str, *, limit: int, offset: int
) -> list[str]:
    """Signal ids matching `match` in the FTS5 table, best first: key lessons, then bm25, then
    the newest; among the newest SEARCH_WINDOW matches and KEY_WINDOW key lessons."""
    keys = f"({match}) AND marks : keylesson"
    below = 1 << 62
    floor = session.scalar(text(_NEWEST), {"match": match, "below": below, "window": SEARCH_WINDOW})
    if floor is None:
        return []
    key_floor = session.scalar(text(_NEWEST), {"match": keys, "below": floor, "window": KEY_WINDOW})
    where = []
    params: dict[str, Any] = {
        "match": match,
        "keys": keys,
        "floor": floor,
        "key_floor": floor if key_floor is None else key_floor,
        "limit": limit,
        "offset": offset,
    }
    binds = []
    if query.system:
        where.append("system_key = lower(:system)")
        params["system"] = query.system
    if query.pattern:
        where.append("pattern = :pattern")
        params["pattern"] = query.pattern
    if query.since:
        where.append("resolved_at >= :since")
        params["since"] = _since(query.since)
        binds.append(bindparam("since", type_=UTCDateTime()))
    exact = "".join(f" AND {condition}" for condition in where)
    ranked = f"SELECT signal_id, key_lesson, resolved_at, {_BM25} AS score FROM lessons_fts"
    statement = text(
        f"SELECT signal_id FROM ({ranked} WHERE lessons_fts MATCH :match AND rowid >= :floor"
        f"{exact} UNION ALL {ranked} WHERE lessons_fts MATCH :keys AND rowid < :floor "
        f"AND rowid >= :key_floor{exact}) "
        "ORDER BY key_lesson DESC, score, resolved_at DESC LIMIT :limit OFFSET :offset"
    ).bindparams(*binds)
    return list(session.scalars(statement, params))


def _filters(query: LessonQuery) -> list[Any]:
    conditions: list[Any] = [resolved_rows()]
    if query.system:
        conditions.append(func.lower(Signal.system) == func.lower(query.system))
    if query.pattern:
        conditions.append(Signal.pattern == query.pattern)
    if query.since:
        conditions.append(Signal.resolved_at >= _since(query.since))
    return conditions


def _postgres_filters(query: LessonQuery) -> list[Any]:
    conditions: list[Any] = []
    if query.system:
        conditions.append(_DOCS.c.system_key == func.lower(query.system))
    if query.pattern:
        conditions.append(_DOCS.c.pattern == query.pattern)
    if query.since:
        conditions.append(_DOCS.c.resolved_at >= _since(query.since))
    return conditions


def _postgres_matches(
    session: Session, query: LessonQuery, words: str, *, limit: int, offset: int
) -> list[str]:
    """As on SQLite: the newest SEARCH_WINDOW matches and KEY_WINDOW key lessons, ranked."""
    tsquery = func.plainto_tsquery(_ENGLISH, words)
    matching = [*_postgres_filters(query), _DOCUMENT.op("@@")(tsquery)]
    # Ordered by resolved_at itself: with the table analyzed (as autovacuum keeps it) the
    # planner walks resolved_at's index for a word most lessons hold (it stops after the newest
    # matches) and takes the GIN index and sorts for a rare one.
    newest = _DOCS.c.resolved_at.desc()
    ids = _DOCS.c.signal_id
    recent = select(ids).where(*matching).order_by(newest).limit(SEARCH_WINDOW).subquery()
    keys = (
        select(ids)
        .where(*matching, _DOCS.c.key_lesson.is_(True))
        .order_by(newest)
        .limit(KEY_WINDOW)
        .subquery()
    )
    candidates = union(select(recent.c.signal_id), select(keys.c.signal_id)).subquery()
    statement = (
        select(ids)
        .join(candidates, candidates.c.signal_id == ids)
        .order_by(
            _DOCS.c.key_lesson.desc(),
            func.ts_rank(_DOCUMENT, tsquery).desc(),
            _DOCS.c.resolved_at.desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(statement))


def _newest(session: Session, query: LessonQuery, *, limit: int, offset: int) -> list[str]:
    """No words: the newest lessons with the filters, key lessons first."""
    statement = (
        select(Signal.id)
        .where(
            *_filters(query),
            or_(Signal.lesson.is_not(None), Signal.failed_assumption.is_not(None)),
        )
        .order_by(Signal.key_lesson.desc(), Signal.resolved_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(statement))


def search_ids(session: Session, query: LessonQuery, *, limit: int, offset: int) -> list[str]:
    """The ids of the lessons `query` finds, best first."""
    if query.pattern is not None and query.pattern not in PATTERNS:
        return []  # only the vocabulary's patterns exist (a crafted button value finds nothing)
    if not query.words:
        return _newest(session, query, limit=limit, offset=offset)
    if session.get_bind().dialect.name == "postgresql":
        words = searchable(query.words)
        if not words:
            return []
        return _postgres_matches(session, query, words, limit=limit, offset=offset)
    match = _sqlite_match(session, query)
    if match is None:
        return []
    return _sqlite_matches(session, query, match, limit=limit, offset=offset)


def _found_in(session: Session, word: str) -> int:
    """In how many lessons `word` is found, counted up to PROBE_LIMIT (a bounded look)."""
    if session.get_bind().dialect.name == "postgresql":
        found = (
            select(_DOCS.c.signal_id)
            .where(_DOCUMENT.op("@@")(func.plainto_tsquery(_ENGLISH, word)))
            .limit(PROBE_LIMIT)
            .subquery()
        )
        return session.scalar(select(func.count()).select_from(found)) or 0
    statement = text(
        "SELECT count(*) FROM (SELECT 1 FROM lessons_fts WHERE lessons_fts MATCH :match "
        "LIMIT :limit)"
    )
    return session.scalar(statement, {"match": fts5_query([word]), "limit": PROBE_LIMIT}) or 0


def telling_words(session: Session, words: list[str]) -> list[str]:
    """Of `words`, those some but fewer than PROBE_LIMIT lessons contain, rarest first."""
    counted = [(_found_in(session, word), word) for word in words]
    return [w for n, w in sorted(counted) if 0 < n < PROBE_LIMIT][:SIMILAR_WORDS]


def _similar_ids(session: Session, words: list[str], *, limit: int) -> list[str]:
    """Resolved signals whose lessons share any of `words`, by the search's ranking."""
    words = telling_words(session, words) if words else []
    if not words:
        return []
    if session.get_bind().dialect.name == "postgresql":
        tsquery = func.websearch_to_tsquery(_ENGLISH, " or ".join(words))
        statement = (
            select(_DOCS.c.signal_id)
            .where(_DOCUMENT.op("@@")(tsquery))
            .order_by(func.ts_rank(_DOCUMENT, tsquery).desc(), _DOCS.c.resolved_at.desc())
            .limit(limit)
        )
        return list(session.scalars(statement))
    match = fts5_query(words, any_word=True)
    statement = text(
        f"SELECT signal_id FROM lessons_fts WHERE lessons_fts MATCH :match "
        f"ORDER BY {_BM25}, resolved_at DESC LIMIT :limit"
    )
    return list(session.scalars(statement, {"match": match, "limit": limit}))


_RELATED_COLUMNS = (
    Signal.id,
    Signal.ref,
    Signal.kind,
    Signal.system,
    Signal.status,
    Signal.lesson,
    Signal.key_lesson,
    Signal.triage_channel,
    Signal.triage_ts,
    Signal.posted_at,
)


def _same_system(signal: Signal, *, limit: int, written: bool = False) -> Any:
    """The same system's latest signals posted before `signal` (never itself, nor withdrawn)."""
    earlier = [Signal.posted_at < signal.posted_at] if signal.posted_at else []
    return (
        select(*_RELATED_COLUMNS)
        .where(
            func.lower(Signal.system) == func.lower(signal.system),
            Signal.posted_at.is_not(None),
            *earlier,
            Signal.id != signal.id,
            Signal.status != S.WITHDRAWN.value,
        )
        .order_by(Signal.posted_at.desc())
        .limit(literal_column(str(int(limit))) if written else limit)
    )


# PostgreSQL, in one statement (one round trip): each candidate word counted in up to
# PROBE_LIMIT lessons (a word of one lexeme in the `lesson_lexemes` table, migration 0012; a
# word the parser splits, as `_found_in` does), the telling ones (some but fewer than PROBE_LIMIT, rarest first, ties by
# the word as Python orders it) ranked as `_similar_ids` ranks them. The limits are written in
# (whole numbers of this module, never people's text): once psycopg prepares the statement, a
# generic plan that knew no limit would read all of a busy system's signals.
_PG_SIMILAR = """WITH counted AS MATERIALIZED (
        SELECT u.w, CASE WHEN cardinality(x.lexemes) = 1 THEN (
            SELECT count(*) FROM (SELECT 1 FROM lesson_lexemes l
                WHERE l.lexeme = x.lexemes[1] LIMIT {probe}) AS p
        ) ELSE (
            SELECT count(*) FROM (SELECT 1 FROM lesson_documents d
                WHERE d.document @@ plainto_tsquery('english'::regconfig, u.w) LIMIT {probe}) AS p
        ) END AS n
        FROM unnest(CAST(:words AS text[])) AS u(w),
            LATERAL (SELECT tsvector_to_array(to_tsvector('english'::regconfig, u.w)) AS lexemes) x
    ), telling AS (
        SELECT w, n FROM counted WHERE n > 0 AND n < {probe} ORDER BY n, w COLLATE "C" LIMIT {most}
    ), q AS (
        SELECT websearch_to_tsquery('english'::regconfig,
            string_agg(w, ' or ' ORDER BY n, w COLLATE "C")) AS tsq FROM telling
    )
    SELECT d.signal_id, row_number() OVER (
            ORDER BY ts_rank(d.document, q.tsq) DESC, d.resolved_at DESC) AS place
    FROM lesson_documents d, q WHERE d.document @@ q.tsq
    ORDER BY ts_rank(d.document, q.tsq) DESC, d.resolved_at DESC LIMIT {found}"""


def _postgres_related(session: Session, signal: Signal, *, limit: int) -> tuple[list, list]:
    """The similar lessons (best first) and the same system's latest signals, in one query."""
    words = similar_words(signal.text)
    sql = _PG_SIMILAR.format(probe=PROBE_LIMIT, most=SIMILAR_WORDS, found=int(limit) * 2)
    found = (
        text(sql)
        .bindparams(words=words)
        .columns(column("signal_id"), column("place"))
        .cte("similar")
    )
    similar = select(literal_column("0").label("part"), found.c.place, *_RELATED_COLUMNS).join(
        found, found.c.signal_id == Signal.id
    )
    parts: list[Any] = [similar]
    if signal.system:
        same = _same_system(signal, limit=limit, written=True).subquery()
        parts.append(select(literal_column("1"), literal_column("0"), *same.c))
    statement = union_all(*parts).subquery()
    rows = list(session.execute(select(statement).order_by(statement.c.part, statement.c.place)))
    return [r for r in rows if r.part == 0], [r for r in rows if r.part == 1]


def related_signals(session: Session, signal: Signal, *, limit: int = SEEN_BEFORE) -> list[Related]:
    """Up to `limit` earlier signals for the triage post of `signal`: lessons with similar words
    on the same system first, then the same system's latest signals, then similar lessons from
    elsewhere. Only signals already in the triage channel (posted before this one), never a
    withdrawn one, never the signal itself. Reads only the columns it shows."""
    if session.get_bind().dialect.name == "postgresql":
        similar, same = _postgres_related(session, signal, limit=limit)
    else:
        similar_ids = _similar_ids(session, similar_words(signal.text), limit=limit * 2)
        rows = (
            {
                r.id: r
                for r in session.execute(
                    select(*_RELATED_COLUMNS).where(Signal.id.in_(similar_ids))
                )
            }
            if similar_ids
            else {}
        )
        similar = [rows[i] for i in similar_ids if i in rows]
        same = list(session.execute(_same_system(signal, limit=limit))) if signal.system else []
    key = (signal.system or "").lower() or None

    def is_same(other: Any) -> bool:
        return key is not None and (other.system or "").lower() == key

    ordered = [s for s in similar if is_same(s)] + same + [s for s in similar if not is_same(s)]
    picked: dict[str, Related] = {}
    for other in ordered:
        if other.id == signal.id or other.id in picked or not other.triage_ts:
            continue
        if not other.triage_channel or other.status == S.WITHDRAWN.value:
            continue
        if signal.posted_at and other.posted_at and other.posted_at >= signal.posted_at:
            continue
        picked[other.id] = Related(
            ref=other.ref,
            kind=other.kind,
            system=other.system,
            status=other.status,
            lesson=other.lesson if other.status == S.RESOLVED.value else None,
            key=bool(other.key_lesson),
            triage_channel=other.triage_channel,
            triage_ts=other.triage_ts,
            same_system=is_same(other),
        )
        if len(picked) == limit:
            break
    return list(picked.values())


class LessonsService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock = utc_now,
        deadline_ms: int | None = DEFAULT_DEADLINE_MS,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._deadline_ms = deadline_ms

    def search(
        self, *, query: LessonQuery, page: int = 0, per_page: int = PAGE_SIZE
    ) -> LessonsPage:
        """One page of the lessons `query` finds (key lessons first, best match, newest)."""
        page = max(0, min(page, MAX_PAGE))
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            ids = search_ids(session, query, limit=per_page + 1, offset=page * per_page)
            rows = _in_order(session, ids[:per_page])
            return LessonsPage(
                query=query,
                lessons=[lesson_of(s) for s in rows],
                page=page,
                more=len(ids) > per_page,
            )

    def playbook(self, system: str, *, limit: int = PLAYBOOK_LIMIT) -> list[Lesson]:
        """A system's key lessons, newest first (what its card shows)."""
        with request_read(self._sessions, deadline_ms=self._deadline_ms) as session:
            rows = session.scalars(
                select(Signal)
                .where(
                    resolved_rows(),
                    Signal.key_lesson.is_(True),
                    func.lower(Signal.system) == func.lower(system.strip()),
                )
                .order_by(Signal.resolved_at.desc())
                .limit(limit)
            )
            return [lesson_of(s) for s in rows]

    def toggle_key_lesson(self, *, ref: str, lead_id: str) -> KeyLessonResult:
        """Mark a resolved signal's lesson as a key lesson, or take the mark away. Leads only
        (the caller checks); NotFound / NotResolved otherwise."""
        del lead_id  # who marked it is not kept: the library names no one
        with request_transaction(
            self._sessions, deadline_ms=self._deadline_ms, busy=NOTHING_CHANGED_BUSY
        ) as session:
            signal = session.scalar(
                select(Signal).where(Signal.ref == ref.strip().upper()).with_for_update()
            )
            if signal is None:
                raise NotFound(f"There is no signal {ref.strip()[:20]}.")
            if signal.status != S.RESOLVED.value or not (signal.lesson or signal.failed_assumption):
                raise BadLessonsQuery(NOT_RESOLVED)
            signal.key_lesson = not signal.key_lesson
            signal.updated_at = self._clock()
            return KeyLessonResult(ref=signal.ref, key=signal.key_lesson)
