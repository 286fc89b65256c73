"""lessons search on PostgreSQL: the GIN index without a pending list, and a lexeme table

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 17:20:00

PostgreSQL only. A GIN index with `fastupdate` (the default) queues new entries in a pending list
of up to `gin_pending_list_limit` (4 MB) that every search reads from end to end until a vacuum
merges it: after 100k lessons each look-up of a word read about 300 pages instead of a few.
Resolving a signal now writes its words into the index at once (a few dozen entries, once per
lesson), and the list left from before is merged here.

`lesson_lexemes` holds one row per lexeme of each lesson document (the words of
`lesson_documents.document`), kept by a trigger on `lesson_documents`: "seen before" counts in
how many lessons a word is found (up to 200) with a short walk of its primary key instead of a
GIN bitmap of every lesson holding a common word. Rows are only inserted and deleted (no counter
row that concurrent resolutions would queue on). SQLite: nothing changes. No table is rewritten.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_INDEX = "ix_lesson_documents_document"
_UP = (
    f"ALTER INDEX {_INDEX} SET (fastupdate = off)",
    f"SELECT gin_clean_pending_list('{_INDEX}'::regclass)",
    """CREATE TABLE lesson_lexemes (
        lexeme TEXT NOT NULL,
        signal_id VARCHAR(32) NOT NULL,
        CONSTRAINT pk_lesson_lexemes PRIMARY KEY (lexeme, signal_id)
    )""",
    """CREATE FUNCTION lesson_lexemes_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            DELETE FROM lesson_lexemes WHERE signal_id = OLD.signal_id
                AND lexeme = ANY (tsvector_to_array(OLD.document));
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO lesson_lexemes (lexeme, signal_id)
            SELECT unnest(tsvector_to_array(NEW.document)), NEW.signal_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER lesson_lexemes_sync AFTER INSERT OR DELETE OR UPDATE ON lesson_documents
        FOR EACH ROW EXECUTE FUNCTION lesson_lexemes_sync()""",
    """INSERT INTO lesson_lexemes (lexeme, signal_id)
        SELECT unnest(tsvector_to_array(document)), signal_id FROM lesson_documents""",
)
_DOWN = (
    "DROP TRIGGER IF EXISTS lesson_lexemes_sync ON lesson_documents",
    "DROP FUNCTION IF EXISTS lesson_lexemes_sync()",
    "DROP TABLE IF EXISTS lesson_lexemes",
    f"ALTER INDEX {_INDEX} RESET (fastupdate)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _UP:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _DOWN:
        op.execute(statement)
