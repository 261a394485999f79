"""The tables. Change them only together with a new migration in ``migrations/versions``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
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
    # set only when a language model wrote part of the answer (issue 7)
    Column("ai_text", Text),
    Column("ai_model", String(120)),
    Column("prompt_version", String(120)),
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

# ----------------------------------------------------------------------------- check-ins (issue 4)

# Roles given by an administrator (ADMIN_USER_IDS): "ketenmanager" or "coordinator".
roles = Table(
    "roles",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("granted_by", String(32), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
)

# A chain: its channel, its manager and its check-in rhythm. ``open_round_id`` is the guard that
# keeps one round open per chain (set with UPDATE ... WHERE open_round_id IS NULL).
chains = Table(
    "chains",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("channel_id", String(32), nullable=False, unique=True),
    Column("manager_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("open_round_id", String(36)),
    Column("remind_after_hours", Integer, nullable=False, default=48),
    Column("open_hours", Integer, nullable=False, default=96),
    # the plan: weekday (0 = Monday), local time "HH:MM", every N weeks, from the anchor date
    Column("plan_weekday", Integer),
    Column("plan_time", String(5)),
    Column("plan_every_weeks", Integer),
    Column("plan_anchor", Date),
    Column("next_open_at", DateTime(timezone=True), index=True),
)

# Explicit changes to a chain's participants; everyone else follows the channel's human members.
chain_members = Table(
    "chain_members",
    metadata,
    Column("chain_id", String(36), ForeignKey("chains.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("included", Boolean, nullable=False),  # True: added by the manager; False: left out
    Column("changed_by", String(32), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

rounds = Table(
    "rounds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("chain_id", String(36), ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
    Column("slot", String(64), nullable=False),  # "plan:<UTC ISO>" or "now:<round id>"
    Column("opened_by", String(32), nullable=False),  # a user id, or "plan"
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("remind_at", DateTime(timezone=True), nullable=False),
    Column("closes_at", DateTime(timezone=True), nullable=False, index=True),
    Column("closed_at", DateTime(timezone=True)),
    Column("participants_at", DateTime(timezone=True)),  # when the participant list was fixed
    Column("announce_ts", String(32)),  # the channel message whose thread gets the summary
    Column("summary_ts", String(32)),
    Column("nudge_checked_at", DateTime(timezone=True)),  # contextual nudge looked at after closing
    UniqueConstraint("chain_id", "slot", name="uq_rounds_chain_slot"),
)

participants = Table(
    "participants",
    metadata,
    Column("round_id", String(36), ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("invited_at", DateTime(timezone=True)),
    Column("reminded_at", DateTime(timezone=True)),
)

# One answer per person per round (the primary key); changed in place until the round closes.
checkin_answers = Table(
    "checkin_answers",
    metadata,
    Column("round_id", String(36), ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(32), primary_key=True, index=True),  # a person's own answers
    Column("skipped", Boolean, nullable=False),
    Column("strategische_focus", String(16)),
    Column("operationeel_model", String(16)),
    Column("zichtbaarheid", String(16)),
    Column("trust", Integer),
    Column("learning", Integer),
    Column("control", Integer),
    Column("setback", Boolean),
    Column("went_well", Text),
    Column("went_wrong", Text),
    Column("learned", Text),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

absences = Table(
    "absences",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("until", Date, nullable=False),  # absent up to and including this date
    Column("set_at", DateTime(timezone=True), nullable=False),
)

# Every message the scheduler sends, claimed here first: two runners never both send it, and a
# runner that crashed after claiming is taken over once its lease has run out.
deliveries = Table(
    "deliveries",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("ts", String(32)),
)

# ----------------------------------------------------------------------------- reports (issue 5)

# Every view of a report: who looked at what, when (never the figures themselves).
report_views = Table(
    "report_views",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("viewed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("user_id", String(32), nullable=False, index=True),
    Column("surface", String(16), nullable=False),  # "slack", "home", "export", "cli"
    Column("scope", String(200), nullable=False),  # which chains ("all" or names) and weeks
)

# A person's chosen language for the bot's own words ("nl" or "en"). Slack has no Dutch
# interface, so a Slack locale of English says nothing about what a Dutch civil servant reads.
preferences = Table(
    "preferences",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("language", String(2), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

# ----------------------------------------------------------------------------- nudges (issue 6)

# Per chain: the scheduled tips (on/off, every N weeks, the next moment) and where contextual
# nudges go ("manager": a DM to the chain manager; "channel": the thread of the round's summary).
nudge_settings = Table(
    "nudge_settings",
    metadata,
    Column("chain_id", String(36), ForeignKey("chains.id", ondelete="CASCADE"), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("every_weeks", Integer, nullable=False),
    Column("contextual_to", String(8), nullable=False),
    Column("next_at", DateTime(timezone=True), index=True),
)

# Every tip sent to a chain: rotation without repeats, and the weekly cap on contextual nudges.
nudges_sent = Table(
    "nudges_sent",
    metadata,
    Column("key", String(160), primary_key=True),  # the delivery key: one row per nudge
    Column("chain_id", String(36), ForeignKey("chains.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("tip_id", String(80), nullable=False),
    Column("kind", String(12), nullable=False),  # "scheduled" | "contextual"
    Column("sent_at", DateTime(timezone=True), nullable=False),
)


# A question claimed by a worker and not yet answered (issue 8). Slack got its ack at once, so it
# will not send the event again: if that worker dies, another one finds the row here and answers.
pending_questions = Table(
    "pending_questions",
    metadata,
    Column("key", String(120), primary_key=True),  # "msg:<channel>:<ts>", as in processed_events
    Column("channel_id", String(32), nullable=False),
    Column("thread_ts", String(32), nullable=False),
    Column("user_id", String(32), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, server_default="1"),
)
