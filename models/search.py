"""The lessons search index lives outside the models: an FTS5 table and its row map on SQLite
(kept in sync by triggers on `signals`), a table of documents with a GIN index on PostgreSQL
(kept by a trigger too) with its table of lexemes (migration 0012), and an index on
the lower-cased system name (migration 0009). Alembic's model comparison leaves them alone."""

from __future__ import annotations

from typing import Any

# Tables and indexes the migration creates that no model declares.
SEARCH_SCHEMA_NAMES = frozenset(
    {
        "lesson_search",
        "lessons_fts",
        "lessons_fts_data",
        "lessons_fts_idx",
        "lessons_fts_content",
        "lessons_fts_docsize",
        "lessons_fts_config",
        "ix_signals_lesson_document",
        "ix_signals_system_key",
        "ix_signals_lessons_system",
        "lesson_documents",
        "ix_lesson_documents_document",
        "ix_lesson_documents_resolved_at",
        "lesson_lexemes",
    }
)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's `include_name` hook: compare everything but the search objects (and the
    roll-up's key that differs per database, models/review.py)."""
    from models.review import ROLLUP_SCHEMA_NAMES

    return name not in SEARCH_SCHEMA_NAMES and name not in ROLLUP_SCHEMA_NAMES
