"""The bot's own words around check-ins: command replies, announcements, refusals (nl and en)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.checkins.when import format_moment
from bot.slack.text import escape

_DATE_TOKEN = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")


def closes_token(when: datetime, language: str, zone: ZoneInfo | None = None) -> str:
    """A Slack date token: every reader sees the moment in their own time zone; the fallback
    (after ``|``) is shown where tokens are not rendered."""
    zone = zone or ZoneInfo("Europe/Amsterdam")
    fallback = format_moment(when, zone, language)
    word = "om" if language != "en" else "at"
    return f"<!date^{int(when.timestamp())}^{{date_long_pretty}} {word} {{time}}|{fallback}>"


def plain(text: str) -> str:
    """Slack mrkdwn date tokens replaced by their fallback text (for the console)."""
    return _DATE_TOKEN.sub(lambda m: m.group(1), text)


def announce_text(chain_name: str, closes: str, language: str = "nl") -> str:
    name = escape(chain_name)
    if language == "en":
        return (
            f"The weekly check-in of *{name}* is open. Everyone taking part gets a DM from Ketenbot; "
            f"it takes under two minutes. Answers are only shown as totals, never with names. "
            f"It closes {closes}; the summary follows in this thread."
        )
    return (
        f"De wekelijkse check-in van *{name}* is geopend. Iedereen die meedoet krijgt een DM van Ketenbot; "
        f"invullen kost minder dan twee minuten. Antwoorden worden alleen als totalen getoond, nooit met "
        f"namen. Sluit {closes}; de samenvatting volgt in deze thread."
    )


PHRASES: dict[str, dict[str, str]] = {
    "help": {
        "nl": (
            "*Check-ins met Ketenbot*\n"
            "• `/keten rol ketenmanager @iemand` · `/keten rol coordinator @iemand` · "
            "`/keten rol weg ketenmanager @iemand` — rollen geven en afnemen (beheerders)\n"
            "• `/keten keten registreer <naam>` — dit kanaal wordt het kanaal van je keten (ketenmanagers)\n"
            "• `/keten keten voeg-toe @iemand` · `/keten keten haal-weg @iemand` · `/keten keten deelnemers` · "
            "`/keten keten beheerder @iemand` (beheerders: de keten overdragen)\n"
            "• `/keten checkin start` — nu een ronde openen\n"
            "• `/keten checkin plan <dag> <tijd> [elke N weken]` — vast moment, bijv. `maandag 9:00`; "
            "`/keten checkin plan uit` stopt het\n"
            "• `/keten checkin herinnering <uren>` · `/keten checkin duur <uren>` — wanneer de herinnering "
            "komt en hoe lang een ronde openstaat\n"
            "• `/keten checkin status` · `/keten checkin sluit`\n"
            "• `/keten afwezig tot <datum>` · `/keten afwezig uit` — geen check-in-DM's zolang je weg bent\n"
            "• `/keten rapport [keten] [weken]` — rapport met grafiek in je DM (coördinatoren: alle ketens; "
            "ketenmanagers: hun keten) · `/keten export [weken]` — CSV voor coördinatoren\n"
            "• `/keten taal en` · `/keten taal nl` — de taal van Ketenbots eigen woorden\n"
            "• `/keten tip` — een tip over ketensturing, in het kanaal van een keten passend bij haar laatste check-in\n"
            "• `/keten tips aan|uit|elke <n> weken|naar manager|naar kanaal` — geplande tips voor de keten (ketenmanagers)"
        ),
        "en": (
            "*Check-ins with Ketenbot*\n"
            "• `/keten role manager @someone` · `/keten role coordinator @someone` · "
            "`/keten role remove manager @someone` — give and take roles (administrators)\n"
            "• `/keten chain register <name>` — this channel becomes your chain's channel (chain managers)\n"
            "• `/keten chain add @someone` · `/keten chain remove @someone` · `/keten chain members` · "
            "`/keten chain manager @someone` (administrators: hand the chain over)\n"
            "• `/keten checkin start` — open a round now\n"
            "• `/keten checkin plan <day> <time> [every N weeks]` — a fixed moment, e.g. `monday 9:00`; "
            "`/keten checkin plan off` stops it\n"
            "• `/keten checkin reminder <hours>` · `/keten checkin duration <hours>` — when the reminder "
            "comes and how long a round stays open\n"
            "• `/keten checkin status` · `/keten checkin close`\n"
            "• `/keten away until <date>` · `/keten away off` — no check-in DMs while you are away\n"
            "• `/keten report [chain] [weeks]` — a report with charts in your DM (coordinators: every chain; "
            "chain managers: theirs) · `/keten export [weeks]` — CSV for coordinators\n"
            "• `/keten language en` · `/keten language nl` — the language of Ketenbot's own words\n"
            "• `/keten tip` — a tip on chain governance, in a chain's channel fitting its latest check-in\n"
            "• `/keten tips on|off|every <n> weeks|to manager|to channel` — scheduled tips for the chain (chain managers)"
        ),
    },
    "not_admin": {
        "nl": "Alleen beheerders van Ketenbot kunnen rollen geven of afnemen. Beheerders zijn: {who}.",
        "en": "Only Ketenbot's administrators can give or take roles. The administrators are: {who}.",
    },
    "no_admins": {
        "nl": "Er zijn nog geen beheerders ingesteld (ADMIN_USER_IDS); vraag wie Ketenbot installeerde.",
        "en": "No administrators are set up yet (ADMIN_USER_IDS); ask whoever installed Ketenbot.",
    },
    "role_usage": {
        "nl": "Gebruik: `/keten rol ketenmanager @iemand`, `/keten rol coordinator @iemand` of "
        "`/keten rol weg ketenmanager @iemand`.",
        "en": "Usage: `/keten role manager @someone`, `/keten role coordinator @someone` or "
        "`/keten role remove manager @someone`.",
    },
    "role_given": {"nl": "{who} is nu {role}.", "en": "{who} is now {role}."},
    "role_had": {"nl": "{who} was al {role}.", "en": "{who} already was {role}."},
    "role_taken": {"nl": "{who} is geen {role} meer.", "en": "{who} is no longer {role}."},
    "role_absent": {"nl": "{who} was geen {role}.", "en": "{who} was not {role}."},
    "not_manager": {
        "nl": "Dit kan alleen een ketenmanager. Een beheerder van Ketenbot ({who}) kan je die rol geven.",
        "en": "Only a chain manager can do this. A Ketenbot administrator ({who}) can give you that role.",
    },
    "no_manager": {
        "nl": "*{chain}* heeft geen ketenmanager meer. Een beheerder kan een nieuwe aanwijzen met `/keten keten beheerder`.",
        "en": "*{chain}* no longer has a chain manager. An administrator can appoint one with `/keten keten beheerder`.",
    },
    "not_this_manager": {
        "nl": "Dit kan alleen de ketenmanager van *{chain}* ({who}) of een beheerder.",
        "en": "Only the chain manager of *{chain}* ({who}) or an administrator can do this.",
    },
    "register_usage": {
        "nl": "Geef de keten een naam: `/keten keten registreer <naam>`, in het kanaal van de keten.",
        "en": "Give the chain a name: `/keten chain register <name>`, in the chain's channel.",
    },
    "register_in_channel": {
        "nl": "Registreer een keten in het kanaal van die keten, niet in een DM. Nodig Ketenbot daar eerst uit.",
        "en": "Register a chain in that chain's channel, not in a DM. Invite Ketenbot there first.",
    },
    "registered": {
        "nl": "Dit kanaal is nu het kanaal van de keten *{chain}*. Deelnemers zijn de mensen in dit kanaal "
        "(bots niet meegeteld); pas dat aan met `/keten keten voeg-toe` of `haal-weg`. "
        "Start een check-in met `/keten checkin start` of plan er een met `/keten checkin plan`.",
        "en": "This channel is now the channel of the chain *{chain}*. Participants are the people in this "
        "channel (not bots); change that with `/keten chain add` or `remove`. Start a check-in with "
        "`/keten checkin start` or plan one with `/keten checkin plan`.",
    },
    "tips_usage": {
        "nl": "Gebruik: `/keten tips aan`, `/keten tips uit`, `/keten tips elke <n> weken` (1–8), `/keten tips naar manager` of `/keten tips naar kanaal`.",
        "en": "Usage: `/keten tips on`, `/keten tips off`, `/keten tips every <n> weeks` (1–8), `/keten tips to manager` or `/keten tips to channel`.",
    },
    "tips_on": {
        "nl": "Tips voor *{chain}*: elke {n} week/weken in het kanaal, op werkdagen tijdens werktijd (niet op feestdagen); de volgende rond {when}. Tips naar aanleiding van een check-in gaan {to}, hooguit één per week.",
        "en": "Tips for *{chain}*: every {n} week(s) in the channel, on working days in working hours (not on public holidays); the next around {when}. Tips prompted by a check-in go {to}, at most one a week.",
    },
    "tips_off": {"nl": "Geen geplande tips meer voor *{chain}*. `/keten tips aan` zet ze terug.",
                 "en": "No more scheduled tips for *{chain}*. `/keten tips on` turns them back on."},
    "tips_to_manager": {"nl": "per DM naar de ketenmanager", "en": "by DM to the chain manager"},
    "tips_to_channel": {"nl": "in de thread van de samenvatting", "en": "into the summary's thread"},
    "invite_bot_first": {
        "nl": "Ketenbot is nog geen lid van dit kanaal. Nodig hem eerst uit (`/invite @Ketenbot`) en registreer dan opnieuw: anders kan hij hier niets posten.",
        "en": "Ketenbot is not a member of this channel yet. Invite it first (`/invite @Ketenbot`), then register again: otherwise it cannot post here.",
    },
    "not_a_person": {
        "nl": "{who}: dat is geen persoon in deze werkruimte (een bot, een app of een onbekend account); er is niemand toegevoegd.",
        "en": "{who}: that is not a person in this workspace (a bot, an app or an unknown account); nobody was added.",
    },
    "already_registered": {
        "nl": "Dit kanaal is al het kanaal van de keten *{chain}*.",
        "en": "This channel already is the channel of the chain *{chain}*.",
    },
    "unregistered": {
        "nl": "Dit kanaal hoort nog niet bij een keten. Een ketenmanager registreert het met "
        "`/keten keten registreer <naam>`, in dit kanaal.",
        "en": "This channel does not belong to a chain yet. A chain manager registers it with "
        "`/keten chain register <name>`, in this channel.",
    },
    "member_usage": {
        "nl": "Noem iemand: `/keten keten voeg-toe @iemand` of `/keten keten haal-weg @iemand`.",
        "en": "Name someone: `/keten chain add @someone` or `/keten chain remove @someone`.",
    },
    "member_added": {
        "nl": "{who} doet voortaan mee aan de check-ins van *{chain}*.",
        "en": "{who} now takes part in the check-ins of *{chain}*.",
    },
    "member_removed": {
        "nl": "{who} krijgt geen check-ins van *{chain}* meer.",
        "en": "{who} no longer gets the check-ins of *{chain}*.",
    },
    "manager_set": {"nl": "{who} is nu de ketenmanager van *{chain}*.", "en": "{who} is now the chain manager of *{chain}*."},
    "members": {
        "nl": "Deelnemers aan *{chain}*: de mensen in dit kanaal{extra}.",
        "en": "Participants of *{chain}*: the people in this channel{extra}.",
    },
    "started": {
        "nl": "De check-in van *{chain}* is geopend. De DM's gaan {when} uit; de ronde sluit {closes}.",
        "en": "The check-in of *{chain}* is open. The DMs go out {when}; the round closes {closes}.",
    },
    "now": {"nl": "nu", "en": "now"},
    "already_open": {
        "nl": "Er loopt al een check-in voor *{chain}*; die sluit {closes}. Bekijk hem met "
        "`/keten checkin status` of sluit hem met `/keten checkin sluit`.",
        "en": "A check-in for *{chain}* is already open; it closes {closes}. See it with "
        "`/keten checkin status` or close it with `/keten checkin close`.",
    },
    "none_open": {
        "nl": "Er loopt nu geen check-in voor *{chain}*.{plan}",
        "en": "No check-in is open for *{chain}* now.{plan}",
    },
    "planned_next": {"nl": " De volgende opent {when}.", "en": " The next opens {when}."},
    "status": {
        "nl": "Check-in van *{chain}*: {answered} van {invited} ingevuld, {skipped} slaan deze week over, "
        "{pending} nog open. Sluit {closes}. (Wie wat antwoordde of nog niet, zie je niet: dat blijft privé.)",
        "en": "Check-in of *{chain}*: {answered} of {invited} answered, {skipped} skip this week, {pending} "
        "still open. Closes {closes}. (Who answered what, or not yet, stays private.)",
    },
    "closed": {
        "nl": "De check-in van *{chain}* is gesloten; de samenvatting komt in de thread in het kanaal.",
        "en": "The check-in of *{chain}* is closed; the summary follows in the channel's thread.",
    },
    "plan_set": {
        "nl": "Gepland: {rule}. De eerste ronde opent {when}.",
        "en": "Planned: {rule}. The first round opens {when}.",
    },
    "plan_off": {
        "nl": "Er zijn geen geplande check-ins meer voor *{chain}*.",
        "en": "No more planned check-ins for *{chain}*.",
    },
    "timing_set": {
        "nl": "Vanaf de volgende ronde: herinnering na {remind} uur, sluiting na {open} uur.",
        "en": "From the next round on: reminder after {remind} hours, closing after {open} hours.",
    },
    "timing_bad": {
        "nl": "De herinnering moet vóór de sluiting komen (nu {remind} uur en {open} uur).",
        "en": "The reminder has to come before the closing (now {remind} hours and {open} hours).",
    },
    "away_set": {
        "nl": "Genoteerd: tot en met {until} krijg je geen check-in-DM's. `/keten afwezig uit` zet het terug.",
        "en": "Noted: until {until} inclusive you get no check-in DMs. `/keten away off` undoes it.",
    },
    "away_off": {
        "nl": "Welkom terug: je krijgt weer check-in-DM's.",
        "en": "Welcome back: check-in DMs resume.",
    },
    "away_usage": {
        "nl": "Gebruik: `/keten afwezig tot <datum>`, bijv. `/keten afwezig tot 12 januari`.",
        "en": "Usage: `/keten away until <date>`, e.g. `/keten away until 12 January`.",
    },
    "unknown": {
        "nl": "Dat commando ken ik niet. Dit kan wel:",
        "en": "I don't know that command. This is what I can do:",
    },
    "storage_down": {
        "nl": "De opslag is even niet bereikbaar; er is niets veranderd. Probeer het over een paar minuten opnieuw.",
        "en": "Storage cannot be reached for a moment; nothing was changed. Please try again in a few minutes.",
    },
    "not_invited": {
        "nl": "Je staat niet op de lijst van deze check-in; vraag de ketenmanager je toe te voegen.",
        "en": "You are not on this check-in's list; ask the chain manager to add you.",
    },
}

ROLE_NAMES = {
    "ketenmanager": {"nl": "ketenmanager", "en": "chain manager"},
    "coordinator": {"nl": "coördinator", "en": "coordinator"},
}


def say(key: str, language: str, **values: object) -> str:
    """The phrase ``key`` with ``values`` filled in. A chain's name is text someone typed: it is
    escaped here, so ``<!channel>`` or a link in it never comes back live."""
    table = PHRASES[key]
    if isinstance(values.get("chain"), str):
        values["chain"] = escape(values["chain"])
    return table.get(language, table["nl"]).format(**values)


def people(user_ids: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"<@{u}>" for u in user_ids) or "—"
