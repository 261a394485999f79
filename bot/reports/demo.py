"""A believable synthetic check-in history, for demonstrating and testing the reports.

``fill_demo`` writes chains, weekly closed rounds, participants and answers into the same tables
``bot.checkins.store.Checkins`` uses, in one transaction (all or nothing). The data is
deterministic for a given ``seed`` and ``now``: the same call on an empty database writes the
same rows, ids included.

Filling twice is harmless: demo chains are recognised by their channel id (``CDEMO…``, not a
real Slack channel); when any exists, nothing is written and the existing demo chains' ids are
returned. A second process racing the first loses on the channel's unique key and does the same.

What the history shows, per chain (the first six; more chains repeat the patterns):

- Jeugdketen Noord: drifts slowly from opportunisme towards procedure, trust rising with it;
- Keten Werk en Inkomen: a settled procedure chain that stays put;
- Zorgketen Oost: a setback half-way (most report it that week), with trust and room to learn
  dipping and the fallback on control rising, then a slow recovery;
- Schuldhulpketen Zuid: four members, so never five answers: every figure stays suppressed;
- Veiligheidsketen West: procedure moving partly towards cultural embedding; low response;
- Onderwijsketen Midden: nine members and a modest response, so some weeks fall below the
  minimum group size.

Nothing here talks to Slack: every round is closed, invited, reminded and summarised already
(placeholder message timestamps), and no chain has a plan, so due work leaves them alone.
"""

from __future__ import annotations

import logging
import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from bot.checkins.model import DIMENSIONS, DONT_KNOW, PULSE, STAGES
from bot.checkins.store import DEFAULT_OPEN_HOURS, DEFAULT_REMIND_AFTER_HOURS
from bot.records.schema import chains as chains_table
from bot.records.schema import checkin_answers, participants, roles, rounds

__all__ = ["DEMO_CHANNEL_PREFIX", "SCENARIOS", "fill_demo"]

log = logging.getLogger(__name__)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DEMO_CHANNEL_PREFIX = "CDEMO"
OPEN_AT = time(9, 0)  # Monday morning, Amsterdam time


@dataclass(frozen=True)
class Scenario:
    name: str
    members: int
    response: tuple[float, float]  # typical response rate, low and high
    start: tuple[float, float, float]  # latent stage per dimension on 1..3 at the first round
    end: tuple[float, float, float]  # ... and at the last
    trust: tuple[float, float]  # mean at the start and at the end
    learning: tuple[float, float]
    control: tuple[float, float]
    setback_at: float | None = None  # where in the period a setback hits (0..1)


#: Per chain: name, members, typical response rate, the latent stage (1..3) per dimension at the
#: first and the last round (strategische_focus, operationeel_model, zichtbaarheid), and the pulse
#: means (trust, learning, control) at the first and the last round.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("Jeugdketen Noord", 18, (0.60, 0.85), (1.25, 1.2, 1.1), (2.0, 1.95, 1.6),
             (2.9, 3.6), (2.7, 3.4), (2.9, 2.2)),
    Scenario("Keten Werk en Inkomen", 22, (0.70, 0.92), (2.05, 2.1, 1.7), (2.05, 2.1, 1.7),
             (3.4, 3.4), (3.0, 3.0), (2.3, 2.3)),
    Scenario("Zorgketen Oost", 14, (0.60, 0.90), (1.5, 1.6, 1.3), (2.1, 2.2, 1.6),
             (3.2, 3.5), (3.0, 3.3), (2.4, 2.2), setback_at=0.55),
    Scenario("Schuldhulpketen Zuid", 4, (0.50, 0.95), (1.6, 1.5, 1.3), (1.9, 1.8, 1.4),
             (3.3, 3.5), (3.1, 3.2), (2.4, 2.3)),
    Scenario("Veiligheidsketen West", 25, (0.40, 0.62), (2.2, 2.3, 1.8), (2.6, 2.7, 2.1),
             (3.5, 3.8), (3.2, 3.5), (2.6, 2.3)),
    Scenario("Onderwijsketen Midden", 9, (0.45, 0.75), (1.2, 1.15, 1.1), (2.2, 2.1, 1.5),
             (2.8, 3.3), (2.6, 3.1), (2.7, 2.3)),
    Scenario("Vreemdelingenketen Zuid", 16, (0.55, 0.80), (1.8, 1.7, 1.4), (2.2, 2.1, 1.6),
             (3.0, 3.3), (2.9, 3.1), (2.6, 2.4)),
    Scenario("Strafrechtketen Midden-Nederland", 20, (0.50, 0.80), (2.0, 2.2, 1.6), (2.3, 2.4, 1.8),
             (3.3, 3.2), (3.0, 2.9), (2.4, 2.6), setback_at=0.3),
    Scenario("Keten Wonen en Zorg Twente", 11, (0.55, 0.90), (1.4, 1.3, 1.2), (1.8, 1.7, 1.3),
             (3.1, 3.4), (3.0, 3.2), (2.5, 2.3)),
)  # fmt: skip

WENT_WELL = (
    "Goed overleg in het ketenoverleg; iedereen was voorbereid.",
    "De overdracht tussen de partners liep soepel deze week.",
    "Snel geschakeld bij een spoedzaak, zonder gedoe over wie wat doet.",
    "De nieuwe werkafspraken worden echt gebruikt.",
    "Casusoverleg was kort en to the point.",
    "Partners deelden op tijd de benodigde informatie.",
    "Er was ruimte om knelpunten open te bespreken.",
)
WENT_WRONG = (
    "Informatie kwam te laat binnen bij de volgende schakel.",
    "Onduidelijk wie de regie had over een casus.",
    "Afspraken uit het vorige overleg zijn niet opgevolgd.",
    "Een melding bleef een paar dagen liggen.",
    "Dubbel werk omdat systemen niet op elkaar aansluiten.",
)
WENT_WRONG_SETBACK = (
    "Een ernstig incident; iedereen schoot in de verdediging.",
    "Na het incident moest alles ineens via de lijn en langs de directie.",
    "Er werd meer gecontroleerd dan samengewerkt na wat er misging.",
    "Het incident zorgde voor wantrouwen tussen twee partners.",
)
LEARNED = (
    "Eerder aan de bel trekken helpt.",
    "Samen de casus doorlopen geeft meer begrip voor elkaars werk.",
    "Korte lijnen werken beter dan formele routes.",
    "Een vaste contactpersoon per partner scheelt veel tijd.",
    "Na een fout eerst samen kijken wat er gebeurde, dan pas afspraken aanscherpen.",
)


def fill_demo(engine: Engine, *, chains: int = 6, weeks: int = 26, now: datetime, seed: int = 7) -> list[str]:
    """Write ``chains`` demo chains with ``weeks`` weekly closed rounds each; return their ids.

    The last round closed before ``now``. If demo chains exist already, nothing is written and
    their ids are returned (oldest channel first), whatever ``chains``/``weeks``/``seed`` say.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if chains < 1 or weeks < 1:
        raise ValueError("chains and weeks must be at least 1")
    existing = _existing(engine)
    if existing:
        log.info("demo data already present (%d chains); nothing written", len(existing))
        return existing

    ids = random.Random(f"ketenbot-demo-ids:{seed}")
    opens = _round_openings(now, weeks)
    rows: dict[str, list[dict]] = {"chains": [], "rounds": [], "participants": [], "answers": []}
    chain_ids = []
    for index in range(chains):
        scenario = SCENARIOS[index % len(SCENARIOS)]
        name = scenario.name if index < len(SCENARIOS) else f"{scenario.name} {index // len(SCENARIOS) + 1}"
        rng = random.Random(f"ketenbot-demo:{seed}:{index}")
        chain_id = _uuid(ids)
        chain_ids.append(chain_id)
        _fill_chain(rows, rng, ids, index, chain_id, name, scenario, opens)

    try:
        with engine.begin() as conn:
            conn.execute(chains_table.insert(), rows["chains"])
            conn.execute(rounds.insert(), rows["rounds"])
            conn.execute(participants.insert(), rows["participants"])
            if rows["answers"]:
                conn.execute(checkin_answers.insert(), rows["answers"])
            conn.execute(roles.insert(), [  # each demo chain's manager holds the role
                {"user_id": c["manager_id"], "role": "ketenmanager", "granted_by": "demo", "granted_at": now}
                for c in rows["chains"]
            ])
    except IntegrityError:
        existing = _existing(engine)
        if not existing:
            raise
        log.info("demo data was written by another process meanwhile; nothing written")
        return existing
    log.info(
        "demo data: %d chains, %d rounds, %d answers",
        len(rows["chains"]),
        len(rows["rounds"]),
        len(rows["answers"]),
    )
    return chain_ids


def _existing(engine: Engine) -> list[str]:
    query = (
        select(chains_table.c.id)
        .where(chains_table.c.channel_id.like(f"{DEMO_CHANNEL_PREFIX}%"))
        .order_by(chains_table.c.channel_id)
    )
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(query)]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _round_openings(now: datetime, weeks: int) -> list[datetime]:
    """Mondays 09:00 Amsterdam (UTC values), oldest first, the last one closed before ``now``."""
    local = now.astimezone(AMSTERDAM)
    monday = local.date() - timedelta(days=local.weekday())
    open_for = timedelta(hours=DEFAULT_OPEN_HOURS)
    while datetime.combine(monday, OPEN_AT, AMSTERDAM) + open_for > now:
        monday -= timedelta(weeks=1)
    days = [monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    return [datetime.combine(day, OPEN_AT, AMSTERDAM).astimezone(UTC) for day in days]


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _fill_chain(
    rows: dict[str, list[dict]],
    rng: random.Random,
    ids: random.Random,
    index: int,
    chain_id: str,
    name: str,
    s: Scenario,
    opens: list[datetime],
) -> None:
    manager = f"UDEMO{index:02d}MGR"
    members = [f"UDEMO{index:02d}M{j:02d}" for j in range(1, s.members + 1)]
    # stable personal leanings: some see the chain further along than others
    stage_bias = {m: [rng.gauss(0, 0.2) for _ in DIMENSIONS] for m in members}
    mood = {m: rng.gauss(0, 0.35) for m in members}
    eagerness = {m: rng.uniform(0.6, 1.4) for m in members}  # who tends to answer
    rows["chains"].append(
        {
            "id": chain_id,
            "name": name,
            "channel_id": f"{DEMO_CHANNEL_PREFIX}{index + 1:04d}",
            "manager_id": manager,
            "created_at": opens[0] - timedelta(days=7),
            "open_round_id": None,
            "remind_after_hours": DEFAULT_REMIND_AFTER_HOURS,
            "open_hours": DEFAULT_OPEN_HOURS,
        }
    )
    weeks = len(opens)
    setback_week = None if s.setback_at is None else min(weeks - 1, round(s.setback_at * (weeks - 1)))
    base_rate = rng.uniform(*s.response)
    drift = [0.0] * len(DIMENSIONS)
    for week, opened in enumerate(opens):
        t = week / (weeks - 1) if weeks > 1 else 1.0
        # the shock of a setback fades with a half-life of about four weeks
        shock = 0.0
        if setback_week is not None and week >= setback_week:
            shock = math.exp(-(week - setback_week) * math.log(2) / 4)
        drift = [0.85 * d + rng.gauss(0, 0.04) for d in drift]  # slow wander, not weekly jumps
        latent = [
            s.start[i] + (s.end[i] - s.start[i]) * t + drift[i] - (0.35 if i == 1 else 0.2) * shock
            for i in range(len(DIMENSIONS))
        ]
        trust = s.trust[0] + (s.trust[1] - s.trust[0]) * t - 1.1 * shock
        learning = s.learning[0] + (s.learning[1] - s.learning[0]) * t - 0.6 * shock
        control = s.control[0] + (s.control[1] - s.control[0]) * t + 1.4 * shock
        p_setback = 0.06
        if setback_week is not None and week == setback_week:
            p_setback = 0.8
        elif setback_week is not None and week == setback_week + 1:
            p_setback = 0.3

        round_id = _uuid(ids)
        remind_at = opened + timedelta(hours=DEFAULT_REMIND_AFTER_HOURS)
        closes_at = opened + timedelta(hours=DEFAULT_OPEN_HOURS)
        rows["rounds"].append(
            {
                "id": round_id,
                "chain_id": chain_id,
                "slot": f"plan:{opened.isoformat()}",
                "opened_by": "plan",
                "opened_at": opened,
                "remind_at": remind_at,
                "closes_at": closes_at,
                "closed_at": closes_at,
                "participants_at": opened,
                "announce_ts": f"{int(opened.timestamp())}.000100",
                "summary_ts": f"{int(closes_at.timestamp())}.000200",
            }
        )
        invited = [m for m in members if rng.random() > 0.06]  # a few are away
        if len(invited) < (len(members) + 1) // 2:
            invited = list(members)  # never half the chain away at once
        rate = _clamp(base_rate + rng.gauss(0, 0.07) - 0.1 * shock, 0.40, 0.95)
        low, high = math.ceil(0.40 * len(invited)), math.floor(0.95 * len(invited))
        n_answers = round(rate * len(invited))
        n_answers = max(1, min(high, max(low, n_answers)))  # 40–95% of those invited
        weights = sorted(invited, key=lambda m: rng.random() ** (1 / eagerness[m]), reverse=True)
        answering = set(weights[:n_answers])
        skipping = {m for m in weights[n_answers:] if rng.random() < 0.12}
        for member in invited:
            submitted = None
            if member in answering or member in skipping:
                submitted = opened + timedelta(minutes=rng.randint(5, DEFAULT_OPEN_HOURS * 60 - 5))
            late = submitted is None or submitted > remind_at
            rows["participants"].append(
                {
                    "round_id": round_id,
                    "user_id": member,
                    "invited_at": opened + timedelta(minutes=1),
                    "reminded_at": remind_at if late else None,
                }
            )
            if member in skipping:
                rows["answers"].append(_skip(round_id, member, submitted))
            elif member in answering:
                rows["answers"].append(
                    _answer(
                        rng,
                        round_id,
                        member,
                        submitted,
                        [latent[i] + stage_bias[member][i] for i in range(len(DIMENSIONS))],
                        (trust + mood[member], learning + 0.7 * mood[member], control - 0.5 * mood[member]),
                        p_setback,
                        shock,
                    )
                )


def _skip(round_id: str, member: str, at: datetime) -> dict:
    row = {"round_id": round_id, "user_id": member, "skipped": True, "submitted_at": at, "updated_at": at}
    for key in (*DIMENSIONS, *PULSE, "setback", "went_well", "went_wrong", "learned"):
        row[key] = None
    return row


def _answer(
    rng: random.Random,
    round_id: str,
    member: str,
    at: datetime,
    latent: list[float],
    pulse_means: tuple[float, float, float],
    p_setback: float,
    shock: float,
) -> dict:
    row: dict[str, object] = {
        "round_id": round_id,
        "user_id": member,
        "skipped": False,
        "submitted_at": at,
        "updated_at": at,
    }
    for i, dimension in enumerate(DIMENSIONS):
        unsure = 0.12 if dimension == "zichtbaarheid" else 0.04
        if rng.random() < unsure:
            row[dimension] = DONT_KNOW
        else:
            value = latent[i] + rng.gauss(0, 0.3)
            row[dimension] = STAGES[0] if value < 1.5 else STAGES[1] if value < 2.5 else STAGES[2]
    # one shared "how was this week" term keeps the three items moving together sensibly
    week = rng.gauss(0, 0.35)
    for key, mean, sign in zip(PULSE, pulse_means, (1, 0.7, -0.6), strict=True):
        if rng.random() < 0.03:
            row[key] = None  # left open
        else:
            row[key] = round(_clamp(mean + sign * week + rng.gauss(0, 0.4), 1, 5))
    setback = rng.random() < p_setback
    row["setback"] = setback
    row["went_well"] = rng.choice(WENT_WELL) if rng.random() < 0.22 else None
    if setback and rng.random() < 0.6:
        row["went_wrong"] = rng.choice(WENT_WRONG_SETBACK if shock > 0.5 else WENT_WRONG)
    else:
        row["went_wrong"] = rng.choice(WENT_WRONG) if rng.random() < 0.06 else None
    row["learned"] = rng.choice(LEARNED) if rng.random() < 0.12 + 0.2 * shock else None
    return row
