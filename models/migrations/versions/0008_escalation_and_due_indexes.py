"""indexes for escalations and due dates

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:00:00

The digest counts the period's escalations (`escalated_at`) and lists open signals past their
"respond by" day (`respond_by`): each is read from an index of its own, not a table scan.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_signals_escalated_at", "signals", ["escalated_at"])
    op.create_index("ix_signals_respond_by_status", "signals", ["respond_by", "status"])


def downgrade() -> None:
    op.drop_index("ix_signals_respond_by_status", table_name="signals")
    op.drop_index("ix_signals_escalated_at", table_name="signals")
