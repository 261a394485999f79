"""Check-ins: roles, chains, members, rounds, participants, answers, absences, deliveries.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("granted_by", sa.String(32), nullable=False),
        sa.Column("granted_at", TZ, nullable=False),
    )
    op.create_table(
        "chains",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False, unique=True),
        sa.Column("manager_id", sa.String(32), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("open_round_id", sa.String(36)),
        sa.Column("remind_after_hours", sa.Integer, nullable=False),
        sa.Column("open_hours", sa.Integer, nullable=False),
        sa.Column("plan_weekday", sa.Integer),
        sa.Column("plan_time", sa.String(5)),
        sa.Column("plan_every_weeks", sa.Integer),
        sa.Column("plan_anchor", sa.Date),
        sa.Column("next_open_at", TZ),
    )
    op.create_index("ix_chains_next_open_at", "chains", ["next_open_at"])
    op.create_table(
        "chain_members",
        sa.Column("chain_id", sa.String(36), sa.ForeignKey("chains.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("included", sa.Boolean, nullable=False),
        sa.Column("changed_by", sa.String(32), nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
    )
    op.create_table(
        "rounds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("chain_id", sa.String(36), sa.ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slot", sa.String(64), nullable=False),
        sa.Column("opened_by", sa.String(32), nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("remind_at", TZ, nullable=False),
        sa.Column("closes_at", TZ, nullable=False),
        sa.Column("closed_at", TZ),
        sa.Column("participants_at", TZ),
        sa.Column("announce_ts", sa.String(32)),
        sa.Column("summary_ts", sa.String(32)),
        sa.UniqueConstraint("chain_id", "slot", name="uq_rounds_chain_slot"),
    )
    op.create_index("ix_rounds_closes_at", "rounds", ["closes_at"])
    op.create_table(
        "participants",
        sa.Column("round_id", sa.String(36), sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("invited_at", TZ),
        sa.Column("reminded_at", TZ),
    )
    op.create_table(
        "checkin_answers",
        sa.Column("round_id", sa.String(36), sa.ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("skipped", sa.Boolean, nullable=False),
        sa.Column("strategische_focus", sa.String(16)),
        sa.Column("operationeel_model", sa.String(16)),
        sa.Column("zichtbaarheid", sa.String(16)),
        sa.Column("trust", sa.Integer),
        sa.Column("learning", sa.Integer),
        sa.Column("control", sa.Integer),
        sa.Column("setback", sa.Boolean),
        sa.Column("went_well", sa.Text),
        sa.Column("went_wrong", sa.Text),
        sa.Column("learned", sa.Text),
        sa.Column("submitted_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "absences",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("until", sa.Date, nullable=False),
        sa.Column("set_at", TZ, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("claimed_at", TZ, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", TZ),
        sa.Column("ts", sa.String(32)),
    )


def downgrade() -> None:
    for table in ("deliveries", "absences", "checkin_answers", "participants", "rounds", "chain_members",
                  "chains", "roles"):
        op.drop_table(table)
