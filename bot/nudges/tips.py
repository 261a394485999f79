"""Ketenbot's tip library, from ``prompts/tips.yaml``, and choosing the next tip to give.

Each tip is the bot's own short advice (Dutch and English) grounded in one passage of the
guidance. The passage (``quote``) is shown word for word in Dutch, also to English users,
with title, section link and licence (CC BY-ND 3.0: never reworded or translated).

``load_tips`` checks the whole file: a missing language, an unknown tag value, a duplicate id,
a quote that is not found word for word in its section, or a section that is not a heading of
the document raises ValueError naming the tip's id, so a broken tip never reaches Slack.

``pick`` chooses a tip: after a signal (setback, low trust, ...) one tagged with that signal,
otherwise a general tip that fits the chain's stage; it rotates through the fitting tips
without repeats before starting over.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.checkins.model import DIMENSIONS, STAGES
from bot.ingest.chunks import read_sidecar, resolve_provenance, section_url
from bot.ingest.loaders import load_document
from bot.ingest.model import Provenance

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "prompts" / "tips.yaml"
DEFAULT_KNOWLEDGE_DIR = REPO_ROOT / "knowledge"
DEFAULT_DOCUMENT = "nora-implementatie-van-ketensturing.txt"
LANGUAGES = ("nl", "en")
LEVELS: tuple[str, ...] = ("operationeel", "tactisch", "strategisch")
SIGNALS: tuple[str, ...] = ("setback", "low_trust", "control_reflex", "stage_drop", "long_silence")
#: Allowed values per tag; an empty list means "any" (for ``signals``: a general tip).
TAG_VALUES: dict[str, tuple[str, ...]] = {
    "stages": STAGES, "dimensions": DIMENSIONS, "levels": LEVELS, "signals": SIGNALS,
}
TIP_KEYS = frozenset({"id", *LANGUAGES, "quote", "section", "tags"})
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Tip:
    id: str
    nl: str
    en: str
    quote: str  # verbatim Dutch passage of the guidance
    section: str  # heading the quote stands under; "" = the introduction
    stages: tuple[str, ...]
    dimensions: tuple[str, ...]
    levels: tuple[str, ...]
    signals: tuple[str, ...]
    provenance: Provenance

    def text(self, language: str | None) -> str:
        """The bot's own advice: English for "en", Dutch for everything else."""
        return self.en if language == "en" else self.nl

    @property
    def url(self) -> str:
        """Link to the section itself (mediawiki anchor), or to the document."""
        return section_url(self.provenance, self.section)

    @property
    def place(self) -> str:
        """"Title — Section", as answers show it (just the title for the introduction)."""
        title = self.provenance.title
        return f"{title} — {self.section}" if self.section else title

    @property
    def licence(self) -> str:
        return self.provenance.licence

    @property
    def licence_url(self) -> str:
        return self.provenance.licence_url

    @property
    def attribution(self) -> str:
        return self.provenance.attribution

    @property
    def general(self) -> bool:
        """A tip for any week, not tied to a signal."""
        return not self.signals

    def fits_stage(self, stage: str | None) -> bool:
        return stage is None or not self.stages or stage in self.stages


def load_tips(path: Path | None = None, knowledge_dir: Path | None = None) -> tuple[Tip, ...]:
    """Read and check the tip library; any problem raises ValueError naming the tip id."""
    path = Path(path) if path is not None else DEFAULT_PATH
    knowledge_dir = Path(knowledge_dir) if knowledge_dir is not None else DEFAULT_KNOWLEDGE_DIR
    origin = path.name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{origin}: expected 'version', 'source' and 'tips' at the top level")
    if not isinstance(data.get("version"), int):
        raise ValueError(f"{origin}: missing or non-integer 'version'")
    document = str(data.get("source") or DEFAULT_DOCUMENT)
    doc_path = knowledge_dir / document
    if not doc_path.is_file():
        raise ValueError(f"{origin}: source document {document!r} not found in {knowledge_dir}")
    doc = load_document(doc_path, document)
    provenance = resolve_provenance(doc, read_sidecar(doc_path))
    sections = {s.heading: s.text for s in doc.sections}

    items = data.get("tips")
    if not isinstance(items, list) or not items:
        raise ValueError(f"{origin}: expected a non-empty list under 'tips'")
    tips: list[Tip] = []
    seen: set[str] = set()
    for n, item in enumerate(items):
        tip = _parse_tip(item, f"{origin}: tip #{n + 1}", sections, provenance)
        if tip.id in seen:
            raise ValueError(f"{origin}: duplicate tip id '{tip.id}'")
        seen.add(tip.id)
        tips.append(tip)
    return tuple(tips)


def _parse_tip(item: Any, where: str, sections: dict[str, str], provenance: Provenance) -> Tip:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected 'key: value' lines")
    tip_id = item.get("id")
    if not isinstance(tip_id, str) or not _ID_RE.match(tip_id):
        raise ValueError(f"{where}: missing or malformed 'id' (a lowercase slug): {tip_id!r}")

    def fail(problem: str) -> ValueError:
        return ValueError(f"{where} (id '{tip_id}'): {problem}")

    unknown = set(item) - TIP_KEYS
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)}")
    texts = {}
    for language in LANGUAGES:
        value = item.get(language)
        if not isinstance(value, str) or not value.strip():
            raise fail(f"missing text in language '{language}'")
        texts[language] = " ".join(value.split())
    quote = item.get("quote")
    if not isinstance(quote, str) or not quote.strip():
        raise fail("missing 'quote'")
    section = item.get("section")
    if not isinstance(section, str):
        raise fail("missing 'section' (the heading the quote stands under)")
    if section not in sections:
        raise fail(f"section {section!r} is not a heading of the document")
    if quote not in sections[section]:
        raise fail(f"quote not found word for word in section {section!r}: {quote[:60]!r}...")
    for language, text in texts.items():
        if quote in text or text == quote:
            raise fail(f"text '{language}' repeats the quote; a tip is the bot's own words")
    tags = item.get("tags")
    if not isinstance(tags, dict):
        raise fail("missing 'tags'")
    unknown_tags = set(tags) - set(TAG_VALUES)
    if unknown_tags:
        raise fail(f"unknown tag kinds {sorted(unknown_tags)}")
    values: dict[str, tuple[str, ...]] = {}
    for kind, allowed in TAG_VALUES.items():
        raw = tags.get(kind, [])
        if raw is None:
            raw = []
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise fail(f"tags.{kind} must be a list of names")
        bad = [v for v in raw if v not in allowed]
        if bad:
            raise fail(f"unknown tags.{kind} value(s) {bad}; allowed: {list(allowed)}")
        if len(set(raw)) != len(raw):
            raise fail(f"tags.{kind} lists a value twice")
        values[kind] = tuple(raw)
    if not values["levels"]:
        raise fail("tags.levels must name at least one level")
    return Tip(
        id=tip_id, nl=texts["nl"], en=texts["en"], quote=quote, section=section,
        stages=values["stages"], dimensions=values["dimensions"], levels=values["levels"],
        signals=values["signals"], provenance=provenance,
    )


def fitting(tips: Iterable[Tip], *, signals: Iterable[str] = (), stage: str | None = None) -> list[Tip]:
    """The tips ``pick`` chooses from, in library order.

    With signals: every tip tagged with any of them (narrowed to those fitting ``stage``
    when that leaves any). Without: the general tips that fit ``stage`` (or any stage).
    """
    tips = list(tips)
    wanted = set(signals)
    unknown = wanted - set(SIGNALS)
    if unknown:
        raise ValueError(f"unknown signal(s) {sorted(unknown)}; known: {list(SIGNALS)}")
    if wanted:
        pool = [t for t in tips if wanted & set(t.signals)]
        staged = [t for t in pool if t.fits_stage(stage)]
        return staged or pool
    return [t for t in tips if t.general and t.fits_stage(stage)]


def pick(
    tips: Iterable[Tip],
    *,
    signals: Iterable[str] = (),
    stage: str | None = None,
    used: Iterable[Tip | str] = (),
    rng: random.Random | None = None,
) -> Tip | None:
    """A fitting tip not in ``used`` (tips or ids); once all fitting ones were used, start over.

    Returns None only when no tip fits at all. Deterministic for a given ``random.Random``.
    """
    pool = fitting(tips, signals=signals, stage=stage)
    if not pool:
        return None
    used_ids = {u.id if isinstance(u, Tip) else str(u) for u in used}
    fresh = [t for t in pool if t.id not in used_ids]
    return (rng or random.Random()).choice(fresh or pool)
