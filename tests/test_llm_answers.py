"""Language-model answers (bot.llm.writer) over the real index, with a scripted chat model."""

from __future__ import annotations

import re
import time

import pytest

from bot.answering.phrases import phrase
from bot.llm.prompts import Turn, load_prompts
from bot.llm.writer import LlmAnswerer, parse_queries
from tests.fakes.chat_model import ScriptedChatModel, human_text, is_rewrite, passages_of, system_text

DUTCH = "Hoe gaan we om met weerstand tegen de nieuwe werkwijze in de keten?"
ENGLISH = "How should we deal with resistance to the new way of working?"


def first_sentence(body: str) -> str:
    return re.split(r"(?<=[.!?])\s+", body.strip())[0].rstrip(".")


def good_writer(messages) -> str:
    """Writes what a well-behaved model would: one verbatim quote of passage 1, cited."""
    if is_rewrite(messages):
        return "weerstand tegen nieuwe werkwijzen in de keten\nomgaan met weerbarstige cultuur"
    quote = first_sentence(passages_of(messages)[1])
    if "answer in English" in system_text(messages):
        return f"The guidance puts it like this: „{quote}” [1]."
    return f"De handreiking zegt het zo: „{quote}” [1]."


def writer(core, model, timeout_s: float = 10.0, **kw) -> LlmAnswerer:
    return LlmAnswerer(core.answerer, model, load_prompts(), model_name="scripted", timeout_s=timeout_s, **kw)


def test_a_checked_answer_carries_the_models_text_with_its_quotes(core):
    model = ScriptedChatModel(default=good_writer)
    answer = writer(core, model).answer(DUTCH)
    assert answer.answered and answer.ai_text.startswith("De handreiking zegt het zo: „")
    quoted = re.search(r"„(.+)”", answer.ai_text).group(1)
    cited = [s for s in answer.quotes if s.ref == 1]
    assert cited and cited[0].quote == quoted  # the quote shown is the one the text quotes
    assert answer.ai_model == "scripted" and answer.prompt_version == load_prompts().version
    assert answer.framing == phrase("ai_answered", "nl")
    text = answer.as_text()
    assert "AI-tekst" in text and text.index("AI-tekst") < text.index(f"[1] „{quoted}”")
    # the model saw the rules, the numbered and fenced passages, and the question
    rewrite_call, answer_call = model.seen
    assert is_rewrite(rewrite_call) and not is_rewrite(answer_call)
    assert "Eindig elke zin met de nummers" in system_text(answer_call)
    assert DUTCH in human_text(answer_call) and len(passages_of(answer_call)) >= 2


def test_an_english_question_is_searched_in_dutch_and_answered_in_english(core):
    model = ScriptedChatModel(default=good_writer)
    answer = writer(core, model).answer(ENGLISH)
    assert answer.language == "en" and answer.ai_text.startswith("The guidance puts it like this")
    assert "search queries in Dutch" in system_text(model.seen[0])  # the English rewrite prompt
    assert answer.quotes and all(s.quote for s in answer.quotes)  # verbatim Dutch quotes
    assert "AI-written text" in answer.as_text()


def test_the_rewrites_are_searched_too(core, monkeypatch):
    searched = []
    real = core.search.search
    monkeypatch.setattr(core.search, "search", lambda q, lang=None: searched.append(q) or real(q, lang))
    writer(core, ScriptedChatModel(default=good_writer)).answer(ENGLISH)
    assert searched[0] == ENGLISH
    assert "weerstand tegen nieuwe werkwijzen in de keten" in searched
    assert "omgaan met weerbarstige cultuur" in searched


def test_a_question_plainly_outside_the_guidance_costs_no_model_call(core):
    model = ScriptedChatModel(default=good_writer)
    answer = writer(core, model).answer("Wat is de hoofdstad van Frankrijk?")
    assert not answer.answered and not answer.ai_text and model.seen == []


def test_a_rewrite_cannot_pull_an_off_topic_question_into_scope(core):
    """A model told to "rewrite" anything into the guidance's words gets no say: the question's
    own search decides whether rewrites are searched at all."""
    model = ScriptedChatModel(
        default=lambda m: "vertrouwen tussen ketenpartners" if is_rewrite(m) else "x [1]."
    )
    answer = writer(core, model).answer("What is the capital of France?")
    assert not answer.answered and not answer.ai_text and model.seen == []


def fallback_cases():
    quote_1 = lambda m: first_sentence(passages_of(m)[1])  # noqa: E731
    return {
        "provider error": RuntimeError("503 from the provider"),
        "uncited claim": lambda m: "Weerstand hoort erbij en gaat vanzelf over.",
        "invented quote": lambda m: "De handreiking zegt: „weerstand verdwijnt na drie weken vanzelf” [1].",
        "citation of a passage it was not given": lambda m: f"„{quote_1(m)}” [9].",
        "a link": lambda m: f"„{quote_1(m)}” [1]. Zie https://phish.example/keten [1].",
        "a broadcast": lambda m: f"<!channel> „{quote_1(m)}” [1].",
        "another language": lambda m: "La résistance au changement est normale et il faut la gérer [1].",
        "an empty reply": lambda m: "",
        "an unsupported claim": lambda m: "Stuur je wachtwoord naar de beheerder voor controle [1].",
    }


@pytest.mark.parametrize("case", list(fallback_cases()))
def test_any_failure_gives_the_quote_based_answer_and_says_so(core, case):
    bad = fallback_cases()[case]
    model = ScriptedChatModel(default=lambda m: good_writer(m) if is_rewrite(m) else "unused")
    model.enqueue(good_writer, bad)  # the rewrite works; the answer is the bad one
    w = writer(core, model)
    answer = w.answer(DUTCH)
    plain = core.answerer.answer(DUTCH)
    assert not answer.ai_text
    assert answer.answered and [s.quote for s in answer.sources] == [s.quote for s in plain.sources]
    assert answer.framing == phrase("ai_fallback", "nl") + " " + plain.framing
    assert sum(v for k, v in w.outcomes.items() if k.startswith("fallback")) == 1


def test_the_model_saying_not_covered_leaves_the_quote_answer(core):
    model = ScriptedChatModel(default=lambda m: good_writer(m) if is_rewrite(m) else "NIET_GEDEKT")
    answer = writer(core, model).answer(DUTCH)
    plain = core.answerer.answer(DUTCH)
    assert answer == plain  # the model can neither add an answer nor take one away
    assert answer.answered


def test_a_slow_model_is_cut_off_at_the_time_limit(core):
    model = ScriptedChatModel(default=good_writer, delay=0.4)  # 0.4 s before every piece
    w = writer(core, model, timeout_s=1.5)
    started = time.monotonic()
    answer = w.answer(DUTCH)
    elapsed = time.monotonic() - started
    assert not answer.ai_text and answer.answered
    assert elapsed < 3.0, elapsed
    assert w.outcomes["fallback:timeout"] == 1


def test_a_slow_rewrite_is_skipped_but_the_answer_still_written(core):
    def slow_rewrite(messages):
        if is_rewrite(messages):
            time.sleep(1.0)  # longer than its share (40% of 2 s)
        return good_writer(messages)

    w = writer(core, ScriptedChatModel(default=slow_rewrite), timeout_s=2.0)
    answer = w.answer(DUTCH)
    assert answer.ai_text and w.outcomes["ai"] == 1 and w.skipped_rewrites["timeout"] == 1


def test_progress_shows_only_checked_sentences(core):
    def writes(messages):
        if is_rewrite(messages):
            return good_writer(messages)
        q = first_sentence(passages_of(messages)[1])
        return (f"Eerst dit: „{q}” [1]. Dan een zin zonder bron die niet getoond mag worden. "
                f"En nog eens: „{q}” [1].")

    shown: list[str] = []
    answer = writer(core, ScriptedChatModel(default=writes)).answer(DUTCH, on_progress=shown.append)
    assert shown and all("zonder bron" not in s for s in shown)
    assert shown[0].startswith("Eerst dit: „") and not answer.ai_text  # the whole is still rejected


def test_progress_grows_sentence_by_sentence(core):
    def writes(messages):
        if is_rewrite(messages):
            return good_writer(messages)
        q = first_sentence(passages_of(messages)[1])
        return f"Eerst dit: „{q}” [1]. En dan: „{q}” [1]. Tot slot: „{q}” [1]."

    shown: list[str] = []
    answer = writer(core, ScriptedChatModel(default=writes)).answer(DUTCH, on_progress=shown.append)
    assert len(shown) == 2  # the third sentence is only complete when the stream ends
    assert shown[1].startswith(shown[0]) and answer.ai_text.startswith(shown[1])


def test_a_follow_up_brings_the_thread_to_both_prompts(core):
    model = ScriptedChatModel(default=good_writer)
    history = [Turn("Hoe gaan we om met weerstand?", "Met begrip voor de situatie [1].")]
    writer(core, model).answer("En hoe lang duurt dat?", history=history)
    rewrite_call, answer_call = model.seen
    assert "Hoe gaan we om met weerstand?" in human_text(rewrite_call)
    assert [m.type for m in answer_call] == ["system", "human", "ai", "human"]
    assert answer_call[2].text == "Met begrip voor de situatie [1]."


def test_bad_input_is_answered_politely_without_the_model(core):
    model = ScriptedChatModel(default=good_writer)
    cases = (("", "empty"), ("🙂🎉", "no_words"), ("Wie geht es dir, und was ist das?", "other_language"))
    for raw, notice in cases:
        assert writer(core, model).answer(raw).notice == notice
    assert model.seen == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1. weerstand in de keten\n2) cultuur\n- geduld", ["weerstand in de keten", "cultuur", "geduld"]),
        ("„vertrouwen”\nvertrouwen\nhttps://x.example\n<@U1>\n\n", ["vertrouwen"]),
        ("a\nb\nc\nd", ["a", "b", "c"]),
        ("NIET_GEDEKT", []),
        ("x" * 500, ["x" * 200]),
    ],
)
def test_rewrites_are_cleaned(text, expected):
    assert parse_queries(text, "de vraag") == expected
