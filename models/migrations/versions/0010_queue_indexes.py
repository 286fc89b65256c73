"""indexes for the lead queue

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 16:00:00

Partial indexes over the open, posted signals only (they hold the queue, not the history): one
in page order with every filter column (a page with any filter reads only it), one per filter
that leads with that column (status, kind, system, owner, due date), and one covering the counts
per status, kind and system. No table is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# As in models/signal.py (OPEN_POSTED); a migration keeps its own copy, as it was at the time.
_OPEN_POSTED = "status IN ('new', 'acknowledged', 'investigating') AND posted_at IS NOT NULL"

_INDEXES = {
    "ix_signals_queue_page": [
        "posted_at",
        "id",
        "status",
        "kind",
        "system",
        "owner_id",
        "anonymous",
        "respond_by",
    ],
    "ix_signals_queue_status": ["status", "posted_at", "id"],
    "ix_signals_queue_kind": ["kind", "posted_at", "id", "status"],
    "ix_signals_queue_system": ["system", "posted_at", "id", "status"],
    "ix_signals_queue_owner": ["owner_id", "posted_at", "id", "status"],
    "ix_signals_queue_due": ["respond_by", "posted_at", "id", "status"],
    "ix_signals_queue_counts": ["status", "kind", "system", "posted_at"],
}


def upgrade() -> None:
    where = sa.text(_OPEN_POSTED)
    for name, columns in _INDEXES.items():
        op.create_index(name, "signals", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name="signals")
