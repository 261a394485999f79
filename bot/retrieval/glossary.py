"""The search glossary: everyday and English words mapped to the guidance's own Dutch words.

It widens lexical search and bridges English questions to the Dutch text. It never
changes what is quoted. Loaded from ``glossary.yaml`` in the knowledge folder.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

GLOSSARY_FILE = "glossary.yaml"


@dataclass(frozen=True)
class Expansion:
    """What the glossary found in a question."""

    terms: tuple[str, ...]  # Dutch words to add to the search
    covered: frozenset[str]  # lower-cased question words that a glossary term matched


class Glossary:
    def __init__(
        self,
        entries: list[tuple[re.Pattern[str], tuple[str, ...]]],
        topic_words: frozenset[str] = frozenset(),
    ):
        self._entries = entries
        self.topic_words = topic_words

    @classmethod
    def empty(cls) -> Glossary:
        return cls([])

    @classmethod
    def from_yaml(cls, text: str) -> Glossary:
        data = yaml.safe_load(text) or []
        entries = []
        topic_words: set[str] = set()
        for i, entry in enumerate(data):
            if isinstance(entry, dict) and "topic_words" in entry:
                topic_words.update(str(w).lower() for w in entry["topic_words"] or [])
                continue
            if not isinstance(entry, dict) or not entry.get("terms") or not entry.get("expand"):
                raise ValueError(f"glossary entry {i + 1} needs 'terms' and 'expand' lists")
            pattern = "|".join(_term_pattern(str(t)) for t in entry["terms"])
            entries.append(
                (re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE),
                 tuple(str(e).lower() for e in entry["expand"]))
            )
        return cls(entries, frozenset(topic_words))

    @classmethod
    def load(cls, knowledge_dir: Path) -> Glossary:
        path = knowledge_dir / GLOSSARY_FILE
        if not path.is_file():
            return cls.empty()
        try:
            return cls.from_yaml(path.read_text(encoding="utf-8"))
        except (ValueError, yaml.YAMLError) as exc:
            log.warning("Glossary %s not used: %s", path, exc)
            return cls.empty()

    def expand(self, question: str) -> Expansion:
        terms: list[str] = []
        covered: set[str] = set()
        for pattern, expansion in self._entries:
            hits = list(pattern.finditer(question))
            if not hits:
                continue
            terms.extend(t for t in expansion if t not in terms)
            for hit in hits:
                covered.update(w.lower() for w in re.findall(r"\w+", hit.group(0)))
        return Expansion(tuple(terms), frozenset(covered))


def _term_pattern(term: str) -> str:
    term = term.strip().lower()
    prefix = term.endswith("*")
    parts = [re.escape(p) for p in term.rstrip("*").split()]
    body = r"[\s-]+".join(parts)
    return body + (r"\w*" if prefix else "")
