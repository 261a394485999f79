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
    ref: int = 0  # the number a language model's text cites this quote by; 0: numbered in order

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
    # Text a language model wrote (issue 7), citing the quotes by number ([1] is the first
    # quote). Empty for quote-based answers. Always shown labelled as AI-written.
    ai_text: str = ""
    ai_model: str = ""  # which model wrote ai_text, for the label and the records
    prompt_version: str = ""  # which prompt files produced it

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
        if self.ai_text:
            label = AI_LABEL[self.language if self.language in AI_LABEL else "nl"]
            lines += ["", f"{label} ({self.ai_model}):", self.ai_text]
        for n, s in enumerate(self.quotes, 1):
            lines += ["", f"[{s.ref or n}] „{s.quote}”", f"    {s.place}"]
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
        data = {
            "question": self.question,
            "language": self.language,
            "answered": self.answered,
            "answer": self.as_text(),
            "sources": [
                {k: v for k, v in asdict(s).items() if k in _JSON_SOURCE_KEYS} for s in self.sources
            ],
        }
        if self.ai_text:  # only then: the quote-based shape stays as it was
            data["ai_text"], data["ai_model"] = self.ai_text, self.ai_model
            for shown, source in zip(data["sources"], self.sources, strict=True):
                shown["ref"] = source.ref
        return data


_JSON_SOURCE_KEYS = ("title", "section", "url", "licence", "quote", "score")
SEE_ALSO = {"nl": "Zie ook:", "en": "See also:"}
#: Said before every text a language model wrote (AI Act art. 50: people are told which text
#: an AI system wrote).
AI_LABEL = {
    "nl": "AI-tekst, geschreven door een taalmodel op basis van de citaten hieronder",
    "en": "AI-written text, by a language model from the quotes below",
}
