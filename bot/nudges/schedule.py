"""Scheduled and contextual nudges, run by the same due-work runner as the check-ins.

- **Scheduled:** per chain, a tip in the chain's channel every N weeks (default weekly), only on
  working days in working hours (no Dutch public holidays, no quiet hours), rotating through the
  whole library without repeats before it starts over.
- **Contextual:** after a round's summary, the chain's shown figures (same suppression as any
  report) are read for signals — a reported setback, low trust, a control reflex, a drop in stage —
  and one fitting tip goes to the chain manager by DM (or into the summary's thread), at most one
  per chain per ISO week. Tips never name or hint at anyone.

Exactly once: every nudge is a delivery (``deliveries`` table) with a key per chain and slot (or
ISO week), claimed before it is sent, like the check-in messages.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.checkins.store import aware_row
from bot.checkins.when import next_working_moment
from bot.nudges.advice import choose, for_chain, library, signals_of, tip_blocks
from bot.nudges.tips import Tip
from bot.records.schema import chains, nudge_settings, nudges_sent, rounds

DEFAULT_EVERY_WEEKS = 1
FIRST_AFTER = timedelta(days=7)  # a newly seen chain gets its first scheduled tip a week later
TO_MANAGER, TO_CHANNEL = "manager", "channel"
INTRO = {
    "scheduled": {"nl": "De tip van deze week voor de keten:", "en": "This week's tip for the chain:"},
    "contextual": {
        "nl": "Naar aanleiding van de laatste check-in (alleen totalen, niemand in het bijzonder):",
        "en": "Prompted by the latest check-in (totals only, nobody in particular):",
    },
}


class Nudges:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def ensure_settings(self, now: datetime) -> None:
        """Every chain gets the default settings (weekly, first tip a week from now)."""
        with self.engine.begin() as conn:
            missing = conn.execute(
                select(chains.c.id).where(
                    chains.c.id.not_in(select(nudge_settings.c.chain_id)), chains.c.channel_id != "CONSOLE"
                )
            ).all()
            for (chain_id,) in missing:
                stmt = self._insert(nudge_settings).values(
                    chain_id=chain_id,
                    enabled=True,
                    every_weeks=DEFAULT_EVERY_WEEKS,
                    contextual_to=TO_MANAGER,
                    next_at=now + FIRST_AFTER,
                )
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["chain_id"]))

    def settings(self, chain_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(nudge_settings).where(nudge_settings.c.chain_id == chain_id))
                .mappings()
                .first()
            )
        return aware_row(dict(row)) if row else None

    def update(self, chain_id: str, now: datetime, **values: object) -> dict:
        self.ensure_settings(now)
        with self.engine.begin() as conn:
            conn.execute(update(nudge_settings).where(nudge_settings.c.chain_id == chain_id).values(**values))
        return self.settings(chain_id)

    def due(self, now: datetime) -> list[dict]:
        query = select(nudge_settings).where(
            nudge_settings.c.enabled.is_(True), nudge_settings.c.next_at <= now
        )
        with self.engine.connect() as conn:
            return [aware_row(dict(r)) for r in conn.execute(query).mappings()]

    def advance(self, chain_id: str, was: datetime, to: datetime) -> bool:
        stmt = update(nudge_settings).where(
            nudge_settings.c.chain_id == chain_id, nudge_settings.c.next_at == was
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(next_at=to)).rowcount > 0

    def sent(self, chain_id: str, kind: str | None = None) -> list[dict]:
        query = select(nudges_sent).where(nudges_sent.c.chain_id == chain_id)
        if kind:
            query = query.where(nudges_sent.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(nudges_sent.c.sent_at)).mappings()
            return [aware_row(dict(r)) for r in rows]

    def record(self, key: str, chain_id: str, tip_id: str, kind: str, now: datetime) -> None:
        stmt = self._insert(nudges_sent).values(
            key=key, chain_id=chain_id, tip_id=tip_id, kind=kind, sent_at=now
        )
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))

    def rounds_to_check(self) -> list[dict]:
        query = select(rounds).where(
            rounds.c.summary_ts.is_not(None),
            rounds.c.summary_ts != "-",
            rounds.c.summary_ts != "console",
            rounds.c.nudge_checked_at.is_(None),
        )
        with self.engine.connect() as conn:
            return [aware_row(dict(r)) for r in conn.execute(query).mappings()]

    def mark_checked(self, round_id: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(rounds).where(rounds.c.id == round_id).values(nudge_checked_at=now))


def rotation(tips: tuple[Tip, ...], sent_ids: list[str]) -> list[str]:
    """The ids sent in the current pass through the library (a pass ends when all were sent)."""
    current: list[str] = []
    for tip_id in sent_ids:
        if tip_id in current or len(current) >= len(tips):
            current = []
        current.append(tip_id)
    return current if len(set(current)) < len(tips) else []


def scheduled_tip(chain_report, sent_ids: list[str], rng: random.Random) -> Tip:  # noqa: ANN001
    tips = library()
    used = set(rotation(tips, sent_ids))
    fresh = [t for t in tips if t.id not in used] or list(tips)
    _, stage = signals_of(chain_report)
    fitting = [t for t in fresh if t.fits_stage(stage)] or fresh
    return rng.choice(sorted(fitting, key=lambda t: t.id))


def iso_week(moment: datetime, zone: ZoneInfo) -> str:
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def run_nudges(
    store,
    nudges: Nudges,
    messenger,
    reports,
    *,
    now: datetime,
    zone: ZoneInfo,  # noqa: ANN001
    report,
    deliver,
) -> None:
    """The nudge part of due work; ``deliver`` is ``bot.checkins.due._deliver``."""
    nudges.ensure_settings(now)
    if next_working_moment(now, zone) > now:  # holidays, weekends, quiet hours: wait
        return
    rng = random.Random(f"{now.isoformat()}")
    for setting in nudges.due(now):
        chain = store.chain(setting["chain_id"])
        if chain is None:
            continue
        slot = setting["next_at"]
        chain_report = for_chain(reports, chain["id"], now)
        tip = scheduled_tip(chain_report, [s["tip_id"] for s in nudges.sent(chain["id"], "scheduled")], rng)
        key = f"nudge:{chain['id']}:{slot.isoformat()}"
        blocks = [_intro("scheduled"), *tip_blocks(tip, "nl")]
        ts = deliver(
            store,
            messenger,
            key,
            now,
            report,
            channel_id=chain["channel_id"],
            text=tip.text("nl"),
            blocks=blocks,
        )
        if ts is None:
            continue
        if not report.last_was_old:  # only the runner that sent it knows which tip went out
            nudges.record(key, chain["id"], tip.id, "scheduled", now)
            report.nudges += 1
        following = slot + timedelta(weeks=setting["every_weeks"])
        while following <= now:  # a runner that was down does not send the missed weeks at once
            following += timedelta(weeks=setting["every_weeks"])
        nudges.advance(chain["id"], slot, following)

    for round_ in nudges.rounds_to_check():
        chain = store.chain(round_["chain_id"])
        setting = nudges.settings(round_["chain_id"]) if chain else None
        if chain is None or setting is None:
            nudges.mark_checked(round_["id"], now)
            continue
        chain_report = for_chain(reports, chain["id"], now)
        signals, _ = signals_of(chain_report)
        key = f"nudge-ctx:{chain['id']}:{iso_week(now, zone)}"  # at most one per chain per week
        if signals and store.delivery(key) is None:
            used = tuple(s["tip_id"] for s in nudges.sent(chain["id"], "contextual"))
            tip = choose(chain_report, rng=rng, used=used)
            where = (
                {"user_id": chain["manager_id"]}
                if setting["contextual_to"] == TO_MANAGER
                else {"channel_id": chain["channel_id"], "thread_ts": round_["summary_ts"]}
            )
            ts = deliver(
                store,
                messenger,
                key,
                now,
                report,
                text=tip.text("nl"),
                blocks=[_intro("contextual"), *tip_blocks(tip, "nl")],
                **where,
            )
            if ts is None:
                continue  # tried again next run
            if not report.last_was_old:
                nudges.record(key, chain["id"], tip.id, "contextual", now)
                report.nudges += 1
        nudges.mark_checked(round_["id"], now)


def _intro(kind: str):  # noqa: ANN202 - a SectionBlock
    from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

    return SectionBlock(text=MarkdownTextObject(text=f"_{INTRO[kind]['nl']}_"))
