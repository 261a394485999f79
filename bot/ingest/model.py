"""Plain data that ingestion produces: a parsed document and its sections.

Nothing here knows about files, Chroma or Slack; loaders fill these in and the
indexer consumes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Provenance:
    """Where a document comes from and under which terms it may be quoted."""

    title: str
    url: str = ""
    licence: str = ""
    licence_url: str = ""
    attribution: str = ""
    # How section links are formed: "mediawiki" appends "#Heading_with_underscores"
    # to ``url``; "" links every section to ``url`` itself.
    section_anchors: str = ""


@dataclass(frozen=True)
class Section:
    """A stretch of text under one heading, as written in the document.

    ``heading`` is "" for text before the first heading.
    """

    heading: str
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    """One knowledge file after parsing, before chunking."""

    path: str  # relative to the knowledge folder, with forward slashes
    title: str  # the document's own title (first title line / <title> / H1 / Title style)
    sections: list[Section] = field(default_factory=list)
    # Provenance found inside the file itself (Markdown front matter, HTML <meta>):
    # keys among title, url, licence, licence_url, attribution, section_anchors.
    meta: dict[str, str] = field(default_factory=dict)
