"""The check-in's wording, from ``prompts/checkin.yaml``, and the provenance of its quotes.

Two kinds of text come out of here and must never be mixed up:

- the bot's own words (labels and questions, Dutch and English), and
- verbatim cells of the guidance's table 'Ontwikkelstadia van ketens' (CC BY-ND 3.0). They are
  shown word for word in Dutch, also to English users, with title, section link and licence.

Loading checks the file's shape (a missing key raises ValueError naming it) and that every
quote still occurs word for word in the knowledge document, so a reworded quote never reaches
Slack.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.checkins.model import DIMENSIONS, FREE_TEXT, PULSE, STAGES
from bot.ingest.chunks import read_sidecar, section_url
from bot.ingest.model import Provenance

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "prompts" / "checkin.yaml"
DEFAULT_KNOWLEDGE_DIR = REPO_ROOT / "knowledge"
LANGUAGES = ("nl", "en")

#: Shown under a round's summary so that cultural embedding never reads as the target. A
#: verbatim passage of the section 'Ontwikkelstadia van ketens' (it includes the sentence that
#: "Dat laatste" refers to); checked against the document when loading.
NOT_ALWAYS_NEEDED_QUOTE = (
    "Het bereiken van culturele verankering is een proces van jaren. Dat laatste is ook niet altijd "
    "nodig. Vaak kan het bij de procedure georiënteerde fase blijven."
)


def lang(language: str | None) -> str:
    """English for "en", Dutch for everything else."""
    return "en" if language == "en" else "nl"


@dataclass(frozen=True)
class Stage:
    key: str
    names: dict[str, str]  # language -> the bot's name for the stage


@dataclass(frozen=True)
class Dimension:
    key: str
    labels: dict[str, str]  # language -> short label (bot's words)
    questions: dict[str, str]  # language -> question (bot's words)
    quotes: dict[str, str]  # stage key -> verbatim table cell (Dutch, never translated)


@dataclass(frozen=True)
class PulseItem:
    key: str
    questions: dict[str, str]
    low: dict[str, str]  # anchor for 1
    high: dict[str, str]  # anchor for 5


@dataclass(frozen=True)
class FreeTextItem:
    key: str
    labels: dict[str, str]


@dataclass(frozen=True)
class QuoteSource:
    """Where the quotes come from: enough for the credit line under every quote."""

    document: str  # file name in the knowledge folder
    section: str  # heading of the section the quotes stand in
    provenance: Provenance

    @property
    def url(self) -> str:
        """Link to the section itself (mediawiki anchor), or to the document."""
        return section_url(self.provenance, self.section)

    @property
    def place(self) -> str:
        """"Title — Section", as answers show it."""
        return f"{self.provenance.title} — {self.section}"


@dataclass(frozen=True)
class CheckinContent:
    stages: tuple[Stage, ...]
    dont_know: dict[str, str]
    dimensions: tuple[Dimension, ...]
    pulse: tuple[PulseItem, ...]
    setback: dict[str, str]
    free_text: tuple[FreeTextItem, ...]
    source: QuoteSource
    #: Verbatim passage saying not every chain needs cultural embedding (for summaries).
    not_always_needed: str = NOT_ALWAYS_NEEDED_QUOTE

    # Accessors; ``language`` is anything, "en" gives English and the rest Dutch.

    def stage_name(self, stage: str, language: str) -> str:
        return _by_key(self.stages, stage).names[lang(language)]

    def dont_know_label(self, language: str) -> str:
        return self.dont_know[lang(language)]

    def dimension(self, key: str) -> Dimension:
        return _by_key(self.dimensions, key)

    def dimension_label(self, key: str, language: str) -> str:
        return self.dimension(key).labels[lang(language)]

    def dimension_question(self, key: str, language: str) -> str:
        return self.dimension(key).questions[lang(language)]

    def quote(self, dimension: str, stage: str) -> str:
        """The verbatim table cell; the same in every language."""
        return self.dimension(dimension).quotes[stage]

    def pulse_item(self, key: str) -> PulseItem:
        return _by_key(self.pulse, key)

    def pulse_question(self, key: str, language: str) -> str:
        return self.pulse_item(key).questions[lang(language)]

    def pulse_anchors(self, key: str, language: str) -> tuple[str, str]:
        item = self.pulse_item(key)
        return item.low[lang(language)], item.high[lang(language)]

    def setback_question(self, language: str) -> str:
        return self.setback[lang(language)]

    def free_text_label(self, key: str, language: str) -> str:
        return _by_key(self.free_text, key).labels[lang(language)]

    def all_quotes(self) -> list[str]:
        """Every verbatim passage this content shows."""
        cells = [d.quotes[s] for d in self.dimensions for s in STAGES]
        return [*cells, self.not_always_needed]


def _by_key(items: tuple[Any, ...], key: str) -> Any:
    for item in items:
        if item.key == key:
            return item
    raise KeyError(key)


class _Reader:
    """Walks the parsed yaml and names the full path of whatever is missing or wrong."""

    def __init__(self, origin: str):
        self.origin = origin

    def fail(self, where: str, problem: str) -> ValueError:
        return ValueError(f"{self.origin}: {problem} at '{where}'")

    def mapping(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where or "(top level)", "expected 'key: value' lines")
        return data

    def get(self, data: dict[str, Any], key: str, where: str) -> Any:
        path = f"{where}.{key}" if where else key
        if key not in data or data[key] is None:
            raise self.fail(path, f"missing key '{key}'")
        return data[key]

    def text(self, data: dict[str, Any], key: str, where: str) -> str:
        path = f"{where}.{key}" if where else key
        value = self.get(data, key, where)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "expected non-empty text")
        return value.strip()

    def langs(self, data: dict[str, Any], key: str, where: str) -> dict[str, str]:
        path = f"{where}.{key}" if where else key
        block = self.mapping(self.get(data, key, where), path)
        return {language: self.text(block, language, path) for language in LANGUAGES}

    def keyed_list(self, data: dict[str, Any], key: str, expected: tuple[str, ...]) -> list[dict[str, Any]]:
        items = self.get(data, key, "")
        if not isinstance(items, list):
            raise self.fail(key, "expected a list")
        entries = [self.mapping(item, f"{key}[{i}]") for i, item in enumerate(items)]
        keys = tuple(self.text(e, "key", f"{key}[{i}]") for i, e in enumerate(entries))
        if keys != expected:
            raise self.fail(key, f"expected keys {list(expected)} in this order, found {list(keys)}")
        return entries


def _parse(data: Any, origin: str, knowledge_dir: Path) -> CheckinContent:
    r = _Reader(origin)
    top = r.mapping(data, "")
    src = r.mapping(r.get(top, "source", ""), "source")
    document = r.text(src, "document", "source")
    section = r.text(src, "section", "source")

    stages = tuple(
        Stage(key=e["key"], names={language: r.text(e, language, f"stages[{i}]") for language in LANGUAGES})
        for i, e in enumerate(r.keyed_list(top, "stages", STAGES))
    )
    dimensions = []
    for i, e in enumerate(r.keyed_list(top, "dimensions", DIMENSIONS)):
        where = f"dimensions[{i}]"
        per_lang = {lg: r.mapping(r.get(e, lg, where), f"{where}.{lg}") for lg in LANGUAGES}
        quotes_block = r.mapping(r.get(e, "quote", where), f"{where}.quote")
        dimensions.append(
            Dimension(
                key=e["key"],
                labels={lg: r.text(per_lang[lg], "label", f"{where}.{lg}") for lg in LANGUAGES},
                questions={lg: r.text(per_lang[lg], "question", f"{where}.{lg}") for lg in LANGUAGES},
                quotes={s: r.text(quotes_block, s, f"{where}.quote") for s in STAGES},
            )
        )
    pulse = tuple(
        PulseItem(
            key=e["key"],
            questions={lg: r.text(e, lg, f"pulse[{i}]") for lg in LANGUAGES},
            low=r.langs(e, "low", f"pulse[{i}]"),
            high=r.langs(e, "high", f"pulse[{i}]"),
        )
        for i, e in enumerate(r.keyed_list(top, "pulse", PULSE))
    )
    free_text = tuple(
        FreeTextItem(key=e["key"], labels={lg: r.text(e, lg, f"free_text[{i}]") for lg in LANGUAGES})
        for i, e in enumerate(r.keyed_list(top, "free_text", FREE_TEXT))
    )
    content = CheckinContent(
        stages=stages,
        dont_know=r.langs(top, "dont_know", ""),
        dimensions=tuple(dimensions),
        pulse=pulse,
        setback=r.langs(top, "setback", ""),
        free_text=free_text,
        source=_quote_source(knowledge_dir, document, section),
    )
    _check_verbatim(content, knowledge_dir / document)
    return content


def _quote_source(knowledge_dir: Path, document: str, section: str) -> QuoteSource:
    doc_path = knowledge_dir / document
    meta = read_sidecar(doc_path)
    for key in ("title", "url", "licence"):
        if not meta.get(key):
            raise ValueError(
                f"{doc_path.name}.meta.yaml: missing key '{key}' (needed to credit the check-in's quotes)"
            )
    prov = Provenance(
        title=meta["title"],
        url=meta["url"],
        licence=meta["licence"],
        licence_url=meta.get("licence_url", ""),
        attribution=meta.get("attribution", ""),
        section_anchors=meta.get("section_anchors", ""),
    )
    return QuoteSource(document=document, section=section, provenance=prov)


def _check_verbatim(content: CheckinContent, doc_path: Path) -> None:
    if not doc_path.is_file():
        raise ValueError(f"{doc_path}: the document the check-in quotes from is missing")
    text = doc_path.read_text(encoding="utf-8")
    if content.source.section not in text:
        raise ValueError(f"{doc_path.name}: no section '{content.source.section}'")
    for quote in content.all_quotes():
        if quote not in text:
            raise ValueError(f"{doc_path.name}: quote is not verbatim in the document: {quote!r}")


def load_checkin_content(path: Path | None = None, knowledge_dir: Path | None = None) -> CheckinContent:
    """Read and check ``path`` (default ``prompts/checkin.yaml``) against ``knowledge_dir``.

    Raises ValueError naming the file and key when something is missing or malformed, when the
    document's ``.meta.yaml`` lacks title/url/licence, or when a quote is not verbatim.
    """
    path = path or DEFAULT_PATH
    knowledge_dir = knowledge_dir or DEFAULT_KNOWLEDGE_DIR
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name}: not valid YAML: {exc}") from exc
    return _parse(data, path.name, knowledge_dir)


@functools.cache
def default_content() -> CheckinContent:
    """The repository's check-in content, loaded once."""
    return load_checkin_content()
