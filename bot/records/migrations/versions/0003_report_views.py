"""Report views: who looked at which aggregated report, and when.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_views",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
    )
    op.create_index("ix_report_views_viewed_at", "report_views", ["viewed_at"])
    op.create_index("ix_report_views_user_id", "report_views", ["user_id"])


def downgrade() -> None:
    op.drop_table("report_views")
