"""Views: the App Home tab and the feedback-reason modal."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.slack import ids

HOME_TEXT = (
    "Stel een vraag over ketensturing: noem *@Ketenbot* in een kanaal, stuur een direct bericht, "
    "of gebruik `/keten vraag …` voor een antwoord dat alleen jij ziet. Ketenbot citeert de "
    "NORA-handreiking _Implementatie van ketensturing_ letterlijk, met paragraaf en link.\n\n"
    "_Ask in English too: the quotes stay Dutch, the bot's own words follow your language._"
)


HOME_TEXT_EN = (
    "Ask a question about chain governance: mention *@Ketenbot* in a channel, send a direct message, "
    "or use `/keten ask …` for an answer only you see. Ketenbot quotes the NORA guidance "
    "_Implementatie van ketensturing_ word for word (in Dutch), with section and link. "
    "`/keten help` lists everything; `/keten taal nl` switches Ketenbot's own words to Dutch."
)


def home_view() -> View:
    return View(
        type="home",
        blocks=[
            HeaderBlock(text="Ketenbot"),
            SectionBlock(text=MarkdownTextObject(text=HOME_TEXT)),
        ],
    )


def feedback_reason_view(answer_id: str, language: str) -> View:
    from bot.slack.blocks import labels

    t = labels(language)
    return View(
        type="modal",
        callback_id=ids.FEEDBACK_REASON_VIEW,
        private_metadata=json.dumps({"answer_id": answer_id, "language": language}),
        title=t["reason_title"][:24],
        submit=t["submit"],
        close=t["cancel"],
        blocks=[
            InputBlock(
                block_id=ids.FEEDBACK_REASON_BLOCK,
                label=t["reason_label"],
                optional=True,
                element=PlainTextInputElement(
                    action_id=ids.FEEDBACK_REASON_INPUT, multiline=True, max_length=2000
                ),
            )
        ],
    )
