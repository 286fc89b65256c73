"""columns for working the queue and for learning from signals

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:45:00

Queue: `respond_by` (the due date set when triaging), `tracker_url` (an external tracker link,
shown only) and `escalated_at` (the one escalation after the last unanswered reminder).
Learning: `duplicate_of` (the primary signal), `key_lesson` and the optional review questions
(the decision the system supports, how success was defined, the underestimated constraint, the
earlier signal that was missed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TEXT_COLUMNS = ("review_decision", "review_success", "review_constraint", "review_missed_signal")


def upgrade() -> None:
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("tracker_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("key_lesson", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        for name in _TEXT_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signals", schema=None) as batch_op:
        for name in reversed(_TEXT_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column("key_lesson")
        batch_op.drop_column("duplicate_of")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("tracker_url")
        batch_op.drop_column("respond_by")
