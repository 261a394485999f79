"""Reports over the check-ins: per chain, per round and over time, never about a person.

The database does the counting (``bot.reports.query``, one pass over the answers); this module
turns counts into figures and applies the privacy rules of ``bot.reports.privacy``.

Rules chosen
------------
**Which rounds show figures.** A round shows its content figures (stage shares, estimates,
pulse means, setbacks) only once it is closed (or past its closing time, after which no answer
can change) and only when at least ``min_group`` people answered it. An open round still
changes, and the difference between two looks at it would show what the latest person said.
Counts of participation (invited, answered, skipped, response rate) are always shown, as the
channel summary does. A pulse mean also needs ``min_group`` people who scored that item, a
stage estimate ``min_group`` people who did not answer "weet ik niet".

**Stage estimate (per round, per dimension): the interpolated median** of the known answers on
1..3 (opportunisme = 1, procedure = 2, verankering = 3; "weet ik niet" left out). With the
answers of category ``k`` read as spread evenly over ``[k - 0.5, k + 0.5]``, it is the point
with half of them below it: ``k - 0.5 + (N/2 - below) / n_k`` for the category ``k`` holding the
middle answer. Like the median it ignores how extreme the outer answers are (robust); unlike
the plain median of a three-point scale it does not jump a whole stage when one person changes
their answer in an evenly split group. All answers in one stage give exactly that stage; the
value always lies in [1, 3]. It is a position, not a score: a later stage is not "better".

**Trend (per chain, per dimension): the median of the last 3 round estimates shown** in this
report (closed rounds that passed the threshold; a round hidden by complementary suppression is
left out too, so the trend cannot give it away). The median of three lies between the other
two values, so one odd week -- high or low, whatever its size -- cannot move the trend beyond
what the other two weeks say. (Pooling the answers of 3 weeks was the alternative; it lets one
week with many answers dominate.) Fewer than 3 such rounds in the window: no trend ("too little
to tell").

**Direction:** the trend now against the trend of the 3 shown rounds before those (so 6 shown
rounds are needed): "up" (towards verankering) when it rose by at least ``DEAD_BAND`` (a quarter
stage), "down" when it fell by that much, else "steady". Descriptive only: moving towards
verankering is not a goal in itself.

**Totals** (coordinator view): over the latest closed round in the window of each chain in the
report (the "latest round window"; for a chain that stopped it may be an older round), with
complementary suppression per figure family (stage shares and setbacks: cells are the chains'
answered counts; each pulse item: cells are the chains' counts for that item). The chains a
family hides get ``hidden_reason="complementary"`` in that round (stage figures) or a ``None``
mean (pulse item); a total that cannot be made safe is ``None``. Older rounds are in no total,
so the minimum group size alone guards them.

**One decision for every report:** complementary suppression is decided once over the latest
closed round of *every* chain in the window (:func:`decide`, from a light count per chain),
whatever the report is filtered to, and each report -- all chains, one chain, a manager's
chains -- hides exactly that in the chains it shows. So the all-chains total minus everything
any report over the same window and ``now`` shows is 0 or the hidden chains together, never one
small chain. A report over some chains shows its own total only when it holds none of the hidden
chains with answers, or all of them (``Suppression.total_shown``; see ``bot.reports.privacy``).

**Comments:** free text from closed rounds whose figures are shown only (not too few answers,
not hidden as a complement); selected without user ids, member ids in the text redacted,
sorted, then shuffled with a per-report seed.
"""

from __future__ import annotations

import random
import secrets
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from bot.checkins.model import DIMENSIONS, FREE_TEXT, PULSE, STAGES
from bot.records.schema import chains, roles
from bot.reports import query
from bot.reports.model import (
    HIDDEN_COMPLEMENTARY,
    HIDDEN_OPEN,
    HIDDEN_TOO_FEW,
    ChainReport,
    Report,
    RoundFigures,
    TotalFigures,
)
from bot.reports.privacy import Suppression, effective_min_group, suppress

#: Stage positions for the estimate; "weet ik niet" has none.
STAGE_VALUE: dict[str, int] = {stage: i for i, stage in enumerate(STAGES, start=1)}
#: Rounds in one trend window; the direction compares two such windows.
TREND_ROUNDS = 3
#: Smallest change of the trend (in stages) that counts as "up" or "down".
DEAD_BAND = 0.25
UP, DOWN, STEADY = "up", "down", "steady"
COORDINATOR = "coordinator"

# ChainReport.notes keys
NOTE_NO_ROUNDS = "no_rounds"  # no round opened in the window
NOTE_NO_CLOSED_ROUND = "no_closed_round"
NOTE_TREND_TOO_FEW = "trend_too_few_rounds"  # fewer than TREND_ROUNDS rounds shown
NOTE_DIRECTION_TOO_FEW = "direction_too_few_rounds"  # fewer than 2 * TREND_ROUNDS rounds shown
NOTE_COMMENTS_TOO_FEW = "comments_too_few"  # comments asked for, but no round passed the threshold


def stage_estimate(counts: Mapping[str, int]) -> float | None:
    """The interpolated median on 1..3 of the known answers in ``counts`` (stage key -> n);
    keys other than the stages ("weet_niet") are ignored. None when nobody knew."""
    return _interpolated_median(*(counts.get(stage, 0) for stage in STAGES))


def _interpolated_median(n1: int, n2: int, n3: int) -> float | None:
    half = (n1 + n2 + n3) / 2
    if n1 and n1 >= half:
        return 0.5 + half / n1
    if n2 and n1 + n2 >= half:
        return 1.5 + (half - n1) / n2
    if n3:
        return 2.5 + (half - n1 - n2) / n3
    return None


def trend(estimates: list[float]) -> tuple[float | None, str | None]:
    """(trend estimate, direction) from a dimension's shown round estimates, oldest first."""
    if len(estimates) < TREND_ROUNDS:
        return None, None
    now = statistics.median(estimates[-TREND_ROUNDS:])
    if len(estimates) < 2 * TREND_ROUNDS:
        return now, None
    before = statistics.median(estimates[-2 * TREND_ROUNDS : -TREND_ROUNDS])
    change = now - before
    if change >= DEAD_BAND:
        return now, UP
    if change <= -DEAD_BAND:
        return now, DOWN
    return now, STEADY


def chains_visible_to(engine: Engine, user_id: str) -> list[str] | None:
    """Who sees what: a coordinator every chain (None: no filter), anyone else the chains they
    manage (possibly none). Pass the answer as ``chain_ids`` to :func:`build_report`."""
    with engine.connect() as conn:
        if conn.execute(
            select(roles.c.user_id).where(roles.c.user_id == user_id, roles.c.role == COORDINATOR)
        ).first():
            return None
        rows = conn.execute(select(chains.c.id).where(chains.c.manager_id == user_id).order_by(chains.c.id))
        return [r[0] for r in rows]


def build_report(
    engine: Engine,
    *,
    chain_ids: list[str] | None,
    weeks: int,
    min_group: int,
    now: datetime,
    comments: bool = False,
    seed: int | None = None,
) -> Report:
    """The report over ``chain_ids`` (None: every chain) for rounds opened in the ``weeks``
    weeks up to ``now``. ``min_group`` is applied as ``effective_min_group`` (never below 3).
    ``comments`` adds the free text; ``seed`` fixes its shuffle (default: a random one)."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    floor = effective_min_group(min_group)
    now = now.astimezone(UTC)
    since = now - timedelta(weeks=weeks)
    decision = decide(engine, since=since, now=now, floor=floor)
    names = query.chain_names(engine, chain_ids)
    per_chain: dict[str, list[query.RoundCounts]] = {chain_id: [] for chain_id, _ in names}
    if names:
        wanted = None if chain_ids is None else list(per_chain)
        for counts in query.round_counts(engine, chain_ids=wanted, since=since, until=now):
            if counts.chain_id in per_chain:
                per_chain[counts.chain_id].append(counts)

    figures = {
        chain_id: [_round_figures(c, floor, now) for c in rounds_] for chain_id, rounds_ in per_chain.items()
    }
    latest_counts: dict[str, query.RoundCounts] = {}  # chain id -> its latest closed round, as decided
    complete = True  # every chain here with a decided round has it in this report
    for chain_id, rounds_ in per_chain.items():
        decided = decision.rounds.get(chain_id)
        at = next((i for i, c in enumerate(rounds_) if c.round_id == decided), None)
        if decided is not None and at is None:
            complete = False
        if at is not None:
            latest_counts[chain_id] = rounds_[at]
            figures[chain_id][at] = _complementary(
                figures[chain_id][at], chain_id, decision.by_answers, decision.by_item
            )
        # a round that closed after the decision was read (a race with the bot closing it) is
        # one the decision did not see: hidden, so no report shows what the next one may hide
        for i in range(0 if at is None else at + 1, len(rounds_)):
            if rounds_[i].closed_by(now) and figures[chain_id][i].hidden_reason is None:
                figures[chain_id][i] = _hidden(figures[chain_id][i])

    texts: dict[str, dict[str, list[str]]] = {}
    if comments and names:
        shown = {r.round_id for rounds_ in figures.values() for r in rounds_ if _comments_shown(r)}
        texts = query.free_text(
            engine, shown, chain_ids=None if chain_ids is None else list(per_chain), since=since, until=now
        )
    rng = random.Random(secrets.randbits(64) if seed is None else seed)

    reports = []
    for chain_id, name in names:
        reports.append(_chain_report(chain_id, name, figures[chain_id], texts if comments else None, rng))

    counted = bool(latest_counts) and complete and decision.by_answers.total_shown(latest_counts)
    totals = _totals(latest_counts, decision, floor) if counted else None
    return Report(
        generated_at=now,
        weeks=weeks,
        min_group=floor,
        chains=reports,
        total_answered=sum(c.answered for c in latest_counts.values()) if counted else None,
        total_invited=sum(c.invited for c in latest_counts.values()) if counted else None,
        totals=totals,
    )


@dataclass(frozen=True)
class Decision:
    """Complementary suppression of the latest rounds, decided over every chain."""

    rounds: dict[str, str]  # chain id -> its latest closed round in the window
    by_answers: Suppression  # stage shares, estimates and setbacks: cells are answered counts
    by_item: dict[str, Suppression]  # per pulse item: cells are that item's counts


def decide(engine: Engine, *, since: datetime, now: datetime, floor: int) -> Decision:
    """Complementary suppression over the latest closed round (opened from ``since`` up to
    ``now``) of *every* chain, whatever the report is filtered to: so a chain hidden as a
    complement in the all-chains report is hidden in its own report too, and no pair of reports
    can be subtracted to show what one of them hid. Reads only the counts it needs
    (``query.latest_closed_counts``), not the reports' figures."""
    latest = query.latest_closed_counts(engine, since=since, until=now, now=now)
    return Decision(
        rounds={c.chain_id: c.round_id for c in latest},
        by_answers=suppress({c.chain_id: c.answered for c in latest}, floor),
        by_item={p: suppress({c.chain_id: c.pulse_n[i] for c in latest}, floor) for i, p in enumerate(PULSE)},
    )


# ----------------------------------------------------------------------------- helpers


def _round_figures(c: query.RoundCounts, floor: int, now: datetime) -> RoundFigures:
    closed = c.closed_by(now)
    answered = c.answered
    rate = answered / c.invited if c.invited else None
    if not closed or answered < floor:
        return RoundFigures(
            c.round_id, c.opened_at, closed, c.invited, answered, c.skipped, None, None, None, None, rate,
            hidden_reason=HIDDEN_TOO_FEW if closed else HIDDEN_OPEN,
        )
    return RoundFigures(
        c.round_id,
        c.opened_at,
        closed,
        c.invited,
        answered,
        c.skipped,
        stage_shares=_shares(c.stage_counts, answered),
        stage_estimate=_estimates(c.stage_counts, floor),
        pulse_means=_means(c.pulse, floor),
        setbacks=c.setbacks,
        response_rate=rate,
        pulse_counts=dict(zip(PULSE, c.pulse[1::2], strict=True)),
    )


_K0, _K1, _K2, _K3 = query.STAGE_KEYS


def _shares(counts: tuple[int, ...], answered: int) -> dict[str, dict[str, float]]:
    """``counts`` flat as in ``RoundCounts.stage_counts``."""
    out = {}
    for i, d in enumerate(DIMENSIONS):
        n1, n2, n3, n4 = counts[4 * i : 4 * i + 4]
        out[d] = {_K0: n1 / answered, _K1: n2 / answered, _K2: n3 / answered, _K3: n4 / answered}
    return out


def _estimates(counts: tuple[int, ...], floor: int) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for i, d in enumerate(DIMENSIONS):
        n1, n2, n3 = counts[4 * i : 4 * i + 3]
        out[d] = _interpolated_median(n1, n2, n3) if n1 + n2 + n3 >= floor else None
    return out


def _means(pulse: tuple[int, ...], floor: int) -> dict[str, float | None]:
    """``pulse`` flat as in ``RoundCounts.pulse``: (sum, n) per item."""
    return {
        p: pulse[2 * i] / pulse[2 * i + 1] if pulse[2 * i + 1] >= floor else None for i, p in enumerate(PULSE)
    }


def _complementary(
    figures: RoundFigures, chain_id: str, by_answers: Suppression, by_item: dict[str, Suppression]
) -> RoundFigures:
    """Hide what complementary suppression hides in a chain's latest closed round."""
    if figures.stage_shares is None:
        return figures  # hidden already (open or too few): pulse means hidden with it
    pulse = dict(figures.pulse_means or {})
    for p in PULSE:
        if not by_item[p].shows(chain_id):
            pulse[p] = None
    figures = replace(figures, pulse_means=pulse)
    if by_answers.shows(chain_id):
        return figures
    return replace(
        figures,
        stage_shares=None,
        stage_estimate=None,
        setbacks=None,
        hidden_reason=HIDDEN_COMPLEMENTARY,
    )


def _hidden(figures: RoundFigures) -> RoundFigures:
    """Every content figure of a round hidden as a complement."""
    return replace(
        figures,
        stage_shares=None,
        stage_estimate=None,
        pulse_means=None,
        pulse_counts=None,
        setbacks=None,
        hidden_reason=HIDDEN_COMPLEMENTARY,
    )


def _comments_shown(r: RoundFigures) -> bool:
    """Free text only from a closed round whose figures are shown: not too small, and not hidden
    as a complement (its comments could say what the hidden figures would have)."""
    return r.closed and r.hidden_reason is None


def _chain_report(
    chain_id: str,
    name: str,
    rounds_: list[RoundFigures],
    texts: dict[str, dict[str, list[str]]] | None,
    rng: random.Random,
) -> ChainReport:
    notes: list[str] = []
    if not rounds_:
        notes.append(NOTE_NO_ROUNDS)
    elif not any(r.closed for r in rounds_):
        notes.append(NOTE_NO_CLOSED_ROUND)
    shown = [r for r in rounds_ if r.closed and r.stage_estimate is not None]
    trend_estimate: dict[str, float | None] | None = None
    direction: dict[str, str | None] | None = None
    if shown:
        trend_estimate, direction = {}, {}
        for d in DIMENSIONS:
            series = [r.stage_estimate[d] for r in shown if r.stage_estimate[d] is not None]
            trend_estimate[d], direction[d] = trend(series)
    if trend_estimate is None or all(v is None for v in trend_estimate.values()):
        notes.append(NOTE_TREND_TOO_FEW)
    elif direction is None or all(v is None for v in direction.values()):
        notes.append(NOTE_DIRECTION_TOO_FEW)

    comments = by_kind = None
    if texts is not None:
        passed = [r.round_id for r in rounds_ if _comments_shown(r)]
        if passed:
            by_kind = {k: [t for rid in passed for t in texts.get(rid, {}).get(k, [])] for k in FREE_TEXT}
            comments = _shuffled([t for k in FREE_TEXT for t in by_kind[k]], rng)
            by_kind = {k: _shuffled(group, rng) for k, group in by_kind.items()}
        else:
            notes.append(NOTE_COMMENTS_TOO_FEW)
    return ChainReport(
        chain_id=chain_id,
        chain_name=name,
        rounds=rounds_,
        trend_estimate=trend_estimate,
        trend_direction=direction,
        comments=comments,
        notes=notes,
        comments_by_kind=by_kind,
    )


def _shuffled(texts: list[str], rng: random.Random) -> list[str]:
    """Sorted first, so the order the database gave (who answered first) cannot survive, then
    put in random order (sorting on random keys: a uniform shuffle, and faster than
    ``Random.shuffle`` for the 200,000 comments of a year of 300 chains)."""
    texts = sorted(texts)
    keys = [rng.random() for _ in texts]
    return [t for _, t in sorted(zip(keys, texts, strict=True), key=lambda pair: pair[0])]


def _totals(latest: dict[str, query.RoundCounts], decision: Decision, floor: int) -> TotalFigures | None:
    """Over the chains' latest rounds in ``latest``, whose stage total ``decision`` allows."""
    answered = sum(c.answered for c in latest.values())
    if answered < floor:
        return None
    stage_counts = tuple(map(sum, zip(*(c.stage_counts for c in latest.values()), strict=True)))
    pulse = tuple(map(sum, zip(*(c.pulse for c in latest.values()), strict=True)))
    invited = sum(c.invited for c in latest.values())
    pulse_means: dict[str, float | None] = {}
    pulse_counts: dict[str, int | None] = {}
    for i, p in enumerate(PULSE):
        n = pulse[2 * i + 1]
        ok = decision.by_item[p].total_shown(latest) and n >= floor
        pulse_means[p] = pulse[2 * i] / n if ok else None
        pulse_counts[p] = n if ok else None
    return TotalFigures(
        chains=len(latest),
        invited=invited,
        answered=answered,
        skipped=sum(c.skipped for c in latest.values()),
        stage_shares=_shares(stage_counts, answered),
        stage_estimate=_estimates(stage_counts, floor),
        pulse_means=pulse_means,
        pulse_counts=pulse_counts,
        setbacks=sum(c.setbacks for c in latest.values()),
        response_rate=answered / invited if invited else None,
        hidden_chains=tuple(sorted(decision.by_answers.hidden.intersection(latest))),
    )


__all__ = [
    "DEAD_BAND",
    "DOWN",
    "STAGE_VALUE",
    "STEADY",
    "TREND_ROUNDS",
    "UP",
    "Decision",
    "build_report",
    "chains_visible_to",
    "decide",
    "stage_estimate",
    "trend",
]
