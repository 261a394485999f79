"""The local console chat: the same core as Slack, in a terminal, and the weekly check-in."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from bot.core import Core

if TYPE_CHECKING:
    from bot.checkins.content import CheckinContent
    from bot.checkins.store import Checkins

WELCOME = """\
Ketenbot — console
Stel een vraag over ketensturing (Nederlands of Engels). Ketenbot citeert de NORA-handreiking
'Implementatie van ketensturing' letterlijk, met paragraaf en link.
Typ 'checkin' voor de wekelijkse check-in (dezelfde vragen als in Slack), 'help' voor uitleg,
'stop' om te stoppen. Type 'english' for English.
"""
HELP = """\
- Stel een vraag in gewone woorden, bijvoorbeeld: 'Hoe bouwen we vertrouwen op tussen de partners?'
  of in het Engels: 'What should the board do when something goes wrong?'
- Regels die met 'Ketenbot:' beginnen zijn de woorden van de bot; tekst tussen „ ” is letterlijk
  geciteerd uit de handreiking.
- 'checkin' (of 'check-in', 'incheck'): de wekelijkse check-in van Slack, om uit te proberen. Je
  antwoorden worden op deze computer bewaard, in de oefenketen 'Console'. Nog eens 'checkin' wijzigt
  ze zolang de ronde openstaat; 'stop' tijdens de check-in breekt af zonder iets op te slaan.
- 'checkin uitslag': de samenvatting van de ronde, zoals het ketenkanaal in Slack die ziet.
- 'tip': een tip over ketensturing, in Ketenbots eigen woorden, met het citaat waarop hij rust.
- 'english' of 'engels': Ketenbot's eigen woorden in het Engels; 'nederlands' zet ze terug.
  Citaten uit de handreiking blijven altijd Nederlands.
- 'mijn-gegevens' [map of bestand.json]: alles wat Ketenbot over je bewaart (hier: je check-ins in
  de oefenketen) als JSON-bestand; Ketenbot zegt waar het staat.
- 'stop' (of Ctrl-D) sluit de console af.
"""
HELP_EN = """\
- Ask a question in plain words, for example: 'What should the board do when something goes wrong?'
  or in Dutch: 'Hoe bouwen we vertrouwen op tussen de partners?'
- Lines starting with 'Ketenbot:' are the bot's own words; text between „ ” is quoted word for word
  from the guidance (in Dutch).
- 'checkin' (or 'check-in'): try Slack's weekly check-in. Your answers are kept on this computer, in
  the practice chain 'Console'. Typing 'checkin' again changes them while the round is open; 'stop'
  during the check-in leaves without saving anything.
- 'checkin results': the round's summary, as the chain's Slack channel sees it.
- 'tip': a coaching tip in Ketenbot's own words, with the quote it rests on.
- 'nederlands' or 'dutch': Ketenbot's own words in Dutch again; 'english' switches to English.
  Quotes from the guidance always stay Dutch.
- 'my-data' [folder or file.json]: everything Ketenbot keeps about you (here: your check-ins in the
  practice chain) as a JSON file; Ketenbot says where it is.
- 'stop' (or Ctrl-D) closes the console.
"""
STOP_WORDS = {"stop", "exit", "quit", "/stop", "/exit", "/quit", "doei"}
TIP_WORDS = {"tip", "/tip", "tips"}
HELP_WORDS = {"help", "/help", "?"}
CHECKIN_WORDS = {"checkin", "check-in", "incheck", "/checkin", "/check-in"}
RESULT_WORDS = {"uitslag", "resultaat", "resultaten", "samenvatting", "results", "result", "summary"}
LANGUAGE_WORDS = {
    "english": "en", "engels": "en", "in english": "en", "in het engels": "en",
    "nederlands": "nl", "dutch": "nl", "in het nederlands": "nl", "in dutch": "nl",
}
SWITCHED = {
    "en": "Ketenbot: From now on my own words are in English; quotes from the guidance stay Dutch. "
          "Type 'nederlands' to switch back.",
    "nl": "Ketenbot: Vanaf nu zijn mijn eigen woorden weer Nederlands. Type 'english' for English.",
}
CHECKIN_USAGE = {
    "nl": "Ketenbot: In de console kan dit: 'checkin' (invullen of wijzigen) en 'checkin uitslag'.",
    "en": "Ketenbot: In the console you can type 'checkin' (fill in or change) and 'checkin results'.",
}
GOODBYE = {"nl": "Tot ziens.", "en": "Goodbye. Tot ziens."}
MY_DATA_WORDS = {"mijn-gegevens", "mijngegevens", "mijn_gegevens", "my-data", "mydata", "my_data"}
MY_DATA = {
    "nl": {
        "written": "Ketenbot: Je gegevens staan in {path} ({n} regels). Bovenaan het bestand staat wat elk "
        "deel is.",
        "unavailable": "Ketenbot: Je gegevens kunnen nu niet worden opgehaald: de opslag is niet "
        "bereikbaar (zie DATABASE_URL). Er is niets geschreven.",
        "not_written": "Ketenbot: Het bestand kon niet worden geschreven in {path} ({error}); kies een "
        "andere plek, bijvoorbeeld 'mijn-gegevens ~/Documenten'.",
    },
    "en": {
        "written": "Ketenbot: Your data is in {path} ({n} entries). The top of the file explains each part.",
        "unavailable": "Ketenbot: Your data cannot be fetched now: storage cannot be reached (see "
        "DATABASE_URL). Nothing was written.",
        "not_written": "Ketenbot: The file could not be written to {path} ({error}); choose another place, "
        "e.g. 'my-data ~/Documents'.",
    },
}


def _my_data_command(text: str) -> str | None:
    """For 'mijn-gegevens [where]' (also 'mijn gegevens', 'my data'): where, "" for the default."""
    words = text.split()
    for size in (2, 1):
        if len(words) >= size and "-".join(words[:size]).lower() in MY_DATA_WORDS:
            return " ".join(words[size:])
    return None


def _write_my_data(
    checkins: Checkins | None,
    where: str,
    folder: Path | None,
    language: str,
    clock: Callable[[], datetime] | None,
) -> str:
    """Write the console person's data (bot.privacy.export) to a file; what to tell them."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.checkins.console import USER_ID
    from bot.privacy.export import collect, filename

    t = MY_DATA[language]
    if checkins is None:
        return t["unavailable"]
    now = (clock or (lambda: datetime.now(UTC)))()
    try:
        data = collect(checkins.engine, USER_ID, now=now)
    except SQLAlchemyError:
        return t["unavailable"]
    chosen = Path(where).expanduser() if where else (folder or Path.cwd())
    target = chosen if chosen.suffix.lower() == ".json" else chosen / filename(USER_ID, now)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data: only you
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        return t["not_written"].format(path=target, error=exc.strerror or type(exc).__name__)
    return t["written"].format(path=target.resolve(), n=sum(data["about"]["counts"].values()))


def _checkin_command(text: str) -> str | None:
    """"run", "results" or "usage" for the console's check-in commands; None for anything else."""
    words = text.lower().split()
    if len(words) == 1 and words[0] in RESULT_WORDS:
        return "results"
    if not words or words[0] not in CHECKIN_WORDS or len(words) > 2:
        return None
    if len(words) == 1:
        return "run"
    return "results" if words[1] in RESULT_WORDS else "usage"


def chat(
    core: Core,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    *,
    checkins: Checkins | None = None,
    min_group: int = 5,
    zone: ZoneInfo | None = None,
    clock: Callable[[], datetime] | None = None,
    content: CheckinContent | None = None,
    export_dir: Path | None = None,
) -> int:
    """Answer questions from ``stdin`` until 'stop' or end of input.

    With ``checkins`` (the records database's check-in store) 'checkin' runs the weekly check-in
    as a dialogue and 'checkin uitslag' shows the round's summary (see bot.checkins.console).
    'mijn-gegevens' writes the console person's data as JSON to ``export_dir`` (default: the
    working folder) or to the folder or ``.json`` file named after it.
    """
    interactive = stdin.isatty()
    language = "nl"
    checkin = None
    if checkins is not None:
        from bot.checkins.console import ConsoleCheckin

        checkin = ConsoleCheckin(checkins, min_group=min_group, zone=zone, clock=clock, content=content)

    def read(prompt: str) -> str | None:
        if interactive:
            stdout.write(prompt)
            stdout.flush()
        line = stdin.readline()
        return line.strip() if line else None

    def write(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    stdout.write(WELCOME + "\n")
    shown_tips: list[str] = []
    turns: list[tuple[str, str]] = []  # this session's questions and replies, for follow-ups
    while True:
        text = read("vraag> " if language == "nl" else "question> ")
        if text is None:  # end of input
            stdout.write(f"\n{GOODBYE[language]}\n")
            return 0
        if not text:
            continue
        lowered = " ".join(text.lower().split())
        if lowered in STOP_WORDS:
            stdout.write(f"{GOODBYE[language]}\n")
            return 0
        if lowered in HELP_WORDS:
            stdout.write((HELP_EN if language == "en" else HELP) + "\n")
            continue
        if lowered in TIP_WORDS:
            from bot.nudges.advice import choose, tip_text

            tip = choose(None, used=tuple(shown_tips))
            shown_tips.append(tip.id)  # no repeats until every general tip was shown
            write(tip_text(tip, language) + "\n")
            continue
        if lowered in LANGUAGE_WORDS:
            language = LANGUAGE_WORDS[lowered]
            write(SWITCHED[language] + "\n")
            continue
        where = _my_data_command(text)
        if where is not None:
            write(_write_my_data(checkins, where, export_dir, language, clock) + "\n")
            continue
        command = _checkin_command(text)
        if command is not None:
            if checkin is None:
                from bot.checkins.console import TEXTS

                write(TEXTS[language]["unavailable"] + "\n")
            elif command == "usage":
                write(CHECKIN_USAGE[language] + "\n")
            elif command == "results":
                write(checkin.results(language) + "\n")
            elif checkin.run(read, write, language) == "eof":
                stdout.write(f"\n{GOODBYE[language]}\n")
                return 0
            else:
                write("")
            continue
        kwargs = {}
        if getattr(core.answerer, "streams", False):  # a language model writes: give it the thread
            from bot.answering.phrases import phrase
            from bot.llm.prompts import Turn

            write(phrase("working", language))
            kwargs["history"] = [Turn(q, r) for q, r in turns[-4:]]
        answer = core.answerer.answer(text, english=language == "en", **kwargs)
        turns.append((answer.question, answer.ai_text or " ".join(s.quote for s in answer.quotes)))
        stdout.write(answer.as_text() + "\n\n")
        stdout.flush()
