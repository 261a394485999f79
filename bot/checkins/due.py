"""Scheduled check-in work, computed from stored state and "now" alone.

``run_due`` opens planned rounds, fixes who takes part, announces rounds, sends invitations and
the one reminder, closes rounds and posts their summaries: whatever is due at ``now``. Every
message is claimed in the ``deliveries`` table before it is sent, so two runners started
together send nothing twice, and a runner that crashed half-way is taken over (after a lease)
by one that first checks Slack for the message it may already have posted.

The bot calls it every minute; ``ketenbot due [--now ISO-8601]`` calls it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.checkins import forms
from bot.checkins.messages import announce_text, closes_token
from bot.checkins.store import Checkins
from bot.checkins.when import Weekly, is_dutch_holiday, next_weekly, next_working_moment
from bot.ops import failpoints

log = logging.getLogger(__name__)


class Messenger(Protocol):
    """How due work reaches people: Slack in production, a list in tests and the console."""

    def human_members(self, channel_id: str) -> list[str]: ...

    def language(self, user_id: str) -> str: ...

    def send(
        self,
        *,
        key: str,
        text: str,
        blocks: list,
        user_id: str | None = None,
        channel_id: str | None = None,
        thread_ts: str | None = None,
        check_first: bool = False,
    ) -> str:
        """Deliver one message; ``key`` identifies it (``check_first``: it may have been sent
        before a crash, look for it first). Returns the message ts."""
        ...


@dataclass
class DueReport:
    opened: int = 0
    announced: int = 0
    invited: int = 0
    reminded: int = 0
    closed: int = 0
    summaries: int = 0
    deferred: int = 0  # DMs held back: holiday, quiet hours or absence
    already_sent: int = 0  # found sent by another runner; only its bookkeeping was done here
    nudges: int = 0  # coaching tips sent (scheduled and contextual)
    purged: int = 0  # records older than RETENTION_DAYS deleted (at most one purge a day)
    last_was_old: bool = field(default=False, repr=False)
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        skip = ("errors", "last_was_old")
        return {k: v for k, v in vars(self).items() if k not in skip} | {"errors": list(self.errors)}


def plan_next(chain: dict, after: datetime, zone: ZoneInfo) -> datetime | None:
    if chain.get("plan_weekday") is None or not chain.get("plan_time"):
        return None
    hour, minute = (int(x) for x in chain["plan_time"].split(":"))
    rule = Weekly(chain["plan_weekday"], time(hour, minute), chain.get("plan_every_weeks") or 1)
    return next_weekly(rule, after, zone, anchor=chain.get("plan_anchor"))


def run_due(
    store: Checkins,
    messenger: Messenger,
    *,
    now: datetime,
    zone: ZoneInfo,
    min_group: int,
    nudges=None,
    reports=None,  # noqa: ANN001 - bot.nudges.schedule.Nudges, something with .engine/.min_group
    retention_days: int = 0,
    outbox=None,  # noqa: ANN001 - bot.records.outbox.Outbox: its old answers are purged too
) -> DueReport:
    """Do what is due at ``now``. ``retention_days`` > 0: once a day (per database, whatever the
    number of runners) records older than that are purged (``bot.privacy.retention``)."""
    report = DueReport()
    working = next_working_moment(now, zone) <= now  # DMs only on working days, in working hours
    _close_for_planned(store, now)
    _close(store, now, report)
    _open_planned(store, now, zone, report)
    for round_ in store.rounds_open(now):
        chain = store.chain(round_["chain_id"])
        if chain is None:
            continue
        try:
            _fix_participants(store, messenger, chain, round_, now)
            if working:  # the channel hears of the round when the DMs go out
                _announce(store, messenger, chain, round_, now, report)
                _invite(store, messenger, chain, round_, now, zone, report)
                if round_["remind_at"] <= now:
                    _remind(store, messenger, chain, round_, now, zone, report)
            else:
                report.deferred += len(store.to_invite(round_["id"]))
        except Exception as exc:  # one chain's trouble never stops the others
            log.exception("due work failed for a round")
            report.failed += 1
            report.errors.append(type(exc).__name__)
    _summaries(store, messenger, now, min_group, report)
    if nudges is not None:
        from bot.nudges.schedule import run_nudges

        try:
            run_nudges(store, nudges, messenger, reports, now=now, zone=zone, report=report, deliver=_deliver)
        except Exception as exc:  # nudges never hold up check-ins
            log.exception("nudges failed")
            report.failed += 1
            report.errors.append(type(exc).__name__)
    if retention_days > 0:
        from bot.privacy.retention import run_retention

        try:
            purged = run_retention(store, retention_days=retention_days, now=now, zone=zone, outbox=outbox)
            report.purged += sum(purged.values()) if purged else 0
        except Exception as exc:  # the purge never holds up check-ins; tried again after its lease
            log.error("retention purge failed (%s)", type(exc).__name__)  # no traceback: it may hold ids
            report.failed += 1
            report.errors.append(type(exc).__name__)
    return report


def _close_for_planned(store: Checkins, now: datetime) -> None:
    """A planned opening ends the round still open in that chain: one opened before the slot.
    (A round opened at or after the slot is the planned one itself, just opened by another
    runner that has not yet moved the plan on; closing it would lose the week.)"""
    for chain in store.chains_due_to_open(now):
        current = store.open_round_of(chain["id"])
        slot_at = chain["next_open_at"]
        if current is not None and current["opened_at"] < slot_at:
            store.close_by(current["id"], min(slot_at, now))


def _close(store: Checkins, now: datetime, report: DueReport) -> None:
    for round_ in store.rounds_to_close(now):
        if store.close_round(round_["id"], now):
            report.closed += 1


def _open_planned(store: Checkins, now: datetime, zone: ZoneInfo, report: DueReport) -> None:
    for chain in store.chains_due_to_open(now):
        slot_at = chain["next_open_at"]
        slot_at = slot_at if slot_at.tzinfo else slot_at.replace(tzinfo=now.tzinfo)
        # a runner that was down for weeks opens only the latest slot, not every missed one
        following = plan_next(chain, slot_at, zone)
        while following is not None and following <= now:
            slot_at, following = following, plan_next(chain, following, zone)
        sends_at = next_working_moment(now, zone)
        if store.open_round(
            chain, opened_by="plan", now=now, slot=f"plan:{slot_at.isoformat()}", sends_at=sends_at
        ):
            report.opened += 1
        store.advance_plan(chain["id"], chain["next_open_at"], following)


def _fix_participants(
    store: Checkins, messenger: Messenger, chain: dict, round_: dict, now: datetime
) -> None:
    """Who takes part is fixed once per round: the channel's people, with the manager's changes."""
    if round_["participants_at"] is None:
        overrides = store.member_overrides(chain["id"])
        members = [u for u in messenger.human_members(chain["channel_id"]) if overrides.get(u, True)]
        members += [u for u, included in overrides.items() if included and u not in members]
        store.fix_participants(round_["id"], members, now)


def _announce(
    store: Checkins, messenger: Messenger, chain: dict, round_: dict, now: datetime, report: DueReport
) -> None:
    """One message in the chain's channel; its thread gets the summary."""
    if round_["announce_ts"] is None:
        key = f"announce:{round_['id']}"
        ts = _deliver(
            store,
            messenger,
            key,
            now,
            report,
            channel_id=chain["channel_id"],
            text=announce_text(chain["name"], closes_token(round_["closes_at"], "nl"), "nl"),
            blocks=[],
        )
        if ts:
            store.set_round(round_["id"], announce_ts=ts)
            report.announced += int(not report.last_was_old)


def _invite(
    store: Checkins,
    messenger: Messenger,
    chain: dict,
    round_: dict,
    now: datetime,
    zone: ZoneInfo,
    report: DueReport,
) -> None:
    absent = store.absent_on(now.astimezone(zone).date())
    for user in store.to_invite(round_["id"]):
        if user in absent:
            report.deferred += 1
            continue
        language = messenger.language(user)
        closes = closes_token(round_["closes_at"], language)
        ts = _deliver(
            store,
            messenger,
            f"invite:{round_['id']}:{user}",
            now,
            report,
            user_id=user,
            text=forms.invitation_text(chain["name"], language),
            blocks=forms.invitation_blocks(round_["id"], chain["name"], language, closes),
        )
        if ts is not None:
            store.mark(round_["id"], user, "invited_at", now)
            report.invited += int(not report.last_was_old)


def _remind(
    store: Checkins,
    messenger: Messenger,
    chain: dict,
    round_: dict,
    now: datetime,
    zone: ZoneInfo,
    report: DueReport,
) -> None:
    absent = store.absent_on(now.astimezone(zone).date())
    # the reminder comes the same time after each person's own invitation as after the opening:
    # an invitation held back by a weekend, holiday or absence is not followed at once by it
    invited_before = now - timedelta(hours=chain["remind_after_hours"])
    for user in store.to_remind(round_["id"], invited_before):
        if user in absent:
            continue
        language = messenger.language(user)
        ts = _deliver(
            store,
            messenger,
            f"remind:{round_['id']}:{user}",
            now,
            report,
            user_id=user,
            text=forms.invitation_text(chain["name"], language),
            blocks=forms.reminder_blocks(
                round_["id"], chain["name"], language, closes_token(round_["closes_at"], language)
            ),
        )
        if ts is not None:
            store.mark(round_["id"], user, "reminded_at", now)
            report.reminded += int(not report.last_was_old)


def _summaries(
    store: Checkins, messenger: Messenger, now: datetime, min_group: int, report: DueReport
) -> None:
    for round_ in store.rounds_without_summary():
        chain = store.chain(round_["chain_id"])
        if chain is None:
            continue
        if round_["announce_ts"] is None:  # never announced, nobody invited: nothing to sum up
            store.set_round(round_["id"], summary_ts="-")
            continue
        summary = store.summary(round_["id"], min_group)
        ts = _deliver(
            store,
            messenger,
            f"summary:{round_['id']}",
            now,
            report,
            channel_id=chain["channel_id"],
            thread_ts=round_["announce_ts"],
            text=forms.summary_text(summary, "nl"),
            blocks=forms.summary_blocks(summary, "nl"),
        )
        if ts is not None:
            store.set_round(round_["id"], summary_ts=ts)
            report.summaries += int(not report.last_was_old)


def _deliver(
    store: Checkins, messenger: Messenger, key: str, now: datetime, report: DueReport, **message: object
) -> str | None:
    """Claim, send, record; the message's ts. None when another runner is sending it, or when
    sending failed (then the claim is released and the next run tries again). A message found
    sent by another runner gives its ts too (counted as ``already_sent``), so the caller can
    finish bookkeeping that runner may not have finished."""
    report.last_was_old = False
    claim = store.claim_delivery(key, now)
    if claim is not None:
        failpoints.hit("delivery-claimed")
    if claim is None:  # sent already (its bookkeeping may still be missing) or being sent now
        done = store.delivery(key)
        if done and done.get("sent_at"):
            report.already_sent += 1
            report.last_was_old = True
            return done["ts"] or ""
        return None
    try:
        blocks = [b.to_dict() if hasattr(b, "to_dict") else b for b in message.pop("blocks", [])]
        ts = messenger.send(key=key, blocks=blocks, check_first=claim == "takeover", **message)
    except Exception as exc:
        log.warning("delivery failed (%s); it is tried again on the next run", type(exc).__name__)
        store.release_delivery(key)
        report.failed += 1
        report.errors.append(type(exc).__name__)
        return None
    failpoints.hit("delivery-posted")
    store.delivered(key, ts, now)
    return ts


def holiday_today(now: datetime, zone: ZoneInfo) -> bool:
    return is_dutch_holiday(now.astimezone(zone).date())


__all__ = ["DueReport", "Messenger", "plan_next", "run_due", "timedelta"]
