"""The /keten command: questions (a private answer with a share button), check-in commands, help."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.answering.phrases import phrase
from bot.checkins.messages import say
from bot.checkins.service import CheckinService
from bot.slack.blocks import answer_blocks, answer_fallback_text
from bot.slack.deps import SlackDeps
from bot.slack.listeners import privacy, reports
from bot.slack.replies import strip_mentions

log = logging.getLogger(__name__)

HELP = {
    "nl": "*Ketenbot* — `/keten <vraag>` of `/keten vraag <vraag>`: een antwoord dat alleen jij ziet, "
    "met een knop om het in het kanaal te delen. Noem *@Ketenbot* in een kanaal of stuur een "
    "direct bericht voor een antwoord in de thread; vervolgvragen in die thread hoeven Ketenbot "
    "niet opnieuw te noemen. `/keten help` toont dit overzicht.\n"
    "Je gegevens: `/keten mijn-gegevens` stuurt alles wat Ketenbot over je bewaart als bestand naar je DM; "
    "`/keten vergeet-mij` wist het (na een bevestiging).\n"
    "_English: `/keten ask <question>`; the quotes stay Dutch, the bot's own words follow your language._",
    "en": "*Ketenbot* — `/keten ask <question>`: an answer only you see, with a button to share it in the "
    "channel. Mention *@Ketenbot* in a channel or send a direct message for an answer in the thread; "
    "follow-up questions in that thread need no new mention. `/keten help` shows this overview. "
    "Your data: `/keten my-data` sends everything Ketenbot keeps about you to your DM as a file; "
    "`/keten forget-me` erases it (after you confirm). "
    "The quotes from the guidance stay Dutch; the bot's own words follow your language.",
}
ASK_WORDS = {"vraag", "ask"}
LANGUAGE_WORDS = {"taal", "language", "lang"}
LANGUAGE_CHOICES = {
    "en": "en",
    "english": "en",
    "engels": "en",
    "nl": "nl",
    "nederlands": "nl",
    "dutch": "nl",
}
HELP_WORDS = {"help", "hulp", "?"}


def help_text(language: str) -> str:
    return HELP[language] + "\n\n" + say("help", language)


def register(app: App, deps: SlackDeps) -> None:
    @app.command("/keten")
    def on_keten(ack: Ack, command: dict, respond: Respond, client: WebClient) -> None:
        ack()
        text = (command.get("text") or "").strip()  # user references stay: check-in commands use them
        user = command.get("user_id") or ""
        language = "en" if deps.locales.prefers_english(client, user) else "nl"
        first, _, rest = text.partition(" ")
        if not text or first.lower() in HELP_WORDS:
            respond(text=help_text(language), response_type="ephemeral")
            return
        if (kind := privacy.command(text)) is not None:  # mijn-gegevens, vergeet-mij
            respond(**privacy.handle(deps, client, user, kind, language), response_type="ephemeral")
            return
        if first.lower() == "tip" and not rest:
            respond(**_tip(deps, command.get("channel_id") or "", language), response_type="ephemeral")
            return
        if first.lower() in LANGUAGE_WORDS:
            respond(text=_set_language(deps, user, rest, language), response_type="ephemeral")
            return
        if deps.reports is not None and reports.owns(text):
            respond(text=reports.handle(deps, client, command, text, language), response_type="ephemeral")
            return
        if deps.checkins is not None and CheckinService.owns(text):
            reply = deps.checkins.handle(user, command.get("channel_id") or "", text, language, deps.clock())
            respond(text=reply.text, response_type="ephemeral")
            if reply.run_due and deps.due is not None:
                deps.due.run_soon()
            return
        if first.lower() not in ASK_WORDS and " " not in text and not text.endswith("?"):
            # one unknown word is more likely a mistyped command than a question
            respond(text=say("unknown", language) + "\n" + help_text(language), response_type="ephemeral")
            return
        question = rest if first.lower() in ASK_WORDS else text
        _answer_privately(
            deps, respond, user, command.get("channel_id") or "", strip_mentions(question), language
        )


def _tip(deps: SlackDeps, channel: str, language: str) -> dict:
    """One coaching tip; in a chain's channel it fits the chain's latest shown check-in figures."""
    from bot.nudges.advice import choose, for_chain, tip_blocks

    chain = None
    try:
        registered = deps.checkins.store.chain_by_channel(channel) if deps.checkins is not None else None
        chain = for_chain(deps.reports, registered["id"] if registered else None, deps.clock())
    except SQLAlchemyError:
        chain = None  # a general tip is still a good tip
    tip = choose(chain)
    return {"text": tip.text(language), "blocks": [b.to_dict() for b in tip_blocks(tip, language)]}


def _set_language(deps: SlackDeps, user: str, rest: str, language: str) -> str:
    chosen = LANGUAGE_CHOICES.get(rest.strip().lower())
    if chosen is None:
        return (
            "Kies `/keten taal nl` (Nederlands) of `/keten taal en` (English)."
            if language == "nl"
            else "Choose `/keten language en` (English) or `/keten language nl` (Nederlands)."
        )
    try:
        deps.records.set_language(user, chosen)
    except SQLAlchemyError:
        return say("storage_down", language)
    if chosen == "en":
        return "From now on Ketenbot's own words are in English for you; quotes from the guidance stay Dutch."
    return "Ketenbot spreekt je voortaan in het Nederlands aan."


def _answer_privately(
    deps: SlackDeps, respond: Respond, user: str, channel: str, question: str, language: str
) -> None:
    try:
        answer = deps.answerer.answer(question, english=language == "en")
    except Exception:  # never leave the asker without a word
        log.exception("answering failed")
        respond(text=phrase("failed", language), response_type="ephemeral")
        return
    try:
        answer_id = deps.records.save_answer(answer, user_id=user, channel_id=channel, thread_ts=None)
    except SQLAlchemyError as exc:  # answer anyway; sharing and feedback need the stored answer
        log.warning("answer not stored (%s)", type(exc).__name__)
        answer_id = None
    respond(
        text=answer_fallback_text(answer),
        blocks=[b.to_dict() for b in answer_blocks(answer, answer_id, shareable=answer_id is not None)],
        response_type="ephemeral",
    )
