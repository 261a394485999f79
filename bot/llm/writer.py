"""Answers written by a language model, tied to quoted guidance, falling back to quotes.

The steps for one question:

1. the quote-based :class:`~bot.answering.compose.Answerer` reads the question (empty,
   wordless, other language: answered politely at once, no model involved);
2. the model rewrites it, with the thread so far, into Dutch search queries (bridging English
   questions and follow-ups); their searches are merged with the question's own;
3. the best passages go to the model, numbered; it writes an answer citing them;
4. :mod:`bot.llm.checks` checks the text sentence by sentence as it streams in (only checked
   sentences are shown) and as a whole at the end;
5. any failure, a time-out (``LLM_TIMEOUT_S`` for the whole question) or a rejected text gives
   the quote-based answer of step 1's question instead, with one sentence saying so.

The model never sees records, names or other people's questions; only public guidance, the
question and the earlier turns of the same thread.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from bot.answering.compose import Answerer, Question, source_of, split_sentences
from bot.answering.model import Answer, Source
from bot.answering.phrases import phrase
from bot.llm.checks import (
    SHORT_QUOTE_WORDS,
    Checked,
    Passage,
    Rejected,
    Rules,
    check_answer,
    check_sentence,
    prompt_shingles,
)
from bot.llm.checks import split_sentences as split_answer
from bot.llm.prompts import Prompts, Turn
from bot.retrieval.hybrid import Hit, SearchResult
from bot.retrieval.text import MAX_QUESTION_CHARS, content_words, detect_language, stem, words

log = logging.getLogger(__name__)

MAX_PASSAGES = 4
MAX_QUERIES = 3
MAX_QUERY_CHARS = 200
REWRITE_SHARE = 0.4  # of LLM_TIMEOUT_S; a slow rewrite is skipped, the answer still gets its time
#: A sentence is supported when it is this close in meaning to a sentence of a passage it
#: cites and, in Dutch, shares at least this share of its content words with the passages it
#: cites (set between right and planted claims in tests/test_llm_checks.py).
SUPPORT_DENSE = 0.35
SUPPORT_WORDS = 0.5

#: Least similarity to an anticipated in-scope question for the rewrites to be searched when
#: the question's own words found nothing grounded (see ``_may_bridge``).
MIN_INSIDE = 0.45

Progress = Callable[[str], None]
Observer = Callable[[dict], None]


class LlmTimeout(TimeoutError):
    pass


@dataclass
class _Timing:
    model_s: float = 0.0


class LlmAnswerer:
    """Same ``answer`` call as :class:`Answerer`; answers carry ``ai_text`` when the model's
    text passed every check."""

    streams = True

    def __init__(
        self,
        base: Answerer,
        model: BaseChatModel,
        prompts: Prompts,
        *,
        model_name: str,
        timeout_s: float = 20.0,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.base = base
        self.search = base.search
        self.model = model
        self.prompts = prompts
        self.model_name = model_name
        self.timeout_s = timeout_s
        self.observer = observer
        self.clock = clock
        # one per answer: "ai", "not_covered", "model_not_covered" or "fallback:<reason>"
        self.outcomes: Counter[str] = Counter()
        self.skipped_rewrites: Counter[str] = Counter()  # "timeout" or "error:<type>"
        self._lock = threading.Lock()

    # -- the one public call -----------------------------------------------------------------
    def answer(
        self,
        raw_question: str,
        *,
        context: str = "",
        english: bool = False,
        history: Sequence[Turn] = (),
        on_progress: Progress | None = None,
    ) -> Answer:
        started = self.clock()
        question = self.base.read(raw_question, english=english)
        if isinstance(question, Answer):
            return question
        deadline = started + self.timeout_s
        timing = _Timing()
        history = list(history)[-4:]
        own = self.base.retrieve(question, context)
        plain = self.base.compose(question, own)
        outcome, reason = "fallback", ""
        try:
            if not own.grounded and not self._may_bridge(own, question, context):
                outcome = "not_covered"  # plainly outside the guidance: no model call at all
                return plain
            queries = self._rewrite(question, history, deadline, timing)
            merged = merge([own] + [self.search.search(q, "nl") for q in queries])
            if not merged.grounded:
                outcome = "not_covered"
                return plain
            hits = merged.hits[:MAX_PASSAGES]
            passages = [_passage(n, h) for n, h in enumerate(hits, 1)]
            rules = self._rules(question, passages)
            text = self._write(question, passages, history, rules, deadline, timing, on_progress)
            checked = check_answer(text, rules)
            if not checked.covered:
                outcome = "model_not_covered"
                return plain
            outcome = "ai"
            return self._ai_answer(question, merged, hits, checked)
        except Rejected as exc:
            reason = f"rejected:{exc.reason}"
        except LlmTimeout:
            reason = "timeout"
        except Exception as exc:  # the provider failed in any way: quotes, never an ungrounded text
            reason = f"error:{type(exc).__name__}"
        finally:
            self._record(outcome, reason, started, timing)
        log.warning("language model answer not used (%s); answering with quotes", reason)
        framing = phrase("ai_fallback", plain.language) + " " + plain.framing
        return replace(plain, framing=framing)

    # -- steps ----------------------------------------------------------------------------------
    def _may_bridge(self, own: SearchResult, question: Question, context: str) -> bool:
        """May the model's rewrites find what the question's own words did not? Only for a
        question that looks like one about the guidance (an English phrasing, a follow-up),
        never for one that is plainly about something else: otherwise a question could be
        "rewritten" into the guidance's scope, by a model that was told to."""
        if _in_scope(own, self.search.params.scope_margin):
            return True
        if context:
            widened = self.search.search(f"{context[:MAX_QUESTION_CHARS]} {question.text}")
            return _in_scope(widened, self.search.params.scope_margin)
        return False

    def _rewrite(
        self, question: Question, history: list[Turn], deadline: float, timing: _Timing
    ) -> list[str]:
        """Dutch search queries for the question; none when the model fails or is slow."""
        budget = min(deadline, self.clock() + REWRITE_SHARE * self.timeout_s)
        messages = self.prompts.rewrite_messages(question.search_language, question.text, history)
        try:
            text = "".join(self._stream(messages, budget, timing))
        except LlmTimeout:
            self._skipped("timeout")
            log.info("query rewrite skipped: the model was too slow")
            return []
        except Exception as exc:
            self._skipped(f"error:{type(exc).__name__}")
            log.info("query rewrite skipped (%s)", type(exc).__name__)
            return []
        return parse_queries(text, question.text)

    def _skipped(self, why: str) -> None:
        with self._lock:
            self.skipped_rewrites[why] += 1

    def _write(
        self,
        question: Question,
        passages: list[Passage],
        history: list[Turn],
        rules: Rules,
        deadline: float,
        timing: _Timing,
        on_progress: Progress | None,
    ) -> str:
        messages = self.prompts.answer_messages(question.language, question.text, passages, history)
        text, shown, verdicts = "", 0, {}
        for piece in self._stream(messages, deadline, timing):
            text += piece
            if on_progress is None:
                continue
            done = split_answer(text)[:-1]  # the last piece may still be growing
            ok = 0
            for sentence in done:
                if sentence not in verdicts:
                    try:
                        check_sentence(sentence, rules)
                        verdicts[sentence] = True
                    except Rejected:
                        verdicts[sentence] = False
                if not verdicts[sentence]:
                    break
                ok += 1
            if ok > shown:
                shown = ok
                _safe_progress(on_progress, " ".join(done[:ok]))
        return text

    def _stream(self, messages: list[BaseMessage], deadline: float, timing: _Timing) -> Iterator[str]:
        """The model's text piece by piece, from a worker thread, so a stalled connection cannot
        hold the answer past ``deadline``. When the caller stops reading (time-out, a rejected
        sentence, an error), the worker stops too and closes the stream, which closes the
        connection: an abandoned question does not keep the model busy."""
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def run() -> None:
            stream = self.model.stream(messages)
            try:
                for chunk in stream:
                    if stop.is_set():
                        return
                    pieces.put(("text", chunk.text))
                pieces.put(("done", None))
            except BaseException as exc:  # handed to the waiting thread
                pieces.put(("error", exc))
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:  # closing a broken stream may fail; it is gone either way
                        log.debug("stream not closed cleanly", exc_info=True)

        threading.Thread(target=run, name="llm-call", daemon=True).start()
        try:
            while True:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    raise LlmTimeout()
                waited = self.clock()
                try:
                    kind, value = pieces.get(timeout=remaining)
                except queue.Empty:
                    timing.model_s += self.clock() - waited
                    raise LlmTimeout() from None
                timing.model_s += self.clock() - waited
                if kind == "done":
                    return
                if kind == "error":
                    raise value
                if value:
                    yield value
        finally:
            stop.set()

    def _rules(self, question: Question, passages: list[Passage]) -> Rules:
        return Rules(
            passages=passages,
            language=question.language,
            canary=self.prompts.canary,
            prompt_shingles=prompt_shingles(self.prompts.system_texts(), passages),
            support=lambda sentence, cited: self.supports(sentence, cited, question.language),
        )

    def _ai_answer(
        self, question: Question, merged: SearchResult, hits: list[Hit], checked: Checked
    ) -> Answer:
        by_ref = {n: h for n, h in enumerate(hits, 1)}
        cited = sorted(checked.cited)
        picked = self.base.quotes_for([by_ref[r] for r in cited], merged)
        sources: list[Source] = []
        for ref in cited:
            hit = by_ref[ref]
            own = [q for q in checked.quotes.get(ref, ()) if len(words(q)) >= SHORT_QUOTE_WORDS]
            sources.append(source_of(hit, own[0] if own else picked.get(hit.chunk.id, ""), ref))
        shown = {by_ref[r].section_key for r in cited}
        for hit in merged.hits[: self.search.params.sections]:
            if hit.section_key not in shown:
                sources.append(source_of(hit, ""))
                shown.add(hit.section_key)
        framing = phrase("ai_answered", question.language)
        if question.notice:
            framing = phrase("truncated", question.language, limit=MAX_QUESTION_CHARS) + " " + framing
        return Answer(
            question.text, question.language, True, framing, sources, question.notice,
            ai_text=checked.text, ai_model=self.model_name, prompt_version=self.prompts.version,
        )

    # -- support: is a sentence close to what the passages it cites say? ----------------------
    def supports(self, sentence: str, passages: Sequence[Passage], language: str | None = None) -> bool:
        """Is ``sentence`` close in meaning to a sentence of ``passages``? A Dutch sentence must
        also share most of its content words with them: closeness in meaning alone lets a
        topical but invented claim through ("de ketenregisseur mag partners uitsluiten")."""
        language = language or detect_language(sentence)
        if language == "nl":
            own = {stem(w) for w in content_words(sentence)}
            theirs = {stem(w) for p in passages for w in content_words(p.text)}
            if own and len(own & theirs) / len(own) < SUPPORT_WORDS:
                return False
        sentences = [p.text[a:b] for p in passages for a, b in split_sentences(p.text)]
        if not sentences:
            return False
        vector = np.array(self.search.embeddings.embed_query(sentence))
        vectors = self.base.sentence_vectors(sentences)
        unit = vector / (np.linalg.norm(vector) + 1e-9)
        best = max(float(vectors[s] @ unit) for s in sentences)
        return best >= SUPPORT_DENSE

    def _record(self, outcome: str, reason: str, started: float, timing: _Timing) -> None:
        key = f"{outcome}:{reason}" if reason else outcome
        with self._lock:
            self.outcomes[key] += 1
        if self.observer is not None:
            total = self.clock() - started
            self.observer({"outcome": outcome, "reason": reason, "total_s": total, "model_s": timing.model_s})


def _in_scope(result: SearchResult, margin: float) -> bool:
    return (
        not result.unknown_topics
        and result.inside >= MIN_INSIDE
        and result.outside - result.inside < margin
    )


def merge(results: Sequence[SearchResult]) -> SearchResult:
    """One result from the searches of several phrasings: each section's best hit from the
    grounded searches (all searches when none is grounded)."""
    first = results[0]
    use = [r for r in results if r.grounded] or list(results)
    best: dict[tuple[str, str], Hit] = {}
    for result in use:
        for hit in result.hits:
            if hit.section_key not in best or best[hit.section_key].score < hit.score:
                best[hit.section_key] = hit
    hits = sorted(best.values(), key=lambda h: h.score, reverse=True)
    text = " ".join(dict.fromkeys(r.question for r in results))
    vector = first.vector if len(results) == 1 else ()
    return replace(first, question=text, hits=hits, grounded=any(r.grounded for r in results), vector=vector)


_BULLET = re.compile(r"^\s*(?:[-*•]+|\d{1,2}[.)])\s*")


def parse_queries(text: str, question: str) -> list[str]:
    """Up to three search queries from the model's lines, cleaned; anything odd is dropped."""
    out: list[str] = []
    for line in (text or "").splitlines():
        query = _BULLET.sub("", line).strip().strip("\"'„”“").strip()
        if not query or "://" in query or "<" in query or query.upper() in ("NIET_GEDEKT", "NOT_COVERED"):
            continue
        query = query[:MAX_QUERY_CHARS]
        if query.lower() != question.lower() and query not in out:
            out.append(query)
        if len(out) == MAX_QUERIES:
            break
    return out


def _passage(ref: int, hit: Hit) -> Passage:
    body = hit.chunk.text[int(hit.chunk.metadata.get("body_start", 0)) :]
    return Passage(ref=ref, text=body, section=str(hit.chunk.metadata.get("section", "")))


def _safe_progress(on_progress: Progress, text: str) -> None:
    try:
        on_progress(text)
    except Exception:  # showing progress is a courtesy; the answer goes on
        log.warning("progress update failed", exc_info=True)
