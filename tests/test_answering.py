"""Answers without a language model: verbatim quotes, provenance, plain refusals, bad input."""

from __future__ import annotations

import json

import pytest

from bot.answering.compose import split_sentences
from bot.answering.phrases import PHRASES
from bot.retrieval.text import MAX_QUESTION_CHARS
from tests.conftest import NORA_FILE

SOURCE = " ".join(NORA_FILE.read_text(encoding="utf-8").split())


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "question, language, section",
    [
        ("Wat doe je als er iets misgaat en het management alles naar zich toe wil trekken?", "nl",
         "Stap voor stap vormgeven van het besturingsmodel"),
        ("Welke ontwikkelstadia kent een keten?", "nl", "Ontwikkelstadia van ketens"),
        ("How do we keep staff motivated while they get used to working in the chain?", "en", "Geduld"),
        ("Should we ask outsiders to review our progress now and then?", "en", "Gebruik 'vreemde ogen'"),
    ],
)
def test_answer_quotes_the_right_section_verbatim(core, question, language, section):
    answer = core.answerer.answer(question)
    assert answer.answered and answer.language == language
    assert section in [s.section for s in answer.sources]
    assert 1 <= len(answer.sources) <= 3
    assert answer.sources[0].quote  # the best section is always quoted; weaker ones may be "see also"
    for s in answer.sources:
        assert _flat(s.quote).removesuffix(" …") in SOURCE, s.quote
        assert len(s.quote) <= 460  # sentences, not whole pages
        assert s.licence == "CC BY-ND 3.0" and s.url.startswith("https://www.noraonline.nl/")
        assert s.title == "NORA – Implementatie van ketensturing"
    assert [s.score for s in answer.sources] == sorted((s.score for s in answer.sources), reverse=True)
    assert answer.framing == PHRASES["answered"][language]


def test_framing_is_the_bots_own_words_and_never_guidance_text(core):
    answer = core.answerer.answer("Hoe bouwen we vertrouwen op tussen de partners?")
    assert _flat(answer.framing) not in SOURCE
    text = answer.as_text()
    assert text.startswith("Ketenbot: ")
    for s in answer.quotes:
        assert f"„{s.quote}”" in text
    for s in answer.pointers:
        assert s.url in text and s.section in text


@pytest.mark.parametrize(
    "question",
    [
        "In welke salarisschaal valt een ketenmanager bij het Rijk?",
        "What's the weather like in Utrecht tomorrow?",
        "Mag de gemeente onder de AVG gegevens delen met het UWV?",
    ],
)
def test_out_of_scope_is_refused_plainly_with_nearest_sections(core, question):
    answer = core.answerer.answer(question)
    assert not answer.answered
    assert answer.framing == PHRASES["not_covered"][answer.language]
    assert answer.sources and all(s.quote == "" for s in answer.sources)


def test_english_question_gets_english_framing_and_dutch_quotes(core):
    answer = core.answerer.answer("How can top management show trust without losing grip?")
    assert answer.language == "en" and answer.answered
    assert "verbatim and in Dutch" in answer.framing


def test_json_shape_is_stable(core):
    data = json.loads(json.dumps(core.answerer.answer("Waarom is geduld nodig?").as_json_dict()))
    assert set(data) == {"question", "language", "answered", "answer", "sources"}
    assert all(set(s) == {"title", "section", "url", "licence", "quote", "score"} for s in data["sources"])


@pytest.mark.parametrize(
    "raw, notice, answered",
    [
        ("", "empty", False),
        ("   \n\t  ", "empty", False),
        ("🙂🎉👍", "no_words", False),
        ("?!... ;;", "no_words", False),
        ("Wie geht es dir, und was ist das für eine Kette?", "other_language", False),
    ],
)
def test_bad_input_gets_a_clear_reply(core, raw, notice, answered):
    answer = core.answerer.answer(raw)
    assert answer.notice == notice and answer.answered is answered
    assert answer.framing and not answer.sources


def test_control_characters_are_removed_and_the_question_still_answered(core):
    answer = core.answerer.answer("Wat\x00 is\x1b[31m een\u202e hiërarchiestuip\x07?")
    assert "\x00" not in answer.question and "\x1b" not in answer.question and "\u202e" not in answer.question
    assert answer.answered


def test_huge_question_is_cut_and_said_so(core):
    raw = "Hoe bouwen we vertrouwen op tussen de ketenpartners? " * 400  # ~21,000 characters
    answer = core.answerer.answer(raw)
    assert answer.notice == "truncated" and len(answer.question) == MAX_QUESTION_CHARS
    assert str(MAX_QUESTION_CHARS) in answer.framing


def test_sentence_spans_cover_table_rows_and_keep_text_verbatim():
    body = "Eerste zin. Tweede zin?\nStrategische focus Van geval tot geval\nDerde… Vierde"
    spans = split_sentences(body)
    parts = [body[a:b] for a, b in spans]
    assert parts[0] == "Eerste zin." and parts[1] == "Tweede zin?"
    assert parts[2] == "Strategische focus Van geval tot geval"
    assert all(p in body for p in parts)


def test_concurrent_answers_equal_serial_answers(core):
    from concurrent.futures import ThreadPoolExecutor

    questions = [
        "Hoe bouwen we vertrouwen op tussen de partners?",
        "What should the board do when something goes wrong?",
        "Waarom is geduld nodig?",
        "Should we put staff from different agencies in one office?",
    ] * 4
    serial = [core.answerer.answer(q) for q in questions]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(core.answerer.answer, questions))
    assert parallel == serial


def test_sentence_cache_stays_within_its_bound(core):
    from bot.answering.compose import Answerer

    small = Answerer(core.search, cache_size=5)
    answer = small.answer("Hoe bouwen we vertrouwen op tussen de partners?")
    assert answer.answered and answer.sources[0].quote
    assert len(small._vectors) <= 5


def test_probes_point_at_a_section_but_are_never_quoted(tmp_path, knowledge_copy):
    from dataclasses import replace

    from bot.core import build_core
    from tests.conftest import make_settings

    side = knowledge_copy / (NORA_FILE.name + ".questions.yaml")
    side.write_text('"Gebruik \'vreemde ogen\'":\n  - "Zullen we de buren eens laten meekijken?"\n',
                    encoding="utf-8")
    core = build_core(make_settings(tmp_path, knowledge_copy))
    core.search.params = replace(core.search.params, probe_weight=1.0)
    answer = core.answerer.answer("Zullen we de buren eens laten meekijken?")
    assert answer.sources[0].section == "Gebruik 'vreemde ogen'"
    for s in answer.sources:
        assert "buren" not in s.quote
        assert _flat(s.quote).removesuffix(" …") in SOURCE


def test_a_question_near_the_out_of_scope_bank_is_refused(tmp_path, knowledge_copy):
    from dataclasses import replace

    from bot.core import build_core
    from tests.conftest import make_settings

    question = "Op welke dag van de week vergadert de stuurgroep van de keten meestal?"
    (knowledge_copy / "out-of-scope.questions.yaml").write_text(
        f'topics:\n  meetings:\n    - "{question}"\n', encoding="utf-8"
    )
    core = build_core(make_settings(tmp_path, knowledge_copy))
    core.search.params = replace(core.search.params, scope_margin=9.0)  # scope check off
    assert core.answerer.answer(question).answered  # words and meaning alone let it through
    core.search.params = replace(core.search.params, scope_margin=0.0)
    refused = core.answerer.answer(question)
    assert not refused.answered
    kept = core.answerer.answer("Hoe bouwen we vertrouwen op tussen werkvloer en management?")
    assert kept.answered


@pytest.mark.parametrize(
    "question",
    [
        "Wat doe je als er iets misgaat in de keten?",
        "What do we do when something goes wrong?",
        "Hoe lang duurt het voordat een keten goed werkt?",
        "Why should we take small steps?",
    ],
)
def test_short_core_questions_are_answered_not_refused(core, question):
    assert core.answerer.answer(question).answered


def test_langchain_retriever_returns_grounded_sections_and_nothing_for_out_of_scope(core):
    from bot.retrieval.hybrid import GuidanceRetriever

    retriever = GuidanceRetriever(search_engine=core.search)
    docs = retriever.invoke("Hoe bouwen we vertrouwen op tussen werkvloer en management?")
    assert 1 <= len(docs) <= 3
    assert docs[0].metadata["section"] == "Stap voor stap vormgeven van het besturingsmodel"
    assert all(d.metadata["kind"] == "text" and d.metadata["licence"] for d in docs)
    assert retriever.invoke("What's the weather like in Utrecht tomorrow?") == []


def test_a_vague_follow_up_is_answered_with_the_earlier_question_as_context(core):
    follow_up = "Kun je daar iets meer over vertellen?"
    assert not core.answerer.answer(follow_up).answered
    answer = core.answerer.answer(follow_up, context="Hoe bouwen we vertrouwen op tussen de ketenpartners?")
    assert answer.answered and answer.question == follow_up
    assert "vertrouwen" in " ".join(s.quote for s in answer.quotes)


def test_an_english_preference_gives_english_framing_for_a_dutch_question(core):
    answer = core.answerer.answer("Hoe bouwen we vertrouwen op?", english=True)
    assert answer.answered and answer.language == "en"
    assert answer.framing == PHRASES["answered"]["en"]
    assert core.answerer.answer("", english=True).framing == PHRASES["empty"]["en"]
