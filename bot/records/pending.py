"""Questions a worker has claimed but not answered yet, kept so no question is lost.

Slack gets its acknowledgement before the answer is worked out, so it will not send the event
again. If the worker that claimed a question dies (``kill -9``, a crash, a deploy) before the
answer is posted, the question would be lost. So claiming a question also writes it here, in the
same transaction, and posting the answer removes it. Every worker's sweep
(:class:`bot.slack.pending.PendingSweep`) takes over rows left longer than a question can take,
and answers them; ``post_once`` with ``check_first`` makes sure an answer that did reach Slack is
not posted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.records.schema import pending_questions, processed_events

MAX_ATTEMPTS = 3


def message_key(channel_id: str, ts: str) -> str:
    """The key under which a worker claims a message it answers (``processed_events`` and
    ``pending_questions``), also carried in the answer's Slack metadata."""
    return f"msg:{channel_id}:{ts}"


@dataclass(frozen=True)
class PendingQuestion:
    key: str
    channel_id: str
    thread_ts: str
    user_id: str
    text: str
    received_at: datetime
    claimed_at: datetime
    attempts: int


class PendingQuestions:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.engine = engine
        self.clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def claim(self, key: str, *, channel_id: str, thread_ts: str, user_id: str, text: str) -> bool:
        """Claim the message ``key`` (True the first time, for one caller only) and keep the
        question until :meth:`done`; both in one transaction."""
        now = self.clock()
        claim = (
            self._insert(processed_events)
            .values(event_id=key, received_at=now)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(processed_events.c.event_id)
        )
        with self.engine.begin() as conn:
            if conn.execute(claim).first() is None:
                return False
            conn.execute(
                self._insert(pending_questions)
                .values(key=key, channel_id=channel_id, thread_ts=thread_ts, user_id=user_id,
                        text=text, received_at=now, claimed_at=now, attempts=1)
                .on_conflict_do_nothing(index_elements=["key"])
            )
        return True

    def done(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(pending_questions).where(pending_questions.c.key == key))

    def stale(self, older_than: timedelta, limit: int = 20) -> list[PendingQuestion]:
        """Questions claimed longer ago than ``older_than`` and not given up on."""
        cutoff = self.clock() - older_than
        query = (
            select(pending_questions)
            .where(pending_questions.c.claimed_at < cutoff, pending_questions.c.attempts < MAX_ATTEMPTS)
            .order_by(pending_questions.c.claimed_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [PendingQuestion(**row) for row in conn.execute(query).mappings()]

    def take_over(self, question: PendingQuestion) -> bool:
        """Claim a stale question for this worker: True for exactly one of the workers that try
        (the row must still carry the claim time this worker read)."""
        stmt = (
            update(pending_questions)
            .where(and_(pending_questions.c.key == question.key,
                        pending_questions.c.claimed_at == question.claimed_at))
            .values(claimed_at=self.clock(), attempts=pending_questions.c.attempts + 1)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def given_up(self) -> int:
        """How many questions failed every attempt (kept for the count; purged with retention)."""
        query = select(pending_questions.c.key).where(pending_questions.c.attempts >= MAX_ATTEMPTS)
        with self.engine.connect() as conn:
            return len(conn.execute(query).all())
