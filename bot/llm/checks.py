"""Code that checks what a language model wrote before anyone sees it.

The model is told the rules in ``prompts/llm/answer.yaml``, but nothing here trusts that it
followed them: a model can be wrong, or steered by text planted in a question or a document.
An answer passes only when

- every sentence cites one or more of the numbered passages, and only those;
- every text between quote marks stands word for word in a passage the sentence cites;
- every sentence is close in meaning to a passage it cites (``support``);
- it is in the asker's language, short, without links, mentions or code;
- it repeats neither the system prompt nor its secret marker.

Anything else raises :class:`Rejected`, and the asker gets the quote-based answer instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bot.retrieval.text import detect_language, words

MAX_ANSWER_CHARS = 1500
MAX_SENTENCES = 8
NOT_COVERED = ("NIET_GEDEKT", "NOT_COVERED")
#: A line that only leads in ("Kort gezegd:") may go without a citation; it claims nothing.
LEAD_IN_WORDS = 6
#: Quoted text of at least this many words must stand verbatim in a cited passage; shorter
#: quoted words (a term such as "hiërarchiestuip" in an English answer) in any passage.
SHORT_QUOTE_WORDS = 3
SHINGLE = 6  # words in a row that, when shared with the system prompt, count as a leak

_CITATION = re.compile(r"\[(\d{1,2}(?:\s*[,;]\s*\d{1,2})*)\]")
# „...” is what the prompt asks for; “...” and "..." are accepted and checked the same way
_QUOTED = re.compile(r"„([^”“\"]+)[”“\"]|“([^”]+)”|\"([^\"]+)\"")
_LINK = re.compile(r"(?i)\b(?:https?://|ftp://|www\.|mailto:)|\b[a-z0-9-]+\.(?:nl|com|org|net|io|eu|ly|me)\b")
_MENTION = re.compile(r"(?i)<[@#!]|@(?:channel|here|everyone)\b|<https?:")
_CODE = re.compile(r"```|<script|<iframe|\]\(")  # code blocks, html, markdown links
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_LEADING_CITATIONS = re.compile(r"^((?:\[[\d,; ]+\]\s*)+)(.*)$", re.S)


class Rejected(ValueError):
    """The model's text fails a check; ``reason`` is a short code for logs and figures."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Passage:
    """A retrieved passage as numbered for the model."""

    ref: int
    text: str
    section: str = ""


@dataclass(frozen=True)
class Checked:
    """A text that passed every check."""

    text: str
    covered: bool = True  # False: the model said the passages do not answer the question
    cited: tuple[int, ...] = ()  # passage numbers in order of first citation
    quotes: dict[int, tuple[str, ...]] = field(default_factory=dict)  # verbatim quotes per passage


#: (sentence, cited passages) -> True when the passages support the sentence's meaning
Support = Callable[[str, Sequence[Passage]], bool]


@dataclass(frozen=True)
class Rules:
    """What a text is checked against, built once per question."""

    passages: Sequence[Passage]
    language: str  # "nl" or "en": the asker's language
    canary: str = ""
    prompt_shingles: frozenset[tuple[str, ...]] = frozenset()
    support: Support | None = None

    @property
    def by_ref(self) -> dict[int, Passage]:
        return {p.ref: p for p in self.passages}


def shingles(texts: Iterable[str], size: int = SHINGLE) -> frozenset[tuple[str, ...]]:
    found = set()
    for text in texts:
        toks = words(text)
        found.update(tuple(toks[i : i + size]) for i in range(len(toks) - size + 1))
    return frozenset(found)


def prompt_shingles(prompt_texts: Iterable[str], passages: Sequence[Passage]) -> frozenset[tuple[str, ...]]:
    """Runs of words from the system prompt that are not also in the passages (quoting a
    passage is allowed; repeating the prompt is not)."""
    return shingles(prompt_texts) - shingles(p.text for p in passages)


def check_answer(text: str, rules: Rules) -> Checked:
    """Check the model's whole answer; raise :class:`Rejected` on the first failure."""
    text = (text or "").strip()
    if not text:
        raise Rejected("empty")
    bare = text.strip(" .\n")
    if bare in NOT_COVERED:
        return Checked(text="", covered=False)
    if any(marker in text for marker in NOT_COVERED):
        raise Rejected("mixed_not_covered")
    if len(text) > MAX_ANSWER_CHARS:
        raise Rejected("too_long", str(len(text)))
    sentences = split_sentences(text)
    if len(sentences) > MAX_SENTENCES:
        raise Rejected("too_many_sentences", str(len(sentences)))
    cited: list[int] = []
    quotes: dict[int, list[str]] = {}
    for sentence in sentences:
        for ref, quote in check_sentence(sentence, rules):
            quotes.setdefault(ref, []).append(quote)
        for ref in citations(sentence):
            if ref not in cited:
                cited.append(ref)
    if not cited:
        raise Rejected("uncited")
    _check_language(text, rules.language)
    return Checked(text=text, cited=tuple(cited), quotes={k: tuple(v) for k, v in quotes.items()})


def check_sentence(sentence: str, rules: Rules) -> list[tuple[int, str]]:
    """Check one sentence; return the (passage, quote) pairs it quotes verbatim."""
    _check_safety(sentence, rules)
    refs = citations(sentence)
    plain = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", _CITATION.sub(" ", sentence))).strip()
    if not refs:
        if plain.endswith(":") and len(words(plain)) <= LEAD_IN_WORDS:
            return []
        raise Rejected("uncited", sentence[:80])
    by_ref = rules.by_ref
    unknown = [r for r in refs if r not in by_ref]
    if unknown:
        raise Rejected("bad_citation", str(unknown))
    cited = [by_ref[r] for r in refs]
    found = []
    for quote in quoted(sentence):
        short = len(words(quote)) < SHORT_QUOTE_WORDS
        ref = _term_in(quote, rules.passages) if short else _verbatim_in(quote, cited)
        if ref is None:
            raise Rejected("misquote", quote[:80])
        found.append((ref, quote))
    if rules.support is not None and len(words(plain)) >= 4 and not rules.support(plain, cited):
        raise Rejected("unsupported", sentence[:80])
    return found


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; a citation after the full stop ("... samen. [2]") stays with its
    sentence, and a full stop inside quote marks does not end one."""
    masked, spans = text, []
    for m in _QUOTED.finditer(text):
        spans.append((m.start(), m.end()))
    if spans:  # hide the quotes' insides from the sentence splitter, then put them back
        chars = list(text)
        for a, b in spans:
            for i in range(a, b):
                if chars[i] in ".!?…\n":
                    chars[i] = "\x00"
        masked = "".join(chars)
    out, start = [], 0
    for m in _SENTENCE_END.finditer(masked):
        piece = text[start : m.start()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    # citations at the start of a piece belong to the sentence before it ("... samen. [2] Dan")
    merged: list[str] = []
    for piece in out:
        m = _LEADING_CITATIONS.match(piece)
        if merged and m:
            merged[-1] = f"{merged[-1]} {m.group(1).strip()}"
            piece = m.group(2).strip()
        if piece and not (merged and not _CITATION.sub("", piece).strip(" .,;")):
            merged.append(piece)
        elif piece:
            merged[-1] = f"{merged[-1]} {piece}"
    return merged


def citations(sentence: str) -> list[int]:
    refs: list[int] = []
    for m in _CITATION.finditer(sentence):
        for part in re.split(r"[,;]", m.group(1)):
            n = int(part.strip())
            if n not in refs:
                refs.append(n)
    return refs


def quoted(sentence: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None).strip() for m in _QUOTED.finditer(sentence)]


def _norm(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", text).strip()


def _verbatim_in(quote: str, passages: Sequence[Passage]) -> int | None:
    """The passage holding ``quote`` word for word (pieces around an ellipsis each verbatim)."""
    pieces = [p.strip(" ,;:") for p in re.split(r"…|\.\.\.|\[\.\.\.\]", _norm(quote))]
    pieces = [p for p in pieces if p]
    if not pieces:
        return None
    for passage in passages:
        body = _norm(passage.text)
        if all(piece in body for piece in pieces):
            return passage.ref
        # a quote ending in the sentence's full stop still counts when the passage has it
        if all(piece.rstrip(".") in body for piece in pieces):
            return passage.ref
    return None


def _term_in(term: str, passages: Sequence[Passage]) -> int | None:
    wanted = _norm(term).lower().strip(" .,;:")
    for passage in passages:
        if wanted and wanted in _norm(passage.text).lower():
            return passage.ref
    return None


def _check_safety(sentence: str, rules: Rules) -> None:
    if _LINK.search(sentence):
        raise Rejected("link", sentence[:80])
    if _MENTION.search(sentence):
        raise Rejected("mention", sentence[:80])
    if _CODE.search(sentence):
        raise Rejected("markup", sentence[:80])
    if rules.canary and rules.canary.lower() in sentence.lower():
        raise Rejected("leak", "marker")
    if rules.prompt_shingles and shingles([sentence]) & rules.prompt_shingles:
        raise Rejected("leak", "prompt text")


def _check_language(text: str, language: str) -> None:
    """The model's own words (quotes and citations left out) are in the asker's language."""
    own = _CITATION.sub(" ", _QUOTED.sub(" ", text))
    if len(words(own)) < 4:
        return  # too little of its own to tell
    found = detect_language(own)
    if found != language:
        raise Rejected("language", f"{found} instead of {language}")
