"""The tables. Change them only together with a new migration in ``migrations/versions``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# Slack delivers an event up to four times; the first worker to insert its id handles it.
processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
)

# Every answer given, so feedback, sharing and hand-offs can refer back to it.
answers = Table(
    "answers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("user_id", String(32), nullable=False, index=True),  # for export and erasure
    Column("channel_id", String(32), nullable=False),
    Column("thread_ts", String(32)),
    Column("question", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("answered", Boolean, nullable=False),
    Column("sources", JSON, nullable=False),  # [{title, section, url, licence, quote, score}]
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("answer_id", String(36), ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", String(32), nullable=False, index=True),
    Column("helpful", Boolean, nullable=False),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("answer_id", "user_id", name="uq_feedback_answer_user"),
)
