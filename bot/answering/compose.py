"""Question in, :class:`Answer` out, without any language model.

The answer quotes the sentences of the best sections that fit the question best,
word for word, each with document, section, link and licence. The only text the
bot writes itself is the short framing from :mod:`bot.answering.phrases`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from bot.answering.model import Answer, Source
from bot.answering.phrases import phrase
from bot.retrieval.hybrid import GuidanceSearch, Hit, SearchResult
from bot.retrieval.text import MAX_QUESTION_CHARS, clean_question, detect_language, index_terms, words

MAX_QUOTE_CHARS = 450
#: Sources scoring below this share of the best one are shown as "see also" links
#: without a quote: still pointed to, but not quoted as if they answered the question.
#: On the tuning pool this keeps 90% of right secondary quotes and drops 62% of wrong ones.
SEE_ALSO_RATIO = 0.8
# A sentence ends at . ! ? followed by white space and a capital, quote or digit; a
# line break always ends one (the guidance's table has one row per line).
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'‘“(\[A-Z0-9À-Ý])|\n+")


def split_sentences(body: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences in ``body``, so quotes stay verbatim."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(body):
        if body[start : m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if body[start:].strip():
        spans.append((start, len(body.rstrip())))
    return spans


@dataclass(frozen=True)
class Question:
    """A question ready to search: cleaned, cut to length, its languages known."""

    text: str
    language: str  # the language of the bot's words in the answer: "nl" or "en"
    search_language: str  # the language the question is written in
    notice: str = ""  # "truncated" when only the first part is used


class Answerer:
    def __init__(self, search: GuidanceSearch, cache_size: int = 20_000):
        self.search = search
        # sentence -> unit vector; the guidance's sentences are embedded once per process
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # Slack listeners answer on several threads

    def answer(self, raw_question: str, *, context: str = "", english: bool = False, **_: object) -> Answer:
        """Answer ``raw_question``.

        ``context``: an earlier question in the same conversation; used only when the question
        alone finds nothing grounded (a follow-up such as "and how long does that take?").
        ``english``: the asker prefers English (``/keten taal en``), so the bot's own words are
        English even for a Dutch question; quotes stay Dutch either way. Other keywords (a
        thread's history, a progress callback) are for the language-model answerer and unused here.
        """
        question = self.read(raw_question, english=english)
        if isinstance(question, Answer):
            return question
        return self.compose(question, self.retrieve(question, context))

    def read(self, raw_question: str, *, english: bool = False) -> Question | Answer:
        """The cleaned question and the languages to search and answer in, or at once the
        polite answer for an empty, wordless or other-language message."""
        question = clean_question(raw_question)
        base = "en" if english else "nl"
        if not question:
            return Answer("", base, False, phrase("empty", base), notice="empty")
        notice = ""
        if len(question) > MAX_QUESTION_CHARS:
            question, notice = question[:MAX_QUESTION_CHARS], "truncated"
        language = detect_language(question)
        if not words(question):
            return Answer(question, base, False, phrase("no_words", base), notice="no_words")
        if language == "other":
            return Answer(question, base, False, phrase("other_language", base), notice="other_language")
        return Question(question, "en" if english else language, language, notice)

    def retrieve(self, question: Question, context: str = "") -> SearchResult:
        result = self.search.search(question.text, question.search_language)
        if not result.grounded and context:
            widened = self.search.search(f"{clean_question(context)[:MAX_QUESTION_CHARS]} {question.text}")
            if widened.grounded:
                result = widened
        return result

    def compose(self, question: Question, result: SearchResult) -> Answer:
        """The quote-based answer: the best sentences of the best sections, word for word."""
        language, notice = question.language, question.notice
        prefix = phrase("truncated", language, limit=MAX_QUESTION_CHARS) + " " if notice else ""
        top = result.hits[: self.search.params.sections]
        if not result.grounded:
            pointers = [_source(h, "") for h in top]
            framing = prefix + phrase("not_covered", language)
            return Answer(question.text, language, False, framing, pointers, notice)
        quoted = [h for h in top if h.score >= SEE_ALSO_RATIO * top[0].score]
        quotes = self.quotes_for(quoted, result)
        sources = [_source(h, quotes.get(h.chunk.id, "")) for h in top]
        return Answer(question.text, language, True, prefix + phrase("answered", language), sources, notice)

    def quotes_for(self, hits: list[Hit], result: SearchResult) -> dict[str, str]:
        """Per hit (by chunk id), the one or two adjacent sentences that fit the question best."""
        return self._quotes(hits, result)

    def _quotes(self, hits: list[Hit], result: SearchResult) -> dict[str, str]:
        """Per hit, the one or two adjacent sentences of its chunk that fit the question best."""
        bodies = {}
        for hit in hits:
            body = hit.chunk.text[int(hit.chunk.metadata.get("body_start", 0)) :]
            spans = split_sentences(body)
            if spans:
                bodies[hit.chunk.id] = (body, spans)
        all_sentences = [body[a:b] for body, spans in bodies.values() for a, b in spans]
        vector = result.vector or self.search.embeddings.embed_query(result.question)
        query = _unit(np.array(vector))
        wanted = self._wanted_terms(result)
        with self._lock:
            vectors = self._vectors_for(all_sentences)
        return {
            cid: self._pick(body, spans, query, wanted, vectors) for cid, (body, spans) in bodies.items()
        }

    def _pick(
        self,
        body: str,
        spans: list[tuple[int, int]],
        query: np.ndarray,
        wanted: set[str],
        vectors: dict[str, np.ndarray],
    ) -> str:
        sentences = [body[a:b] for a, b in spans]
        scores = self._sentence_scores(sentences, query, wanted, vectors)
        best = int(np.argmax(scores))
        first, last = best, best
        # add a neighbour when it also fits, or when the best sentence is short on its own
        for n in (best + 1, best - 1):
            if 0 <= n < len(spans):
                fits = scores[n] >= 0.75 * scores[best]
                short = spans[best][1] - spans[best][0] < 120
                if (fits or short) and max(spans[last][1], spans[n][1]) - min(
                    spans[first][0], spans[n][0]
                ) <= MAX_QUOTE_CHARS:
                    first, last = min(first, n), max(last, n)
                    break
        quote = body[spans[first][0] : spans[last][1]].strip()
        if len(quote) > MAX_QUOTE_CHARS:  # one very long sentence: cut at a word, say so
            quote = quote[:MAX_QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
        return quote

    def _wanted_terms(self, result: SearchResult) -> set[str]:
        lex = self.search.lexical
        wanted = set(index_terms(result.question, lex.decompounder))
        return wanted | set(index_terms(" ".join(result.expansion.terms), lex.decompounder))

    def sentence_vectors(self, sentences: list[str]) -> dict[str, np.ndarray]:
        """Unit vectors of ``sentences`` from the per-process cache (thread-safe)."""
        with self._lock:
            return self._vectors_for(sentences)

    def _vectors_for(self, sentences: list[str]) -> dict[str, np.ndarray]:
        """Unit vectors of ``sentences``, embedding only those not seen before (caller holds the lock)."""
        missing = list(dict.fromkeys(s for s in sentences if s not in self._vectors))
        if missing:
            for sentence, vector in zip(
                missing, self.search.embeddings.embed_documents(missing), strict=True
            ):
                self._vectors[sentence] = _unit(np.array(vector))
        for sentence in sentences:
            self._vectors.move_to_end(sentence)
        found = {sentence: self._vectors[sentence] for sentence in sentences}
        while len(self._vectors) > self._cache_size:
            self._vectors.popitem(last=False)
        return found

    def _sentence_scores(
        self, sentences: list[str], query: np.ndarray, wanted: set[str], vectors: dict[str, np.ndarray]
    ) -> np.ndarray:
        lex = self.search.lexical
        lexical = np.array(
            [sum(lex.idf(t) for t in set(index_terms(s, lex.decompounder)) & wanted) for s in sentences]
        )
        if lexical.max() > 0:
            lexical = lexical / lexical.max()
        dense = np.array([vectors[s] @ query for s in sentences])
        return 0.6 * lexical + 0.4 * dense


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / (np.linalg.norm(vector) + 1e-9)


def source_of(hit: Hit, quote: str, ref: int = 0) -> Source:
    """The :class:`Source` for a hit, quoting ``quote`` (``""``: a pointer without quote)."""
    return _source(hit, quote, ref)


def _source(hit: Hit, quote: str, ref: int = 0) -> Source:
    m = hit.chunk.metadata
    return Source(
        title=str(m.get("title", "")),
        section=str(m.get("section", "")),
        url=str(m.get("url", "")),
        licence=str(m.get("licence", "")),
        quote=quote,
        score=round(float(hit.score), 4),
        licence_url=str(m.get("licence_url", "")),
        attribution=str(m.get("attribution", "")),
        ref=ref,
    )
