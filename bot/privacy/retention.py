"""The retention period (``RETENTION_DAYS``, default 730; 0 keeps everything): older records go.

The due-work runner calls :func:`run_retention` every run; it purges at most once a day per
database, whatever the number of workers: the day's purge is claimed first as a delivery
(``purge:<date>`` in ``deliveries``, an ``INSERT ... ON CONFLICT DO NOTHING``), so one worker
does it. A purge that crashed half-way is taken over after an hour by the next run (purging is
idempotent). Rows go in batches of :data:`BATCH` per transaction, so no table is locked long.
Only counts are logged.

What "older than the retention period" (before the *cutoff*, now minus RETENTION_DAYS) means,
per table:

- ``answers``: asked (``created_at``) before the cutoff; their ``feedback`` goes with them (a 👍/👎
  or reason is about that answer, whenever it was given).
- ``rounds``: closed (``closed_at``) before the cutoff, with their ``participants`` (who was
  invited and reminded) and ``checkin_answers``. An open round is never touched, however old.
  Summaries already posted in Slack are totals and stay there.
- ``report_views``: viewed (``viewed_at``) before the cutoff.
- ``processed_events``: received (``received_at``) before the cutoff.
- ``absences``: ended (``until``) before the cutoff's date.
- ``pending_questions``: received before the cutoff (and at least 8 days ago, like the
  bookkeeping rows); normally a row lives seconds, so what is left failed every attempt.
- ``deliveries``: sent (``sent_at``) before the cutoff; a claim never sent: claimed
  (``claimed_at``) before the cutoff. A claim released after a failed send (its ``claimed_at`` is
  set to 2000-01-01 so the next run retries it at once) goes only when the round it is for has
  closed before the cutoff or is gone: the retry looks in Slack first, and must still be able to.
  Kept at least :data:`BOOKKEEPING_MIN` (8 days) even with a shorter retention: the weekly cap on
  contextual tips reads them.
- ``nudges_sent``: sent (``sent_at``) before the cutoff, also kept at least 8 days. No user ids;
  the tip rotation starts over once its history is gone.
- the outbox file: answers asked (``created_at``) before the cutoff. Its message keys hold no
  time and no user id; they are written to the database as soon as it answers again.

Kept as long as they are in use (and erased with ``/keten vergeet-mij``): ``preferences``,
``roles``, ``chains``, ``chain_members``, ``nudge_settings``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Select, and_, delete, or_, select

from bot.checkins.store import aware
from bot.records.outbox import Outbox, OutboxEntry
from bot.records.schema import (
    absences,
    answers,
    checkin_answers,
    deliveries,
    feedback,
    nudges_sent,
    participants,
    pending_questions,
    processed_events,
    report_views,
    rounds,
)

log = logging.getLogger(__name__)

BATCH = 500  # rows per transaction
ROUND_BATCH = 20  # rounds per transaction (each with its participants and answers)
BOOKKEEPING_MIN = timedelta(days=8)
#: ``Checkins.release_delivery`` sets ``claimed_at`` to 2000-01-01: anything before this was released.
RELEASED_BEFORE = datetime(2001, 1, 1, tzinfo=UTC)
CLAIM_LEASE = timedelta(hours=1)
PURGED = (
    "answers",
    "feedback",
    "rounds",
    "participants",
    "checkin_answers",
    "report_views",
    "processed_events",
    "absences",
    "pending_questions",
    "deliveries",
    "nudges_sent",
    "outbox",
)
_ROUND_KEYS = ("announce", "invite", "remind", "summary")


def purge(
    engine: Engine,
    *,
    retention_days: int,
    now: datetime,
    outbox: Outbox | None = None,
    batch: int = BATCH,
) -> dict[str, int]:
    """Delete what is older than ``retention_days`` (see the module docs); counts per table."""
    counts = dict.fromkeys(PURGED, 0)
    if retention_days <= 0:
        return counts
    cutoff = now - timedelta(days=retention_days)
    kept_until = min(cutoff, now - BOOKKEEPING_MIN)

    def answers_batch(conn: Connection, ids: list) -> int:
        counts["feedback"] += conn.execute(delete(feedback).where(feedback.c.answer_id.in_(ids))).rowcount
        n = conn.execute(delete(answers).where(answers.c.id.in_(ids))).rowcount
        counts["answers"] += n
        return n

    _drain(engine, select(answers.c.id).where(answers.c.created_at < cutoff), answers_batch, batch)

    def rounds_batch(conn: Connection, ids: list) -> int:
        counts["checkin_answers"] += conn.execute(
            delete(checkin_answers).where(checkin_answers.c.round_id.in_(ids))
        ).rowcount
        counts["participants"] += conn.execute(
            delete(participants).where(participants.c.round_id.in_(ids))
        ).rowcount
        n = conn.execute(delete(rounds).where(rounds.c.id.in_(ids))).rowcount
        counts["rounds"] += n
        return n

    closed_long_ago = select(rounds.c.id).where(rounds.c.closed_at.is_not(None), rounds.c.closed_at < cutoff)
    _drain(engine, closed_long_ago, rounds_batch, min(batch, ROUND_BATCH))

    for name, table, key, when in (
        ("report_views", report_views, report_views.c.id, report_views.c.viewed_at < cutoff),
        (
            "processed_events",
            processed_events,
            processed_events.c.event_id,
            processed_events.c.received_at < cutoff,
        ),
        ("absences", absences, absences.c.user_id, absences.c.until < cutoff.date()),
        (
            "pending_questions",
            pending_questions,
            pending_questions.c.key,
            pending_questions.c.received_at < kept_until,
        ),
        ("nudges_sent", nudges_sent, nudges_sent.c.key, nudges_sent.c.sent_at < kept_until),
        (
            "deliveries",
            deliveries,
            deliveries.c.key,
            or_(
                and_(deliveries.c.sent_at.is_not(None), deliveries.c.sent_at < kept_until),
                and_(
                    deliveries.c.sent_at.is_(None),
                    deliveries.c.claimed_at < kept_until,
                    deliveries.c.claimed_at >= RELEASED_BEFORE,
                ),
            ),
        ),
    ):
        _drain(engine, select(key).where(when), _deleter(counts, name, table, key), batch)
    counts["deliveries"] += _released_deliveries(engine, cutoff, batch)

    if outbox is not None:
        try:
            counts["outbox"] = outbox.remove(lambda entry: _old_answer(entry, cutoff))
        except OSError as exc:
            log.error("retention: outbox not rewritten (%s)", type(exc).__name__)
    return counts


def run_retention(
    store,  # noqa: ANN001 - bot.checkins.store.Checkins: its claims (deliveries) and engine
    *,
    retention_days: int,
    now: datetime,
    zone: ZoneInfo,
    outbox: Outbox | None = None,
) -> dict[str, int] | None:
    """Purge once a day per database; None when it is off, already done today or being done."""
    if retention_days <= 0:
        return None
    key = f"purge:{now.astimezone(zone).date().isoformat()}"
    if store.claim_delivery(key, now, lease=CLAIM_LEASE) is None:
        return None
    counts = purge(store.engine, retention_days=retention_days, now=now, outbox=outbox)
    store.delivered(key, "-", now)
    done = ", ".join(f"{name} {n}" for name, n in counts.items() if n)
    log.info("retention: purged records older than %d days: %s", retention_days, done or "nothing")
    return counts


def _drain(engine: Engine, query: Select, act: Callable[[Connection, list], int], batch: int) -> None:
    """Select up to ``batch`` keys and act on them, one transaction each, until none are left."""
    while True:
        with engine.begin() as conn:
            ids = [row[0] for row in conn.execute(query.limit(batch))]
            if not ids:
                return
            done = act(conn, ids)
        if len(ids) < batch or not done:  # not done: another worker deleted them meanwhile
            return


def _deleter(counts: dict[str, int], name: str, table, key):  # noqa: ANN001, ANN202
    def act(conn: Connection, ids: list) -> int:
        n = conn.execute(delete(table).where(key.in_(ids))).rowcount
        counts[name] += n
        return n

    return act


def _released_deliveries(engine: Engine, cutoff: datetime, batch: int) -> int:
    """Released claims (waiting for a retry) of rounds closed before the cutoff, or gone."""
    with engine.connect() as conn:
        keys = [
            k
            for (k,) in conn.execute(
                select(deliveries.c.key).where(
                    deliveries.c.sent_at.is_(None), deliveries.c.claimed_at < RELEASED_BEFORE
                )
            )
            if k.split(":", 1)[0] in _ROUND_KEYS
        ]
        wanted = {k: k.split(":")[1] for k in keys if k.count(":") >= 1}
        gone: list[str] = []
        ids = sorted(set(wanted.values()))
        state: dict[str, datetime | None] = {}
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            state.update(
                conn.execute(select(rounds.c.id, rounds.c.closed_at).where(rounds.c.id.in_(chunk))).all()
            )
        for key, round_id in wanted.items():
            if round_id not in state:
                gone.append(key)
                continue
            closed = state[round_id]
            if closed is not None and aware(closed) < cutoff:
                gone.append(key)
    removed = 0
    for start in range(0, len(gone), batch):
        with engine.begin() as conn:
            removed += conn.execute(
                delete(deliveries).where(
                    deliveries.c.key.in_(gone[start : start + batch]), deliveries.c.sent_at.is_(None)
                )
            ).rowcount
    return removed


def _old_answer(entry: OutboxEntry, cutoff: datetime) -> bool:
    if entry.kind != "answer" or not entry.row:
        return False
    created = entry.row.get("created_at")
    return isinstance(created, datetime) and aware(created) < cutoff

