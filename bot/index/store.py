"""The vector store: Chroma, embedded in ``DATA_DIR`` or a server at ``CHROMA_URL``.

LangChain's ``Chroma`` integration does the embedding and the similarity search;
the raw Chroma collection is used for bookkeeping only (ids, metadata updates).
Telemetry is always off, and Chroma's own default embedding function (which
would download a model) is never used: the collection always receives our
``Embeddings``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from bot.settings import Settings

log = logging.getLogger(__name__)

COLLECTION = "ketenbot_guidance"
#: Bumped when the chunk metadata changes shape; an index of another version is rebuilt.
INDEX_VERSION = "2"


class StoreUnavailable(RuntimeError):
    """The Chroma server cannot be reached; the message says where we looked."""


@dataclass
class GuidanceStore:
    """The guidance collection, as LangChain vector store and raw Chroma collection."""

    vectorstore: Chroma
    collection: chromadb.Collection
    model_name: str

    def all_records(self) -> tuple[list[str], list[str], list[dict]]:
        got = self.collection.get(include=["documents", "metadatas"])
        return got["ids"], got["documents"] or [], got["metadatas"] or []

    def count(self) -> int:
        return self.collection.count()


def make_client(settings: Settings) -> chromadb.ClientAPI:
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not settings.chroma_url:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    url = urlparse(settings.chroma_url)
    try:
        client = chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
        client.heartbeat()
    except Exception as exc:  # chromadb raises several types for "not there"
        raise StoreUnavailable(
            f"Cannot reach the Chroma server at {settings.chroma_url} ({type(exc).__name__}). "
            "Start it (for example 'chroma run --host 127.0.0.1 --port 8000') "
            "or unset CHROMA_URL to use the embedded store."
        ) from exc
    return client


def open_store(settings: Settings, embeddings: Embeddings) -> GuidanceStore:
    """Open (or create) the collection; start it afresh if it was built with another model."""
    client = make_client(settings)
    wanted = {
        "embedding_model": settings.embedding_model,
        "index_version": INDEX_VERSION,
        "hnsw:space": "cosine",
    }
    try:
        existing = client.get_collection(COLLECTION)
    except Exception:  # NotFoundError in Chroma 1.x, ValueError before
        existing = None
    have = (existing.metadata or {}) if existing is not None else {}
    if existing is not None and any(have.get(k) != wanted[k] for k in ("embedding_model", "index_version")):
        log.warning(
            "Index was built with embedding model %r (index version %r); rebuilding for %r (%s).",
            have.get("embedding_model"), have.get("index_version"), settings.embedding_model, INDEX_VERSION,
        )
        client.delete_collection(COLLECTION)
    vectorstore = Chroma(
        collection_name=COLLECTION,
        embedding_function=embeddings,
        client=client,
        collection_metadata=wanted,
    )
    collection = client.get_collection(COLLECTION)
    return GuidanceStore(vectorstore, collection, settings.embedding_model)
