"""The same check-in answer submitted several times at once: still one row per person.

    .venv/bin/python bench/checkin_submits.py [--people 100] [--times 4]
    .venv/bin/python bench/checkin_submits.py --postgres postgresql+psycopg://root@127.0.0.1:5432/test

A round with ``--people`` participants; for each participant in turn, ``--times`` threads wait at
a barrier and then call ``Checkins.save_response`` with the same answer (as a double-clicked
submit or Slack's retries would). Counted afterwards: answer rows (must equal ``--people``),
submissions that raised (must be 0), rows whose stored answer differs from the submitted one
(must be 0). Timed: each burst from the barrier to the last thread's return.

SQLite always; PostgreSQL too with ``--postgres URL`` (a throwaway database on that server).
Exit 1 when a count is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_world import MONDAY, answer, database, median, pct, people, registered_chain  # noqa: E402
from machine import OtherLoad  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.checkins.store import Checkins  # noqa: E402
from bot.records.db import make_engine, migrate  # noqa: E402
from bot.records.schema import checkin_answers  # noqa: E402

CHANNEL = "CKETEN0003"


def run(kind: str, tmp: Path, args: argparse.Namespace) -> dict:
    members = people(args.people)
    with database(kind, tmp, args.postgres) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Checkins(engine)
        _, chain = registered_chain(store, CHANNEL)
        round_ = store.open_round(chain, opened_by="bench", now=MONDAY)
        store.fix_participants(round_["id"], members, MONDAY)
        submitted = answer("procedure")
        failures: list[str] = []
        bursts: list[float] = []
        others = OtherLoad()
        started = time.monotonic()
        for user in members:
            barrier = threading.Barrier(args.times + 1)

            def submit(user: str = user, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                try:
                    store.save_response(round_["id"], user, submitted, MONDAY)
                except Exception as exc:  # noqa: BLE001 - counted
                    failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")

            threads = [threading.Thread(target=submit) for _ in range(args.times)]
            for t in threads:
                t.start()
            barrier.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            bursts.append((time.perf_counter() - t0) * 1000)
        total = time.monotonic() - started
        cores = others.cores()
        with engine.connect() as conn:
            mine = checkin_answers.c.round_id == round_["id"]
            rows = conn.execute(select(func.count()).select_from(checkin_answers).where(mine)).scalar_one()
        differing = sum(1 for u in members if store.response_of(round_["id"], u) != (False, submitted))
        engine.dispose()
    return {
        "database": kind,
        "people": args.people,
        "times": args.times,
        "submissions": args.people * args.times,
        "rows": rows,
        "failed_submissions": len(failures),
        "failure_kinds": sorted(set(failures))[:5],
        "rows_differing": differing,
        "burst_ms_p50": round(median(bursts), 1),
        "burst_ms_p95": round(pct(bursts, 0.95), 1),
        "burst_ms_max": round(max(bursts), 1),
        "total_s": round(total, 2),
        "other_processes_cores": cores,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=100)
    ap.add_argument("--times", type=int, default=4, help="concurrent submissions of the same answer")
    ap.add_argument("--postgres", metavar="URL", help="also run on a throwaway database on this server")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    for kind in ["sqlite"] + (["postgresql"] if args.postgres else []):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run(kind, Path(tmp), args))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        keys = [k for k in results[0] if k not in ("database", "failure_kinds")]
        print(f"{'':24s}" + "".join(f"{r['database']:>14s}" for r in results))
        for k in keys:
            print(f"{k:24s}" + "".join(f"{r[k]!s:>14s}" for r in results))
        for r in results:
            for f in r["failure_kinds"]:
                print(f"{r['database']}: {f}")
    bad = []
    for r in results:
        if r["rows"] != r["people"]:
            bad.append(f"{r['database']}: {r['rows']} rows, expected {r['people']}")
        if r["failed_submissions"]:
            bad.append(f"{r['database']}: {r['failed_submissions']} submissions raised")
        if r["rows_differing"]:
            bad.append(f"{r['database']}: {r['rows_differing']} stored answers differ from the submitted one")
    for line in bad:
        print("WRONG " + line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
