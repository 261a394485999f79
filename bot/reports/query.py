"""The report's SQL: counts per (chain, round), computed by the database in one pass.

Nothing here decides what may be shown (that is ``bot.reports.privacy`` and
``bot.reports.aggregate``), and nothing here ever selects a ``user_id``: the answers leave the
database as counts and sums per round, and the free text as bare strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, or_, select

from bot.checkins.model import DIMENSIONS, DONT_KNOW, FREE_TEXT, PULSE, STAGES
from bot.records.schema import chains, checkin_answers, participants, rounds

#: Every answer key of a stage question, in table order, "weet ik niet" last.
STAGE_KEYS: tuple[str, ...] = (*STAGES, DONT_KNOW)


@dataclass(slots=True)
class RoundCounts:
    """What the database hands back for one round: counts and sums, no people.

    The counts stay flat tuples (a year of 300 chains is 15,600 rounds, and the report only
    needs dictionaries for a few of them); ``stages``, ``pulse_sum`` and ``pulse_n`` give them
    as dictionaries."""

    round_id: str
    chain_id: str
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    invited: int  # participants fixed for the round
    answered: int  # submitted, not skipped
    skipped: int
    setbacks: int  # answers that reported a setback
    #: answers per (dimension, stage key), DIMENSIONS x STAGE_KEYS in order
    stage_counts: tuple[int, ...]
    #: (sum of scores, number of scores) per pulse item, PULSE in order, flattened
    pulse: tuple[int, ...]

    def closed_by(self, now: datetime) -> bool:
        """No answer can change any more: closed, or past its closing time."""
        return self.closed_at is not None or self.closes_at <= now

    @property
    def stages(self) -> dict[str, dict[str, int]]:
        """dimension -> stage key or DONT_KNOW -> answers"""
        k = len(STAGE_KEYS)
        return {
            d: dict(zip(STAGE_KEYS, self.stage_counts[i * k : (i + 1) * k], strict=True))
            for i, d in enumerate(DIMENSIONS)
        }

    @property
    def pulse_sum(self) -> dict[str, int]:
        return dict(zip(PULSE, self.pulse[0::2], strict=True))

    @property
    def pulse_n(self) -> dict[str, int]:
        return dict(zip(PULSE, self.pulse[1::2], strict=True))


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("report times must be timezone-aware")
    return value.astimezone(UTC)


def _round_filter(chain_ids: Iterable[str] | None, since: datetime | None, until: datetime | None) -> list:
    where = []
    if chain_ids is not None:
        where.append(rounds.c.chain_id.in_(list(chain_ids)))
    if since is not None:
        where.append(rounds.c.opened_at >= _as_utc(since))
    if until is not None:
        where.append(rounds.c.opened_at <= _as_utc(until))
    return where


def round_counts_query(
    chain_ids: Iterable[str] | None,
    since: datetime | None = None,
    until: datetime | None = None,
    dialect: str = "postgresql",
):
    """One SELECT: a row per round in the filter, with every count the report needs.

    The answers are read once, grouped by round, each figure a filtered count
    (``COUNT(*) FILTER (WHERE strategische_focus = 'procedure')``; SQLite has FILTER since 3.30)
    or a sum. A skip is stored with every answer column NULL (``Checkins.save_response``), so
    the stage and pulse figures count answers only without testing ``skipped`` again. The
    rounds in the filter are picked by ``round_id IN (...)``, which lets SQLite walk the
    answers' primary key (round_id, user_id) round by round. The invited count comes from the
    participants' primary key: a correlated count per round on SQLite (an index range per
    round), one grouped hash aggregate on PostgreSQL (each measured fastest there; see
    bench/report_aggregate.py). Unordered: the caller sorts.
    """
    a = checkin_answers
    wanted = select(rounds.c.id).where(*_round_filter(chain_ids, since, until))
    cols = [func.count().label("rows"), func.count().filter(a.c.skipped.is_(True)).label("skipped")]
    for d in DIMENSIONS:
        for key in STAGE_KEYS:
            cols.append(func.count().filter(a.c[d] == key).label(f"{d}__{key}"))
    for p in PULSE:
        cols.append(func.sum(a.c[p]).label(f"{p}__sum"))
        cols.append(func.count(a.c[p]).label(f"{p}__n"))
    cols.append(func.count().filter(a.c.setback.is_(True)).label("setbacks"))
    per_round = select(a.c.round_id, *cols).where(a.c.round_id.in_(wanted)).group_by(a.c.round_id).subquery()

    if dialect == "sqlite":
        invited = (
            select(func.count())
            .select_from(participants)
            .where(participants.c.round_id == rounds.c.id)
            .scalar_subquery()
        )
        source = rounds.outerjoin(per_round, per_round.c.round_id == rounds.c.id)
    else:
        grouped = (
            select(participants.c.round_id, func.count().label("invited"))
            .where(participants.c.round_id.in_(wanted))
            .group_by(participants.c.round_id)
            .subquery()
        )
        invited = grouped.c.invited
        source = rounds.outerjoin(per_round, per_round.c.round_id == rounds.c.id).outerjoin(
            grouped, grouped.c.round_id == rounds.c.id
        )
    return select(
        rounds.c.id,
        rounds.c.chain_id,
        rounds.c.opened_at,
        rounds.c.closes_at,
        rounds.c.closed_at,
        invited.label("invited"),
        *[per_round.c[c.name] for c in cols],
    ).select_from(source).where(*_round_filter(chain_ids, since, until))


def round_counts(
    engine: Engine,
    *,
    chain_ids: Iterable[str] | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[RoundCounts]:
    """Counts per round of the chains in ``chain_ids`` (None: every chain), for rounds opened
    from ``since`` up to ``until`` (both inclusive, either may be None); by chain, oldest first."""
    if chain_ids is not None:
        chain_ids = list(chain_ids)
        if not chain_ids:
            return []
    statement = round_counts_query(chain_ids, since, until, engine.dialect.name)
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    naive = engine.dialect.name == "sqlite"  # SQLite hands back naive datetimes, all UTC
    p0 = 8 + len(DIMENSIONS) * len(STAGE_KEYS)
    p1 = p0 + 2 * len(PULSE)
    no_stages, no_pulse = (0,) * (p0 - 8), (0,) * (p1 - p0)
    out = []
    for r in rows:
        opened, closes, closed = r[2], r[3], r[4]
        if naive:
            opened, closes = opened.replace(tzinfo=UTC), closes.replace(tzinfo=UTC)
            closed = closed.replace(tzinfo=UTC) if closed is not None else None
        if r[6] is None:  # no answer rows at all
            invited = r[5] or 0
            out.append(RoundCounts(r[0], r[1], opened, closes, closed, invited, 0, 0, 0, no_stages, no_pulse))
            continue
        total, skipped = r[6], r[7]
        pulse = tuple(int(x or 0) for x in r[p0:p1])  # SUM of no scores is NULL
        out.append(
            RoundCounts(
                r[0], r[1], opened, closes, closed, r[5] or 0, total - skipped, skipped, r[p1],
                tuple(r[8:p0]), pulse,
            )
        )
    out.sort(key=lambda c: (c.chain_id, c.opened_at, c.round_id))
    return out


@dataclass(frozen=True, slots=True)
class LatestCounts:
    """What complementary suppression needs of one chain: its latest closed round in the window,
    how many answered it and how many scored each pulse item."""

    chain_id: str
    round_id: str
    answered: int
    pulse_n: tuple[int, ...]  # PULSE order


#: The console's practice chain (``bot.checkins.console``): one person, never part of a report.
PRACTICE_CHANNEL = "CONSOLE"


def latest_closed_rounds_query(since: datetime, until: datetime, now: datetime):
    """One SELECT: a row per chain (every chain) with the id of its latest round (by opening
    time, then id) opened from ``since`` up to ``until`` that is closed at ``now`` (closed, or
    past its closing time), NULL when it has none. A correlated subquery per chain, which walks
    the rounds' (chain_id, slot) index: on SQLite about 3x faster than a window function over
    all rounds in the window."""
    latest = (
        select(rounds.c.id)
        .where(
            rounds.c.chain_id == chains.c.id,
            *_round_filter(None, since, until),
            or_(rounds.c.closed_at.is_not(None), rounds.c.closes_at <= _as_utc(now)),
        )
        .order_by(rounds.c.opened_at.desc(), rounds.c.id.desc())
        .limit(1)
        .correlate(chains)
        .scalar_subquery()
    )
    return select(chains.c.id, latest).where(chains.c.channel_id != PRACTICE_CHANNEL)


def latest_closed_counts(
    engine: Engine, *, since: datetime, until: datetime, now: datetime
) -> list[LatestCounts]:
    """Per chain that has one (every chain: suppression is decided over all of them, whatever a
    report is filtered to), its latest closed round in the window with the answered count and
    the number of scores per pulse item; by chain id. Two small SELECTs on one connection: the
    rounds (:func:`latest_closed_rounds_query`), then the counts of their answers only."""
    a = checkin_answers
    with engine.connect() as conn:
        latest = {r[0]: r[1] for r in conn.execute(latest_closed_rounds_query(since, until, now)) if r[1]}
        counts = {}
        if latest:
            statement = (
                select(
                    a.c.round_id,
                    func.count(),
                    func.count().filter(a.c.skipped.is_(True)),
                    *[func.count(a.c[p]) for p in PULSE],
                )
                .where(a.c.round_id.in_(list(latest.values())))
                .group_by(a.c.round_id)
            )
            counts = {r[0]: r for r in conn.execute(statement)}
    none = (0,) * len(PULSE)
    out = []
    for chain_id in sorted(latest):
        row = counts.get(latest[chain_id])
        if row is None:  # no answer rows at all
            out.append(LatestCounts(chain_id, latest[chain_id], 0, none))
        else:
            out.append(LatestCounts(chain_id, latest[chain_id], row[1] - row[2], tuple(row[3:])))
    return out


def chain_names(engine: Engine, chain_ids: Iterable[str] | None) -> list[tuple[str, str]]:
    """(id, name) of the chains asked for that exist (None: all), by name."""
    query = (
        select(chains.c.id, chains.c.name)
        .where(chains.c.channel_id != PRACTICE_CHANNEL)
        .order_by(chains.c.name, chains.c.id)
    )
    if chain_ids is not None:
        chain_ids = list(chain_ids)
        if not chain_ids:
            return []
        query = query.where(chains.c.id.in_(chain_ids))
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(query)]


# Slack writes a mention as <@U0123ABCD> or <@U0123ABCD|name>; a bare member id is U or W and 8 or
# more capitals and digits, at least one a digit (so "UNIVERSITEIT" stays).
_MEMBER_ID = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|\b[UW](?=[A-Z0-9]*\d)[A-Z0-9]{8,}\b")
REDACTED = "@…"


def redact(text: str) -> str:
    """Free text with Slack member ids (mentions and bare ids) replaced by "@…"."""
    if "U" not in text and "W" not in text:  # most texts: no member id can be in them
        return text
    return _MEMBER_ID.sub(REDACTED, text)


def free_text(
    engine: Engine,
    round_ids: set[str],
    *,
    chain_ids: Iterable[str] | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, dict[str, list[str]]]:
    """round id -> free-text kind (went_well, went_wrong, learned) -> texts, for the rounds in
    ``round_ids`` only (the caller passes those that may be shown; the others in the filter
    are read but dropped). Only the text columns are selected, never who wrote them; member ids
    inside the texts are redacted. The order within a kind is the database's: shuffle before
    showing (``aggregate`` sorts, then shuffles, so the order tells nothing about who answered
    first)."""
    if not round_ids:
        return {}
    a = checkin_answers
    query = (
        select(a.c.round_id, *[a.c[k] for k in FREE_TEXT])
        .select_from(a.join(rounds, rounds.c.id == a.c.round_id))
        .where(
            a.c.skipped.is_(False),
            or_(*[a.c[k].is_not(None) for k in FREE_TEXT]),
            *_round_filter(chain_ids, since, until),
        )
    )
    out: dict[str, dict[str, list[str]]] = {}
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    for row in rows:
        if row[0] not in round_ids:
            continue
        kinds = out.get(row[0])
        if kinds is None:
            kinds = out[row[0]] = {k: [] for k in FREE_TEXT}
        for key, text in zip(FREE_TEXT, row[1:], strict=True):
            if text and (text := text.strip()):
                kinds[key].append(redact(text))
    return out


__all__ = [
    "REDACTED",
    "STAGE_KEYS",
    "LatestCounts",
    "RoundCounts",
    "chain_names",
    "free_text",
    "latest_closed_counts",
    "redact",
    "round_counts",
]
