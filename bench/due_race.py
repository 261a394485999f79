"""Two ``ketenbot due`` processes started together, N times: nothing sent twice, nothing left out.

    .venv/bin/python bench/due_race.py [--runs 50] [--people 10] [--latency 0.05]
    .venv/bin/python bench/due_race.py --postgres postgresql+psycopg://root@127.0.0.1:5432/test

Every run starts from an empty database (SQLite: a new file; PostgreSQL: a throwaway database
on the ``--postgres`` server, emptied and migrated again before each run) and a new fake Slack
(served from this process) with a chain channel of ``--people`` people. The bench prepares one
moment at which something is due, alternating between three kinds:

- ``open``: a planned round ("checkin plan maandag 9:00") reaches its opening: open it,
  announce it in the channel, invite everyone (1 + people messages);
- ``remind``: a round started and invited earlier (by this bench, through the same fake), 3
  people answered; at ``remind_at`` the others get their one reminder;
- ``close``: a round started and invited earlier, 6 people answered; at ``closes_at`` the
  round closes and its summary is posted in the announcement's thread (1 message).

Then two ``ketenbot due --now <that moment>`` processes are started back to back (same DATA_DIR
and DATABASE_URL; SLACK_BOT_TOKEN differs only so the fake can tell them apart) and both run to
their end. The fake answers every call after ``--latency`` seconds (Slack is never instant),
so each process's work lasts longer than the gap between their starts and they really compete.

Counted at the fake, per key in the message metadata (``event_payload.key``): posts answered
200 and messages stored — duplicates (must be 0), keys due but never posted ("gaps", must be 0),
keys posted that were not due ("unexpected", must be 0). Also: processes that exited non-zero
or reported failures, claims left unfinished in ``deliveries``, and for ``open`` whether the
new round is still open afterwards. Plus the startup time of one ``ketenbot due`` process with
nothing due. Exit 1 when a correctness count is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_world import (  # noqa: E402
    AMS,
    MANAGER,
    MIN_GROUP,
    MONDAY,
    answer,
    database,
    empty_schema,
    median,
    metadata_key,
    people,
    registered_chain,
)
from machine import OtherLoad  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.checkins.due import run_due  # noqa: E402
from bot.checkins.store import Checkins  # noqa: E402
from bot.records.db import make_engine, migrate  # noqa: E402
from bot.records.schema import deliveries, participants, rounds  # noqa: E402
from bot.slack.messenger import SlackMessenger  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KETENBOT = ROOT / ".venv" / "bin" / "ketenbot"
CHANNEL = "CKETEN0002"
SETUP_TOKEN = "xoxb-bench-setup"
TOKENS = {"A": "xoxb-bench-process-a", "B": "xoxb-bench-process-b"}
KINDS = ("open", "remind", "close")
#: must all be 0: summed over runs, and (open) about the round the run opened
COUNTS = (
    "duplicates",
    "stored_duplicates",
    "gaps",
    "unexpected",
    "misplaced",
    "bad_exit",
    "reported_failed",
    "unfinished_claims",
)
OPEN_COUNTS = ("rounds_opened_not_1", "open_round_closed_early", "open_not_marked_invited")
MINIMAL = "bot.slack.messenger, bot.slack.ratelimit, bot.checkins.runner, bot.records.db"


def child_env(data_dir: Path, url: str, token: str, api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "PGPASSWORD")}
    env.update(
        DATA_DIR=str(data_dir),
        DATABASE_URL=url,
        SLACK_BOT_TOKEN=token,
        SLACK_API_URL=api_url,
        TZ="Europe/Amsterdam",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare(kind: str, store: Checkins, fake: FakeSlack, members: list[str]):  # noqa: ANN201
    """Set up the moment; return (now, round id or None for "the round this run opens")."""
    service, chain = registered_chain(store, CHANNEL)
    if kind == "open":
        reply = service.handle(MANAGER, CHANNEL, "checkin plan maandag 9:00", "nl", MONDAY)
        assert "maandag" in reply.text, reply.text
        return store.chain(chain["id"])["next_open_at"], None
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    setup = SlackMessenger(WebClient(token=SETUP_TOKEN, base_url=fake.base_url, timeout=10))
    report = run_due(store, setup, now=MONDAY, zone=AMS, min_group=MIN_GROUP)
    assert report.invited == len(members) and not report.failed, report
    round_ = store.open_round_of(chain["id"])
    for user in members[: 3 if kind == "remind" else 6]:
        store.save_response(round_["id"], user, answer(), MONDAY + (round_["remind_at"] - MONDAY) / 2)
    return (round_["remind_at"] if kind == "remind" else round_["closes_at"]), round_["id"]


def expected_keys(kind: str, round_id: str, members: list[str]) -> set[str]:
    if kind == "open":
        return {f"announce:{round_id}"} | {f"invite:{round_id}:{u}" for u in members}
    if kind == "remind":
        return {f"remind:{round_id}:{u}" for u in members[3:]}
    return {f"summary:{round_id}"}


def right_place(key: str, args: dict, fake: FakeSlack, store: Checkins) -> bool:
    """Invitations and reminders in the person's DM; the announcement in the channel; the summary
    in the channel, in the announcement's thread."""
    kind, round_id, *user = key.split(":")
    if kind in ("invite", "remind"):
        return bool(user) and args.get("channel") == fake.dm_channel(user[0])
    if kind == "announce":
        return args.get("channel") == CHANNEL and not args.get("thread_ts")
    if kind == "summary":
        round_ = store.round(round_id)
        return args.get("channel") == CHANNEL and args.get("thread_ts") == (round_ or {}).get("announce_ts")
    return False


def one_run(n: int, kind: str, url: str, tmp: Path, args: argparse.Namespace) -> dict:
    members = people(args.people)
    data_dir = tmp / f"run{n:03d}"
    data_dir.mkdir()
    with FakeSlack(tokens=(SETUP_TOKEN, *TOKENS.values()), seed=n) as fake:
        for i, user in enumerate(members):
            fake.add_user(user, locale="en-US" if i % 5 == 4 else "nl-NL")
        fake.add_channel(CHANNEL, name="jeugdketen-noord", members=members)
        engine = make_engine(url)
        if args.postgres_run:
            empty_schema(engine)
        migrate(engine)
        store = Checkins(engine)
        now, round_id = prepare(kind, store, fake, members)
        mark = len(fake.calls())
        if args.latency > 0:
            fake.delay(None, args.latency)

        procs, launched = {}, {}
        t0 = time.monotonic()
        for name, token in TOKENS.items():
            env = child_env(data_dir, url, token, fake.base_url)
            if name == "B" and args.stagger > 0:  # sweep the second start across the first's work
                time.sleep(random.Random(n).uniform(0, args.stagger) / 1000)
            launched[name] = time.monotonic() - t0
            procs[name] = subprocess.Popen(
                [str(KETENBOT), "due", "--now", now.isoformat()],
                cwd=data_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        outs = {}
        for name, proc in procs.items():
            try:
                out, err = proc.communicate(timeout=args.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            outs[name] = (proc.returncode, out, err, time.monotonic() - t0)
        fake.delay(None, 0)

        calls = fake.calls()[mark:]
        by_token = {
            name: [c for c in calls if c.header("Authorization") == f"Bearer {tok}"]
            for name, tok in TOKENS.items()
        }
        posts = Counter()
        posted_by = {name: 0 for name in TOKENS}
        spans = {}
        misplaced = 0  # a DM outside that person's DM, a channel message outside the channel or thread
        for name, own in by_token.items():
            for c in own:
                if c.method == "chat.postMessage" and c.status == 200:
                    key = metadata_key(c.args) or ""
                    posts[key] += 1
                    posted_by[name] += 1
                    misplaced += not right_place(key, c.args, fake, store)
            if own:
                spans[name] = (min(c.at for c in own), max(c.answered_at or c.at for c in own))
        stored = Counter(k for k in (metadata_key(m) for m in fake.messages()) if k)

        with engine.connect() as conn:
            if round_id is None:
                opened = conn.execute(select(rounds.c.id, rounds.c.closed_at)).all()
                round_id = opened[0].id if len(opened) == 1 else None
                extra = {"rounds_opened": len(opened), "closed_early": sum(1 for r in opened if r.closed_at)}
            else:
                extra = {}
            unfinished = conn.execute(
                select(func.count()).select_from(deliveries).where(deliveries.c.sent_at.is_(None))
            ).scalar_one()
            if kind == "open" and round_id:
                extra["not_marked"] = conn.execute(
                    select(func.count())
                    .select_from(participants)
                    .where(participants.c.round_id == round_id, participants.c.invited_at.is_(None))
                ).scalar_one()
        engine.dispose()

    want = expected_keys(kind, round_id, members) if round_id else set()
    got = {k for k in posts if k}
    reports = {}
    for name, (_rc, out, _err, _) in outs.items():
        try:
            reports[name] = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        except ValueError:
            reports[name] = {}
    overlap = len(spans) == 2 and max(s[0] for s in spans.values()) < min(s[1] for s in spans.values())
    return {
        "run": n,
        "kind": kind,
        "expected": len(want),
        "posted": sum(posts.values()),
        "duplicates": sum(v - 1 for v in posts.values() if v > 1),
        "stored_duplicates": sum(v - 1 for v in stored.values() if v > 1),
        "gaps": len(want - got),
        "misplaced": misplaced,
        "unexpected": len(got - want),
        "unexpected_keys": sorted(got - want)[:3],
        "both_posted": all(posted_by.values()),
        "calls_overlapped": overlap,
        "posted_by": posted_by,
        "bad_exit": sum(1 for rc, *_ in outs.values() if rc != 0),
        "reported_failed": sum(r.get("failed", 0) for r in reports.values()),
        "stderr": [err.strip().splitlines()[-1] for rc, out, err, _ in outs.values() if err.strip()][:2],
        "unfinished_claims": unfinished,
        "start_gap_ms": round((launched["B"] - launched["A"]) * 1000, 1),
        "both_done_s": round(max(o[3] for o in outs.values()), 2),
        "reports": reports,
        **extra,
    }


def startup_seconds(url: str, tmp: Path, runs: int) -> list[float]:
    """Wall time of ``ketenbot due`` with nothing due (a migrated, empty database; no Slack calls)."""
    data_dir = tmp / "startup"
    data_dir.mkdir(exist_ok=True)
    times = []
    for _ in range(runs):
        env = child_env(data_dir, url, TOKENS["A"], "http://127.0.0.1:9/api/")
        t0 = time.perf_counter()
        subprocess.run(
            [str(KETENBOT), "due", "--now", MONDAY.isoformat()],
            cwd=data_dir,
            env=env,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - t0)
    return times


def import_seconds(module: str, runs: int = 3) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return median(out)


def bench(kind_db: str, args: argparse.Namespace) -> dict:
    args.postgres_run = kind_db == "postgresql"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        results = []
        others = OtherLoad()
        with database(kind_db, tmp, args.postgres) as pg_url:
            for n in range(args.runs):
                kind = args.kinds[n % len(args.kinds)]
                url = pg_url if args.postgres_run else f"sqlite:///{tmp / f'run{n:03d}' / 'ketenbot.sqlite3'}"
                r = one_run(n, kind, url, tmp, args)
                results.append(r)
                if args.verbose:
                    print(json.dumps({k: v for k, v in r.items() if k != "reports"}), flush=True)
            if args.postgres_run:
                startup_url = pg_url
            else:
                startup_url = f"sqlite:///{tmp / 'startup' / 'ketenbot.sqlite3'}"
            engine = make_engine(startup_url)
            if args.postgres_run:
                empty_schema(engine)
            migrate(engine)
            engine.dispose()
            startup = startup_seconds(startup_url, tmp, args.startup_runs)
        cores = others.cores()
    return {"database": kind_db, "results": results, "startup_s": startup, "other_processes_cores": cores}


def summarize(b: dict) -> dict:
    rs = b["results"]
    out = {"database": b["database"], "runs": len(rs)}
    for kind in KINDS:
        mine = [r for r in rs if r["kind"] == kind]
        out[f"{kind}_runs"] = len(mine)
        out[f"{kind}_messages_due"] = sum(r["expected"] for r in mine)
        out[f"{kind}_both_posted"] = sum(r["both_posted"] for r in mine)
    for key in ("posted", *COUNTS):
        out[key] = sum(r[key] for r in rs)
    out["expected"] = sum(r["expected"] for r in rs)
    out["rounds_opened_not_1"] = sum(1 for r in rs if r["kind"] == "open" and r.get("rounds_opened") != 1)
    out["open_round_closed_early"] = sum(r.get("closed_early", 0) for r in rs)
    out["open_not_marked_invited"] = sum(r.get("not_marked", 0) for r in rs)
    out["calls_overlapped"] = sum(r["calls_overlapped"] for r in rs if r["kind"] != "close")
    out["start_gap_ms_median"] = round(median([r["start_gap_ms"] for r in rs]), 1)
    out["run_s_median"] = round(median([r["both_done_s"] for r in rs]), 2)
    out["due_startup_s_median"] = round(median(b["startup_s"]), 2)
    out["other_processes_cores"] = b["other_processes_cores"]
    return out


def problems(s: dict, b: dict) -> list[str]:
    wrong = [f"{k} = {s[k]}" for k in (*COUNTS, *OPEN_COUNTS) if s[k]]
    for r in b["results"]:
        if any(r[k] for k in COUNTS if k != "unfinished_claims"):
            wrong.append(
                f"run {r['run']} ({r['kind']}): dup {r['duplicates']} gaps {r['gaps']} "
                f"unexpected {r['unexpected_keys']} bad_exit {r['bad_exit']} "
                f"failed {r['reported_failed']} {r['stderr']}"
            )
    return wrong


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--latency", type=float, default=0.05, help="seconds the fake takes per call")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds a due process may take")
    ap.add_argument("--kinds", default=",".join(KINDS), help="moments to alternate (open,remind,close)")
    ap.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        help="start the second process 0..MS ms later (random per run); default together",
    )
    ap.add_argument("--startup-runs", type=int, default=5)
    ap.add_argument("--postgres", metavar="URL", help="also run on a throwaway database on this server")
    ap.add_argument("--only-postgres", action="store_true", help="skip SQLite")
    ap.add_argument("--verbose", action="store_true", help="one line per run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.kinds = [k for k in args.kinds.split(",") if k]
    if not args.kinds or set(args.kinds) - set(KINDS):
        ap.error(f"--kinds takes a comma-separated subset of {','.join(KINDS)}")
    kinds = ([] if args.only_postgres else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    benches = [bench(k, args) for k in kinds]
    summaries = [summarize(b) for b in benches]
    imports = {m: round(import_seconds(m), 2) for m in ("bot.slack.app", MINIMAL)}
    if args.json:
        print(json.dumps({"summaries": summaries, "imports_s": imports}, indent=2))
    else:
        print(f"{'':30s}" + "".join(f"{s['database']:>16s}" for s in summaries))
        for key in summaries[0]:
            if key == "database":
                continue
            print(f"{key:30s}" + "".join(f"{s[key]!s:>16s}" for s in summaries))
        for s, b in zip(summaries, benches, strict=True):
            runs = " ".join(f"{t:.2f}" for t in b["startup_s"])
            print(f"{s['database']}: one 'ketenbot due' with nothing due, each run: {runs} s")
        for module, seconds in imports.items():
            print(f"import {module}: {seconds} s")
    bad = [f"{s['database']}: {p}" for s, b in zip(summaries, benches, strict=True) for p in problems(s, b)]
    for line in bad:
        print("WRONG " + line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
