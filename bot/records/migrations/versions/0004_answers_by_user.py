"""An index on check-in answers by person: the App Home lists a person's own check-ins, and
export and erasure (issue 8) look answers up by person.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_checkin_answers_user_id", "checkin_answers", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_checkin_answers_user_id", "checkin_answers")
