"""The weekly check-in as a short text dialogue, for the local console chat.

It asks what the Slack form (``bot.checkins.forms``) asks, in the same order and with the same
rules: per dimension of the table 'Ontwikkelstadia van ketens' one of the three stages (shown
with the guidance's own words, verbatim and credited once) or "weet ik niet" — required; three
pulse items 1–5 — optional; whether something went wrong — required, yes/no; three free-text
lines — optional. ``sla over`` at any question stores "skip this week", ``stop`` stores nothing.

Answers are stored through :class:`~bot.checkins.store.Checkins` in a local chain "Console"
with one participant, "console", so ``checkin`` can be tried without Slack. The console's round
is marked so that Slack's scheduler (if the same database is later used with Slack) never
announces it, invites "console" or posts its summary.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from bot.checkins import forms
from bot.checkins.content import CheckinContent, default_content, lang
from bot.checkins.model import (
    DIMENSIONS,
    DONT_KNOW,
    FREE_TEXT,
    PULSE,
    PULSE_MAX,
    PULSE_MIN,
    STAGES,
    CheckinResponse,
)
from bot.checkins.store import CheckinError, Checkins
from bot.checkins.when import format_moment

CHAIN_NAME = "Console"
CHANNEL_ID = "CONSOLE"
USER_ID = "console"
#: Stored as the round's announce_ts and summary_ts: there is no Slack message to post or thread.
NOT_IN_SLACK = "console"

#: Whole answers (case-insensitive) that end the dialogue.
SKIP_WORDS = frozenset(
    {"sla over", "overslaan", "sla deze week over", "deze week overslaan", "skip", "skip this week",
     "skip week"}
)
STOP_WORDS = frozenset({"stop", "afbreken", "annuleer", "annuleren", "cancel", "quit", "exit", "/stop"})
CLEAR_WORDS = frozenset({"-", "leeg", "wis", "empty", "clear", "none"})
YES_WORDS = frozenset({"ja", "j", "yes", "y", "jawel", "jazeker"})
NO_WORDS = frozenset({"nee", "n", "no", "nope", "neen"})
DONT_KNOW_WORDS = frozenset(
    {"weet ik niet", "weet niet", "geen idee", "onbekend", "dont know", "don't know", "do not know",
     "not sure", "no idea", "weet_niet"}
)
DONT_KNOW_NUMBER = str(len(STAGES) + 1)  # "4": the last of the numbered choices

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "intro": "Ketenbot: Wekelijkse check-in van de keten ‘{chain}’ — dezelfde vragen als in Slack. "
                 "Het kost minder dan twee minuten.\n"
                 "Ketenbot: In de console is dit een oefenronde: de keten ‘{chain}’ heeft alleen jou als "
                 "deelnemer en alles blijft op deze computer.",
        "how": "Ketenbot: Antwoord met een nummer of met de naam. Typ bij elke vraag ‘sla over’ om deze "
               "week over te slaan, of ‘stop’ om te stoppen zonder iets op te slaan.",
        "previous": "Ketenbot: Je hebt deze ronde al ingevuld; je antwoorden staan klaar. Enter houdt een "
                    "antwoord, ‘-’ maakt een open vraag leeg.",
        "was_skipped": "Ketenbot: Je sloeg deze week over; invullen kan nog steeds.",
        "quotes_from": "Ketenbot: De beschrijvingen tussen „ ” zijn letterlijk geciteerd uit de "
                       "NORA-handreiking:",
        "part": "({n} van {total})",
        "stage_intro": "Ketenbot: Kies per onderdeel de beschrijving die deze week het best past; "
                       "‘Weet ik niet’ mag ook.",
        "choose": "Kies {numbers} of {last}.",
        "keep": "Enter = {value} houden.",
        "you_chose": "→ {value}",
        "earlier": "← eerder gekozen",
        "pulse_intro": "Ketenbot: Deze week in de keten — kies 1 tot 5. Wat je niet kunt inschatten mag "
                       "leeg blijven: druk dan op Enter.",
        "pulse_scale": "1 = {low}, 5 = {high}. Enter = leeg laten.",
        "pulse_keep": "1 = {low}, 5 = {high}. Enter = {value} houden, ‘-’ = leeg.",
        "yes_no": "Antwoord ja of nee.",
        "free_intro": "Ketenbot: Terugblik — drie open vragen, alles optioneel: Enter slaat een vraag over. "
                      "Eén regel per antwoord.",
        "free_keep": "Eerder: {value}\nEnter = houden, ‘-’ = leeg maken.",
        "empty": "(leeg)",
        "bad_stage": "Ketenbot: Dat herken ik niet. Antwoord met {numbers} of {last}, of met de naam van "
                     "een beschrijving.",
        "bad_pulse": "Ketenbot: Kies een getal van 1 tot 5, of druk op Enter om dit leeg te laten.",
        "bad_yes_no": "Ketenbot: Kies ja of nee.",
        "no_skip": "Ketenbot: Je antwoorden van deze ronde zijn al opgeslagen, dus overslaan hoeft niet. "
                   "Typ ‘stop’ om ze ongewijzigd te laten, of beantwoord de vraag.",
        "stopped": "Ketenbot: Gestopt; er is niets opgeslagen.",
        "stopped_kept": "Ketenbot: Gestopt; er is niets gewijzigd, je eerdere antwoorden blijven staan.",
        "skipped": "Ketenbot: Prima, je slaat deze week over. Invullen kan nog steeds tot {closes}: typ "
                   "opnieuw ‘checkin’.",
        "saved": "Ketenbot: Dank je, je antwoorden zijn opgeslagen. Dit heb je ingevuld:",
        "changed": "Ketenbot: Dank je, je antwoorden zijn gewijzigd. Dit staat nu opgeslagen:",
        "private": "Ketenbot: In Slack ziet niemand anders je antwoorden: de keten krijgt ze alleen "
                   "samengevat te zien, nooit met namen, en de verdeling per onderdeel pas vanaf {n} "
                   "antwoorden.",
        "change_until": "Ketenbot: Wijzigen kan tot de ronde sluit ({closes}): typ opnieuw ‘checkin’. "
                        "‘checkin uitslag’ toont de samenvatting van deze ronde.",
        "closed": "Ketenbot: Deze check-in-ronde is intussen gesloten; er is niets opgeslagen. Typ ‘checkin’ "
                  "voor een nieuwe ronde.",
        "storage_down": "Ketenbot: De opslag is niet bereikbaar; er is niets opgeslagen. ({error})",
        "storage_down_read": "Ketenbot: De opslag is niet bereikbaar; er is niets te tonen. ({error})",
        "unavailable": "Ketenbot: De check-in werkt hier niet: de console heeft geen database "
                       "(zie DATABASE_URL).",
        "no_content": "Ketenbot: De check-in kan de vragen niet laden: {error}",
        "no_round": "Ketenbot: Er is nog geen check-in-ronde in de console. Typ ‘checkin’ om er een te "
                    "beginnen.",
        "round_open": "De ronde staat open tot {closes}.",
        "round_closed": "Deze ronde is gesloten.",
        "summary_head": "Ketenbot: Check-in van ‘{chain}’: {answered} van {invited} uitgenodigden vulden hem "
                        "in.",
        "too_few": "Ketenbot: Verdeling per onderdeel: nog te weinig antwoorden (minimaal {n}).",
    },
    "en": {
        "intro": "Ketenbot: Weekly check-in of the chain ‘{chain}’ — the same questions as in Slack. "
                 "It takes less than two minutes.\n"
                 "Ketenbot: In the console this is a practice round: the chain ‘{chain}’ has only you "
                 "taking part, and everything stays on this computer.",
        "how": "Ketenbot: Answer with a number or with the name. At any question, type ‘skip’ to skip this "
               "week, or ‘stop’ to stop without saving anything.",
        "previous": "Ketenbot: You already filled in this round; your answers are ready. Enter keeps an "
                    "answer, ‘-’ clears an open question.",
        "was_skipped": "Ketenbot: You skipped this week; you can still fill it in.",
        "quotes_from": "Ketenbot: The descriptions between „ ” are quoted word for word, in Dutch, from the "
                       "NORA guidance:",
        "part": "({n} of {total})",
        "stage_intro": "Ketenbot: For each part, pick the description that fits best this week; "
                       "‘Don't know’ is fine too.",
        "choose": "Pick {numbers} or {last}.",
        "keep": "Enter = keep {value}.",
        "you_chose": "→ {value}",
        "earlier": "← your earlier answer",
        "pulse_intro": "Ketenbot: This week in the chain — pick 1 to 5. Leave out what you cannot judge: "
                       "just press Enter.",
        "pulse_scale": "1 = {low}, 5 = {high}. Enter = leave empty.",
        "pulse_keep": "1 = {low}, 5 = {high}. Enter = keep {value}, ‘-’ = empty.",
        "yes_no": "Answer yes or no.",
        "free_intro": "Ketenbot: Looking back — three open questions, all optional: Enter skips a question. "
                      "One line per answer.",
        "free_keep": "Earlier: {value}\nEnter = keep, ‘-’ = clear.",
        "empty": "(empty)",
        "bad_stage": "Ketenbot: I don't recognise that. Answer with {numbers} or {last}, or with the name of "
                     "a description.",
        "bad_pulse": "Ketenbot: Pick a number from 1 to 5, or press Enter to leave it empty.",
        "bad_yes_no": "Ketenbot: Please answer yes or no.",
        "no_skip": "Ketenbot: Your answers for this round are saved already, so there is no need to skip. "
                   "Type ‘stop’ to leave them as they are, or answer the question.",
        "stopped": "Ketenbot: Stopped; nothing was saved.",
        "stopped_kept": "Ketenbot: Stopped; nothing was changed, your earlier answers stay.",
        "skipped": "Ketenbot: Fine, you are skipping this week. You can still fill it in until {closes}: "
                   "type ‘checkin’ again.",
        "saved": "Ketenbot: Thank you, your answers are saved. This is what you filled in:",
        "changed": "Ketenbot: Thank you, your answers are changed. This is what is saved now:",
        "private": "Ketenbot: In Slack nobody else sees your answers: the chain only sees them in aggregate, "
                   "never with names, and the distribution per part only from {n} answers.",
        "change_until": "Ketenbot: You can change them until the round closes ({closes}): type ‘checkin’ "
                        "again. ‘checkin results’ shows this round's summary.",
        "closed": "Ketenbot: This check-in round has closed in the meantime; nothing was saved. Type "
                  "‘checkin’ for a new round.",
        "storage_down": "Ketenbot: Storage cannot be reached; nothing was saved. ({error})",
        "storage_down_read": "Ketenbot: Storage cannot be reached; there is nothing to show. ({error})",
        "unavailable": "Ketenbot: The check-in does not work here: the console has no database "
                       "(see DATABASE_URL).",
        "no_content": "Ketenbot: The check-in cannot load its questions: {error}",
        "no_round": "Ketenbot: There is no check-in round in the console yet. Type ‘checkin’ to start one.",
        "round_open": "The round is open until {closes}.",
        "round_closed": "This round has closed.",
        "summary_head": "Ketenbot: Check-in of ‘{chain}’: {answered} of {invited} invited people filled it "
                        "in.",
        "too_few": "Ketenbot: Distribution per part: not enough answers yet (at least {n}).",
    },
}

Reader = Callable[[str], "str | None"]  # prompt -> the line typed (stripped), None at end of input
Writer = Callable[[str], None]  # writes one block of text; the newline after it is added


class _Stop(Exception):
    """``stop`` typed: leave without storing."""


class _SkipWeek(Exception):
    """``sla over`` typed: store "skip this week"."""


class _EndOfInput(Exception):
    """No more input (Ctrl-D or the end of a pipe): leave without storing."""


def _norm(text: str) -> str:
    """Lower case, no accents, one space between words, curly apostrophes straight."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'").replace("‘", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


def parse_stage(text: str, content: CheckinContent) -> str | None:
    """A key of STAGES or DONT_KNOW from a number (1–3, 4 = don't know, 0 too) or a name."""
    t = _norm(text).rstrip(".)").strip()
    if not t:
        return None
    if t.isdigit():
        n = int(t)
        if 1 <= n <= len(STAGES):
            return STAGES[n - 1]
        return DONT_KNOW if t == DONT_KNOW_NUMBER else None
    names: dict[str, set[str]] = {
        stage: {_norm(stage), *(_norm(content.stage_name(stage, lg)) for lg in ("nl", "en"))}
        for stage in STAGES
    }
    names[DONT_KNOW] = {_norm(w) for w in DONT_KNOW_WORDS} | {
        _norm(content.dont_know_label(lg)) for lg in ("nl", "en")
    }
    for key, words in names.items():
        if t in words or t.replace("-", " ") in {w.replace("-", " ") for w in words}:
            return key
    if len(t) >= 3:  # "proc", "cultur", "oppor": a unique start of a stage name
        hits = {key for key, words in names.items() if any(w.startswith(t) for w in words)}
        if len(hits) == 1:
            return hits.pop()
    return None


def parse_pulse(text: str) -> int | None:
    t = text.strip().rstrip(".")
    if t.isdigit() and PULSE_MIN <= int(t) <= PULSE_MAX:
        return int(t)
    return None


def parse_yes_no(text: str) -> bool | None:
    t = _norm(text).rstrip(".!")
    if t in YES_WORDS:
        return True
    if t in NO_WORDS:
        return False
    return None


class ConsoleCheckin:
    """The console's check-in: a dialogue that stores through ``Checkins``, and the summary."""

    def __init__(
        self,
        store: Checkins,
        *,
        min_group: int,
        zone: ZoneInfo | None = None,
        clock: Callable[[], datetime] | None = None,
        content: CheckinContent | None = None,
    ):
        self.store = store
        self.min_group = min_group
        self.zone = zone or ZoneInfo("Europe/Amsterdam")
        self.clock = clock or (lambda: datetime.now(UTC))
        self._content = content

    # ------------------------------------------------------------------ the chain and its round

    def chain(self) -> dict:
        """The local chain "Console", registered on first use."""
        chain = self.store.chain_by_channel(CHANNEL_ID)
        if chain is None:
            try:
                chain = self.store.register_chain(CHAIN_NAME, CHANNEL_ID, USER_ID)
            except CheckinError:  # registered meanwhile by another console
                chain = self.store.chain_by_channel(CHANNEL_ID)
        return chain

    def current_round(self, now: datetime) -> tuple[dict, dict]:
        """(chain, open round); a round whose time is up is closed and a new one opened."""
        chain = self.chain()
        current = self.store.open_round_of(chain["id"])
        if current is not None and current["closes_at"] <= now:
            self.store.close_round(current["id"], now)  # no scheduler runs in the console
            current = None
        if current is None:
            current = self.store.open_round(chain, opened_by=USER_ID, now=now)
            current = current or self.store.open_round_of(chain["id"])
            # nothing of this round goes to Slack: no announcement, no summary, no DMs
            self.store.set_round(current["id"], announce_ts=NOT_IN_SLACK, summary_ts=NOT_IN_SLACK)
        self.store.fix_participants(current["id"], [USER_ID], now)
        for field in ("invited_at", "reminded_at"):
            self.store.mark(current["id"], USER_ID, field, now)
        return chain, current

    # ------------------------------------------------------------------ the dialogue

    def run(self, read: Reader, write: Writer, language: str = "nl") -> str:
        """Ask, store, report. Returns "saved", "skipped", "stopped", "eof" or "failed"."""
        language = lang(language)
        t = TEXTS[language]
        try:
            content = self._content or default_content()
        except (OSError, ValueError) as exc:
            write(t["no_content"].format(error=exc))
            return "failed"
        try:
            chain, round_ = self.current_round(self.clock())
            earlier = self.store.response_of(round_["id"], USER_ID)
        except SQLAlchemyError as exc:
            write(t["storage_down"].format(error=type(exc).__name__))
            return "failed"
        previous = earlier[1] if earlier and not earlier[0] else None

        dialogue = _Dialogue(content, language, read, write, previous)
        lines = [t["intro"].format(chain=chain["name"]), t["how"]]
        if previous is not None:
            lines.append(t["previous"])
        elif earlier is not None:
            lines.append(t["was_skipped"])
        write("\n".join(lines))
        try:
            response = dialogue.ask_all()
        except _Stop:
            write(t["stopped_kept" if previous is not None else "stopped"])
            return "stopped"
        except _EndOfInput:
            write("\n" + t["stopped_kept" if previous is not None else "stopped"])
            return "eof"
        except _SkipWeek:
            response = None

        now = self.clock()
        try:
            self.store.save_response(round_["id"], USER_ID, response, now)
        except CheckinError:
            write(t["closed"])
            return "failed"
        except SQLAlchemyError as exc:
            write(t["storage_down"].format(error=type(exc).__name__))
            return "failed"
        closes = format_moment(round_["closes_at"], self.zone, language)
        if response is None:
            write(t["skipped"].format(closes=closes))
            return "skipped"
        out = [t["changed" if previous is not None else "saved"]]
        out += own_answers(response, content, language)
        out += [t["private"].format(n=self.min_group), t["change_until"].format(closes=closes)]
        write("\n".join(out))
        nudge = contextual_tip(response)
        if nudge is not None:  # your own answers, so no group size applies to what is read from them
            from bot.nudges.advice import tip_text

            write("\n" + tip_text(nudge, language))
        return "saved"

    # ------------------------------------------------------------------ the summary

    def results(self, language: str = "nl") -> str:
        """The latest console round's summary, as the chain channel would see it, in plain text."""
        language = lang(language)
        t = TEXTS[language]
        try:
            content = self._content or default_content()
        except (OSError, ValueError) as exc:
            return t["no_content"].format(error=exc)
        try:
            chain = self.store.chain_by_channel(CHANNEL_ID)
            round_ = self.store.latest_round_of(chain["id"]) if chain else None
            if round_ is None:
                return t["no_round"]
            summary = self.store.summary(round_["id"], self.min_group)
        except SQLAlchemyError as exc:
            return t["storage_down_read"].format(error=type(exc).__name__)
        return summary_text(summary, round_, content, language, self.zone, self.clock())


class _Dialogue:
    """One run of questions; keeps every answer given so far, whatever is typed next."""

    def __init__(
        self,
        content: CheckinContent,
        language: str,
        read: Reader,
        write: Writer,
        previous: CheckinResponse | None,
    ):
        self.c, self.language, self.previous = content, language, previous
        self._read, self.write = read, write
        self.t = TEXTS[language]

    def read(self, prompt: str) -> str:
        line = self._read(prompt)
        if line is None:
            raise _EndOfInput
        word = _norm(line)
        if word in STOP_WORDS:
            raise _Stop
        if word in SKIP_WORDS:
            if self.previous is None:
                raise _SkipWeek
            self.write(self.t["no_skip"])
            return self.read(prompt)
        return line.strip()

    def ask_all(self) -> CheckinResponse:
        c, t, lg = self.c, self.t, self.language
        write = self.write
        numbers = ", ".join(str(n) for n in range(1, len(STAGES) + 1))
        numbered = {**{s: str(i) for i, s in enumerate(STAGES, 1)}, DONT_KNOW: DONT_KNOW_NUMBER}

        write("\n".join(["", t["stage_intro"], t["quotes_from"], *credit_lines(c)]))
        stages: dict[str, str] = {}
        for i, dim in enumerate(DIMENSIONS, 1):
            before = self.previous.stages.get(dim) if self.previous else None
            lines = [
                "",
                f"{c.dimension_label(dim, lg)} {t['part'].format(n=i, total=len(DIMENSIONS))}",
                f"Ketenbot: {c.dimension_question(dim, lg)}",
            ]
            for key in (*STAGES, DONT_KNOW):
                name = choice_name(c, key, lg)
                mark = f"   {t['earlier']}" if key == before else ""
                lines.append(f"  {numbered[key]}  {name}{mark}")
                if key != DONT_KNOW:
                    lines.append(f"     „{c.quote(dim, key)}”")
            hint = t["choose"].format(numbers=numbers, last=DONT_KNOW_NUMBER)
            if before:
                hint += " " + t["keep"].format(value=numbered[before])
            lines.append(hint)
            write("\n".join(lines))
            while True:
                text = self.read(f"1-{DONT_KNOW_NUMBER}> ")
                choice = before if not text and before else parse_stage(text, c)
                if choice is not None:
                    break
                write(t["bad_stage"].format(numbers=numbers, last=DONT_KNOW_NUMBER))
            stages[dim] = choice
            write(t["you_chose"].format(value=choice_name(c, choice, lg)))

        write("\n" + t["pulse_intro"])
        pulse: dict[str, int | None] = {}
        for key in PULSE:
            before_n = self.previous.pulse.get(key) if self.previous else None
            low, high = c.pulse_anchors(key, lg)
            if before_n is None:
                scale = t["pulse_scale"].format(low=low.lower(), high=high.lower())
            else:
                scale = t["pulse_keep"].format(low=low.lower(), high=high.lower(), value=before_n)
            if key == "control":
                scale += " " + forms.labels(lg)["control_hint"]
            write(f"\nKetenbot: {c.pulse_question(key, lg)}\n{scale}")
            while True:
                text = self.read("1-5> ")
                if not text:
                    pulse[key] = before_n
                    break
                if _norm(text) in CLEAR_WORDS:
                    pulse[key] = None
                    break
                value = parse_pulse(text)
                if value is not None:
                    pulse[key] = value
                    break
                write(t["bad_pulse"])

        before_setback = self.previous.setback if self.previous else None
        labels = forms.labels(lg)
        hint = t["yes_no"]
        if before_setback is not None:
            hint += " " + t["keep"].format(value=(labels["yes"] if before_setback else labels["no"]).lower())
        write(f"\nKetenbot: {c.setback_question(lg)}\n{hint}")
        while True:
            text = self.read(f"{labels['yes'].lower()}/{labels['no'].lower()}> ")
            setback = before_setback if not text else parse_yes_no(text)
            if setback is not None:
                break
            write(t["bad_yes_no"])

        write(f"\n{t['free_intro']} {labels['free_hint']}")
        texts: dict[str, str | None] = {}
        for key in FREE_TEXT:
            before_text = self.previous.free_text(key) if self.previous else None
            question = f"\nKetenbot: {c.free_text_label(key, lg)}"
            if before_text:
                question += "\n" + t["free_keep"].format(value=_one_line(before_text))
            write(question)
            text = self.read("> ")
            if not text:
                texts[key] = before_text
            elif _norm(text) in CLEAR_WORDS:
                texts[key] = None
            else:
                texts[key] = forms.clean_text(text)
        write("")
        return CheckinResponse(stages=stages, pulse=pulse, setback=setback, **texts)


def choice_name(content: CheckinContent, key: str, language: str) -> str:
    """The bot's name for a stage key, or for DONT_KNOW."""
    return content.dont_know_label(language) if key == DONT_KNOW else content.stage_name(key, language)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def credit_lines(content: CheckinContent) -> list[str]:
    """Where the quotes come from, laid out as the console's answers credit a source."""
    src = content.source
    prov = src.provenance
    lines = [f"    {src.place}"]
    if src.url:
        lines.append(f"    {src.url}")
    if prov.licence:
        by = f"{prov.attribution}, " if prov.attribution else ""
        lines.append(f"    {by}{prov.licence}")
    return lines


def own_answers(response: CheckinResponse, content: CheckinContent, language: str) -> list[str]:
    """The person's own answers, one line each (only ever shown to that person)."""
    t, labels = TEXTS[lang(language)], forms.labels(language)
    lines = []
    for dim in DIMENSIONS:
        name = choice_name(content, response.stages[dim], language)
        lines.append(f"  {content.dimension_label(dim, language)}: {name}")
    for key in PULSE:
        value = response.pulse.get(key)
        lines.append(f"  {content.pulse_question(key, language)} {t['empty'] if value is None else value}")
    setback = t["empty"] if response.setback is None else labels["yes" if response.setback else "no"]
    lines.append(f"  {content.setback_question(language)} {setback}")
    for key in FREE_TEXT:
        value = response.free_text(key)
        shown = _one_line(value) if value else t["empty"]
        lines.append(f"  {content.free_text_label(key, language)} {shown}")
    return lines


def summary_text(
    summary,  # noqa: ANN001 - a RoundSummary
    round_: dict,
    content: CheckinContent,
    language: str,
    zone: ZoneInfo,
    now: datetime,
) -> str:
    """``forms.summary_blocks`` in plain text: counts, the distribution only from min_group."""
    t, labels = TEXTS[lang(language)], forms.labels(language)
    head = t["summary_head"].format(
        chain=summary.chain_name, answered=summary.answered, invited=summary.invited
    )
    if summary.skipped:
        head += " " + labels["summary_skipped"].format(skipped=summary.skipped)
    if round_.get("closed_at") is None and round_["closes_at"] > now:
        head += " " + t["round_open"].format(closes=format_moment(round_["closes_at"], zone, language))
    else:
        head += " " + t["round_closed"]
    lines = [head]
    if summary.distribution is None:
        lines.append(t["too_few"].format(n=summary.min_group))
    else:
        for dim in DIMENSIONS:
            counts = summary.distribution.get(dim) or {}
            keys = [*STAGES, DONT_KNOW]
            total = sum(int(counts.get(k, 0)) for k in keys)
            lines.append("")
            lines.append(content.dimension_label(dim, language))
            for key in keys:
                name = choice_name(content, key, language)
                n = int(counts.get(key, 0))
                lines.append(f"  - {name}: {n} ({forms.percent(n, total)}%)")
    lines += ["", f"Ketenbot: {labels['snapshot']}", f"„{content.not_always_needed}”", *credit_lines(content)]
    return "\n".join(lines)


__all__ = [
    "CHAIN_NAME",
    "CHANNEL_ID",
    "USER_ID",
    "ConsoleCheckin",
    "own_answers",
    "parse_pulse",
    "parse_stage",
    "parse_yes_no",
    "summary_text",
]


def contextual_tip(response: CheckinResponse):  # noqa: ANN201 - a bot.nudges.tips.Tip or None
    """The tip a check-in like this one calls for (setback, low trust, control reflex), or None."""
    from bot.nudges.advice import CONTROL_REFLEX, LOW_TRUST, library
    from bot.nudges.tips import pick

    signals = []
    if response.setback:
        signals.append("setback")
    if response.pulse.get("trust") is not None and response.pulse["trust"] <= LOW_TRUST:
        signals.append("low_trust")
    if response.pulse.get("control") is not None and response.pulse["control"] >= CONTROL_REFLEX:
        signals.append("control_reflex")
    return pick(library(), signals=signals) if signals else None
