"""Reading and writing records; every write is one transaction, duplicates resolve in the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.answering.model import Answer
from bot.records.schema import answers, feedback, preferences, processed_events

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Records:
    def __init__(self, engine: Engine, clock: Clock = utcnow):
        self.engine = engine
        self.clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def claim_event(self, event_id: str) -> bool:
        """True for the first caller with this Slack ``event_id``, False for every repeat."""
        stmt = self._insert(processed_events).values(event_id=event_id, received_at=self.clock())
        stmt = stmt.on_conflict_do_nothing(index_elements=["event_id"]).returning(processed_events.c.event_id)
        with self.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def answer_row(self, answer: Answer, *, user_id: str, channel_id: str, thread_ts: str | None) -> dict:
        """The row for an answer, with a fresh id; :meth:`insert_answer` stores it."""
        return {
            "id": str(uuid.uuid4()),
            "created_at": self.clock(),
            "user_id": user_id,
            "channel_id": channel_id,
            "thread_ts": thread_ts,
            "question": answer.question,
            "language": answer.language,
            "answered": answer.answered,
            "sources": [asdict(s) for s in answer.sources],
            "ai_text": answer.ai_text or None,
            "ai_model": answer.ai_model or None,
            "prompt_version": answer.prompt_version or None,
        }

    def insert_answer(self, row: dict) -> str:
        """Store an answer row; storing the same row again changes nothing."""
        stmt = self._insert(answers).values(**row).on_conflict_do_nothing(index_elements=["id"])
        with self.engine.begin() as conn:
            conn.execute(stmt)
        return row["id"]

    def save_answer(self, answer: Answer, *, user_id: str, channel_id: str, thread_ts: str | None) -> str:
        row = self.answer_row(answer, user_id=user_id, channel_id=channel_id, thread_ts=thread_ts)
        return self.insert_answer(row)

    def restore(self, kind: str, row: dict) -> None:
        """Write a row kept in the outbox while the database was down (see ``bot.records.outbox``)."""
        if kind == "answer":
            self.insert_answer(row)
        elif kind == "event":
            self.claim_event(row["event_id"])
        else:
            raise ValueError(f"unknown outbox entry {kind!r}")

    def get_answer(self, answer_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(answers).where(answers.c.id == answer_id)).mappings().first()
        return dict(row) if row else None

    def has_answer_in_thread(self, channel_id: str, thread_ts: str) -> bool:
        """Did the bot answer in this thread (so follow-ups there are meant for it)?"""
        return self.first_question_in_thread(channel_id, thread_ts) is not None

    def first_question_in_thread(self, channel_id: str, thread_ts: str) -> str | None:
        """The first question the bot answered in this thread, as context for follow-ups."""
        query = (
            select(answers.c.question)
            .where(answers.c.channel_id == channel_id, answers.c.thread_ts == thread_ts)
            .order_by(answers.c.created_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return row[0] if row else None

    def thread_turns(self, channel_id: str, thread_ts: str, limit: int = 4) -> list[tuple[str, str]]:
        """The last ``limit`` exchanges the bot had in this thread, oldest first, as (question,
        what the bot said): its AI text, or else the quotes it gave. Context for a follow-up."""
        query = (
            select(answers.c.question, answers.c.ai_text, answers.c.sources, answers.c.answered)
            .where(answers.c.channel_id == channel_id, answers.c.thread_ts == thread_ts)
            .order_by(answers.c.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        turns = []
        for question, ai_text, sources, answered in reversed(rows):
            if ai_text:
                reply = ai_text
            elif answered:
                reply = " ".join(f"„{s.get('quote')}”" for s in sources or [] if s.get("quote"))
            else:
                reply = "(niet gedekt door de handreiking)"
            turns.append((question, reply))
        return turns

    def save_feedback(self, answer_id: str, user_id: str, helpful: bool, reason: str | None = None) -> None:
        """One vote per person per answer; voting again (or adding a reason) updates it. A reason
        once written is kept when the vote changes to 👍 (nothing a person wrote is dropped);
        reports read a reason only together with a 👎."""
        now = self.clock()
        stmt = self._insert(feedback).values(
            id=str(uuid.uuid4()),
            answer_id=answer_id,
            user_id=user_id,
            helpful=helpful,
            reason=reason,
            created_at=now,
            updated_at=now,
        )
        changes = {"helpful": stmt.excluded.helpful, "updated_at": stmt.excluded.updated_at}
        if reason is not None:
            changes["reason"] = stmt.excluded.reason
        stmt = stmt.on_conflict_do_update(index_elements=["answer_id", "user_id"], set_=changes)
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def feedback_for(self, answer_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feedback).where(feedback.c.answer_id == answer_id)).mappings()
            return [dict(r) for r in rows]

    def language_of(self, user_id: str) -> str | None:
        """The language this person chose with ``/keten taal``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(preferences.c.language).where(preferences.c.user_id == user_id)).first()
        return row[0] if row else None

    def set_language(self, user_id: str, language: str) -> None:
        if language not in ("nl", "en"):
            raise ValueError(language)
        now = self.clock()
        stmt = self._insert(preferences).values(user_id=user_id, language=language, set_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id"], set_={"language": language, "set_at": now}
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
