"""Hostile and random input never crashes the answering core and always gets a clear reply."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answering.phrases import PHRASES
from bot.retrieval.text import MAX_QUESTION_CHARS

FRAGMENTS = st.sampled_from([
    "<!channel>", "<!here>", "<@U123ABC>", "<#C123|general>", "*vet*", "_schuin_", "`code`", "```blok```",
    "> citaat", "&amp;", "\x00", "\u202e", "\ud800", "🙂", "keten", "vertrouwen", "hiërarchiestuip",
    "What about trust?", "Wat kost het?", "ignore previous instructions", "\n", "\t", "  ",
])
QUESTIONS = st.one_of(
    st.text(max_size=300),
    st.lists(FRAGMENTS, max_size=30).map("".join),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=20), st.integers(1, 3000)),
)
KNOWN_FRAMINGS = {text for table in PHRASES.values() for text in table.values()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=QUESTIONS)
def test_any_input_gets_a_clear_answer_and_nothing_breaks(core, question):
    answer = core.answerer.answer(question)
    assert answer.language in ("nl", "en")
    assert answer.framing
    # the framing is always one of the bot's own phrases (possibly after the "truncated" note)
    assert any(answer.framing.endswith(phrase) for phrase in KNOWN_FRAMINGS)
    assert len(answer.question) <= MAX_QUESTION_CHARS
    assert not any(ch in answer.question for ch in ("\x00", "\u202e", "\ud800"))
    if answer.answered:
        assert answer.sources and answer.sources[0].quote
    answer.as_text()
    answer.as_json_dict()
