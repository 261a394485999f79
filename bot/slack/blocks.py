"""Block Kit for an answer, built with ``slack_sdk.models.blocks`` so Slack's limits are checked.

Layout: the bot's own words first, marked as the bot's; then each quote as a block quote with
its source, link and licence underneath; then "see also" links; then feedback buttons.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.answering.model import AI_LABEL, Answer, Source
from bot.answering.phrases import phrase
from bot.slack import ids
from bot.slack.text import FALLBACK_LIMIT, SECTION_LIMIT, escape, link, split

MAX_BLOCKS = 50  # per message

LABELS = {
    "nl": {"bot": "Ketenbot", "see_also": "Zie ook", "up": "Nuttig", "down": "Niet nuttig",
           "human": "Vraag een mens", "share": "Deel in kanaal", "quote_from": "Citaat uit",
           "thanks": "Dank je, je waardering is opgeslagen.",
           "no_handoff": "Er is nog geen kanaal ingesteld voor vragen aan een mens. Vraag de beheerder "
                         "van Ketenbot om SLACK_HANDOFF_CHANNEL in te stellen.",
           "handoff_done": "Je vraag is doorgezet naar een mens; je hoort van ze in Slack.",
           "gone": "Dit antwoord is niet meer beschikbaar.",
           "not_saved": "Dat kon ik even niet opslaan: de opslag is tijdelijk niet bereikbaar. "
                        "Probeer het over een paar minuten opnieuw.",
           "reason_title": "Wat klopte er niet?", "reason_label": "Toelichting (mag leeg blijven)",
           "submit": "Verstuur", "cancel": "Sluit"},
    "en": {"bot": "Ketenbot", "see_also": "See also", "up": "Helpful", "down": "Not helpful",
           "human": "Ask a human", "share": "Share in channel", "quote_from": "Quoted from",
           "thanks": "Thank you, your feedback is saved.",
           "no_handoff": "No channel is set up yet for questions to a person. Ask Ketenbot's "
                         "administrator to set SLACK_HANDOFF_CHANNEL.",
           "handoff_done": "Your question has been passed on to a person; they will reply in Slack.",
           "gone": "This answer is no longer available.",
           "not_saved": "I could not save that: storage cannot be reached for a moment. "
                        "Please try again in a few minutes.",
           "reason_title": "What was wrong?", "reason_label": "Explanation (optional)",
           "submit": "Send", "cancel": "Close"},
}


def labels(language: str) -> dict[str, str]:
    return LABELS.get(language, LABELS["nl"])




def answer_blocks(answer: Answer, answer_id: str | None, *, shareable: bool = False) -> list[Block]:
    """The message for ``answer``; ``answer_id`` ties button clicks back to the stored answer.

    Without an ``answer_id`` (storage unreachable) there are no buttons, and a note says why.
    """
    t = labels(answer.language)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=piece))
        for piece in split(f"*{t['bot']}:* {escape(answer.framing)}")
    ]
    if answer.ai_text:
        blocks.extend(ai_text_blocks(answer.ai_text, answer.language, answer.ai_model))
    for source in answer.quotes:
        blocks.append(DividerBlock())
        blocks.extend(_quote_blocks(source, t))
    if answer.pointers:
        lines = [f"• {link(s.url, s.place)}" for s in answer.pointers]
        heading = f"*{t['see_also']}:*\n" if answer.quotes else ""
        pointer_text = heading + "\n".join(lines)
        blocks.extend(SectionBlock(text=MarkdownTextObject(text=p)) for p in split(pointer_text))
    blocks = blocks[: MAX_BLOCKS - 1]
    if answer_id is None:
        note = phrase("no_feedback", answer.language)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"_{escape(note)}_")]))
    else:
        blocks.append(_actions(answer_id, t, shareable))
    return blocks


def ai_text_blocks(text: str, language: str, model: str, *, writing: bool = False) -> list[Block]:
    """A language model's text, labelled as such above it (AI Act art. 50), apart from quotes."""
    label = f"🤖 {escape(AI_LABEL.get(language, AI_LABEL['nl']))}"
    if model:
        label += f" · _{escape(model)}_"
    blocks: list[Block] = [ContextBlock(elements=[MarkdownTextObject(text=label)])]
    blocks.extend(SectionBlock(text=MarkdownTextObject(text=p)) for p in split(escape(text)) if p.strip())
    if writing:
        note = phrase("writing", language)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"_{escape(note)}_")]))
    return blocks


def working_blocks(language: str, text: str = "", model: str = "") -> list[Block]:
    """The message shown while an answer is being written: first "searching", then the model's
    sentences that passed the checks so far."""
    t = labels(language)
    head = SectionBlock(text=MarkdownTextObject(text=f"*{t['bot']}:* {escape(phrase('working', language))}"))
    if not text:
        return [head]
    return [head, *ai_text_blocks(text, language, model, writing=True)]


def _blockquote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def _quote_blocks(source: Source, t: dict[str, str]) -> list[Block]:
    # room for the "> " put before every line
    pieces = split(escape(f"„{source.quote}”"), SECTION_LIMIT - 2 * (source.quote.count("\n") + 1))
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=_blockquote(p))) for p in pieces]
    credit = [link(source.url, source.place)]
    if source.attribution:
        credit.append(escape(source.attribution))
    if source.licence:
        credit.append(link(source.licence_url, source.licence))
    number = f"*[{source.ref}]* " if source.ref else ""  # what the AI text cites it by
    context = f"{number}{t['quote_from']} " + " · ".join(credit)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=context)]))
    return blocks


def _actions(answer_id: str, t: dict[str, str], shareable: bool) -> ActionsBlock:
    buttons = [
        ButtonElement(
            text="👍", action_id=ids.ANSWER_FEEDBACK_UP, value=answer_id, accessibility_label=t["up"]
        ),
        ButtonElement(
            text="👎", action_id=ids.ANSWER_FEEDBACK_DOWN, value=answer_id, accessibility_label=t["down"]
        ),
        ButtonElement(text=t["human"], action_id=ids.ANSWER_ASK_HUMAN, value=answer_id),
    ]
    if shareable:
        buttons.append(ButtonElement(text=t["share"], action_id=ids.ANSWER_SHARE, value=answer_id))
    return ActionsBlock(block_id=ids.ANSWER_ACTIONS_BLOCK, elements=buttons)


def answer_fallback_text(answer: Answer) -> str:
    """The message's top-level ``text``: shown in notifications and to screen readers."""
    text = f"{labels(answer.language)['bot']}: {answer.framing}"
    if answer.ai_text:
        text += f" [{AI_LABEL.get(answer.language, AI_LABEL['nl'])}] {answer.ai_text}"
    elif answer.quotes:
        text += f" „{answer.quotes[0].quote}”"
    return escape(text)[:FALLBACK_LIMIT]
