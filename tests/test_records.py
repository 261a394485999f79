"""Records on SQLite and PostgreSQL: migrations, event dedupe, answers, feedback, concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import inspect

from bot.answering.model import Answer, Source
from bot.records.db import migrate
from bot.records.store import Records
from bot.slack.replies import strip_mentions


def _answer() -> Answer:
    source = Source("NORA", "Geduld", "https://example.org#Geduld", "CC BY-ND 3.0", "Een citaat.", 1.0)
    return Answer("Waarom geduld?", "nl", True, "Dit zegt de handreiking.", [source])


def test_migrations_create_the_tables_and_are_idempotent(engine):
    migrate(engine)  # a second run changes nothing
    names = set(inspect(engine).get_table_names())
    assert {"answers", "feedback", "processed_events", "alembic_version"} <= names


def test_an_event_is_claimed_once(engine):
    records = Records(engine)
    assert records.claim_event("Ev1") is True
    assert records.claim_event("Ev1") is False
    assert records.claim_event("Ev2") is True


def test_concurrent_claims_of_one_event_let_exactly_one_through(engine):
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def claim():
        barrier.wait()
        results.append(Records(engine).claim_event("EvSame"))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


def test_answers_are_stored_with_their_sources(engine):
    fixed = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    records = Records(engine, clock=lambda: fixed)
    answer_id = records.save_answer(_answer(), user_id="U1", channel_id="C1", thread_ts="1.2")
    row = records.get_answer(answer_id)
    assert row["user_id"] == "U1" and row["question"] == "Waarom geduld?" and row["answered"] is True
    assert row["sources"][0]["section"] == "Geduld" and row["sources"][0]["quote"] == "Een citaat."
    assert records.get_answer("no-such-id") is None


def test_feedback_is_one_vote_per_person_and_a_reason_can_follow(engine):
    records = Records(engine)
    answer_id = records.save_answer(_answer(), user_id="U1", channel_id="C1", thread_ts=None)
    records.save_feedback(answer_id, "U2", helpful=False)
    records.save_feedback(answer_id, "U2", helpful=False, reason="Citaat past niet bij mijn vraag")
    records.save_feedback(answer_id, "U3", helpful=True)
    rows = sorted(records.feedback_for(answer_id), key=lambda r: r["user_id"])
    assert [(r["user_id"], r["helpful"], r["reason"]) for r in rows] == [
        ("U2", False, "Citaat past niet bij mijn vraag"), ("U3", True, None),
    ]
    records.save_feedback(answer_id, "U2", helpful=True)  # changing the vote keeps the reason
    u2 = [r for r in records.feedback_for(answer_id) if r["user_id"] == "U2"][0]
    assert u2["helpful"] is True and u2["reason"] == "Citaat past niet bij mijn vraag"


def test_concurrent_duplicate_feedback_stores_one_row(engine):
    records = Records(engine)
    answer_id = records.save_answer(_answer(), user_id="U1", channel_id="C1", thread_ts=None)
    barrier = threading.Barrier(4)

    def vote():
        barrier.wait()
        Records(engine).save_feedback(answer_id, "U9", helpful=True)

    threads = [threading.Thread(target=vote) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(records.feedback_for(answer_id)) == 1


def test_questions_are_stored_as_typed_not_as_slack_escaped_them():
    assert strip_mentions("<@U0KETENBOT> a &amp; b &lt;x&gt; &amp;lt;") == "a & b <x> &lt;"


def test_the_migrations_build_exactly_the_tables_the_code_describes(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.records.schema import metadata

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # SQLite reports no server defaults or index names reliably; tables and columns must match
    relevant = [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")]
    assert relevant == []
