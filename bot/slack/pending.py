"""Each worker's sweep for questions another worker claimed and never answered.

A worker that dies after Slack got its ack leaves its question in ``pending_questions``
(:mod:`bot.records.pending`). Every ``every_s`` seconds each worker looks for rows older than a
question can take (``stale_after``: the language model's time limit plus a margin), takes one
over with a conditional update (one worker wins), and answers it as if it had just arrived,
looking first for anything the dead worker did post.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.ops import metrics
from bot.slack.deps import SlackDeps
from bot.slack.replies import answer_in_thread

log = logging.getLogger(__name__)


class PendingSweep:
    def __init__(self, deps: SlackDeps, client: WebClient, *, stale_after: timedelta, every_s: float = 60.0):
        if deps.pending is None:
            raise ValueError("PendingSweep needs deps.pending")
        self.deps, self.client, self.stale_after, self.every_s = deps, client, stale_after, every_s
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def run_once(self) -> int:
        """Answer the stale questions this worker could take over; how many it answered."""
        if not self._lock.acquire(blocking=False):
            return 0
        answered = 0
        try:
            for question in self.deps.pending.stale(self.stale_after):
                if not self.deps.pending.take_over(question):
                    continue  # another worker took it
                log.info("answering a question another worker left", extra={"attempt": question.attempts + 1})
                try:
                    answer_in_thread(
                        self.deps, self.client, key=question.key, channel=question.channel_id,
                        thread_ts=question.thread_ts, user=question.user_id, text=question.text,
                        resumed=True,
                    )
                    answered += 1
                except Exception:  # Slack or the database failed again: the next sweep retries
                    log.exception("left question not answered yet")
                    metrics.record_error("pending")
        except SQLAlchemyError as exc:
            log.warning("pending questions not read (%s)", type(exc).__name__)
        finally:
            self._lock.release()
        return answered

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.every_s):
                self.run_once()

        threading.Thread(target=loop, name="pending-sweep", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
