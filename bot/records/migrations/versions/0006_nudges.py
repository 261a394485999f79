"""Nudges: per-chain tip settings, the tips sent, and a mark on rounds checked for a contextual nudge.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nudge_settings",
        sa.Column("chain_id", sa.String(36), sa.ForeignKey("chains.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("every_weeks", sa.Integer, nullable=False),
        sa.Column("contextual_to", sa.String(8), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_nudge_settings_next_at", "nudge_settings", ["next_at"])
    op.create_table(
        "nudges_sent",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("chain_id", sa.String(36), sa.ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tip_id", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_nudges_sent_chain_id", "nudges_sent", ["chain_id"])
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(sa.Column("nudge_checked_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("nudge_checked_at")
    op.drop_table("nudges_sent")
    op.drop_table("nudge_settings")
