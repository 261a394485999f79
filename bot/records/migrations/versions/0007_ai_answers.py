"""Answers written by a language model: its text, the model and the prompt version.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("ai_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("ai_model", sa.String(120), nullable=True))
        batch.add_column(sa.Column("prompt_version", sa.String(120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("prompt_version")
        batch.drop_column("ai_model")
        batch.drop_column("ai_text")
