"""Report aggregation over a year of weekly check-ins: 300 chains x 25 members x 52 rounds.

    .venv/bin/python bench/report_aggregate.py
    .venv/bin/python bench/report_aggregate.py --postgres postgresql+psycopg://127.0.0.1:5432/test
    .venv/bin/python bench/report_aggregate.py --chains 30 --json

Fills an empty, migrated database -- a SQLite file in a temporary folder, and with ``--postgres
URL`` also a throwaway database on that server (created, then dropped) -- with ``--chains``
chains of ``--members`` participants, each with ``--weeks`` closed weekly rounds in which every
participant either answered (88%) or skipped (12%): 390,000 answer rows by default. Answers are
random but chain-specific (each chain leans to one stage), with some pulse items left open, a
setback now and then and free text in a fifth of the answers. Rows are written in bulk
(``executemany`` in batches on SQLite, ``COPY`` on PostgreSQL); PostgreSQL is then ``ANALYZE``d
as autovacuum would; SQLite is left as the bot leaves it (no ``ANALYZE``).

Timed: ``build_report`` for a coordinator (every chain, ``--weeks`` weeks) -- the first (cold) run,
then the median of ``--runs`` runs -- split into the SQL alone and the rest; the same with the
free-text comments; and for one chain (a chain manager's report). Target: the coordinator
report in <= 1 s on each database. Exit 1 when a sanity count is wrong (rows, rounds, invited,
answered + skipped, totals against what was written).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from machine import OtherLoad  # noqa: E402
from sqlalchemy import Engine, create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.records.db import make_engine, migrate  # noqa: E402
from bot.records.schema import chains, checkin_answers, participants, rounds  # noqa: E402
from bot.reports import query  # noqa: E402
from bot.reports.aggregate import build_report  # noqa: E402

NOW = datetime(2027, 12, 6, 12, 0, tzinfo=UTC)
STAGES = ("opportunisme", "procedure", "verankering", "weet_niet")
ANSWER_COLUMNS = (
    "round_id", "user_id", "skipped", "strategische_focus", "operationeel_model", "zichtbaarheid",
    "trust", "learning", "control", "setback", "went_well", "went_wrong", "learned", "submitted_at",
    "updated_at",
)
BATCH = 20_000


@contextmanager
def database(kind: str, tmp: Path, postgres: str | None) -> Iterator[str]:
    """A URL of an empty database: a SQLite file in ``tmp``, or a new database on the server."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'reports.sqlite3'}"
        return
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    name = f"ketenbot_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def generate(n_chains: int, members: int, weeks: int, seed: int = 5):
    """(chains, rounds, participants, answers) as row tuples, and the counts written."""
    rng = random.Random(seed)
    first = NOW - timedelta(weeks=weeks) + timedelta(hours=1)
    chain_rows, round_rows, participant_rows, answer_rows = [], [], [], []
    answered = skipped = 0
    for c in range(n_chains):
        chain_id = str(uuid.UUID(int=rng.getrandbits(128)))
        chain_rows.append({
            "id": chain_id, "name": f"Keten {c:03d}", "channel_id": f"C{c:09d}", "manager_id": f"UM{c:08d}",
            "created_at": first - timedelta(days=30), "remind_after_hours": 48, "open_hours": 96,
        })
        lean = rng.choices(range(4), weights=(3, 5, 3, 1), k=3)  # each chain leans somewhere
        people = [f"U{c:04d}{m:05d}" for m in range(members)]
        for w in range(weeks):
            opened = first + timedelta(weeks=w)
            round_id = str(uuid.UUID(int=rng.getrandbits(128)))
            closes = opened + timedelta(hours=96)
            round_rows.append({
                "id": round_id, "chain_id": chain_id, "slot": f"plan:{opened.isoformat()}",
                "opened_by": "plan", "opened_at": opened, "remind_at": opened + timedelta(hours=48),
                "closes_at": closes, "closed_at": closes, "participants_at": opened,
            })
            submitted = opened + timedelta(hours=2)
            for user in people:
                participant_rows.append((round_id, user, opened, None))
                if rng.random() < 0.12:
                    skipped += 1
                    answer_rows.append((round_id, user, True, *[None] * 10, submitted, submitted))
                    continue
                answered += 1
                stages = [STAGES[s if rng.random() < 0.6 else rng.randrange(4)] for s in lean]
                pulse = [rng.randint(1, 5) if rng.random() < 0.95 else None for _ in range(3)]
                texts = [f"tekst {rng.randrange(1000)}" if rng.random() < 0.2 else None for _ in range(3)]
                setback = rng.random() < 0.15
                answer_rows.append((round_id, user, False, *stages, *pulse, setback, *texts, submitted,
                                    submitted))
    counts = {"chains": n_chains, "rounds": len(round_rows), "participants": len(participant_rows),
              "answers": len(answer_rows), "answered": answered, "skipped": skipped}
    return chain_rows, round_rows, participant_rows, answer_rows, counts


def fill(engine: Engine, data) -> float:
    chain_rows, round_rows, participant_rows, answer_rows, _ = data
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(chains), chain_rows)
        conn.execute(insert(rounds), round_rows)
        if engine.dialect.name == "postgresql":
            cur = conn.connection.driver_connection.cursor()
            with cur.copy("COPY participants (round_id, user_id, invited_at, reminded_at) FROM STDIN") as cp:
                for row in participant_rows:
                    cp.write_row(row)
            with cur.copy(f"COPY checkin_answers ({', '.join(ANSWER_COLUMNS)}) FROM STDIN") as cp:
                for row in answer_rows:
                    cp.write_row(row)
        else:
            p_cols = ("round_id", "user_id", "invited_at", "reminded_at")
            for i in range(0, len(participant_rows), BATCH):
                conn.execute(insert(participants), [dict(zip(p_cols, r, strict=True))
                                                    for r in participant_rows[i : i + BATCH]])
            for i in range(0, len(answer_rows), BATCH):
                conn.execute(insert(checkin_answers), [dict(zip(ANSWER_COLUMNS, r, strict=True))
                                                       for r in answer_rows[i : i + BATCH]])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk insert
    return time.perf_counter() - started


def timed(fn, runs: int) -> tuple[float, float, object]:
    """(first run, median of the next ``runs`` runs, the last result)."""
    started = time.perf_counter()
    result = fn()
    first = time.perf_counter() - started
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return first, statistics.median(times), result


def run(kind: str, url: str, args: argparse.Namespace, data) -> tuple[dict, list[str]]:
    counts = data[-1]
    engine = make_engine(url)
    try:
        migrate(engine)
        load = fill(engine, data)
        since = NOW - timedelta(weeks=args.weeks)
        report_fn = lambda **kw: build_report(  # noqa: E731
            engine, chain_ids=kw.get("chain_ids"), weeks=args.weeks, min_group=5, now=NOW,
            comments=kw.get("comments", False), seed=1,
        )
        others = OtherLoad()
        sql_first, sql_median, _ = timed(lambda: query.round_counts(engine, chain_ids=None, since=since,
                                                                    until=NOW), args.runs)
        first, median, report = timed(report_fn, args.runs)
        c_first, c_median, with_comments = timed(lambda: report_fn(comments=True), max(1, args.runs // 2))
        one_chain = report.chains[len(report.chains) // 2].chain_id
        o_first, o_median, single = timed(lambda: report_fn(chain_ids=[one_chain]), args.runs)
        other_cores = others.cores()

        errors = []
        with engine.connect() as conn:
            tables = ((checkin_answers, "answers"), (participants, "participants"), (rounds, "rounds"))
            for table, key in tables:
                n = conn.execute(select(func.count()).select_from(table)).scalar_one()
                if n != counts[key]:
                    errors.append(f"{table.name}: {n} rows, wrote {counts[key]}")
        all_rounds = [r for c in report.chains for r in c.rounds]
        checks = {
            "chains in report": (len(report.chains), counts["chains"]),
            "rounds in report": (len(all_rounds), counts["rounds"]),
            "invited": (sum(r.invited for r in all_rounds), counts["participants"]),
            "answered": (sum(r.answered for r in all_rounds), counts["answered"]),
            "skipped": (sum(r.skipped for r in all_rounds), counts["skipped"]),
            "rounds shown": (sum(not r.suppressed for r in all_rounds), counts["rounds"]),
            "chains in total": (report.totals.chains if report.totals else 0, counts["chains"]),
            "one chain's rounds": (len(single.chains[0].rounds), args.weeks),
            "direction for every chain": (
                sum(all(v is not None for v in (c.trend_direction or {None: None}).values())
                    for c in report.chains),
                counts["chains"],
            ),
        }
        # one chain's figures, recounted here from the rows written
        sample = {r.round_id: r for r in single.chains[0].rounds}
        rows_by_round: dict[str, list[tuple]] = {}
        for row in data[3]:
            if row[0] in sample:
                rows_by_round.setdefault(row[0], []).append(row)
        wrong = 0
        for round_id, figures in sample.items():
            given = [row for row in rows_by_round[round_id] if not row[2]]
            shares = {s: sum(row[3] == s for row in given) / len(given) for s in STAGES}
            trust = [row[6] for row in given if row[6] is not None]
            got = figures.stage_shares["strategische_focus"]
            wrong += any(abs(got[s] - shares[s]) > 1e-9 for s in STAGES)
            wrong += abs(figures.pulse_means["trust"] - sum(trust) / len(trust)) > 1e-9
            wrong += figures.setbacks != sum(bool(row[9]) for row in given)
        checks["one chain's figures recounted, wrong"] = (wrong, 0)
        latest_answered = sum(c.rounds[-1].answered for c in report.chains)
        checks["total answered"] = (report.total_answered, latest_answered)
        comments = sum(len(c.comments or []) for c in with_comments.chains)
        for name, (got, want) in checks.items():
            if got != want:
                errors.append(f"{name}: {got}, expected {want}")
        return {
            "database": kind,
            "rows": {k: counts[k] for k in ("chains", "rounds", "participants", "answers")},
            "load_s": round(load, 1),
            "sql_only_s": {"first": round(sql_first, 3), "median": round(sql_median, 3)},
            "coordinator_s": {"first": round(first, 3), "median": round(median, 3)},
            "coordinator_with_comments_s": {"first": round(c_first, 3), "median": round(c_median, 3),
                                            "comments": comments},
            "one_chain_s": {"first": round(o_first, 4), "median": round(o_median, 4)},
            "target_1s_met": median <= 1.0,
            # CPU of other processes while timing, in cores; on PostgreSQL this includes the server
            "other_cores": other_cores,
        }, errors
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=300)
    parser.add_argument("--members", type=int, default=25)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a throwaway database is made there")
    parser.add_argument("--json", action="store_true", help="one JSON object per database")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    data = generate(args.chains, args.members, args.weeks)
    took = time.perf_counter() - started
    print(f"generated {data[-1]['answers']:,} answers in {took:.1f} s", file=sys.stderr)
    failed = False
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            with database(kind, Path(tmp), args.postgres) as url:
                result, errors = run(kind, url, args, data)
            if args.json:
                print(json.dumps(result | {"errors": errors}))
            else:
                print(f"{kind}: {result['rows']['answers']:,} answers, loaded in {result['load_s']} s")
                for key in ("sql_only_s", "coordinator_s", "coordinator_with_comments_s", "one_chain_s"):
                    print(f"  {key:28} {result[key]}")
                print(f"  coordinator report <= 1 s: {'met' if result['target_1s_met'] else 'NOT met'}")
                print(f"  other processes' CPU meanwhile: {result['other_cores']} cores")
            for error in errors:
                print(f"  SANITY: {error}", file=sys.stderr)
            failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
