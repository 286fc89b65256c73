"""AI systems on record and their aliases

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00

`systems`: one row per AI system (the decision it supports, how success is defined, its stage,
data sources, known constraints, ethical considerations, a documentation link), its name unique
once case and spacing are folded (`name_key`). `system_aliases`: the other names people type for
it, unique the same way. `signals.system` keeps holding a name, the canonical one when the system
is on record; an index on it serves rewriting by name (a rename, a merge, a new alias).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "systems",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("success", sa.Text(), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("data_sources", sa.Text(), nullable=True),
        sa.Column("constraints", sa.Text(), nullable=True),
        sa.Column("ethics", sa.Text(), nullable=True),
        sa.Column("doc_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_systems")),
        sa.UniqueConstraint("name_key", name=op.f("uq_systems_name_key")),
    )
    op.create_table(
        "system_aliases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("system_id", sa.String(length=32), nullable=False),
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("alias_key", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["systems.id"],
            name=op.f("fk_system_aliases_system_id_systems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_aliases")),
        sa.UniqueConstraint("alias_key", name=op.f("uq_system_aliases_alias_key")),
    )
    with op.batch_alter_table("system_aliases", schema=None) as batch_op:
        batch_op.create_index("ix_system_aliases_system_id", ["system_id"], unique=False)
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index("ix_signals_system", ["system"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_system")
    with op.batch_alter_table("system_aliases", schema=None) as batch_op:
        batch_op.drop_index("ix_system_aliases_system_id")
    op.drop_table("system_aliases")
    op.drop_table("systems")
