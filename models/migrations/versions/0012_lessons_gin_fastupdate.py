"""lessons search: the PostgreSQL GIN index without a pending list

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-01 17:20:00

PostgreSQL only. A GIN index with `fastupdate` (the default) queues new entries in a pending list
of up to `gin_pending_list_limit` (4 MB) that every search reads from end to end until a vacuum
merges it: after 100k lessons each look-up of a word read about 300 pages instead of a few.
Resolving a signal now writes its words into the index at once (a few dozen entries, once per
lesson), and the list left from before is merged here. SQLite: nothing changes. No table is
rewritten.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

_INDEX = "ix_lesson_documents_document"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {_INDEX} SET (fastupdate = off)")
    op.execute(f"SELECT gin_clean_pending_list('{_INDEX}'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {_INDEX} RESET (fastupdate)")
