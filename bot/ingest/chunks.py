"""From a parsed document to chunks that carry their provenance.

Sections are split along the document's own headings (the loaders did that);
long sections are cut further with LangChain's recursive splitter, on paragraph
and sentence boundaries. Each chunk's stored text starts with its section
heading, so both the embedding and the lexical index know where it stands;
``body_start`` tells where the quotable body begins.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import yaml
from langchain_text_splitters import RecursiveCharacterTextSplitter

from bot.ingest.model import ParsedDocument, Provenance

CHUNK_SIZE = 900
CHUNK_OVERLAP = 150
SIDECAR_SUFFIX = ".meta.yaml"
#: Anticipated questions per section (doc2query), in the team's own words. They are
#: indexed as ``kind: probe`` chunks that point search at a section; never quoted.
PROBES_SUFFIX = ".questions.yaml"
#: Anticipated questions that the knowledge folder does NOT answer, grouped by topic.
#: Indexed as ``kind: scope`` chunks; a question nearer to these than to any section's
#: own questions is refused. Remove entries that a document you add does answer.
SCOPE_FILE = "out-of-scope.questions.yaml"

log = logging.getLogger(__name__)

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


def probes_path(path: Path) -> Path:
    return path.with_name(path.name + PROBES_SUFFIX)


def read_probes(path: Path) -> dict[str, list[str]]:
    """Section heading -> anticipated questions, from ``<file>.questions.yaml`` if present."""
    side = probes_path(path)
    if not side.is_file():
        return {}
    data = yaml.safe_load(side.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError(f"{side.name}: expected a list of questions under each section heading")
    return {str(k or ""): [str(q).strip() for q in v if str(q).strip()] for k, v in data.items()}


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


def chunk_document(
    doc: ParsedDocument, prov: Provenance, doc_hash: str, probes: dict[str, list[str]] | None = None
) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: set[str] = set()
    probes = probes or {}
    unknown = set(probes) - {s.heading for s in doc.sections}
    if unknown:
        log.warning("%s: questions for sections that do not exist: %s", doc.path, sorted(unknown))
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
                        "kind": "text",
                    },
                )
            )
        for p_index, question in enumerate(probes.get(section.heading, [])):
            key = "\x1f".join([doc.path, section.heading, "probe", question])
            chunk_id = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
            if chunk_id in seen:
                continue
            seen.add(chunk_id)
            meta = {**chunks[-1].metadata} if chunks else {}
            meta.update(
                doc_path=doc.path, doc_hash=doc_hash, title=prov.title, section=section.heading,
                section_index=s_index, chunk_index=p_index, url=section_url(prov, section.heading),
                licence=prov.licence, licence_url=prov.licence_url, attribution=prov.attribution,
                body_start=0, kind="probe",
            )
            chunks.append(Chunk(id=chunk_id, text=question, metadata=meta))
    return chunks


def read_scope(path: Path) -> list[tuple[str, str]]:
    """(topic, question) pairs from the out-of-scope file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(topics, dict) or not all(isinstance(v, list) for v in topics.values()):
        raise ValueError(f"{path.name}: expected 'topics:' with a list of questions per topic")
    return [(str(t), str(q).strip()) for t, qs in topics.items() for q in qs if str(q).strip()]


def scope_chunks(questions: list[tuple[str, str]], digest: str) -> list[Chunk]:
    chunks, seen = [], set()
    for n, (topic, question) in enumerate(questions):
        chunk_id = hashlib.sha256(f"scope\x1f{question}".encode()).hexdigest()[:40]
        if chunk_id not in seen:
            seen.add(chunk_id)
            meta = {"doc_path": SCOPE_FILE, "doc_hash": digest, "kind": "scope", "topic": topic,
                    "section": "", "chunk_index": n}
            chunks.append(Chunk(id=chunk_id, text=question, metadata=meta))
    return chunks
