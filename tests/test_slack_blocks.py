"""Block Kit for answers: valid for Slack's limits, escaped, quotes apart from the bot's words."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import ActionsBlock, ContextBlock, SectionBlock

from bot.answering.model import Answer, Source
from bot.slack import ids
from bot.slack.blocks import answer_blocks, answer_fallback_text
from bot.slack.text import SECTION_LIMIT, escape, link, split


def _source(quote: str = "Vertrouwen moet je verdienen en kan niet afgedwongen worden.") -> Source:
    return Source(
        title="NORA – Implementatie van ketensturing",
        section="Stap voor stap vormgeven van het besturingsmodel",
        url="https://www.noraonline.nl/wiki/Ketensturing/Implementatie_van_ketensturing#Stap",
        licence="CC BY-ND 3.0",
        quote=quote,
        score=1.0,
        licence_url="https://creativecommons.org/licenses/by-nd/3.0/nl/",
        attribution="NORA (noraonline.nl)",
    )


def _texts(blocks) -> list[str]:
    out = []
    for b in blocks:
        d = b.to_dict()
        if d["type"] == "section":
            out.append(d["text"]["text"])
        elif d["type"] == "context":
            out.extend(e["text"] for e in d["elements"])
    return out


def _valid(blocks) -> list[dict]:
    dicts = [b.to_dict() for b in blocks]  # raises SlackObjectFormationError past Slack's limits
    json.dumps(dicts)
    assert 1 <= len(dicts) <= 50
    return dicts


def test_real_answer_renders_valid_blocks_with_quotes_credit_and_buttons(core):
    answer = core.answerer.answer("Hoe bouwen we vertrouwen op tussen werkvloer en management?")
    blocks = answer_blocks(answer, "A123")
    _valid(blocks)
    texts = _texts(blocks)
    assert texts[0].startswith("*Ketenbot:* ")
    for source in answer.quotes:
        quoted = [t for t in texts if escape(source.quote.splitlines()[0]) in t]
        assert quoted and all(t.startswith("> „") for t in quoted)
        assert any(f"<{source.url}|" in t and source.licence in t for t in texts)
    actions = [b for b in blocks if isinstance(b, ActionsBlock)][0].to_dict()
    assert [e["action_id"] for e in actions["elements"]] == [
        ids.ANSWER_FEEDBACK_UP, ids.ANSWER_FEEDBACK_DOWN, ids.ANSWER_ASK_HUMAN,
    ]
    assert {e["value"] for e in actions["elements"]} == {"A123"}


def test_english_labels_and_a_share_button_for_private_answers():
    answer = Answer("q", "en", True, "This is what the guidance says.", [_source()])
    actions = [b for b in answer_blocks(answer, "A1", shareable=True) if isinstance(b, ActionsBlock)]
    elements = actions[0].to_dict()["elements"]
    assert elements[2]["text"]["text"] == "Ask a human"
    assert elements[3]["action_id"] == ids.ANSWER_SHARE


def test_text_we_did_not_write_cannot_ping_or_link():
    hostile = "<!channel> <!here> <@U123> <https://evil.example|klik> & co"
    answer = Answer(hostile, "nl", True, "Framing " + hostile, [_source("Citaat " + hostile)])
    texts = _texts(answer_blocks(answer, "A1"))
    joined = "\n".join(texts)
    for raw in ("<!channel>", "<!here>", "<@U123>", "<https://evil.example"):
        assert raw not in joined
    assert "&lt;!channel&gt;" in joined and "&amp; co" in joined
    assert "<!channel>" not in answer_fallback_text(answer)


def test_a_very_long_quote_is_split_within_the_section_limit_and_stays_a_block_quote():
    long_quote = ("Een zin uit de handreiking over ketensamenwerking. " * 150).strip()  # ~7,600 chars
    blocks = answer_blocks(Answer("q", "nl", True, "Kader", [_source(long_quote)]), "A1")
    _valid(blocks)
    quote_sections = [b.to_dict()["text"]["text"] for b in blocks
                      if isinstance(b, SectionBlock) and b.to_dict()["text"]["text"].startswith(">")]
    assert len(quote_sections) >= 3
    assert all(len(t) <= SECTION_LIMIT for t in quote_sections)
    assert all(line.startswith(">") for t in quote_sections for line in t.splitlines())


def test_not_covered_answer_lists_nearest_sections_without_quotes():
    pointer = _source("")
    answer = Answer("Wat kost het?", "nl", False, "De handreiking gaat niet over deze vraag.", [pointer])
    blocks = answer_blocks(answer, "A1")
    _valid(blocks)
    texts = _texts(blocks)
    assert not any(t.startswith(">") for t in texts)
    assert any(f"<{pointer.url}|" in t for t in texts)
    assert not any(isinstance(b, ContextBlock) for b in blocks)


def test_split_keeps_every_word_and_respects_the_limit():
    text = "\n\n".join(f"Alinea {n}: " + "woord " * 120 for n in range(30))
    pieces = split(text, 1000)
    assert all(0 < len(p) <= 1000 for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())
    assert split("kort") == ["kort"] and split("") == [""]
    assert split("x" * 2500, 1000) == ["x" * 1000, "x" * 1000, "x" * 500]


def test_link_labels_cannot_break_out_of_the_link():
    assert link("https://a.example", "Kop | <b> & c") == "<https://a.example|Kop ¦ &lt;b&gt; &amp; c>"
    assert link("", "<x>") == "&lt;x&gt;"
