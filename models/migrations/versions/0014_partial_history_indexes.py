"""history indexes hold only the rows they are read for

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:00:00

Twelve indexes on `signals` lead with a column that a new signal leaves empty (when it was
posted, resolved, escalated or is due; who filed it, for an anonymous one; which signal it
duplicates) or are read only for resolved signals. Each held an entry for every signal, so a
filing wrote into all of them, each at a random place (among equal keys SQLite orders entries
by the primary key, a random id), and a lead's acknowledgement moved the entries led by the
status. Every query that reads them asks for a value of that column (an equality or a range,
or `resolved_at IS NOT NULL`, which every resolved signal has), so each becomes a partial
index over the rows where the column is set. The rows they return are the same; a filing
writes 12 fewer index entries. No table is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# (name, columns, the column that must be set). As in models/signal.py, at the time.
_INDEXES = (
    ("ix_signals_reporter_id", ["reporter_id"], "reporter_id"),
    ("ix_signals_posted_at", ["posted_at"], "posted_at"),
    ("ix_signals_posted_at_response", ["posted_at", "anonymous", "acknowledged_at"], "posted_at"),
    ("ix_signals_resolved_at", ["resolved_at"], "resolved_at"),
    (
        "ix_signals_resolved_at_status_pattern",
        ["resolved_at", "status", "pattern"],
        "resolved_at",
    ),
    ("ix_signals_escalated_at", ["escalated_at"], "escalated_at"),
    ("ix_signals_respond_by_status", ["respond_by", "status"], "respond_by"),
    ("ix_signals_duplicate_of", ["duplicate_of"], "duplicate_of"),
    ("ix_signals_lessons_newest", ["status", "key_lesson", "resolved_at"], "resolved_at"),
    (
        "ix_signals_lessons_pattern",
        ["pattern", "status", "key_lesson", "resolved_at"],
        "resolved_at",
    ),
    (
        "ix_signals_review_resolved",
        ["status", "resolved_at", "system", "pattern", "key_lesson"],
        "resolved_at",
    ),
    # Migration 0009's expression index (no model declares it).
    (
        "ix_signals_lessons_system",
        [sa.text("lower(system)"), "status", "key_lesson", "resolved_at"],
        "resolved_at",
    ),
)


def upgrade() -> None:
    for name, columns, required in _INDEXES:
        where = sa.text(f"{required} IS NOT NULL")
        op.drop_index(name, table_name="signals")
        op.create_index(name, "signals", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, columns, _ in reversed(_INDEXES):
        op.drop_index(name, table_name="signals")
        op.create_index(name, "signals", columns)
