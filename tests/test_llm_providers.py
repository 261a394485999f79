"""Language-model answers through the project's own wiring and the real LangChain clients.

Settings with ``LLM_PROVIDER`` → :func:`bot.llm.providers.make_chat_model` →
:func:`bot.core.make_answerer` → :class:`bot.llm.writer.LlmAnswerer`, talking HTTP to
:class:`tests.fakes.llm_server.FakeLLMServer` on 127.0.0.1 (OpenAI Chat Completions and Anthropic
Messages). Then the grounding figure: with the stub failing, stalling, answering garbage and dropping
connections, every answer is either AI text that passes the checks again with quotes that stand in the
guidance word for word, or exactly the quote-based answer.
"""

from __future__ import annotations

import re
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.answering.phrases import phrase
from bot.core import make_answerer
from bot.llm.checks import Passage, Rules, check_answer, prompt_shingles, quoted
from bot.llm.providers import make_chat_model
from bot.llm.writer import LlmAnswerer
from bot.retrieval.text import detect_language, words
from tests.conftest import KNOWLEDGE, NORA_FILE, make_settings
from tests.fakes.llm_server import FakeLLMServer, normalise_messages

DUTCH = "Hoe gaan we om met weerstand tegen de nieuwe werkwijze in de keten?"
APIS = pytest.mark.parametrize("api", ["openai", "anthropic"])
PATH = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
KEY, MODEL = "test-key", "stub"
FAULT_TIMEOUT_S = 1.5  # LLM_TIMEOUT_S for the fault run: a slow call costs at most this
GRACE_S = 1.5  # what a call may take beyond LLM_TIMEOUT_S
QUESTIONS_PER_RUN = 30


# ----------------------------------------------------------------------------- the stub's side
# FakeLLMServer hands the responder ``[{"role", "content"}]``; these mirror tests/fakes/chat_model.py.


def system_text(messages: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] == "system")


def user_text(messages: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] == "user")


def is_rewrite(messages: list[dict[str, str]]) -> bool:
    """Is this call the query rewrite (rather than the answer)?"""
    return "zoekvragen" in system_text(messages) or "search queries" in system_text(messages)


def passages_of(messages: list[dict[str, str]]) -> dict[int, str]:
    """The numbered, fenced passages the answer prompt gave the model: {ref: body}."""
    found = {}
    pattern = r"^\[(\d+)\][^\n]*\n<(tekst-[0-9a-f]+)>\n(.*?)\n</\2>"
    for m in re.finditer(pattern, user_text(messages), re.S | re.M):
        found[int(m.group(1))] = m.group(3)
    return found


def first_sentence(body: str) -> str:
    return re.split(r"(?<=[.!?])\s+", body.strip())[0].rstrip(".")


def good_writer(messages: list[dict[str, str]], request: dict[str, Any] | None = None) -> str:
    """A well-behaved model: Dutch queries for the rewrite; one verbatim quote of passage 1, cited."""
    if is_rewrite(messages):
        return "weerstand tegen nieuwe werkwijzen in de keten\nomgaan met weerbarstige cultuur"
    quote = first_sentence(passages_of(messages)[1])
    if "answer in English" in system_text(messages):
        return f"The guidance puts it like this: „{quote}” [1]."
    return f"De handreiking zegt het zo: „{quote}” [1]."


class RecordingWriter:
    """``good_writer`` that keeps every answer call (what it was given and what it wrote)."""

    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []

    def __call__(self, messages: list[dict[str, str]], request: dict[str, Any]) -> str:
        reply = good_writer(messages, request)
        if not is_rewrite(messages):
            self.answers.append({"prompt": user_text(messages), "passages": passages_of(messages),
                                 "reply": reply})
        return reply


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxies, no tracing, and any connection off 127.0.0.1 fails the test."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                "LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_GATEWAY"):
        monkeypatch.delenv(var, raising=False)
    real = socket.create_connection

    def guarded(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        if address[0] not in {"127.0.0.1", "localhost", "::1"}:
            raise AssertionError(f"test tried to reach {address[0]}:{address[1]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


@pytest.fixture
def recorder() -> RecordingWriter:
    return RecordingWriter()


@pytest.fixture
def server(recorder: RecordingWriter):  # type: ignore[no-untyped-def]
    with FakeLLMServer(recorder) as fake:
        yield fake


def llm_settings(tmp: Path, api: str, server: FakeLLMServer, **extra: str):  # type: ignore[no-untyped-def]
    url = server.openai_base_url if api == "openai" else server.anthropic_base_url
    return make_settings(tmp, LLM_PROVIDER=api, LLM_BASE_URL=url, LLM_MODEL=MODEL, LLM_API_KEY=KEY, **extra)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'").replace("‘", "'")).strip()


GUIDANCE = _norm(NORA_FILE.read_text(encoding="utf-8"))


def in_guidance(quote: str) -> bool:
    """Does ``quote`` stand word for word in the guidance (pieces around an ellipsis each)?"""
    pieces = [p.strip(" ,;:") for p in re.split(r"…|\.\.\.", _norm(quote))]
    return all(p in GUIDANCE or p.rstrip(".") in GUIDANCE for p in pieces if p)


# ----------------------------------------------------------------------------- wiring, per provider


@APIS
def test_the_configured_provider_writes_a_checked_answer(api, core, server, recorder, tmp_path):
    settings = llm_settings(tmp_path, api, server)
    model = make_chat_model(settings)
    if api == "openai":
        from langchain_openai import ChatOpenAI

        assert isinstance(model, ChatOpenAI)
    else:
        from langchain_anthropic import ChatAnthropic

        assert isinstance(model, ChatAnthropic)
    answerer = make_answerer(settings, core.answerer)
    assert isinstance(answerer, LlmAnswerer) and answerer.base is core.answerer
    assert answerer.timeout_s == settings.llm_timeout_s == 20.0 and answerer.model_name == MODEL

    answer = answerer.answer(DUTCH)

    assert answer.answered and answer.language == "nl"
    assert answer.ai_text.startswith("De handreiking zegt het zo: „") and answer.ai_model == MODEL
    assert answer.framing == phrase("ai_answered", "nl")
    quote = re.search(r"„(.+)”", answer.ai_text).group(1)
    assert in_guidance(quote)
    assert answer.quotes and all(in_guidance(s.quote) for s in answer.quotes)
    assert [s.quote for s in answer.quotes if s.ref == 1] == [quote]  # the quote shown is the one cited
    assert answerer.outcomes == Counter({"ai": 1})

    requests = server.requests
    assert len(requests) == 2, [r["path"] for r in requests]  # the rewrite, then the answer
    assert [r["path"] for r in requests] == [PATH[api]] * 2
    assert [r["outcome"] for r in requests] == ["ok", "ok"]
    assert server.api_keys == [KEY, KEY]
    rewrite, writing = (normalise_messages(api, r["body"]) for r in requests)
    for request, messages in zip(requests, (rewrite, writing), strict=True):
        body = request["body"]
        assert body["stream"] is True and body["model"] == MODEL
        assert body["temperature"] == 0
        assert body.get("max_completion_tokens" if api == "openai" else "max_tokens") == 700
        assert messages[0]["role"] == "system"
        assert [m["role"] for m in messages[1:]] == ["user"]
    if api == "anthropic":
        assert all(r["body"].get("system") for r in requests)  # top-level system, as the API wants
    assert is_rewrite(rewrite) and "zoekvragen" in system_text(rewrite) and DUTCH in user_text(rewrite)
    assert not is_rewrite(writing)
    rules = system_text(writing)
    assert "Eindig elke zin met de nummers" in rules and "NIET_GEDEKT" in rules
    assert answerer.prompts.canary in rules  # the leak marker went along with the rules
    assert DUTCH in user_text(writing) and len(passages_of(writing)) >= 2
    assert recorder.answers[-1]["reply"] == answer.ai_text


@APIS
def test_an_english_question_gets_english_rules_and_an_english_answer(api, core, server, tmp_path):
    answerer = make_answerer(llm_settings(tmp_path, api, server), core.answerer)
    answer = answerer.answer("How should we deal with resistance to the new way of working?")
    assert answer.language == "en" and answer.ai_text.startswith("The guidance puts it like this: „")
    rewrite, writing = (normalise_messages(api, r["body"]) for r in server.requests)
    assert "search queries in Dutch" in system_text(rewrite)
    assert "answer in English" in system_text(writing)
    assert all(in_guidance(s.quote) for s in answer.quotes)


def test_no_provider_means_no_model_and_the_plain_answerer(core, tmp_path):
    settings = make_settings(tmp_path)
    assert make_chat_model(settings) is None
    assert make_answerer(settings, core.answerer) is core.answerer


@APIS
def test_a_refused_key_falls_back_to_quotes(api, core, server, tmp_path):
    server.fail_next(2, status=401)  # both the rewrite and the answer
    answerer = make_answerer(llm_settings(tmp_path, api, server), core.answerer)
    answer = answerer.answer(DUTCH)
    plain = core.answerer.answer(DUTCH)
    assert not answer.ai_text and answer.sources == plain.sources
    assert answer.framing == phrase("ai_fallback", "nl") + " " + plain.framing
    [(key, count)] = answerer.outcomes.items()
    assert key.startswith("fallback:error:") and count == 1, key


# ----------------------------------------------------------------------------- grounding under faults


def in_scope_questions(n: int) -> list[str]:
    """``n`` anticipated questions, round-robin over the sections, alternating Dutch and English."""
    bank = yaml.safe_load((KNOWLEDGE / (NORA_FILE.name + ".questions.yaml")).read_text(encoding="utf-8"))
    by_lang: dict[str, list[list[str]]] = {"nl": [], "en": []}
    for questions in bank.values():
        for lang in by_lang:
            by_lang[lang].append([q for q in questions if detect_language(q) == lang])
    picked: list[str] = []
    round_ = 0
    while len(picked) < n and round_ < 20:
        for section in range(len(bank)):
            lang = "nl" if (section + round_) % 2 == 0 else "en"
            pool = by_lang[lang][section]
            if round_ * 7 < len(pool):
                picked.append(pool[round_ * 7])  # spread over each section's list
            if len(picked) == n:
                break
        round_ += 1
    return picked


def summary(outcomes: Counter[str]) -> tuple[int, str]:
    """(quote-based answers, "timeout 5, error 9 (InternalServerError 7, ...), ...") from the
    answerer's outcome counts."""
    kinds: Counter[str] = Counter()
    detail: dict[str, Counter[str]] = {}
    for key, count in outcomes.items():
        if key.startswith("fallback:"):
            kind, _, why = key.removeprefix("fallback:").partition(":")
            kinds[kind] += count
            if why:
                detail.setdefault(kind, Counter())[why] += count
        elif key != "ai":
            kinds[key] += count
    parts = []
    for kind, count in kinds.most_common():
        more = ", ".join(f"{w} {c}" for w, c in detail.get(kind, Counter()).most_common())
        parts.append(f"{kind} {count}" + (f" ({more})" if more else ""))
    return sum(kinds.values()), ", ".join(parts)


def recheck(answerer: LlmAnswerer, recorder: RecordingWriter, question: str, answer) -> None:  # type: ignore[no-untyped-def]
    """The AI text passes the checks again against the passages its writer was given, and every
    quote (in the text and in the sources) stands word for word in the guidance."""
    written = [a for a in recorder.answers if a["reply"] == answer.ai_text and question in a["prompt"]]
    assert written, f"no answer call wrote {answer.ai_text!r}"
    passages = [Passage(ref, text) for ref, text in sorted(written[-1]["passages"].items())]
    rules = Rules(
        passages=passages, language=answer.language, canary=answerer.prompts.canary,
        prompt_shingles=prompt_shingles(answerer.prompts.system_texts(), passages),
        support=lambda sentence, cited: answerer.supports(sentence, cited, answer.language),
    )
    checked = check_answer(answer.ai_text, rules)
    assert checked.covered and checked.cited
    for quote in quoted(answer.ai_text):
        if len(words(quote)) >= 3:
            assert in_guidance(quote), quote
    assert answer.quotes and all(in_guidance(s.quote) for s in answer.quotes)


@APIS
def test_every_answer_stays_grounded_while_the_model_misbehaves(api, core, server, recorder, tmp_path):
    settings = llm_settings(tmp_path, api, server, LLM_TIMEOUT_S=str(FAULT_TIMEOUT_S))
    answerer = make_answerer(settings, core.answerer)
    assert isinstance(answerer, LlmAnswerer) and answerer.timeout_s == FAULT_TIMEOUT_S
    observed: list[dict] = []
    answerer.observer = observed.append
    server.fail_rate(0.3, status=500, seed=7)

    questions = in_scope_questions(QUESTIONS_PER_RUN)
    assert len({detect_language(q) for q in questions}) == 2
    grounded, slowest, problems = 0, 0.0, []
    for n, question in enumerate(questions):
        # on top of the 30% of 500s: a stall longer than the whole time limit, a 200 with an HTML
        # body, a connection closed without a byte; each hits the next request (rewrite or answer)
        if n % 5 == 1:  # the rewrite stalls (skipped after 40% of the limit) and so does the answer
            server.slow_next(2, FAULT_TIMEOUT_S + 1.0)
        if n % 6 == 2:  # only the first call stalls: the rewrite is skipped, the answer still written
            server.slow_next(1, FAULT_TIMEOUT_S + 1.0)
        if n % 7 == 3:
            server.garbage_next(1 + n % 2)
        if n % 8 == 5:
            server.drop_next(1 + n % 2)
        started = time.monotonic()
        answer = answerer.answer(question)
        elapsed = time.monotonic() - started
        slowest = max(slowest, elapsed)
        try:
            assert elapsed <= FAULT_TIMEOUT_S + GRACE_S, f"took {elapsed:.2f} s"
            assert len(observed) == n + 1 and observed[-1]["total_s"] <= elapsed
            outcome = observed[-1]["outcome"]
            if answer.ai_text:
                assert outcome == "ai", outcome
                recheck(answerer, recorder, question, answer)
            else:
                assert outcome != "ai", outcome
                plain = core.answerer.answer(question)
                assert answer.sources == plain.sources
                assert answer.answered == plain.answered
                assert all(in_guidance(s.quote) for s in answer.quotes)
                if outcome == "fallback":  # the asker is told the model's text was not used
                    assert answer.framing == phrase("ai_fallback", answer.language) + " " + plain.framing
            grounded += 1
        except AssertionError as exc:
            problems.append(f"{question[:60]!r}: {str(exc).splitlines()[0]}")

    total = len(questions)
    ai = answerer.outcomes["ai"]
    quotes, kinds = summary(answerer.outcomes)
    line = (f"{api}: grounded: {grounded}/{total} answers (ai {ai}, quotes {quotes}: {kinds}); "
            f"slowest call {slowest:.2f} s (limit {FAULT_TIMEOUT_S} + {GRACE_S} s); stub saw {server.counts}")
    print(line)
    assert not problems, line + "\n" + "\n".join(problems)
    assert grounded == total == ai + quotes == len(observed)
    # the run measured something: both kinds of answer, and each kind of fault reached the client
    assert ai >= 5 and quotes >= 5, line
    assert answerer.outcomes["fallback:timeout"] >= 1, line
    counts = server.counts
    assert counts.get("failed", 0) >= 5, line
    assert counts.get("garbage", 0) >= 1 and counts.get("dropped", 0) >= 1, line
    assert not server.errors


def test_a_stream_that_runs_past_the_limit_is_closed(core, server, tmp_path):
    server.chunk_delay = 0.4  # a model that streams about 7 words a second: every read is in time
    answerer = make_answerer(llm_settings(tmp_path, "openai", server, LLM_TIMEOUT_S="1"), core.answerer)
    started = time.monotonic()
    answer = answerer.answer(DUTCH)
    assert not answer.ai_text and answerer.outcomes["fallback:timeout"] == 1
    assert time.monotonic() - started <= 1.0 + GRACE_S
    # once the answer is given, both abandoned calls should be hung up on (the stub then counts
    # them "aborted" at its next write); they run on for seconds instead
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and [r["outcome"] for r in server.requests] != ["aborted"] * 2:
        time.sleep(0.1)
    assert [r["outcome"] for r in server.requests] == ["aborted", "aborted"]
