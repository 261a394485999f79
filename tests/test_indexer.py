"""Incremental indexing: unchanged text is not embedded again, removed files leave."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.index.indexer import EmptyKnowledge, knowledge_files, sync_index
from bot.index.store import COLLECTION, open_store
from tests.conftest import NORA_FILE, CountingEmbeddings, make_settings


def _store(tmp_path: Path, knowledge: Path, embeddings: CountingEmbeddings, **extra: str):
    return open_store(make_settings(tmp_path, knowledge, **extra), embeddings)


def _metas(store) -> list[dict]:
    """Metadata of the document chunks (text and probes), not of the out-of-scope bank."""
    return store.collection.get(where={"kind": {"$ne": "scope"}}, include=["metadatas"])["metadatas"]


def test_first_sync_indexes_every_section_with_provenance(tmp_path, knowledge_copy):
    emb = CountingEmbeddings()
    store = _store(tmp_path, knowledge_copy, emb)
    report = sync_index(store, knowledge_copy)
    assert report.parsed_files == 1 and report.pages == 9
    assert store.count() == report.chunks_added == len(emb.embedded) > len(_metas(store)) > 9
    metas = _metas(store)
    sections = {m["section"] for m in metas}
    assert "Geduld" in sections and "" in sections and "De opstart" in sections
    for m in metas:
        assert m["title"] == "NORA – Implementatie van ketensturing"
        assert m["licence"] == "CC BY-ND 3.0"
        assert m["url"].startswith("https://www.noraonline.nl/wiki/Ketensturing/Implementatie_van_ketensturing")
    geduld = next(m for m in metas if m["section"] == "Geduld")
    assert geduld["url"].endswith("#Geduld")


def test_every_chunk_body_is_verbatim_text_of_the_source(tmp_path, knowledge_copy):
    store = _store(tmp_path, knowledge_copy, CountingEmbeddings())
    sync_index(store, knowledge_copy)
    source = " ".join(NORA_FILE.read_text(encoding="utf-8").split())
    got = store.collection.get(where={"kind": "text"}, include=["documents", "metadatas"])
    assert got["ids"]
    for text, meta in zip(got["documents"], got["metadatas"], strict=True):
        body = text[meta["body_start"] :]
        assert " ".join(body.split()) in source


def test_second_sync_with_nothing_changed_embeds_nothing(tmp_path, knowledge_copy):
    emb = CountingEmbeddings()
    store = _store(tmp_path, knowledge_copy, emb)
    sync_index(store, knowledge_copy)
    before = len(emb.embedded)
    report = sync_index(store, knowledge_copy)
    assert report.unchanged_files == 1 and report.parsed_files == 0
    assert report.chunks_added == report.chunks_removed == 0
    assert len(emb.embedded) == before
    assert not report.changed


def test_changed_file_embeds_only_new_chunks(tmp_path, knowledge_copy):
    emb = CountingEmbeddings()
    store = _store(tmp_path, knowledge_copy, emb)
    sync_index(store, knowledge_copy)
    document_chunks = len(_metas(store))
    target = knowledge_copy / NORA_FILE.name
    target.write_text(target.read_text(encoding="utf-8") + "\n\nNieuwe paragraaf\n\nEen extra zin.\n",
                      encoding="utf-8")
    emb.embedded.clear()
    report = sync_index(store, knowledge_copy)
    assert report.parsed_files == 1
    assert 1 <= report.chunks_added <= 2  # the new section (and perhaps the last chunk before it)
    assert len(emb.embedded) == report.chunks_added
    assert report.chunks_kept >= document_chunks - 2
    hashes = {m["doc_hash"] for m in _metas(store)}
    assert len(hashes) == 1  # kept chunks carry the new file hash too


def test_removed_file_leaves_the_index(tmp_path, knowledge_copy):
    extra = knowledge_copy / "extra.md"
    extra.write_text("---\ntitle: Extra\n---\n# Extra\n\n## Deel\n\nEen korte tekst over ketens.\n",
                     encoding="utf-8")
    store = _store(tmp_path, knowledge_copy, CountingEmbeddings())
    sync_index(store, knowledge_copy)
    assert any(m["doc_path"] == "extra.md" for m in _metas(store))
    extra.unlink()
    report = sync_index(store, knowledge_copy)
    assert report.removed_files == 1 and report.chunks_removed >= 1
    assert not any(m["doc_path"] == "extra.md" for m in _metas(store))


def test_broken_file_is_skipped_with_its_name_and_the_rest_indexed(tmp_path, knowledge_copy, caplog):
    (knowledge_copy / "kapot.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    store = _store(tmp_path, knowledge_copy, CountingEmbeddings())
    with caplog.at_level(logging.WARNING):
        report = sync_index(store, knowledge_copy)
    assert [name for name, _ in report.skipped] == ["kapot.pdf"]
    assert "kapot.pdf" in caplog.text
    assert report.parsed_files == 1 and store.count() > 0


def test_sidecar_and_readme_and_glossary_are_not_documents(knowledge_copy):
    names = [p.name for p in knowledge_files(knowledge_copy)]
    assert names == ["nora-implementatie-van-ketensturing.txt"]


def test_provenance_change_in_sidecar_reindexes_metadata(tmp_path, knowledge_copy):
    store = _store(tmp_path, knowledge_copy, CountingEmbeddings())
    sync_index(store, knowledge_copy)
    side = knowledge_copy / (NORA_FILE.name + ".meta.yaml")
    side.write_text(side.read_text(encoding="utf-8").replace("CC BY-ND 3.0\"", "CC BY-ND 3.0 NL\""),
                    encoding="utf-8")
    report = sync_index(store, knowledge_copy)
    assert report.parsed_files == 1
    assert {m["licence"] for m in _metas(store)} == {"CC BY-ND 3.0 NL"}


@pytest.mark.parametrize("make", ["missing", "empty", "unsupported_only"])
def test_empty_or_missing_folder_gives_a_clear_message(tmp_path, make):
    folder = tmp_path / "kb"
    if make != "missing":
        folder.mkdir()
    if make == "unsupported_only":
        (folder / "notes.xlsx").write_bytes(b"PK")
    store = _store(tmp_path, folder, CountingEmbeddings())
    with pytest.raises(EmptyKnowledge) as err:
        sync_index(store, folder)
    assert str(folder) in str(err.value)


def test_all_files_unreadable_is_an_error_not_an_empty_index(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.docx").write_bytes(b"not a zip")
    store = _store(tmp_path, folder, CountingEmbeddings())
    with pytest.raises(EmptyKnowledge, match="could be read"):
        sync_index(store, folder)


def test_changing_the_embedding_model_rebuilds_the_collection(tmp_path, knowledge_copy):
    store = _store(tmp_path, knowledge_copy, CountingEmbeddings(), EMBEDDING_MODEL="model-a")
    sync_index(store, knowledge_copy)
    assert store.count() > 0
    other = _store(tmp_path, knowledge_copy, CountingEmbeddings(), EMBEDDING_MODEL="model-b")
    assert other.count() == 0
    assert other.collection.metadata["embedding_model"] == "model-b"
    assert other.collection.name == COLLECTION


def test_repeated_identical_text_under_one_heading_is_indexed_once(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    para = "Dezelfde alinea over ketensamenwerking staat hier twee keer. " * 20
    (folder / "dubbel.md").write_text(f"# Doc\n\n## Deel\n\n{para}\n\n{para}\n", encoding="utf-8")
    store = _store(tmp_path, folder, CountingEmbeddings())
    report = sync_index(store, folder)
    ids = store.collection.get()["ids"]
    assert report.chunks_added == len(ids) == len(set(ids)) >= 1


def _write_probes(knowledge: Path, text: str) -> Path:
    side = knowledge / (NORA_FILE.name + ".questions.yaml")
    side.write_text(text, encoding="utf-8")
    return side


def test_anticipated_questions_are_indexed_as_probes_of_their_section(tmp_path, knowledge_copy):
    _write_probes(knowledge_copy, '"Geduld":\n  - "Hoe lang moeten we volhouden?"\n  - "Why so slow?"\n')
    store = _store(tmp_path, knowledge_copy, CountingEmbeddings())
    sync_index(store, knowledge_copy)
    probes = store.collection.get(where={"kind": "probe"}, include=["documents", "metadatas"])
    assert sorted(probes["documents"]) == ["Hoe lang moeten we volhouden?", "Why so slow?"]
    assert {m["section"] for m in probes["metadatas"]} == {"Geduld"}
    texts = store.collection.get(where={"kind": "text"})["ids"]
    assert len(texts) + 2 == len(_metas(store))


def test_changing_the_questions_file_reindexes_only_the_probes(tmp_path, knowledge_copy):
    side = _write_probes(knowledge_copy, '"Geduld":\n  - "Hoe lang moeten we volhouden?"\n')
    emb = CountingEmbeddings()
    store = _store(tmp_path, knowledge_copy, emb)
    sync_index(store, knowledge_copy)
    side.write_text('"Geduld":\n  - "Hoe lang moeten we volhouden?"\n  - "Nieuwe vraag?"\n', encoding="utf-8")
    emb.embedded.clear()
    report = sync_index(store, knowledge_copy)
    assert report.parsed_files == 1 and emb.embedded == ["Nieuwe vraag?"]


def test_a_malformed_questions_file_skips_the_document_with_its_name(tmp_path, knowledge_copy):
    _write_probes(knowledge_copy, "- just a list\n")
    store = _store(tmp_path, knowledge_copy, CountingEmbeddings())
    with pytest.raises(EmptyKnowledge):  # the only document could not be read
        sync_index(store, knowledge_copy)


def test_out_of_scope_questions_are_indexed_incrementally(tmp_path, knowledge_copy):
    scope = knowledge_copy / "out-of-scope.questions.yaml"
    scope.write_text('topics:\n  money:\n    - "Wat kost een ketenconferentie?"\n', encoding="utf-8")
    emb = CountingEmbeddings()
    store = _store(tmp_path, knowledge_copy, emb)
    sync_index(store, knowledge_copy)
    got = store.collection.get(where={"kind": "scope"}, include=["documents", "metadatas"])
    assert got["documents"] == ["Wat kost een ketenconferentie?"]
    assert got["metadatas"][0]["topic"] == "money"
    scope.write_text('topics:\n  money:\n    - "Wat kost een ketenconferentie?"\n    - "Wie betaalt?"\n',
                     encoding="utf-8")
    emb.embedded.clear()
    sync_index(store, knowledge_copy)
    assert emb.embedded == ["Wie betaalt?"]
    scope.unlink()
    report = sync_index(store, knowledge_copy)
    assert report.removed_files == 1
    assert store.collection.get(where={"kind": "scope"})["ids"] == []


def test_a_malformed_scope_file_is_skipped_and_documents_still_indexed(tmp_path, knowledge_copy):
    (knowledge_copy / "out-of-scope.questions.yaml").write_text("- not: [a topics map\n", encoding="utf-8")
    store = _store(tmp_path, knowledge_copy, CountingEmbeddings())
    report = sync_index(store, knowledge_copy)
    assert [name for name, _ in report.skipped] == ["out-of-scope.questions.yaml"]
    assert report.parsed_files == 1 and store.count() > 0


@pytest.mark.parametrize("crash_after_batches", [1, 3])
def test_a_run_that_dies_half_way_is_finished_by_the_next_one(tmp_path, knowledge_copy, crash_after_batches):
    """A worker killed while indexing (kill -9 at start-up) left the document partly indexed; the
    next run must see that and complete it, not take the part for the whole."""
    complete = _store(tmp_path / "complete", knowledge_copy, CountingEmbeddings())
    sync_index(complete, knowledge_copy)
    want = set(complete.collection.get()["ids"])

    store = _store(tmp_path / "crashed", knowledge_copy, CountingEmbeddings())
    real_add, calls = store.vectorstore.add_texts, []

    def dying_add(**kwargs):  # noqa: ANN003
        if len(calls) == crash_after_batches:
            raise KeyboardInterrupt("killed")  # like a kill: nothing after this point runs
        calls.append(1)
        return real_add(**kwargs)

    store.vectorstore.add_texts = dying_add
    with pytest.raises(KeyboardInterrupt):
        sync_index(store, knowledge_copy)
    assert 0 < store.count() < len(want)
    store.vectorstore.add_texts = real_add

    report = sync_index(store, knowledge_copy)
    assert report.parsed_files >= 1
    assert set(store.collection.get()["ids"]) == want
    assert {m["doc_hash"] for m in _metas(store)} != {"pending"}
    assert all(m["doc_hash"] != "pending" for m in store.collection.get(include=["metadatas"])["metadatas"])
    assert sync_index(store, knowledge_copy).parsed_files == 0  # and then it is stable
