"""Indexing speed: the guidance, a generated corpus, a no-change re-index, a one-file edit.

    .venv/bin/python bench/index_speed.py                 # 2,000-page corpus
    .venv/bin/python bench/index_speed.py --pages 500 --json
    .venv/bin/python bench/index_speed.py --model packaged:all-MiniLM-L6-v2

Everything happens in a temporary folder with the embedded Chroma store:

(a) the guidance (knowledge/) indexed from empty by ``sync_index``;
(b) a synthetic corpus of --pages pages (bench/make_corpus.py) indexed from empty,
    with the time split into embedding, Chroma writes and the rest (parsing,
    hashing, chunking); parsing + chunking alone is also timed in a separate pass;
(c) a re-index with nothing changed: ``sync_index`` alone (target <= 2 s), and a
    whole ``build_core`` (embedding model created afresh, store opened, sync,
    lexical index built from every chunk);
(d) one sentence appended to one file, then ``sync_index`` and the lexical-index
    reload that ``Core.reindex`` does after a change.

"pages" are sections as the loaders parse them (``IndexReport.pages``). The
embedding model is loaded and warmed before (a), and that load is timed on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from langchain_core.embeddings import Embeddings  # noqa: E402
from machine import OtherLoad  # noqa: E402
from make_corpus import generate  # noqa: E402

from bot.core import build_core  # noqa: E402
from bot.index.embeddings import make_embeddings  # noqa: E402
from bot.index.indexer import knowledge_files, sync_index  # noqa: E402
from bot.index.store import GuidanceStore, open_store  # noqa: E402
from bot.ingest.chunks import chunk_document, read_sidecar, resolve_provenance  # noqa: E402
from bot.ingest.loaders import load_document  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402

TARGET_NOCHANGE_S = 2.0
APPENDED = "Deze zin is toegevoegd om een kleine wijziging in een enkel bestand te meten."


class TimedEmbeddings(Embeddings):
    """Passes calls through to the real model and adds up the time spent in it."""

    def __init__(self, inner: Embeddings):
        self.inner = inner
        self.seconds = 0.0
        self.texts = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        t = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - t
            self.texts += len(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def settings_for(data_dir: Path, knowledge: Path, model: str | None) -> Settings:
    env = {"DATA_DIR": str(data_dir), "KNOWLEDGE_DIR": str(knowledge)}
    if model:
        env["EMBEDDING_MODEL"] = model
    return load_settings(env, env_file=None)


def timed_store(settings: Settings) -> tuple[GuidanceStore, TimedEmbeddings]:
    embeddings = TimedEmbeddings(make_embeddings(settings.embedding_model))
    return open_store(settings, embeddings), embeddings


def index_from_empty(settings: Settings) -> dict:
    """sync_index into a new store; time split into embedding / Chroma writes / the rest."""
    store, embeddings = timed_store(settings)
    chroma = {"s": 0.0}
    raw_upsert = store.vectorstore._collection.upsert  # where langchain-chroma's add_texts writes

    def timed_upsert(*args, **kwargs):
        t = time.perf_counter()
        try:
            return raw_upsert(*args, **kwargs)
        finally:
            chroma["s"] += time.perf_counter() - t

    store.vectorstore._collection.upsert = timed_upsert
    others = OtherLoad()
    t = time.perf_counter()
    report = sync_index(store, settings.knowledge_dir)
    seconds = time.perf_counter() - t
    return {
        "seconds": round(seconds, 2),
        "files": report.files,
        "pages": report.pages,
        "chunks": report.chunks_added,
        "pages_per_s": round(report.pages / seconds, 1),
        "chunks_per_s": round(report.chunks_added / seconds, 1),
        "embedding_s": round(embeddings.seconds, 2),
        "chroma_write_s": round(chroma["s"], 2),
        "other_s": round(seconds - embeddings.seconds - chroma["s"], 2),
        "other_processes_cores": others.cores(),
        "skipped": report.skipped,
    }


def parse_only(folder: Path) -> dict:
    """Load + chunk every file (what sync_index does besides hashing, embedding, writing)."""
    t = time.perf_counter()
    pages = chunks = 0
    for path in knowledge_files(folder):
        rel = path.relative_to(folder).as_posix()
        doc = load_document(path, rel)
        pages += len(doc.sections)
        chunks += len(chunk_document(doc, resolve_provenance(doc, read_sidecar(path)), "x"))
    seconds = time.perf_counter() - t
    return {"seconds": round(seconds, 2), "pages": pages, "chunks": chunks,
            "pages_per_s": round(pages / seconds, 1)}


def nochange(settings: Settings, repeats: int = 3) -> dict:
    store = open_store(settings, make_embeddings(settings.embedding_model))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        report = sync_index(store, settings.knowledge_dir)
        times.append(time.perf_counter() - t)
        if report.changed or report.parsed_files:
            raise SystemExit(f"nothing changed, yet sync_index did work: {report}")
    # a whole build_core, as at a restart: a new embedding model object, the store
    # opened, the (no-op) sync and the lexical index over every chunk
    make_embeddings.cache_clear()
    t = time.perf_counter()
    core = build_core(settings)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    core.search.embeddings.embed_query("opstart van de keten")
    first_query_s = time.perf_counter() - t
    t = time.perf_counter()
    core.search.reload()
    reload_s = time.perf_counter() - t
    return {
        "sync_index_s": round(statistics.median(times), 3),
        "sync_index_all_s": [round(x, 3) for x in times],
        "meets_target": statistics.median(times) <= TARGET_NOCHANGE_S,
        "build_core_s": round(build_s, 2),
        "first_query_embedding_s": round(first_query_s, 2),
        "lexical_index_build_s": round(reload_s, 2),
        "chunks_in_store": core.store.count(),
    }, core


def one_file_edit(core, folder: Path) -> dict:
    files = [p for p in knowledge_files(folder) if p.suffix == ".txt"]
    path = files[len(files) // 2]
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"\n{APPENDED}\n")
    t = time.perf_counter()
    report = sync_index(core.store, folder)
    sync_s = time.perf_counter() - t
    t = time.perf_counter()
    core.search.reload()
    reload_s = time.perf_counter() - t
    return {
        "file": path.name,
        "sync_index_s": round(sync_s, 2),
        "lexical_reload_s": round(reload_s, 2),
        "reindex_total_s": round(sync_s + reload_s, 2),
        "pages_parsed": report.pages,
        "chunks_added": report.chunks_added,
        "chunks_removed": report.chunks_removed,
        "chunks_kept": report.chunks_kept,
    }


def rss_mib() -> tuple[float, float]:
    now = float("nan")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
    return round(now, 1), round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def dir_mib(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def run(model: str | None, pages: int, per_file: int) -> dict:
    out: dict = {"pages_requested": pages}
    others = OtherLoad()
    with tempfile.TemporaryDirectory(prefix="ketenbot-index-") as tmp_name:
        tmp = Path(tmp_name)
        guidance = settings_for(tmp / "data-guidance", ROOT / "knowledge", model)
        out["model"] = guidance.embedding_model
        t = time.perf_counter()
        make_embeddings(guidance.embedding_model).embed_documents(["opwarmen van het model"])
        out["model_load_s"] = round(time.perf_counter() - t, 2)

        out["a_guidance"] = index_from_empty(guidance)

        corpus = tmp / "corpus"
        t = time.perf_counter()
        generate(corpus, pages, per_file)
        out["corpus_generate_s"] = round(time.perf_counter() - t, 2)
        out["corpus_mib"] = dir_mib(corpus)
        out["b_parse_only"] = parse_only(corpus)
        big = settings_for(tmp / "data-corpus", corpus, model)
        out["b_corpus"] = index_from_empty(big)
        if out["b_corpus"]["pages"] != pages:
            raise SystemExit(f"corpus has {out['b_corpus']['pages']} pages, expected {pages}")
        out["b_chroma_dir_mib"] = dir_mib(big.chroma_path)

        out["c_nochange"], core = nochange(big)
        out["d_one_file"] = one_file_edit(core, corpus)
        out["rss_mib_now"], out["rss_mib_peak"] = rss_mib()
    out["other_processes_cores"] = others.cores()
    return out


def print_report(s: dict) -> None:
    a, b, p, c, d = s["a_guidance"], s["b_corpus"], s["b_parse_only"], s["c_nochange"], s["d_one_file"]
    print(f"model={s['model']} (load + first embedding {s['model_load_s']} s)")
    print(f"{'step':44s}{'seconds':>9s}{'pages':>7s}{'chunks':>8s}{'pages/s':>9s}{'chunks/s':>10s}")
    rows = [
        ("(a) guidance, from empty", a["seconds"], a["pages"], a["chunks"],
         a["pages_per_s"], a["chunks_per_s"]),
        (f"(b) corpus {b['files']} files, from empty", b["seconds"], b["pages"], b["chunks"],
         b["pages_per_s"], b["chunks_per_s"]),
        ("    parse + chunk only (no embed/store)", p["seconds"], p["pages"], p["chunks"],
         p["pages_per_s"], ""),
    ]
    for label, sec, pg, ch, pps, cps in rows:
        print(f"{label:44s}{sec:9.2f}{pg:7d}{ch:8d}{pps:>9}{cps:>10}")
    print(f"    (b) split: embedding {b['embedding_s']} s, Chroma writes {b['chroma_write_s']} s, "
          f"rest {b['other_s']} s; corpus {s['corpus_mib']} MiB, Chroma dir {s['b_chroma_dir_mib']} MiB")
    print(f"    other processes used {b['other_processes_cores']} of 2 cores during (b)")
    verdict = "meets" if c["meets_target"] else "MISSES"
    print(f"{'(c) re-index, nothing changed: sync_index':44s}{c['sync_index_s']:9.3f}"
          f"   runs {c['sync_index_all_s']} ({verdict} <= {TARGET_NOCHANGE_S:.0f} s)")
    print(f"{'    whole build_core (no-op sync)':44s}{c['build_core_s']:9.2f}"
          f"   search.reload alone (fetch chunks + BM25) {c['lexical_index_build_s']} s; "
          f"first query embedding after it {c['first_query_embedding_s']} s")
    print(f"{'(d) one sentence appended: sync_index':44s}{d['sync_index_s']:9.2f}"
          f"{d['pages_parsed']:7d}   +{d['chunks_added']} -{d['chunks_removed']} "
          f"={d['chunks_kept']} chunks ({d['file']})")
    print(f"{'    + lexical reload (Core.reindex)':44s}{d['lexical_reload_s']:9.2f}"
          f"   total {d['reindex_total_s']} s")
    print(f"RSS now {s['rss_mib_now']} MiB, peak {s['rss_mib_peak']} MiB; "
          f"other processes used {s['other_processes_cores']} of 2 cores over the whole run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="EMBEDDING_MODEL to use")
    ap.add_argument("--pages", type=int, default=2000, help="pages in the generated corpus")
    ap.add_argument("--per-file", type=int, default=40, help="pages per generated file")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    summary = run(args.model, args.pages, args.per_file)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print_report(summary)


if __name__ == "__main__":
    main()
