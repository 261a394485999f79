"""The answering core against a real Chroma server (``CHROMA_URL``), as the product promises.

A server is started on loopback for the session (see ``conftest.py``); the core
indexes the NORA chapter into it, answers from it, and a second core finds the
index up to date. The last test needs no server: a dead ``CHROMA_URL`` must give
a clear :class:`StoreUnavailable`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from bot.core import Core, build_core
from bot.index.embeddings import make_embeddings
from bot.index.indexer import knowledge_files
from bot.index.store import COLLECTION, StoreUnavailable, open_store
from bot.settings import Settings, load_settings

from .conftest import free_port

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
NORA = KNOWLEDGE / "nora-implementatie-van-ketensturing.txt"
QUESTION = "Wat doe je als er iets misgaat in de keten?"


def _norm(text: str) -> str:
    return " ".join(text.split())


def _settings(chroma_url: str, data_dir: Path) -> Settings:
    return load_settings(
        {"CHROMA_URL": chroma_url, "DATA_DIR": str(data_dir), "KNOWLEDGE_DIR": str(KNOWLEDGE)},
        env_file=None,
    )


def _http_client(url: str) -> chromadb.ClientAPI:
    """A client of our own, not the product's, to look at what the server holds."""
    parsed = urlparse(url)
    # Same settings as bot.index.store.make_client: Chroma caches one system per
    # host:port and refuses a second client there with different settings.
    return chromadb.HttpClient(
        host=parsed.hostname,
        port=parsed.port,
        settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
    )


@pytest.fixture(scope="module")
def server_client(chroma_server: str) -> chromadb.ClientAPI:
    client = _http_client(chroma_server)
    # start from an empty server whatever ran before on this session's server
    if COLLECTION in {c.name for c in client.list_collections()}:
        client.delete_collection(COLLECTION)
    return client


@pytest.fixture(scope="module")
def first_core(
    chroma_server: str, server_client: chromadb.ClientAPI, tmp_path_factory: pytest.TempPathFactory
) -> Core:
    """The first core against the (empty) server: it indexes the knowledge folder into it."""
    data_dir = tmp_path_factory.mktemp("data_first")
    return build_core(_settings(chroma_server, data_dir))


@pytest.mark.chroma_server
def test_first_build_indexes_into_the_server(first_core: Core, server_client: chromadb.ClientAPI) -> None:
    report = first_core.index_report
    assert report is not None
    assert report.files == len(knowledge_files(KNOWLEDGE)) >= 1
    assert report.parsed_files == report.files and not report.skipped
    assert report.chunks_added > 0

    held = server_client.get_collection(COLLECTION)
    assert held.count() == first_core.store.count() == report.chunks_added > 0
    paths = {m["doc_path"] for m in held.get(include=["metadatas"])["metadatas"]}
    assert paths == {NORA.name, "out-of-scope.questions.yaml"}
    text = held.get(where={"kind": "text"}, include=["metadatas"])["metadatas"]
    assert text and {m["doc_path"] for m in text} == {NORA.name}
    assert (held.metadata or {}).get("embedding_model") == first_core.settings.embedding_model
    # the server was used, not the embedded store in DATA_DIR
    assert not first_core.settings.chroma_path.exists()


@pytest.mark.chroma_server
def test_answers_with_verbatim_quotes_from_the_server(first_core: Core) -> None:
    answer = first_core.answerer.answer(QUESTION)
    assert answer.answered, answer.as_text()
    quotes = [s.quote for s in answer.sources if s.quote]
    assert quotes, answer.as_text()
    source_text = _norm(NORA.read_text(encoding="utf-8"))
    for quote in quotes:
        assert _norm(quote.removesuffix(" …")) in source_text, quote
    # the passage that answers this question, found through the server's vector search
    assert any("Als er iets misgaat" in q for q in quotes), answer.as_text()
    for source in answer.sources:
        assert source.title and source.url


@pytest.mark.chroma_server
def test_second_build_reindexes_nothing(
    first_core: Core, chroma_server: str, server_client: chromadb.ClientAPI, tmp_path: Path
) -> None:
    before = server_client.get_collection(COLLECTION).count()
    second = build_core(_settings(chroma_server, tmp_path))
    report = second.index_report
    assert report is not None
    assert report.chunks_added == 0
    assert report.chunks_removed == 0 and report.parsed_files == 0
    assert report.unchanged_files == report.files == len(knowledge_files(KNOWLEDGE))
    assert not report.changed
    assert second.store.count() == server_client.get_collection(COLLECTION).count() == before
    assert second.answerer.answer(QUESTION).answered


def test_unreachable_server_raises_store_unavailable(tmp_path: Path) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens
    settings = _settings(dead_url, tmp_path)

    with pytest.raises(StoreUnavailable) as raised:
        open_store(settings, make_embeddings(settings.embedding_model))
    assert dead_url in str(raised.value)

    with pytest.raises(StoreUnavailable) as raised:
        build_core(settings)
    assert dead_url in str(raised.value)
    assert not settings.chroma_path.exists()  # no silent fall-back to the embedded store
