"""outbox attempts that may have reached Slack; per-channel send budget and pause

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:10:00

`outbox.attempt_started_at` marks a send whose outcome is unknown (checked against the
channel's history before a resend). `channel_budget` paces posts per channel across instances
and holds a channel after a 429; the (state, channel, due_at) index lets a claim skip a held
channel's backlog without reading it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempt_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_outbox_state_channel_due_at", ["state", "channel", "due_at"], unique=False
        )
    op.create_table(
        "channel_budget",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("next_send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_budget")),
    )


def downgrade() -> None:
    op.drop_table("channel_budget")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_channel_due_at")
        batch_op.drop_column("attempt_started_at")
