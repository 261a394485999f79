"""The answer as plain data: what any surface (console, Slack, JSON) renders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Source:
    """A verbatim quote from a guidance document and where it stands."""

    title: str
    section: str  # heading as written in the document; "" before the first heading
    url: str
    licence: str
    quote: str  # word for word from the document; "" for a nearest-section pointer
    score: float
    licence_url: str = ""
    attribution: str = ""

    @property
    def place(self) -> str:
        return f"{self.title} — {self.section}" if self.section else self.title


@dataclass(frozen=True)
class Answer:
    question: str
    language: str  # "nl" or "en": the language the bot's own words are in
    answered: bool  # True only when grounded quotes answer the question
    # The bot's own words (never guidance text): framing, or why there is no answer.
    framing: str
    sources: list[Source] = field(default_factory=list)
    # Why the question was not searched as given: "", "empty", "no_words",
    # "other_language", "truncated" (answered from the first part only).
    notice: str = ""

    @property
    def quotes(self) -> list[Source]:
        return [s for s in self.sources if s.quote]

    @property
    def pointers(self) -> list[Source]:
        """Sections pointed to without a quote: nearest sections, or "see also"."""
        return [s for s in self.sources if not s.quote]

    def as_text(self) -> str:
        """Plain-text rendering; the bot's words and quotes stay visibly apart."""
        lines = [f"Ketenbot: {self.framing}"]
        for n, s in enumerate(self.quotes, 1):
            lines += ["", f"[{n}] „{s.quote}”", f"    {s.place}"]
            if s.url:
                lines.append(f"    {s.url}")
            if s.licence:
                by = f"{s.attribution}, " if s.attribution else ""
                lines.append(f"    {by}{s.licence}")
        if self.pointers:
            if self.quotes:
                lines += ["", "Ketenbot: " + SEE_ALSO[self.language if self.language in SEE_ALSO else "nl"]]
            for s in self.pointers:
                lines.append(f"- {s.place}" + (f" — {s.url}" if s.url else ""))
        return "\n".join(lines)

    def as_json_dict(self) -> dict:
        """The stable ``ketenbot ask --json`` shape."""
        return {
            "question": self.question,
            "language": self.language,
            "answered": self.answered,
            "answer": self.as_text(),
            "sources": [
                {k: v for k, v in asdict(s).items() if k in _JSON_SOURCE_KEYS} for s in self.sources
            ],
        }


_JSON_SOURCE_KEYS = ("title", "section", "url", "licence", "quote", "score")
SEE_ALSO = {"nl": "Zie ook:", "en": "See also:"}
