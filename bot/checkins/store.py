"""Check-in records: roles, chains, rounds, participants, answers, absences, deliveries.

Every write is one transaction and every race is settled by the database itself (primary keys,
``ON CONFLICT``, conditional ``UPDATE``s), so several workers and schedulers can share it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.checkins.model import DIMENSIONS, DONT_KNOW, FREE_TEXT, PULSE, STAGES, CheckinResponse, RoundSummary
from bot.records.schema import (
    absences,
    chain_members,
    chains,
    checkin_answers,
    deliveries,
    participants,
    roles,
    rounds,
)
from bot.records.store import Clock, utcnow

MANAGER, COORDINATOR = "ketenmanager", "coordinator"
ROLES = (MANAGER, COORDINATOR)
DEFAULT_REMIND_AFTER_HOURS = 48
DEFAULT_OPEN_HOURS = 96
DELIVERY_LEASE = timedelta(minutes=5)


class _SlotTaken(Exception):
    pass


class CheckinError(Exception):
    """A request that cannot be done as asked; ``code`` tells the surface what to say."""

    def __init__(self, code: str, **details: object):
        super().__init__(code)
        self.code, self.details = code, details


@dataclass(frozen=True)
class RoundStatus:
    invited: int
    answered: int
    skipped: int
    pending: int


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Checkins:
    def __init__(self, engine: Engine, clock: Clock = utcnow):
        self.engine = engine
        self.clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # ------------------------------------------------------------------ roles

    def grant(self, user_id: str, role: str, by: str) -> bool:
        """True when the role is new for this user."""
        stmt = self._insert(roles).values(user_id=user_id, role=role, granted_by=by, granted_at=self.clock())
        stmt = stmt.on_conflict_do_nothing(index_elements=["user_id", "role"]).returning(roles.c.user_id)
        with self.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def revoke(self, user_id: str, role: str) -> bool:
        with self.engine.begin() as conn:
            return (
                conn.execute(roles.delete().where(roles.c.user_id == user_id, roles.c.role == role)).rowcount
                > 0
            )

    def has_role(self, user_id: str, role: str) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(roles.c.user_id).where(roles.c.user_id == user_id, roles.c.role == role)
            )
            return row.first() is not None

    def holders(self, role: str) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(roles.c.user_id).where(roles.c.role == role))]

    # ------------------------------------------------------------------ chains

    def register_chain(self, name: str, channel_id: str, manager_id: str) -> dict:
        row = {
            "id": str(uuid.uuid4()),
            "name": name,
            "channel_id": channel_id,
            "manager_id": manager_id,
            "created_at": self.clock(),
            "remind_after_hours": DEFAULT_REMIND_AFTER_HOURS,
            "open_hours": DEFAULT_OPEN_HOURS,
        }
        stmt = self._insert(chains).values(**row).on_conflict_do_nothing(index_elements=["channel_id"])
        with self.engine.begin() as conn:
            if conn.execute(stmt.returning(chains.c.id)).first() is None:
                raise CheckinError("already_registered", chain=self.chain_by_channel(channel_id))
        return self.chain(row["id"])

    def chain(self, chain_id: str) -> dict | None:
        return self._one(select(chains).where(chains.c.id == chain_id))

    def chain_by_channel(self, channel_id: str) -> dict | None:
        return self._one(select(chains).where(chains.c.channel_id == channel_id))

    def chains_managed_by(self, user_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            return [
                aware_row(dict(r))
                for r in conn.execute(select(chains).where(chains.c.manager_id == user_id)).mappings()
            ]

    def all_chains(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [
                aware_row(dict(r)) for r in conn.execute(select(chains).order_by(chains.c.name)).mappings()
            ]

    def set_manager(self, chain_id: str, user_id: str) -> None:
        self._update_chain(chain_id, manager_id=user_id)

    def set_member(self, chain_id: str, user_id: str, included: bool, by: str) -> None:
        now = self.clock()
        stmt = self._insert(chain_members).values(
            chain_id=chain_id, user_id=user_id, included=included, changed_by=by, changed_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["chain_id", "user_id"],
            set_={"included": stmt.excluded.included, "changed_by": by, "changed_at": now},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def member_overrides(self, chain_id: str) -> dict[str, bool]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(chain_members.c.user_id, chain_members.c.included).where(
                    chain_members.c.chain_id == chain_id
                )
            )
            return {user: included for user, included in rows}

    def set_plan(
        self,
        chain_id: str,
        *,
        weekday: int | None,
        at: str | None,
        every_weeks: int | None,
        anchor: date | None,
        next_open_at: datetime | None,
    ) -> None:
        self._update_chain(
            chain_id,
            plan_weekday=weekday,
            plan_time=at,
            plan_every_weeks=every_weeks,
            plan_anchor=anchor,
            next_open_at=next_open_at,
        )

    def set_timing(
        self, chain_id: str, *, remind_after_hours: int | None = None, open_hours: int | None = None
    ) -> None:
        values = {
            k: v
            for k, v in (("remind_after_hours", remind_after_hours), ("open_hours", open_hours))
            if v is not None
        }
        if values:
            self._update_chain(chain_id, **values)

    def advance_plan(self, chain_id: str, was: datetime, to: datetime | None) -> bool:
        """Move the next planned opening from ``was`` to ``to``; False if another runner did."""
        stmt = (
            update(chains)
            .where(chains.c.id == chain_id, chains.c.next_open_at == was)
            .values(next_open_at=to)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount > 0

    def chains_due_to_open(self, now: datetime) -> list[dict]:
        with self.engine.connect() as conn:
            query = select(chains).where(chains.c.next_open_at.is_not(None), chains.c.next_open_at <= now)
            return [aware_row(dict(r)) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------------ rounds

    def open_round(
        self,
        chain: dict,
        *,
        opened_by: str,
        now: datetime,
        slot: str | None = None,
        sends_at: datetime | None = None,
    ) -> dict | None:
        """Open a round for ``chain`` unless one is open already (then None). ``slot`` names a
        planned opening, so two schedulers opening the same plan slot open one round.
        ``sends_at``: when the DMs can go out (after a weekend, holiday or quiet hours); the
        reminder and the closing are counted from then, so nobody gets a shorter week."""
        round_id = str(uuid.uuid4())
        start = max(now, sends_at or now)
        row = {
            "id": round_id,
            "chain_id": chain["id"],
            "slot": slot or f"now:{round_id}",
            "opened_by": opened_by,
            "opened_at": now,
            "remind_at": start + timedelta(hours=chain["remind_after_hours"]),
            "closes_at": start + timedelta(hours=chain["open_hours"]),
        }
        try:
            with self.engine.begin() as conn:
                claimed = conn.execute(
                    update(chains)
                    .where(chains.c.id == chain["id"], chains.c.open_round_id.is_(None))
                    .values(open_round_id=round_id)
                ).rowcount
                if not claimed:
                    return None
                stmt = self._insert(rounds).values(**row)
                stmt = stmt.on_conflict_do_nothing(index_elements=["chain_id", "slot"])
                if conn.execute(stmt.returning(rounds.c.id)).first() is None:
                    raise _SlotTaken  # this plan slot was opened before: undo the claim above
        except _SlotTaken:
            return None
        return self.round(round_id)

    def round(self, round_id: str) -> dict | None:
        return aware_row(self._one(select(rounds).where(rounds.c.id == round_id)))

    def open_round_of(self, chain_id: str) -> dict | None:
        query = (
            select(rounds).join(chains, chains.c.open_round_id == rounds.c.id).where(chains.c.id == chain_id)
        )
        return aware_row(self._one(query))

    def latest_round_of(self, chain_id: str) -> dict | None:
        query = (
            select(rounds).where(rounds.c.chain_id == chain_id).order_by(rounds.c.opened_at.desc()).limit(1)
        )
        return aware_row(self._one(query))

    def close_by(self, round_id: str, when: datetime) -> None:
        """Bring the closing time forward to ``when`` (never later than planned)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(rounds)
                .where(rounds.c.id == round_id, rounds.c.closes_at > when, rounds.c.closed_at.is_(None))
                .values(closes_at=when)
            )

    def close_round(self, round_id: str, now: datetime) -> bool:
        """Mark the round closed; True for the one caller that closed it."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(rounds)
                .where(rounds.c.id == round_id, rounds.c.closed_at.is_(None))
                .values(closed_at=now)
            ).rowcount
            conn.execute(update(chains).where(chains.c.open_round_id == round_id).values(open_round_id=None))
        return done > 0

    def rounds_to_close(self, now: datetime) -> list[dict]:
        query = select(rounds).where(rounds.c.closed_at.is_(None), rounds.c.closes_at <= now)
        return self._many(query)

    def rounds_open(self, now: datetime) -> list[dict]:
        query = select(rounds).where(rounds.c.closed_at.is_(None), rounds.c.closes_at > now)
        return self._many(query)

    def rounds_without_summary(self) -> list[dict]:
        return self._many(
            select(rounds).where(rounds.c.closed_at.is_not(None), rounds.c.summary_ts.is_(None))
        )

    def set_round(self, round_id: str, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(rounds).where(rounds.c.id == round_id).values(**values))

    # ------------------------------------------------------------------ participants

    def fix_participants(self, round_id: str, user_ids: list[str], now: datetime) -> None:
        with self.engine.begin() as conn:
            for user in dict.fromkeys(user_ids):
                stmt = self._insert(participants).values(round_id=round_id, user_id=user)
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["round_id", "user_id"]))
            conn.execute(
                update(rounds)
                .where(rounds.c.id == round_id, rounds.c.participants_at.is_(None))
                .values(participants_at=now)
            )

    def participants(self, round_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            query = (
                select(participants)
                .where(participants.c.round_id == round_id)
                .order_by(participants.c.user_id)
            )
            return [dict(r) for r in conn.execute(query).mappings()]

    def is_participant(self, round_id: str, user_id: str) -> bool:
        query = select(participants.c.user_id).where(
            participants.c.round_id == round_id, participants.c.user_id == user_id
        )
        return self._one(query) is not None

    def to_invite(self, round_id: str) -> list[str]:
        query = select(participants.c.user_id).where(
            participants.c.round_id == round_id, participants.c.invited_at.is_(None)
        )
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query.order_by(participants.c.user_id))]

    def to_remind(self, round_id: str, invited_before: datetime | None = None) -> list[str]:
        """Invited (before ``invited_before``), not yet reminded, neither answered nor skipped."""
        answered = select(checkin_answers.c.user_id).where(checkin_answers.c.round_id == round_id)
        query = select(participants.c.user_id).where(
            participants.c.round_id == round_id,
            participants.c.invited_at.is_not(None),
            participants.c.reminded_at.is_(None),
            participants.c.user_id.not_in(answered),
        )
        if invited_before is not None:
            query = query.where(participants.c.invited_at <= invited_before)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query.order_by(participants.c.user_id))]

    def mark(self, round_id: str, user_id: str, field: str, now: datetime) -> None:
        column = participants.c[field]
        with self.engine.begin() as conn:
            conn.execute(
                update(participants)
                .where(
                    participants.c.round_id == round_id, participants.c.user_id == user_id, column.is_(None)
                )
                .values({field: now})
            )

    # ------------------------------------------------------------------ answers

    def save_response(
        self, round_id: str, user_id: str, response: CheckinResponse | None, now: datetime
    ) -> str:
        """Store (or change) a participant's answer; ``None`` means "skip this week".

        Returns "saved"; raises CheckinError("closed") when the round has closed and
        CheckinError("not_participant") for someone not invited to it. One row per person per
        round, whatever the number of concurrent submissions."""
        values: dict[str, object] = {"skipped": response is None, "updated_at": now}
        for key in DIMENSIONS:
            values[key] = response.stages.get(key) if response else None
        for key in PULSE:
            values[key] = response.pulse.get(key) if response else None
        values["setback"] = response.setback if response else None
        for key in FREE_TEXT:
            values[key] = response.free_text(key) if response else None
        with self.engine.begin() as conn:
            query = select(rounds.c.closed_at, rounds.c.closes_at).where(rounds.c.id == round_id)
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()  # closing waits for this answer, or this sees the close
            else:  # SQLite: take the write lock before reading, so a close cannot slip in between
                conn.execute(update(rounds).where(rounds.c.id == round_id).values(id=rounds.c.id))
            state = conn.execute(query).first()
            if state is None or state.closed_at is not None or aware(state.closes_at) <= now:
                raise CheckinError("closed")
            member = conn.execute(
                select(participants.c.user_id).where(
                    participants.c.round_id == round_id, participants.c.user_id == user_id
                )
            ).first()
            if member is None:
                raise CheckinError("not_participant")
            stmt = self._insert(checkin_answers).values(
                round_id=round_id, user_id=user_id, submitted_at=now, **values
            )
            stmt = stmt.on_conflict_do_update(index_elements=["round_id", "user_id"], set_=values)
            conn.execute(stmt)
        return "saved"

    def response_of(self, round_id: str, user_id: str) -> tuple[bool, CheckinResponse | None] | None:
        """(skipped, response) for this person in this round, or None when nothing was given."""
        row = self._one(
            select(checkin_answers).where(
                checkin_answers.c.round_id == round_id, checkin_answers.c.user_id == user_id
            )
        )
        if row is None:
            return None
        if row["skipped"]:
            return True, None
        return False, _response(row)

    def own_answers(self, user_id: str, limit: int = 5) -> list[dict]:
        """This person's latest check-ins, newest first, with chain name and round date."""
        query = (
            select(checkin_answers, rounds.c.opened_at, chains.c.name.label("chain_name"))
            .join(rounds, rounds.c.id == checkin_answers.c.round_id)
            .join(chains, chains.c.id == rounds.c.chain_id)
            .where(checkin_answers.c.user_id == user_id)
            .order_by(rounds.c.opened_at.desc())
            .limit(limit)
        )
        return self._many(query)

    def status(self, round_id: str) -> RoundStatus:
        with self.engine.connect() as conn:
            invited = conn.execute(  # those who got the DM: not those held back by an absence
                select(func.count())
                .select_from(participants)
                .where(participants.c.round_id == round_id, participants.c.invited_at.is_not(None))
            ).scalar_one()
            rows = conn.execute(
                select(checkin_answers.c.skipped, func.count())
                .where(checkin_answers.c.round_id == round_id)
                .group_by(checkin_answers.c.skipped)
            ).all()
        counts = {bool(skipped): n for skipped, n in rows}
        answered, skipped = counts.get(False, 0), counts.get(True, 0)
        return RoundStatus(invited, answered, skipped, max(0, invited - answered - skipped))

    def summary(self, round_id: str, min_group: int) -> RoundSummary:
        round_ = self.round(round_id)
        chain = self.chain(round_["chain_id"]) if round_ else None
        status = self.status(round_id)
        distribution = None
        if status.answered >= min_group:
            distribution = {d: {s: 0 for s in (*STAGES, DONT_KNOW)} for d in DIMENSIONS}
            with self.engine.connect() as conn:
                for d in DIMENSIONS:
                    column = checkin_answers.c[d]
                    rows = conn.execute(
                        select(column, func.count())
                        .where(checkin_answers.c.round_id == round_id, checkin_answers.c.skipped.is_(False))
                        .group_by(column)
                    )
                    for stage, n in rows:
                        if stage in distribution[d]:
                            distribution[d][stage] = n
        return RoundSummary(
            chain["name"] if chain else "",
            status.invited,
            status.answered,
            status.skipped,
            min_group,
            distribution,
        )

    # ------------------------------------------------------------------ absences

    def set_absence(self, user_id: str, until: date) -> None:
        now = self.clock()
        stmt = self._insert(absences).values(user_id=user_id, until=until, set_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=["user_id"], set_={"until": until, "set_at": now})
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def clear_absence(self, user_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(absences.delete().where(absences.c.user_id == user_id)).rowcount > 0

    def absent_on(self, day: date) -> set[str]:
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(select(absences.c.user_id).where(absences.c.until >= day))}

    def absent_until(self, user_id: str) -> date | None:
        row = self._one(select(absences.c.until).where(absences.c.user_id == user_id))
        return row["until"] if row else None

    # ------------------------------------------------------------------ deliveries

    def claim_delivery(self, key: str, now: datetime, lease: timedelta = DELIVERY_LEASE) -> str | None:
        """ "new" for the first claimer, "takeover" when an earlier claim was never finished and
        its lease ran out (that sender may have crashed after posting: check before sending),
        None when the message was sent or another runner is sending it now."""
        stmt = self._insert(deliveries).values(key=key, claimed_at=now, attempts=1)
        stmt = stmt.on_conflict_do_nothing(index_elements=["key"]).returning(deliveries.c.key)
        with self.engine.begin() as conn:
            if conn.execute(stmt).first() is not None:
                return "new"
            taken = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.key == key,
                    deliveries.c.sent_at.is_(None),
                    deliveries.c.claimed_at <= now - lease,
                )
                .values(claimed_at=now, attempts=deliveries.c.attempts + 1)
            ).rowcount
        return "takeover" if taken else None

    def delivered(self, key: str, ts: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.key == key).values(sent_at=now, ts=ts))

    def release_delivery(self, key: str) -> None:
        """Give a claim back after a failed send, so the next run tries again at once. The claim
        is kept but made stale: a send that failed may still have reached Slack, so the next run
        takes it over as a "takeover" and looks for the message before posting again."""
        stale = datetime(2000, 1, 1, tzinfo=UTC)
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.key == key, deliveries.c.sent_at.is_(None))
                .values(claimed_at=stale)
            )

    def delivery(self, key: str) -> dict | None:
        return self._one(select(deliveries).where(deliveries.c.key == key))

    # ------------------------------------------------------------------ helpers

    def _update_chain(self, chain_id: str, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(chains).where(chains.c.id == chain_id).values(**values))

    def _one(self, query) -> dict | None:  # noqa: ANN001 - a SQLAlchemy select
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return aware_row(dict(row)) if row else None

    def _many(self, query) -> list[dict]:  # noqa: ANN001 - a SQLAlchemy select
        with self.engine.connect() as conn:
            return [aware_row(dict(r)) for r in conn.execute(query).mappings()]


def aware_row(row: dict | None) -> dict | None:
    """A row with every datetime made timezone-aware (see :func:`aware`)."""
    if row is None:
        return None
    return {k: aware(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _response(row: dict) -> CheckinResponse:
    return CheckinResponse(
        stages={d: row[d] for d in DIMENSIONS},
        pulse={p: row[p] for p in PULSE},
        setback=row["setback"],
        **{k: row[k] for k in FREE_TEXT},
    )


__all__ = ["COORDINATOR", "MANAGER", "ROLES", "CheckinError", "Checkins", "RoundStatus", "aware", "aware_row"]
