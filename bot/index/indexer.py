"""Keep the vector store in step with the knowledge folder, incrementally.

A file whose bytes (and sidecar) hash the same as at the last run is not even
parsed; in a changed file only chunks whose text is new are embedded; chunks of
removed files, and removed chunks of changed files, leave the index.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.index.store import GuidanceStore
from bot.ingest.chunks import (
    PROBES_SUFFIX,
    SCOPE_FILE,
    SIDECAR_SUFFIX,
    Chunk,
    chunk_document,
    probes_path,
    read_probes,
    read_scope,
    read_sidecar,
    resolve_provenance,
    scope_chunks,
    sidecar_path,
)
from bot.ingest.loaders import SUPPORTED_SUFFIXES, LoadError, load_document

log = logging.getLogger(__name__)

#: Files in the knowledge folder that describe it rather than belong to it.
IGNORED_NAMES = {"readme.md", "readme.txt", "readme"}
ADD_BATCH = 64

Progress = Callable[[str], None]


class EmptyKnowledge(RuntimeError):
    """The knowledge folder is missing or holds no document we can read."""


@dataclass
class IndexReport:
    files: int = 0
    unchanged_files: int = 0
    parsed_files: int = 0
    removed_files: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_kept: int = 0
    pages: int = 0  # sections parsed in this run
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    @property
    def changed(self) -> bool:
        return bool(self.chunks_added or self.chunks_removed or self.removed_files)


PENDING = "pending"  # doc_hash of chunks added by a run that has not finished the document yet


def knowledge_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise EmptyKnowledge(
            f"The knowledge folder {folder} does not exist. Set KNOWLEDGE_DIR to a folder "
            "with the guidance documents (.txt, .md, .html, .pdf, .docx)."
        )
    found = []
    for path in sorted(folder.rglob("*")):
        rel_parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in rel_parts) or not path.is_file():
            continue
        if path.name.lower() in IGNORED_NAMES or path.name.endswith((SIDECAR_SUFFIX, PROBES_SUFFIX)):
            continue
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append(path)
    return found


def file_hash(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes())
    for side in (sidecar_path(path), probes_path(path)):
        if side.is_file():
            digest.update(b"\x00" + side.name.encode() + b"\x00" + side.read_bytes())
    return digest.hexdigest()[:40]


def _indexed_state(store: GuidanceStore) -> dict[str, tuple[str, set[str]]]:
    """doc_path -> (doc_hash, chunk ids) as the store has it now. A document whose chunks carry
    different hashes (an indexing run died half-way, see :func:`_apply`) gets hash "", so the
    next run indexes it again."""
    got = store.collection.get(include=["metadatas"])
    state: dict[str, tuple[str, set[str]]] = {}
    for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
        path = str((meta or {}).get("doc_path", ""))
        this_hash = str((meta or {}).get("doc_hash", ""))
        doc_hash, ids = state.get(path, (this_hash, set()))
        if doc_hash != this_hash:
            doc_hash = ""
        ids.add(cid)
        state[path] = (doc_hash, ids)
    return state


def sync_index(store: GuidanceStore, folder: Path, progress: Progress | None = None) -> IndexReport:
    """Bring the store in line with ``folder``; returns what changed."""
    say = progress or (lambda _msg: None)
    files = knowledge_files(folder)
    report = IndexReport(files=len(files))
    state = _indexed_state(store)
    seen: set[str] = set()
    for n, path in enumerate(files, 1):
        rel = path.relative_to(folder).as_posix()
        seen.add(rel)
        digest = file_hash(path)
        old_hash, old_ids = state.get(rel, ("", set()))
        if old_hash == digest and old_ids:
            report.unchanged_files += 1
            continue
        try:
            doc = load_document(path, rel)
            prov = resolve_provenance(doc, read_sidecar(path))
            probes = read_probes(path)
        except (LoadError, ValueError, OSError) as exc:
            log.warning("Skipped %s: %s", rel, exc)
            report.skipped.append((rel, str(exc)))
            # keep what was indexed before: a broken edit should not erase a document
            continue
        chunks = chunk_document(doc, prov, digest, probes)
        report.parsed_files += 1
        report.pages += len(doc.sections)
        _apply(store, chunks, old_ids, digest, report)
        say(f"[{n}/{len(files)}] {rel}: {len(chunks)} chunks")
    scope = folder / SCOPE_FILE
    if scope.is_file():
        seen.add(SCOPE_FILE)
        _sync_scope(store, scope, state.get(SCOPE_FILE, ("", set())), report, say)
    for rel, (_hash, ids) in state.items():
        if rel not in seen:
            store.collection.delete(ids=sorted(ids))
            report.removed_files += 1
            report.chunks_removed += len(ids)
            say(f"removed {rel}: {len(ids)} chunks")
    if not files:
        raise EmptyKnowledge(
            f"No documents found in {folder}. Put the guidance there as .txt, .md, .html, "
            ".pdf or .docx files."
        )
    if report.unchanged_files + report.parsed_files == 0:
        raise EmptyKnowledge(f"None of the {len(files)} files in {folder} could be read.")
    return report


def _sync_scope(
    store: GuidanceStore, path: Path, old: tuple[str, set[str]], report: IndexReport, say: Progress
) -> None:
    digest = file_hash(path)
    if old[0] == digest and old[1]:
        return
    try:
        chunks = scope_chunks(read_scope(path), digest)
    except (ValueError, OSError, yaml.YAMLError) as exc:
        log.warning("Skipped %s: %s", path.name, exc)
        report.skipped.append((path.name, str(exc)))
        return
    _apply(store, chunks, old[1], digest, report)
    say(f"{path.name}: {len(chunks)} out-of-scope questions")


def _apply(
    store: GuidanceStore, chunks: list[Chunk], old_ids: set[str], digest: str, report: IndexReport
) -> None:
    """Make the store hold exactly ``chunks`` for their document, safely against a crash (or a
    ``kill -9``) at any point: new chunks go in marked ``doc_hash: "pending"``, and only when all
    are in does every chunk get the file's hash. Until then the document's chunks carry mixed
    hashes, and the next run (this worker's or another's) indexes it again."""
    new = [c for c in chunks if c.id not in old_ids]
    kept = [c for c in chunks if c.id in old_ids]
    gone = old_ids - {c.id for c in chunks}
    if gone:
        store.collection.delete(ids=sorted(gone))
    for start in range(0, len(new), ADD_BATCH):
        batch = new[start : start + ADD_BATCH]
        store.vectorstore.add_texts(
            texts=[c.text for c in batch],
            metadatas=[{**c.metadata, "doc_hash": PENDING} for c in batch],
            ids=[c.id for c in batch],
        )
    # last: every chunk of the document gets its final metadata (kept ones: no re-embedding)
    done = kept + new
    for start in range(0, len(done), ADD_BATCH):
        batch = done[start : start + ADD_BATCH]
        store.collection.update(ids=[c.id for c in batch], metadatas=[c.metadata for c in batch])
    report.chunks_added += len(new)
    report.chunks_kept += len(kept)
    report.chunks_removed += len(gone)
