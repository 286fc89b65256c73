"""outbox index by signal

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 07:15:00

Lead actions ask whether a parent update is already pending for the signal; without an index
on the signal's outbox items that question reads every pending item, which during a Slack
outage is the whole backlog.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_signal_id_purpose_state", ["signal_id", "purpose", "state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_signal_id_purpose_state")
