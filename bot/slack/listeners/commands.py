"""The /keten command: a private answer with a button to share it, and help."""

from __future__ import annotations

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.slack.blocks import answer_blocks, answer_fallback_text
from bot.slack.deps import SlackDeps
from bot.slack.replies import strip_mentions

HELP = (
    "*Ketenbot* — `/keten <vraag>` of `/keten vraag <vraag>`: een antwoord dat alleen jij ziet, "
    "met een knop om het in het kanaal te delen. Noem *@Ketenbot* in een kanaal of stuur een "
    "direct bericht voor een antwoord in de thread; vervolgvragen in die thread hoeven Ketenbot "
    "niet opnieuw te noemen. `/keten help` toont dit overzicht.\n"
    "_English: `/keten ask <question>`; the quotes stay Dutch, the bot's own words follow your language._"
)
ASK_WORDS = {"vraag", "ask"}
HELP_WORDS = {"help", "hulp", "?"}


def register(app: App, deps: SlackDeps) -> None:
    @app.command("/keten")
    def on_keten(ack: Ack, command: dict, respond: Respond, client: WebClient) -> None:
        ack()
        text = (command.get("text") or "").strip()
        first, _, rest = text.partition(" ")
        if not text or first.lower() in HELP_WORDS:
            respond(text=HELP, response_type="ephemeral")
            return
        question = rest if first.lower() in ASK_WORDS else text
        english = deps.locales.prefers_english(client, command["user_id"])
        answer = deps.answerer.answer(strip_mentions(question), english=english)
        answer_id = deps.records.save_answer(
            answer, user_id=command["user_id"], channel_id=command["channel_id"], thread_ts=None
        )
        respond(
            text=answer_fallback_text(answer),
            blocks=[b.to_dict() for b in answer_blocks(answer, answer_id, shareable=True)],
            response_type="ephemeral",
        )
