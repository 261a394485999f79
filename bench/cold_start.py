"""Cold start: wall time from launching a fresh Python to its first answer.

    .venv/bin/python bench/cold_start.py              # 3 runs of each kind
    .venv/bin/python bench/cold_start.py --runs 5 --json
    .venv/bin/python bench/cold_start.py --model packaged:all-MiniLM-L6-v2

Each run launches ``python -c <child>`` with a clean DATA_DIR setting: the child
imports ``bot.core``, calls ``build_core`` (which syncs the index) and answers one
question, printing time stamps on the way. Two kinds of start are measured:

- first start: an empty DATA_DIR, so ``build_core`` indexes knowledge/ (a new temp
  folder for every run);
- warm index: a DATA_DIR that an earlier run already indexed; ``build_core`` finds
  nothing changed (this is the normal restart of the bot).

"to first answer" is measured from just before the parent starts the process to the
child's time stamp after the answer, on the same wall clock; "exit" is when the
process has ended (interpreter and Chroma shutdown included). Medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import OtherLoad

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Hoe begin je met ketensturing en wat doet de ketenmanager daarbij?"

CHILD = r"""
import time
t_main = time.time()
import json, os, sys
sys.path.insert(0, os.environ["KETENBOT_ROOT"])
from bot.core import build_core
from bot.settings import load_settings
t_import = time.time()
core = build_core(load_settings(env_file=None))
t_built = time.time()
answer = core.answerer.answer(os.environ["KETENBOT_QUESTION"])
t_answer = time.time()
report = core.index_report
import resource
status = open("/proc/self/status").read().split("VmRSS:")[1].split()[0]
print(json.dumps({
    "rss_mib": int(status) / 1024,
    "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "main": t_main, "imported": t_import, "built": t_built, "answered": t_answer,
    "answered_ok": answer.answered, "chunks_added": report.chunks_added if report else None,
    "unchanged_files": report.unchanged_files if report else None,
    "model": core.settings.embedding_model,
}), flush=True)
"""


def child_env(data_dir: Path, knowledge: Path, model: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CHROMA_URL", None)
    env.update(
        DATA_DIR=str(data_dir),
        KNOWLEDGE_DIR=str(knowledge),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        KETENBOT_ROOT=str(ROOT),
        KETENBOT_QUESTION=QUESTION,
    )
    if model:
        env["EMBEDDING_MODEL"] = model
    return env


def one_start(data_dir: Path, knowledge: Path, model: str | None) -> dict:
    env = child_env(data_dir, knowledge, model)
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, cwd=str(ROOT), capture_output=True, text=True, check=False
    )
    t_exit = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    stamps = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "interpreter_s": stamps["main"] - t0,
        "import_s": stamps["imported"] - stamps["main"],
        "build_core_s": stamps["built"] - stamps["imported"],
        "first_answer_s": stamps["answered"] - stamps["built"],
        "to_first_answer_s": stamps["answered"] - t0,
        "to_exit_s": t_exit - t0,
        "answered": stamps["answered_ok"],
        "chunks_added": stamps["chunks_added"],
        "unchanged_files": stamps["unchanged_files"],
        "model": stamps["model"],
        "rss_after_answer_mib": stamps["rss_mib"],
        "maxrss_after_answer_mib": stamps["maxrss_mib"],
    }


def median_row(rows: list[dict]) -> dict:
    keys = [k for k, v in rows[0].items() if isinstance(v, float)]
    return {k: round(statistics.median(r[k] for r in rows), 2) for k in keys}


def run(model: str | None, knowledge: Path, runs: int) -> dict:
    first, warm = [], []
    others = OtherLoad()
    with tempfile.TemporaryDirectory(prefix="ketenbot-cold-") as tmp:
        for n in range(runs):
            data_dir = Path(tmp) / f"data-{n}"
            first.append(one_start(data_dir, knowledge, model))
        # data-0 now holds a complete index: restart on it
        for _ in range(runs):
            warm.append(one_start(Path(tmp) / "data-0", knowledge, model))
    if any(r["chunks_added"] for r in warm):
        raise SystemExit("a warm start re-indexed something: the index was not reused")
    return {
        "model": warm[0]["model"],
        "knowledge": str(knowledge),
        "question": QUESTION,
        "runs": runs,
        "answered": all(r["answered"] for r in first + warm),
        "first_start": median_row(first),
        "first_start_chunks_added": first[0]["chunks_added"],
        "warm_index": median_row(warm),
        "warm_index_all_to_first_answer_s": [round(r["to_first_answer_s"], 2) for r in warm],
        "first_start_all_to_first_answer_s": [round(r["to_first_answer_s"], 2) for r in first],
        "other_processes_cores": others.cores(),
    }


def print_report(s: dict) -> None:
    print(f"model={s['model']} knowledge={s['knowledge']} runs={s['runs']} (medians, seconds)")
    cols = ["interpreter_s", "import_s", "build_core_s", "first_answer_s", "to_first_answer_s", "to_exit_s"]
    print(f"{'':28s}" + "".join(f"{c.removesuffix('_s'):>17s}" for c in cols))
    for label, key in (("warm index (restart)", "warm_index"),
                       (f"first start ({s['first_start_chunks_added']} chunks)", "first_start")):
        print(f"{label:28s}" + "".join(f"{s[key][c]:17.2f}" for c in cols))
    print(f"all runs to first answer: warm {s['warm_index_all_to_first_answer_s']}, "
          f"first start {s['first_start_all_to_first_answer_s']}")
    for label, key in (("warm index", "warm_index"), ("first start", "first_start")):
        row = s[key]
        print(f"RSS of the child after its first answer, {label}: "
              f"{row['rss_after_answer_mib']:.0f} MiB now, {row['maxrss_after_answer_mib']:.0f} MiB peak")
    print(f"answered: {s['answered']}; other processes used"
          f" {s['other_processes_cores']} of 2 cores meanwhile")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="EMBEDDING_MODEL to use")
    ap.add_argument("--runs", type=int, default=3, help="runs of each kind (median reported)")
    ap.add_argument("--knowledge", type=Path, default=ROOT / "knowledge", help="knowledge folder to index")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    summary = run(args.model, args.knowledge.resolve(), max(1, args.runs))
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print_report(summary)


if __name__ == "__main__":
    main()
