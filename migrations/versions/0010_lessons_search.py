"""lessons search: full-text index over resolved signals' lessons, and the system key

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-01 16:00:00

SQLite: an FTS5 table `lessons_fts` (porter stemming) over the lesson, the failed assumption,
what was done, the system, the pattern and the kind of each resolved signal, with the columns the
answer filters and orders by (unindexed) and the filters' marks; `lesson_search` maps a signal to its FTS row. Triggers
on `signals` keep both in step in the same transaction as any change (resolve, reopen, alias
merge, erasure). PostgreSQL: a partial GIN index over the weighted `to_tsvector` document of
resolved signals, over a stored generated `lesson_document` column (what
bot/services/lessons.py queries). Both: an index on the
lower-cased system name (seen before), the newest lessons' orders (alone, by system, by
pattern) and `duplicate_of`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0006"
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
        # Stored: ranking reads the document instead of parsing four texts per match.
        op.execute(
            "ALTER TABLE signals ADD COLUMN lesson_document tsvector "
            f"GENERATED ALWAYS AS ({PG_DOCUMENT}) STORED"
        )
        op.execute(
            "CREATE INDEX ix_signals_lesson_document ON signals USING gin (lesson_document) "
            "WHERE status = 'resolved'"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_signals_lesson_document")
        op.execute("ALTER TABLE signals DROP COLUMN IF EXISTS lesson_document")
    op.drop_index("ix_signals_lessons_system", table_name="signals")
    op.drop_index("ix_signals_system_key", table_name="signals")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_lessons_pattern")
        batch_op.drop_index("ix_signals_lessons_newest")
        batch_op.drop_index("ix_signals_duplicate_of")
