"""covering indexes for the review-board report

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 17:30:00

The report's grouped queries read the period's signals by filing time (kinds, systems, statuses,
time to acknowledge) and the resolved ones by resolution time (patterns, systems): each index
holds every column its queries read, so a quarter is read from the index alone, in time order,
without a lookup per row. The review answers are read through a partial index over the
signals that have any. Plain CREATE INDEX: no table is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_signals_review_filed": [
        "created_at",
        "posted_at",
        "anonymous",
        "acknowledged_at",
        "kind",
        "system",
        "status",
    ],
    "ix_signals_review_resolved": ["status", "resolved_at", "system", "pattern", "key_lesson"],
}


# As in models/signal.py (REVIEWED); a migration keeps its own copy, as it was at the time.
_REVIEWED = (
    "review_decision IS NOT NULL OR review_success IS NOT NULL"
    " OR review_constraint IS NOT NULL OR review_missed_signal IS NOT NULL"
)


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "signals", columns)
    where = sa.text(_REVIEWED)
    op.create_index(
        "ix_signals_reviewed",
        "signals",
        ["status", "resolved_at"],
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_signals_reviewed", table_name="signals")
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name="signals")
