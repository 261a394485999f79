"""Retrieval quality on an evaluation set: hit@1 / hit@3 by section and language, abstention.

    .venv/bin/python bench/retrieval_eval.py                  # dev set, default model
    .venv/bin/python bench/retrieval_eval.py --set heldout    # the held-out set
    .venv/bin/python bench/retrieval_eval.py --model packaged:all-MiniLM-L6-v2
    .venv/bin/python bench/retrieval_eval.py --param min_coverage=0.6 --misses

Each set is JSON Lines: {"id", "question", "language", "section" (null = the guidance
does not answer it), "also": [other acceptable sections]}. The index is built in a
temporary folder from the repository's knowledge/ folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core import build_core  # noqa: E402
from bot.retrieval.hybrid import RetrievalParams  # noqa: E402
from bot.settings import load_settings  # noqa: E402


def load_set(name: str) -> list[dict]:
    path = Path(name) if name.endswith(".jsonl") else ROOT / "bench" / "eval" / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def parse_params(pairs: list[str]) -> RetrievalParams:
    params = RetrievalParams()
    types = {f.name: f.type for f in fields(RetrievalParams)}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in types:
            raise SystemExit(f"unknown parameter {key!r}; known: {', '.join(types)}")
        params = replace(params, **{key: int(value) if types[key] in (int, "int") else float(value)})
    return params


def evaluate(core, questions: list[dict]) -> dict:
    rows = []
    for q in questions:
        t = time.perf_counter()
        result = core.search.search(q["question"])
        elapsed = time.perf_counter() - t
        ranked = [h.chunk.metadata.get("section", "") for h in result.hits[:3]]
        right = {q["section"], *q.get("also", [])} if q["section"] is not None else set()
        rows.append(
            {
                **q,
                "ranked": ranked,
                "grounded": result.grounded,
                "coverage": round(result.coverage, 3),
                "top_dense": round(result.hits[0].dense, 3) if result.hits else 0.0,
                "top_lexical": round(result.hits[0].lexical, 2) if result.hits else 0.0,
                "top_probe": round(max((h.probe for h in result.hits), default=0.0), 3),
                "inside": round(result.inside, 3),
                "outside": round(result.outside, 3),
                "hit1": bool(ranked[:1] and ranked[0] in right),
                "hit3": bool(right & set(ranked)),
                "ms": elapsed * 1000,
            }
        )
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["section"] is not None]
    oos = [r for r in rows if r["section"] is None]

    def rate(items, key):
        return round(sum(bool(r[key]) for r in items) / len(items), 3) if items else None

    by_lang = {
        lang: {
            "n": len(items),
            "hit@1": rate(items, "hit1"),
            "hit@3": rate(items, "hit3"),
            "answered_and_hit@3": round(sum(r["hit3"] and r["grounded"] for r in items) / len(items), 3),
        }
        for lang in ("nl", "en")
        if (items := [r for r in answerable if r["language"] == lang])
    }
    by_section = defaultdict(list)
    for r in answerable:
        by_section[r["section"]].append(r)
    return {
        "answerable": len(answerable),
        "out_of_scope": len(oos),
        "hit@1": rate(answerable, "hit1"),
        "hit@3": rate(answerable, "hit3"),
        "by_language": by_lang,
        "by_section": {
            s or "(inleiding)": {"n": len(v), "hit@1": rate(v, "hit1"), "hit@3": rate(v, "hit3")}
            for s, v in sorted(by_section.items())
        },
        "out_of_scope_refused": round(sum(not r["grounded"] for r in oos) / len(oos), 3) if oos else None,
        "answerable_refused": round(sum(not r["grounded"] for r in answerable) / len(answerable), 3),
        "search_ms_p50": round(sorted(r["ms"] for r in rows)[len(rows) // 2], 2),
        "rows": rows,
    }


def print_report(name: str, model: str, s: dict, misses: bool) -> None:
    print(f"set={name} model={model} answerable={s['answerable']} out_of_scope={s['out_of_scope']}")
    print(f"hit@1 {s['hit@1']:.3f}  hit@3 {s['hit@3']:.3f}")
    for lang, v in s["by_language"].items():
        print(f"  {lang}: n={v['n']:3d} hit@1 {v['hit@1']:.3f} hit@3 {v['hit@3']:.3f} "
              f"answered&hit@3 {v['answered_and_hit@3']:.3f}")
    print("by section:")
    for sec, v in s["by_section"].items():
        print(f"  {sec[:55]:55s} n={v['n']:3d} hit@1 {v['hit@1']:.3f} hit@3 {v['hit@3']:.3f}")
    print(f"out-of-scope refused: {s['out_of_scope_refused']:.3f}   "
          f"answerable refused: {s['answerable_refused']:.3f}   search p50 {s['search_ms_p50']} ms")
    if misses:
        for r in s["rows"]:
            wrong = (r["section"] is not None and (not r["hit3"] or not r["grounded"])) or (
                r["section"] is None and r["grounded"])
            if wrong:
                print(f"  MISS {r['id']} [{r['language']}] grounded={r['grounded']} cov={r['coverage']} "
                      f"dense={r['top_dense']} lex={r['top_lexical']} want={r['section']!r} "
                      f"got={r['ranked']} :: {r['question']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="dev", help="dev, heldout or a path to a .jsonl file")
    ap.add_argument("--model", default=None, help="EMBEDDING_MODEL to evaluate")
    ap.add_argument("--param", action="append", default=[], help="RetrievalParams override key=value")
    ap.add_argument("--misses", action="store_true", help="list every miss")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.model:
        env["EMBEDDING_MODEL"] = args.model
    with tempfile.TemporaryDirectory() as tmp:
        env.update(DATA_DIR=tmp, KNOWLEDGE_DIR=str(ROOT / "knowledge"))
        env.pop("CHROMA_URL", None)
        settings = load_settings(env, env_file=None)
        core = build_core(settings, params=parse_params(args.param))
        summary = evaluate(core, load_set(args.set))
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=2))
    else:
        print_report(args.set, settings.embedding_model, summary, args.misses)


if __name__ == "__main__":
    main()
