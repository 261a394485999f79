"""Erasing a person everywhere (AVG art. 17): every place of :mod:`bot.privacy.places`.

One database transaction: either all of it is erased or (the database failed) nothing is, and
the person is told so and can simply try again. Their own rows are deleted; in rows shared with
others the user id is replaced by :data:`~bot.privacy.places.ERASED`:

- a chain they manage keeps running without a manager (an administrator appoints a new one with
  ``/keten keten beheerder @iemand``); tips that went to the manager by DM go to the chain's
  channel instead, so none is sent to nobody;
- roles they gave, participants they added, rounds they opened stay, without their name.

Others' 👍/👎 on this person's answers go with those answers (the answer they were about is
gone). The outbox file is rewritten without their entries while it is locked, around the
database transaction, so a flush cannot bring back what was just erased. Totals already posted
in Slack hold no user ids and stay; reports made from now on no longer count this person.

Nothing is logged but counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, delete, func, select, update

from bot.privacy.find import CHUNK, MessageRefs, delivery_keys, message_keys, message_refs, outbox_match
from bot.privacy.places import DELETE, ERASED, KINDS, PLACES
from bot.records.outbox import Outbox, OutboxEntry
from bot.records.schema import answers, chains, deliveries, feedback, nudge_settings, processed_events

log = logging.getLogger(__name__)


@dataclass
class Erasure:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    chains: list[str] = field(default_factory=list)  # names of the chains that lost their manager
    outbox_failed: bool = False  # the local outbox file could not be read or rewritten

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def erase(engine: Engine, user_id: str, *, outbox: Outbox | None = None) -> Erasure:
    """Erase ``user_id`` everywhere; what was erased, counted per kind. Raises the database's
    error (SQLAlchemyError) when it fails: then nothing was changed. Erasing twice is harmless:
    the second time every count is 0."""
    if not user_id or user_id == ERASED:
        raise ValueError("a user id is needed")
    result = Erasure()
    state: dict[str, object] = {}

    def in_database(entries: list[OutboxEntry]) -> None:
        with engine.begin() as conn:
            refs = message_refs(conn, user_id, entries)
            _erase_rows(conn, user_id, refs, result)
        state["refs"] = refs

    if outbox is None:
        in_database([])
    else:
        with engine.connect() as conn:  # a database that is down fails here, before the outbox is
            conn.execute(select(1))  # locked: answers keep going to the outbox meanwhile

        def match(entry: OutboxEntry) -> bool:  # asked after in_database, so "refs" is there
            return outbox_match(user_id, state["refs"])(entry)

        try:
            result.counts["outbox"] = outbox.remove(match, while_locked=in_database)
        except OSError as exc:  # the file, not the database: erase there anyway, and say so
            log.error("privacy: outbox not rewritten (%s)", type(exc).__name__)
            result.outbox_failed = True
            if "refs" not in state:
                in_database([])
    log.info("privacy: erasure done, %d rows", result.total)
    return result


def _erase_rows(conn: Connection, user_id: str, refs: MessageRefs, result: Erasure) -> None:
    counts = result.counts
    own_answers = select(answers.c.id).where(answers.c.user_id == user_id)
    counts["feedback_on_your_answers"] += conn.execute(
        delete(feedback).where(feedback.c.answer_id.in_(own_answers), feedback.c.user_id != user_id)
    ).rowcount
    managed = conn.execute(
        select(chains.c.id, chains.c.name).where(chains.c.manager_id == user_id).order_by(chains.c.name)
    ).all()
    if managed:
        result.chains = [name for _, name in managed]
        conn.execute(
            update(nudge_settings)
            .where(
                nudge_settings.c.chain_id.in_([i for i, _ in managed]),
                nudge_settings.c.contextual_to == "manager",
            )
            .values(contextual_to="channel")
        )
    for place in PLACES:
        if place.action == DELETE:
            statement = delete(place.table).where(place.column == user_id)
        else:
            statement = update(place.table).where(place.column == user_id).values({place.column_name: ERASED})
        counts[place.kind] += conn.execute(statement).rowcount
    keys = delivery_keys(conn, user_id)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        counts["deliveries"] += conn.execute(delete(deliveries).where(deliveries.c.key.in_(chunk))).rowcount
    receipts = message_keys(conn, refs)
    for start in range(0, len(receipts), CHUNK):
        chunk = receipts[start : start + CHUNK]
        counts["message_receipts"] += conn.execute(
            delete(processed_events).where(processed_events.c.event_id.in_(chunk))
        ).rowcount


def preview(engine: Engine, user_id: str, *, outbox: Outbox | None = None) -> dict[str, int]:
    """How many rows of each kind an erasure would touch now (the confirmation shows it)."""
    counts = dict.fromkeys(KINDS, 0)
    waiting = outbox.entries() if outbox is not None else []
    with engine.connect() as conn:
        for place in PLACES:
            query = select(func.count()).select_from(place.table).where(place.column == user_id)
            if place.action != DELETE:  # a shared row that is this person's own too is deleted, not kept
                for own in PLACES:
                    if own.table is place.table and own.action == DELETE:
                        query = query.where(own.column != user_id)
            counts[place.kind] += conn.execute(query).scalar_one()
        counts["feedback_on_your_answers"] = conn.execute(
            select(func.count())
            .select_from(feedback)
            .join(answers, answers.c.id == feedback.c.answer_id)
            .where(answers.c.user_id == user_id, feedback.c.user_id != user_id)
        ).scalar_one()
        counts["deliveries"] = len(delivery_keys(conn, user_id))
        refs = message_refs(conn, user_id, waiting)
        counts["message_receipts"] = len(message_keys(conn, refs))
    match = outbox_match(user_id, refs)
    counts["outbox"] = sum(1 for entry in waiting if match(entry))
    return counts
