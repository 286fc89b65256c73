"""lessons search: full-text index over resolved signals' lessons, and the system key

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:00:00

SQLite: an FTS5 table `lessons_fts` (porter stemming) over the lesson, the failed assumption,
what was done, the system, the pattern and the kind of each resolved signal, with the columns the
answer filters and orders by (unindexed) and the filters' marks; `lesson_search` maps a signal to its FTS row. Triggers
on `signals` keep both in step in the same transaction as any change (resolve, reopen, alias
merge, erasure). PostgreSQL: a narrow table `lesson_documents` of resolved signals' weighted
`to_tsvector` documents with a GIN index, kept by a trigger on `signals` the same way. Both: an index on the
lower-cased system name (seen before), the newest lessons' orders (alone, by system, by
pattern) and `duplicate_of`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The weighted document of a signal's lesson (lesson A, assumption B, done and system C, pattern
# and kind D).
PG_DOCUMENT = (
    "setweight(to_tsvector('english', coalesce(lesson, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(failed_assumption, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(resolution_done, '') || ' ' || "
    "coalesce(system, '')), 'C') || "
    "setweight(to_tsvector('english', coalesce(pattern, '') || ' ' || kind), 'D')"
)

# `marks` holds one token per filter, so filters are found by the index (and cost one token,
# not a phrase): `keylesson` for a key lesson, `p<pattern without dashes>`, and `s<hex of the
# lower-cased system>`.
_FTS_COLUMNS = "lesson, failed_assumption, resolution_done, system, pattern, kind, marks"


def _marks(row: str) -> str:
    return (
        f"trim(CASE WHEN {row}.key_lesson THEN 'keylesson ' ELSE '' END || "
        f"CASE WHEN {row}.pattern IS NULL THEN '' "
        f"ELSE 'p' || replace({row}.pattern, '-', '') || ' ' END || "
        f"CASE WHEN {row}.system IS NULL THEN '' ELSE 's' || hex(lower({row}.system)) END)"
    )


_FTS_VALUES = (
    "new.lesson, new.failed_assumption, new.resolution_done, new.system, new.pattern, new.kind, "
    + _marks("new")
)
_ADD = f"""
    INSERT INTO lesson_search(signal_id) SELECT new.id WHERE new.status = 'resolved';
    INSERT INTO lessons_fts(rowid, {_FTS_COLUMNS}, signal_id, key_lesson, resolved_at, system_key)
    SELECT m.id, {_FTS_VALUES}, new.id, new.key_lesson, new.resolved_at, lower(new.system)
    FROM lesson_search m WHERE m.signal_id = new.id AND new.status = 'resolved';
"""
_REMOVE = """
    DELETE FROM lessons_fts WHERE rowid = (SELECT id FROM lesson_search WHERE signal_id = old.id);
    DELETE FROM lesson_search WHERE signal_id = old.id;
"""
_WATCHED = (
    "status, lesson, failed_assumption, resolution_done, system, pattern, kind, key_lesson, "
    "resolved_at"
)
_SQLITE_UP = (
    """CREATE TABLE lesson_search (
        id INTEGER PRIMARY KEY,
        signal_id VARCHAR(32) NOT NULL UNIQUE
    )""",
    f"""CREATE VIRTUAL TABLE lessons_fts USING fts5(
        {_FTS_COLUMNS},
        signal_id UNINDEXED, key_lesson UNINDEXED, resolved_at UNINDEXED, system_key UNINDEXED,
        tokenize = 'porter unicode61'
    )""",
    f"CREATE TRIGGER signals_lessons_insert AFTER INSERT ON signals BEGIN {_ADD} END",
    f"""CREATE TRIGGER signals_lessons_update AFTER UPDATE OF {_WATCHED} ON signals
        BEGIN {_REMOVE} {_ADD} END""",
    f"CREATE TRIGGER signals_lessons_delete AFTER DELETE ON signals BEGIN {_REMOVE} END",
    # The signals resolved before this migration.
    "INSERT INTO lesson_search(signal_id) SELECT id FROM signals WHERE status = 'resolved'",
    f"""INSERT INTO lessons_fts(rowid, {_FTS_COLUMNS}, signal_id, key_lesson, resolved_at,
        system_key)
        SELECT m.id, s.lesson, s.failed_assumption, s.resolution_done, s.system, s.pattern,
               s.kind, {_marks("s")}, s.id, s.key_lesson, s.resolved_at, lower(s.system)
        FROM lesson_search m JOIN signals s ON s.id = m.signal_id""",
)
_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS signals_lessons_delete",
    "DROP TRIGGER IF EXISTS signals_lessons_update",
    "DROP TRIGGER IF EXISTS signals_lessons_insert",
    "DROP TABLE IF EXISTS lessons_fts",
    "DROP TABLE IF EXISTS lesson_search",
)


# PostgreSQL: a narrow table of resolved signals' documents (dense pages: ranking reads few),
# kept by a trigger in the transaction of every change, like the FTS5 table on SQLite.
_PG_COLUMNS = "signal_id, key_lesson, resolved_at, system_key, pattern, document"
_POSTGRES_UP = (
    """CREATE TABLE lesson_documents (
        signal_id VARCHAR(32) PRIMARY KEY,
        key_lesson BOOLEAN NOT NULL,
        resolved_at TIMESTAMP WITH TIME ZONE,
        system_key TEXT,
        pattern VARCHAR(32),
        document TSVECTOR NOT NULL
    )""",
    "CREATE INDEX ix_lesson_documents_document ON lesson_documents USING gin (document)",
    "CREATE INDEX ix_lesson_documents_resolved_at ON lesson_documents (resolved_at)",
    f"""CREATE FUNCTION signals_lessons_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            DELETE FROM lesson_documents WHERE signal_id = OLD.id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'resolved' THEN
            INSERT INTO lesson_documents ({_PG_COLUMNS})
            SELECT NEW.id, NEW.key_lesson, NEW.resolved_at, lower(NEW.system), NEW.pattern,
                   {PG_DOCUMENT} FROM (SELECT NEW.*) AS s;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER signals_lessons_sync
        AFTER INSERT OR DELETE OR UPDATE OF {_WATCHED} ON signals
        FOR EACH ROW EXECUTE FUNCTION signals_lessons_sync()""",
    f"""INSERT INTO lesson_documents ({_PG_COLUMNS})
        SELECT id, key_lesson, resolved_at, lower(system), pattern, {PG_DOCUMENT}
        FROM signals WHERE status = 'resolved'""",
)
_POSTGRES_DOWN = (
    "DROP TRIGGER IF EXISTS signals_lessons_sync ON signals",
    "DROP FUNCTION IF EXISTS signals_lessons_sync()",
    "DROP TABLE IF EXISTS lesson_documents",
)


def upgrade() -> None:
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index("ix_signals_duplicate_of", ["duplicate_of"], unique=False)
        batch_op.create_index(
            "ix_signals_lessons_newest", ["status", "key_lesson", "resolved_at"], unique=False
        )
        batch_op.create_index(
            "ix_signals_lessons_pattern",
            ["pattern", "status", "key_lesson", "resolved_at"],
            unique=False,
        )
    dialect = op.get_bind().dialect.name
    op.create_index(
        "ix_signals_system_key", "signals", [sa.text("lower(system)"), "posted_at"], unique=False
    )
    op.create_index(
        "ix_signals_lessons_system",
        "signals",
        [sa.text("lower(system)"), "status", "key_lesson", "resolved_at"],
        unique=False,
    )
    if dialect == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in _POSTGRES_UP:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in _POSTGRES_DOWN:
            op.execute(statement)
    op.drop_index("ix_signals_lessons_system", table_name="signals")
    op.drop_index("ix_signals_system_key", table_name="signals")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_lessons_pattern")
        batch_op.drop_index("ix_signals_lessons_newest")
        batch_op.drop_index("ix_signals_duplicate_of")
