"""From a parsed document to chunks that carry their provenance.

Sections are split along the document's own headings (the loaders did that);
long sections are cut further with LangChain's recursive splitter, on paragraph
and sentence boundaries. Each chunk's stored text starts with its section
heading, so both the embedding and the lexical index know where it stands;
``body_start`` tells where the quotable body begins.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import yaml
from langchain_text_splitters import RecursiveCharacterTextSplitter

from bot.ingest.model import ParsedDocument, Provenance

CHUNK_SIZE = 900
CHUNK_OVERLAP = 150
SIDECAR_SUFFIX = ".meta.yaml"

_SPLITTER = RecursiveCharacterTextSplitter(
    chunk_size=CHUNK_SIZE,
    chunk_overlap=CHUNK_OVERLAP,
    separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " "],
    keep_separator="end",
    strip_whitespace=True,
)


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str  # heading line (if any), blank line, then the verbatim body
    metadata: dict[str, str | int]


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> dict[str, str]:
    """Provenance from ``<file>.meta.yaml`` next to the document, if there is one."""
    side = sidecar_path(path)
    if not side.is_file():
        return {}
    data = yaml.safe_load(side.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{side.name}: expected 'key: value' lines")
    if "license" in data and "licence" not in data:
        data["licence"] = data.pop("license")
    return {str(k): str(v) for k, v in data.items() if v is not None}


def resolve_provenance(doc: ParsedDocument, sidecar: dict[str, str]) -> Provenance:
    """Sidecar wins over what the file says about itself, which wins over defaults."""
    merged = {**doc.meta, **sidecar}
    return Provenance(
        title=merged.get("title") or doc.title or Path(doc.path).stem,
        url=merged.get("url", ""),
        licence=merged.get("licence", ""),
        licence_url=merged.get("licence_url", ""),
        attribution=merged.get("attribution", ""),
        section_anchors=merged.get("section_anchors", ""),
    )


def section_url(prov: Provenance, heading: str) -> str:
    if not prov.url or not heading or prov.section_anchors != "mediawiki":
        return prov.url
    anchor = quote(heading.replace(" ", "_"), safe="_-.:'()")
    return f"{prov.url}#{anchor}"


def chunk_document(doc: ParsedDocument, prov: Provenance, doc_hash: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for s_index, section in enumerate(doc.sections):
        # Text before the first heading stands under the document's own title.
        context = section.heading or doc.title
        prefix = f"{context}\n\n" if context else ""
        for c_index, body in enumerate(_SPLITTER.split_text(section.text)):
            text = prefix + body
            key = "\x1f".join([doc.path, section.heading, text, repr(prov)])
            chunk_id = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
            if chunk_id in seen:  # the same text twice under one heading: index it once
                continue
            seen.add(chunk_id)
            chunks.append(
                Chunk(
                    id=chunk_id,
                    text=text,
                    metadata={
                        "doc_path": doc.path,
                        "doc_hash": doc_hash,
                        "title": prov.title,
                        "section": section.heading,
                        "section_index": s_index,
                        "chunk_index": c_index,
                        "url": section_url(prov, section.heading),
                        "licence": prov.licence,
                        "licence_url": prov.licence_url,
                        "attribution": prov.attribution,
                        "body_start": len(prefix),
                    },
                )
            )
    return chunks
