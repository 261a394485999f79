"""Check-in commands as plain functions: who may do what, and what the bot answers.

Slack (``bot.slack.listeners.checkins``) and the console call the same code; each command
returns the reply text in the asker's language and never raises for bad input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from bot.checkins.due import plan_next
from bot.checkins.messages import ROLE_NAMES, closes_token, people, say
from bot.checkins.store import COORDINATOR, MANAGER, CheckinError, Checkins
from bot.checkins.when import (
    WhenError,
    format_date,
    format_moment,
    next_working_moment,
    parse_date,
    parse_hours,
    parse_weekly,
)

USER_REF = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
ROLE_WORDS = {
    "ketenmanager": MANAGER,
    "manager": MANAGER,
    "chain-manager": MANAGER,
    "ketenregisseur": MANAGER,
    "coordinator": COORDINATOR,
    "coördinator": COORDINATOR,
    "coordinater": COORDINATOR,
}
REMOVE_WORDS = {"weg", "verwijder", "af", "remove", "revoke", "intrekken"}
TOP_WORDS = {
    "rol": "role",
    "role": "role",
    "rollen": "role",
    "roles": "role",
    "keten": "chain",
    "chain": "chain",
    "checkin": "checkin",
    "check-in": "checkin",
    "incheck": "checkin",
    "afwezig": "away",
    "away": "away",
    "afwezigheid": "away",
    "tips": "tips",
}
MAX_CHAIN_NAME = 80


class Directory(Protocol):
    """What the workspace can tell; None when it cannot be asked right now."""

    def is_person(self, user_id: str) -> bool | None: ...

    def bot_in_channel(self, channel_id: str) -> bool | None: ...


@dataclass(frozen=True)
class Reply:
    text: str
    run_due: bool = False  # something changed that the scheduler should act on at once


class CheckinService:
    def __init__(
        self,
        store: Checkins,
        *,
        admins: tuple[str, ...],
        zone: ZoneInfo,
        min_group: int,
        directory: Directory | None = None,
        nudges=None,  # noqa: ANN001 - bot.nudges.schedule.Nudges for /keten tips
    ):
        self.store, self.admins, self.zone, self.min_group = store, admins, zone, min_group
        self.directory = directory  # Slack: is someone a person, is the bot in a channel
        self.nudges = nudges

    # ------------------------------------------------------------------ entry

    def handle(self, user: str, channel_id: str, text: str, language: str, now: datetime) -> Reply:
        words = text.split()
        if not words:
            return Reply(say("help", language))
        area = TOP_WORDS.get(words[0].lower())
        try:
            if area == "role":
                return self.role(user, words[1:], language)
            if area == "chain":
                return self.chain(user, channel_id, words[1:], text, language)
            if area == "checkin":
                return self.checkin(user, channel_id, words[1:], language, now)
            if area == "away":
                return self.away(user, words[1:], language, now)
            if area == "tips" and self.nudges is not None:
                return self.tips(user, channel_id, words[1:], language, now)
        except WhenError as exc:
            return Reply(exc.en if language == "en" else exc.nl)
        except SQLAlchemyError:
            return Reply(say("storage_down", language))
        return Reply(say("unknown", language) + "\n" + say("help", language))

    @staticmethod
    def owns(text: str) -> bool:
        """Is this /keten text one of the check-in commands?"""
        words = text.split()
        return bool(words) and words[0].lower() in TOP_WORDS

    # ------------------------------------------------------------------ roles

    def role(self, user: str, words: list[str], language: str) -> Reply:
        if user not in self.admins:
            if not self.admins:
                return Reply(say("no_admins", language))
            return Reply(say("not_admin", language, who=people(self.admins)))
        remove = bool(words) and words[0].lower() in REMOVE_WORDS
        rest = words[1:] if remove else words
        role = ROLE_WORDS.get(rest[0].lower()) if rest else None
        targets = USER_REF.findall(" ".join(rest[1:]))
        if role is None or not targets:
            return Reply(say("role_usage", language))
        name = ROLE_NAMES[role]["en" if language == "en" else "nl"]
        lines = []
        for target in targets:
            if remove:
                key = "role_taken" if self.store.revoke(target, role) else "role_absent"
            else:
                key = "role_given" if self.store.grant(target, role, by=user) else "role_had"
            lines.append(say(key, language, who=f"<@{target}>", role=name))
        return Reply("\n".join(lines))

    # ------------------------------------------------------------------ chains

    def chain(self, user: str, channel_id: str, words: list[str], text: str, language: str) -> Reply:
        sub = words[0].lower() if words else ""
        if sub in ("registreer", "register", "aanmelden"):
            if not self._may_manage(user):
                return Reply(say("not_manager", language, who=people(self.admins)))
            if not channel_id.startswith(("C", "G")):
                return Reply(say("register_in_channel", language))
            name = " ".join(words[1:]).strip()[:MAX_CHAIN_NAME]
            if not name:
                return Reply(say("register_usage", language))
            if self.directory is not None and self.directory.bot_in_channel(channel_id) is False:
                return Reply(say("invite_bot_first", language))
            try:
                chain = self.store.register_chain(name, channel_id, user)
            except CheckinError as exc:
                return Reply(say("already_registered", language, chain=exc.details["chain"]["name"]))
            return Reply(say("registered", language, chain=chain["name"]))
        chain = self.store.chain_by_channel(channel_id)
        if chain is None:
            return Reply(say("unregistered", language))
        if sub in ("voeg-toe", "toevoegen", "add", "haal-weg", "verwijder", "remove"):
            if refusal := self._refuse_unless_manager(user, chain, language):
                return refusal
            targets = USER_REF.findall(" ".join(words[1:]))
            if not targets:
                return Reply(say("member_usage", language))
            adding = sub in ("voeg-toe", "toevoegen", "add")
            if adding and self.directory is not None:
                not_people = [t for t in targets if self.directory.is_person(t) is False]
                if not_people:
                    return Reply(say("not_a_person", language, who=people(not_people)))
            for target in targets:
                self.store.set_member(chain["id"], target, adding, by=user)
            key = "member_added" if adding else "member_removed"
            return Reply("\n".join(say(key, language, who=f"<@{t}>", chain=chain["name"]) for t in targets))
        if sub in ("beheerder", "manager", "ketenmanager"):
            if user not in self.admins:
                return Reply(say("not_admin", language, who=people(self.admins)))
            targets = USER_REF.findall(" ".join(words[1:]))
            if len(targets) != 1:
                return Reply(say("member_usage", language))
            self.store.set_manager(chain["id"], targets[0])
            self.store.grant(targets[0], MANAGER, by=user)
            return Reply(say("manager_set", language, who=f"<@{targets[0]}>", chain=chain["name"]))
        if sub in ("deelnemers", "members", "leden"):
            overrides = self.store.member_overrides(chain["id"])
            added = [u for u, inc in overrides.items() if inc]
            removed = [u for u, inc in overrides.items() if not inc]
            extra = ""
            if added:
                extra += (", plus " if language == "en" else ", plus ") + people(added)
            if removed:
                extra += (", except " if language == "en" else ", behalve ") + people(removed)
            return Reply(say("members", language, chain=chain["name"], extra=extra))
        return Reply(say("unknown", language) + "\n" + say("help", language))

    # ------------------------------------------------------------------ rounds

    def checkin(self, user: str, channel_id: str, words: list[str], language: str, now: datetime) -> Reply:
        sub = words[0].lower() if words else "status"
        chain = self.store.chain_by_channel(channel_id)
        if chain is None:
            return Reply(say("unregistered", language))
        if refusal := self._refuse_unless_manager(user, chain, language):
            return refusal
        if sub in ("start", "begin", "open", "nu", "now"):
            return self._start(user, chain, language, now)
        if sub in ("status", "stand"):
            return self._status(chain, language, now)
        if sub in ("sluit", "close", "stop", "einde"):
            current = self.store.open_round_of(chain["id"])
            if current is None:
                return Reply(say("none_open", language, chain=chain["name"], plan=""))
            self.store.close_by(current["id"], now)
            return Reply(say("closed", language, chain=chain["name"]), run_due=True)
        if sub in ("plan", "planning", "schedule"):
            return self._plan(chain, " ".join(words[1:]), language, now)
        if sub in ("herinnering", "reminder", "duur", "duration", "looptijd"):
            hours = parse_hours(" ".join(words[1:]))
            remind, open_ = chain["remind_after_hours"], chain["open_hours"]
            if sub in ("herinnering", "reminder"):
                remind = hours
            else:
                open_ = hours
            if remind >= open_:
                return Reply(say("timing_bad", language, remind=remind, open=open_))
            self.store.set_timing(chain["id"], remind_after_hours=remind, open_hours=open_)
            return Reply(say("timing_set", language, remind=remind, open=open_))
        return Reply(say("unknown", language) + "\n" + say("help", language))

    def _start(self, user: str, chain: dict, language: str, now: datetime) -> Reply:
        send_at = next_working_moment(now, self.zone)
        round_ = self.store.open_round(chain, opened_by=user, now=now, sends_at=send_at)
        if round_ is None:
            current = self.store.open_round_of(chain["id"])
            closes = closes_token(current["closes_at"], language, self.zone) if current else "—"
            return Reply(say("already_open", language, chain=chain["name"], closes=closes))
        when = say("now", language) if send_at <= now else format_moment(send_at, self.zone, language)
        return Reply(
            say(
                "started",
                language,
                chain=chain["name"],
                when=when,
                closes=closes_token(round_["closes_at"], language, self.zone),
            ),
            run_due=True,
        )

    def _status(self, chain: dict, language: str, now: datetime) -> Reply:
        current = self.store.open_round_of(chain["id"])
        if current is None:
            plan = ""
            if chain.get("next_open_at"):
                plan = say(
                    "planned_next", language, when=format_moment(chain["next_open_at"], self.zone, language)
                )
            return Reply(say("none_open", language, chain=chain["name"], plan=plan))
        s = self.store.status(current["id"])
        return Reply(
            say(
                "status",
                language,
                chain=chain["name"],
                answered=s.answered,
                invited=s.invited,
                skipped=s.skipped,
                pending=s.pending,
                closes=closes_token(current["closes_at"], language, self.zone),
            )
        )

    def _plan(self, chain: dict, text: str, language: str, now: datetime) -> Reply:
        if text.strip().lower() in ("uit", "off", "stop", "geen", "none"):
            self.store.set_plan(
                chain["id"], weekday=None, at=None, every_weeks=None, anchor=None, next_open_at=None
            )
            return Reply(say("plan_off", language, chain=chain["name"]))
        rule = parse_weekly(text)
        draft = dict(
            chain,
            plan_weekday=rule.weekday,
            plan_time=rule.at.strftime("%H:%M"),
            plan_every_weeks=rule.every_weeks,
            plan_anchor=None,
        )
        first = plan_next(draft, now, self.zone)
        anchor = first.astimezone(self.zone).date()
        self.store.set_plan(
            chain["id"],
            weekday=rule.weekday,
            at=rule.at.strftime("%H:%M"),
            every_weeks=rule.every_weeks,
            anchor=anchor,
            next_open_at=first,
        )
        return Reply(
            say(
                "plan_set",
                language,
                rule=_describe(rule, language),
                when=format_moment(first, self.zone, language),
            )
        )

    # ------------------------------------------------------------------ tips

    def tips(self, user: str, channel_id: str, words: list[str], language: str, now: datetime) -> Reply:
        chain = self.store.chain_by_channel(channel_id)
        if chain is None:
            return Reply(say("unregistered", language))
        if refusal := self._refuse_unless_manager(user, chain, language):
            return refusal
        sub = " ".join(w.lower() for w in words)
        if sub in ("aan", "on"):
            setting = self.nudges.update(chain["id"], now, enabled=True)
        elif sub in ("uit", "off"):
            setting = self.nudges.update(chain["id"], now, enabled=False)
        elif sub in ("naar manager", "naar ketenmanager", "to manager"):
            setting = self.nudges.update(chain["id"], now, contextual_to="manager")
        elif sub in ("naar kanaal", "to channel"):
            setting = self.nudges.update(chain["id"], now, contextual_to="channel")
        elif (m := re.fullmatch(r"(?:elke|every|om de)\s+(\d+)\s+(?:weken|weeks|week)", sub)) and 1 <= int(
            m[1]
        ) <= 8:
            setting = self.nudges.update(chain["id"], now, every_weeks=int(m[1]), enabled=True)
        elif sub in ("", "status"):
            self.nudges.ensure_settings(now)
            setting = self.nudges.settings(chain["id"])
        else:
            return Reply(say("tips_usage", language))
        if not setting["enabled"]:
            return Reply(say("tips_off", language, chain=chain["name"]))
        return Reply(
            say(
                "tips_on",
                language,
                chain=chain["name"],
                n=setting["every_weeks"],
                when=format_moment(setting["next_at"], self.zone, language),
                to=say("tips_to_" + setting["contextual_to"], language),
            )
        )

    # ------------------------------------------------------------------ absence

    def away(self, user: str, words: list[str], language: str, now: datetime) -> Reply:
        if words and words[0].lower() in ("uit", "off", "terug", "back", "weg", "geen"):
            self.store.clear_absence(user)
            return Reply(say("away_off", language))
        if words and words[0].lower() in ("tot", "until", "t/m", "tm", "till"):
            words = words[1:]
        if not words:
            return Reply(say("away_usage", language))
        today = now.astimezone(self.zone).date()
        until = parse_date(" ".join(words), today)
        self.store.set_absence(user, until)
        return Reply(say("away_set", language, until=format_date(until, language)))

    # ------------------------------------------------------------------ rights

    def _may_manage(self, user: str) -> bool:
        return user in self.admins or self.store.has_role(user, MANAGER)

    def _refuse_unless_manager(self, user: str, chain: dict, language: str) -> Reply | None:
        if user in self.admins:
            return None
        if user == chain["manager_id"] and self.store.has_role(user, MANAGER):  # a demoted manager: no
            return None
        manager = chain["manager_id"]
        if manager == ERASED:  # the manager asked to be forgotten: an administrator appoints a new one
            return Reply(say("no_manager", language, chain=chain["name"]))
        return Reply(say("not_this_manager", language, chain=chain["name"], who=f"<@{manager}>"))


ERASED = "erased"  # bot.privacy.places.ERASED: put in place of a forgotten person's id


def _describe(rule, language: str) -> str:  # noqa: ANN001 - a when.Weekly
    nl_days = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
    en_days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    at = rule.at.strftime("%H:%M")
    if language == "en":
        every = "every week" if rule.every_weeks == 1 else f"every {rule.every_weeks} weeks"
        return f"{en_days[rule.weekday]} at {at}, {every}"
    every = "elke week" if rule.every_weeks == 1 else f"elke {rule.every_weeks} weken"
    return f"{nl_days[rule.weekday]} om {at}, {every}"


__all__ = ["CheckinService", "Reply", "timedelta"]
