"""Tests for bot.console.chat with a fake core: no model, no index, no subprocess."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from bot.answering.model import Answer, Source
from bot.console import HELP, STOP_WORDS, WELCOME, chat

QUOTE = "Neem de tijd voor ontwikkeling en leer van fouten is het devies."


class FakeAnswerer:
    def __init__(self) -> None:
        self.questions: list[str] = []

    def answer(self, text: str) -> Answer:
        self.questions.append(text)
        return Answer(
            question=text,
            language="nl",
            answered=True,
            framing=f"Antwoord op: {text}",
            sources=[
                Source(
                    title="NORA – Implementatie van ketensturing",
                    section="Geduld",
                    url="https://www.noraonline.nl/wiki/Ketensturing/Implementatie_van_ketensturing#Geduld",
                    licence="CC BY-ND 3.0",
                    quote=QUOTE,
                    score=0.8,
                )
            ],
        )


class TtyInput(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_chat(text: str, stdin_cls: type[io.StringIO] = io.StringIO) -> tuple[int, str, FakeAnswerer]:
    answerer = FakeAnswerer()
    core = SimpleNamespace(answerer=answerer)
    out = io.StringIO()
    code = chat(core, stdin_cls(text), out)
    return code, out.getvalue(), answerer


def test_eof_right_away_exits_zero_after_welcome():
    code, out, answerer = run_chat("")
    assert code == 0
    assert out.startswith(WELCOME)
    assert "Tot ziens." in out
    assert answerer.questions == []


def test_question_is_answered_with_the_answer_text():
    code, out, answerer = run_chat("Wat is een hiërarchiestuip?\n")
    assert code == 0
    assert answerer.questions == ["Wat is een hiërarchiestuip?"]
    assert "Ketenbot: Antwoord op: Wat is een hiërarchiestuip?" in out
    assert f"„{QUOTE}”" in out
    assert "Geduld" in out and "CC BY-ND 3.0" in out
    # the answer comes after the welcome and before the goodbye
    assert out.index(WELCOME) < out.index("Ketenbot: Antwoord") < out.rindex("Tot ziens.")


def test_question_is_stripped_before_answering():
    _, _, answerer = run_chat("   Hoe bouwen we vertrouwen op?  \t\n")
    assert answerer.questions == ["Hoe bouwen we vertrouwen op?"]


def test_several_questions_are_answered_in_order():
    _, out, answerer = run_chat("eerste vraag\ntweede vraag\n")
    assert answerer.questions == ["eerste vraag", "tweede vraag"]
    assert out.index("Antwoord op: eerste vraag") < out.index("Antwoord op: tweede vraag")


def test_blank_lines_are_ignored():
    code, out, answerer = run_chat("\n   \n\t\n\n")
    assert code == 0
    assert answerer.questions == []
    assert "Ketenbot:" not in out


@pytest.mark.parametrize("word", sorted(STOP_WORDS) + ["STOP", "  Stop  ", "Quit", "DOEI"])
def test_stop_words_end_the_chat(word):
    code, out, answerer = run_chat(f"{word}\nthis must not be answered\n")
    assert code == 0
    assert answerer.questions == []
    assert out.rstrip().endswith("Tot ziens.")


def test_stop_ends_chat_after_earlier_questions():
    code, _, answerer = run_chat("eerste vraag\nstop\ntweede vraag\n")
    assert code == 0
    assert answerer.questions == ["eerste vraag"]


def test_stop_inside_a_sentence_is_a_question():
    _, _, answerer = run_chat("Wanneer stop je met een keten?\n")
    assert answerer.questions == ["Wanneer stop je met een keten?"]


@pytest.mark.parametrize("word", ["help", "HELP", "/help", "?"])
def test_help_shows_help_text_and_is_not_a_question(word):
    code, out, answerer = run_chat(f"{word}\n")
    assert code == 0
    assert HELP in out
    assert answerer.questions == []


def test_help_then_question_still_answers():
    _, out, answerer = run_chat("help\nWat is ketensturing?\n")
    assert answerer.questions == ["Wat is ketensturing?"]
    assert out.index(HELP) < out.index("Antwoord op: Wat is ketensturing?")


def test_no_prompt_when_input_is_not_a_terminal():
    _, out, _ = run_chat("vraag\n")
    assert "vraag> " not in out


def test_prompt_when_input_is_a_terminal():
    _, out, answerer = run_chat("vraag een\nvraag twee\n", TtyInput)
    assert answerer.questions == ["vraag een", "vraag twee"]
    # one prompt per read: two questions plus the read that hits end of input
    assert out.count("vraag> ") == 3
