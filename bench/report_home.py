"""App Home render time for a coordinator, a chain manager and a member, over a year of check-ins.

    .venv/bin/python bench/report_home.py
    .venv/bin/python bench/report_home.py --sqlite /tmp/home.sqlite3          # filled once, then reused
    .venv/bin/python bench/report_home.py --postgres postgresql+psycopg://root@127.0.0.1:5432/test

Fills the data of ``bench/report_aggregate.py`` (its ``generate`` and ``fill``: 300 chains x 25
members x 52 closed weekly rounds, 390,000 answers) into a migrated SQLite file -- a temporary
one, or ``--sqlite PATH``, which is filled when empty and reused as it is when it already holds
chains -- and with ``--postgres URL`` into a throwaway database on that server (dropped after).

Wired as in tests/test_report_surface.py: ``SlackDeps`` with a ``ReportService`` and a
``CheckinService`` over the same ``Checkins`` store (clock fixed at the data's "now"), a stub
answerer, a coordinator role granted. Timed, per person: ``home_view_for(deps, user, "nl")``
plus ``view.to_dict()`` (what ``views.publish`` is sent) -- the first run, then the median and
p95 of ``--runs`` runs (nearest rank: with 10 runs the p95 is the slowest). Printed: the view's
block count (Slack: at most 100), its JSON size, and whether slack_sdk's validation passes
(``to_dict`` validates the view and every block in it). Then, for the coordinator, where the
time goes (each part timed on its own, median) and -- when the median is over the 300 ms target
or with ``--profile`` -- a cProfile of one render; and how many full (generation 2) garbage
collections ran during each person's renders, and how long they took. ``--what-if`` times
candidate fixes without touching bot/: a shorter window, only the 20 chains the Home shows (and
whether their lines come out the same), an index on ``checkin_answers (user_id)`` for
``own_answers`` (created in the bench database, dropped again), and ``gc.freeze()`` once before
the renders.

Exit 1 when a view fails validation, holds more than 100 blocks, shows the storage-down text,
or misses what that person should see.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import pstats
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from machine import OtherLoad  # noqa: E402
from report_aggregate import NOW, database, fill, generate  # noqa: E402
from slack_sdk.errors import SlackObjectFormationError  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from bot.checkins.messages import say  # noqa: E402
from bot.checkins.service import CheckinService  # noqa: E402
from bot.checkins.store import COORDINATOR, Checkins  # noqa: E402
from bot.records.db import make_engine, migrate  # noqa: E402
from bot.records.schema import chains, checkin_answers  # noqa: E402
from bot.records.store import Records  # noqa: E402
from bot.reports import query  # noqa: E402
from bot.reports.aggregate import build_report  # noqa: E402
from bot.reports.service import DEFAULT_WEEKS, ReportService, chain_lines  # noqa: E402
from bot.slack.deps import SlackDeps  # noqa: E402
from bot.slack.listeners.reports import MAX_HOME_CHAINS, home_view_for  # noqa: E402
from tests.fakes.slack_requests import StubAnswerer  # noqa: E402

AMS = ZoneInfo("Europe/Amsterdam")
COORD, ADMIN = "U0COORD01", "U0ADMIN01"
TARGET_S = 0.300
BLOCK_LIMIT = 100


def clock():
    return NOW


def stats(times: list[float]) -> dict:
    ordered = sorted(times)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"median_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": round(p95 * 1000, 1)}


def timed(fn, runs: int) -> tuple[float, list[float], object]:
    """(first run, the next ``runs`` run times, the last result), in seconds."""
    started = time.perf_counter()
    result = fn()
    first = time.perf_counter() - started
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return first, times, result


class FullCollections:
    """Counts the garbage collector's full (generation 2) collections and the time they took."""

    def __enter__(self) -> FullCollections:
        self.count, self.seconds, self._start = 0, 0.0, None
        gc.callbacks.append(self._hook)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._hook)

    def _hook(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        elif self._start is not None:
            self.count += 1
            self.seconds += time.perf_counter() - self._start


def median_ms(fn, runs: int) -> float:
    return stats(timed(fn, runs)[1])["median_ms"]


@contextmanager
def sqlite_file(path: Path | None) -> Path:
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp) / "home.sqlite3"


def ensure_filled(engine, args) -> tuple[str, float | None]:
    """Fill the database when it has no chains; returns (what was done, load seconds). The
    generated rows (over a million objects) are let go before anything is timed: kept, they
    would make every full garbage collection during the renders several times slower."""
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(chains)).scalar_one()
    if n:
        return f"reused ({n} chains)", None
    started = time.perf_counter()
    data = generate(args.chains, args.members, args.weeks)
    print(
        f"generated {data[-1]['answers']:,} answers in {time.perf_counter() - started:.1f} s", file=sys.stderr
    )
    load = fill(engine, data)
    del data
    gc.collect()
    return "filled", load


def wire(engine) -> SlackDeps:
    store = Checkins(engine, clock=clock)
    store.grant(COORD, COORDINATOR, by=ADMIN)
    service = ReportService(engine, store, admins=(ADMIN,), min_group=5, zone=AMS, clock=clock)
    checkins = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=5)
    return SlackDeps(
        StubAnswerer(), Records(engine, clock=clock), checkins=checkins, reports=service, clock=clock
    )


def people(engine) -> dict[str, str]:
    """The coordinator, the manager of the middle chain and a member of it."""
    with engine.connect() as conn:
        names = conn.execute(select(chains.c.name, chains.c.manager_id).order_by(chains.c.name)).all()
        name, manager = names[len(names) // 2]
        member = conn.execute(
            select(checkin_answers.c.user_id)
            .where(checkin_answers.c.user_id.like(f"U{name.split()[-1].zfill(4)}%"))
            .order_by(checkin_answers.c.user_id)
            .limit(1)
        ).scalar_one()
    return {"coordinator": COORD, "manager": manager, "member": member, "chain": name}


def render(deps: SlackDeps, user: str):
    view = home_view_for(deps, user, "nl")
    return view, view.to_dict()


def check_view(role: str, view, payload: dict, who: dict, n_chains: int) -> tuple[dict, list[str]]:
    errors = []
    try:
        view.validate_json()  # to_dict validated every block already; this is the view itself again
        valid = True
    except SlackObjectFormationError as exc:
        valid, _ = False, errors.append(f"{role}: invalid view ({exc})")
    body = json.dumps(payload, ensure_ascii=False)
    blocks = len(payload["blocks"])
    if blocks > BLOCK_LIMIT:
        errors.append(f"{role}: {blocks} blocks")
    if say("storage_down", "nl") in body:
        errors.append(f"{role}: the view says the storage is down")
    sections = [b for b in payload["blocks"] if b["type"] == "section"]
    expect = {
        "coordinator": [
            "Ketenbot-rapport",
            "Keten 000",
            f"En nog {n_chains - MAX_HOME_CHAINS} ketens" if n_chains > MAX_HOME_CHAINS else "",
            "Jouw laatste check-ins",
        ],
        "manager": ["Ketenbot-rapport", who["chain"], "Laatste gesloten ronde"],
        "member": ["Jouw laatste check-ins", who["chain"]],
    }[role]
    errors += [f"{role}: {want!r} missing" for want in expect if want not in body]
    if role == "member" and "Ketenbot-rapport" in body:
        errors.append("member: sees a report")
    if role == "coordinator" and body.count("Laatste gesloten ronde") != min(n_chains, MAX_HOME_CHAINS):
        errors.append(f"coordinator: {body.count('Laatste gesloten ronde')} chains with figures")
    return {
        "blocks": blocks,
        "sections": len(sections),
        "json_bytes": len(body.encode()),
        "valid": valid,
    }, errors


def breakdown(deps: SlackDeps, runs: int) -> dict:
    """The coordinator's Home, part by part, each timed on its own (median, ms)."""
    service, store = deps.reports, deps.checkins.store
    view, _ = render(deps, COORD)
    report = service.request(COORD, "", "nl", surface="home").report
    since = NOW - timedelta(weeks=DEFAULT_WEEKS)
    parts = {
        "visible_chains (x2: Home, then request)": 2 * median_ms(lambda: service.visible_chains(COORD), runs),
        f"build_report, all chains, {DEFAULT_WEEKS} weeks": median_ms(
            lambda: build_report(service.engine, chain_ids=None, weeks=DEFAULT_WEEKS, min_group=5, now=NOW),
            runs,
        ),
        "  of which query.round_counts (SQL + rows to RoundCounts)": median_ms(
            lambda: query.round_counts(service.engine, chain_ids=None, since=since, until=NOW), runs
        ),
        "log_view (one INSERT)": median_ms(lambda: service.log_view(COORD, "home", "all; 12 weeks"), runs),
        f"chain_lines for the {MAX_HOME_CHAINS} chains shown": median_ms(
            lambda: [chain_lines(c, "nl", AMS) for c in report.chains[:MAX_HOME_CHAINS]], runs
        ),
        "own_answers (coordinator, no answers)": median_ms(lambda: store.own_answers(COORD, limit=5), runs),
        "view.to_dict()": median_ms(view.to_dict, runs),
    }
    return {k: round(v, 1) for k, v in parts.items()}


def profile(deps: SlackDeps, top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    render(deps, COORD)
    prof.disable()
    out = io.StringIO()
    st = pstats.Stats(prof, stream=out).strip_dirs()
    st.sort_stats("cumulative").print_stats(top)
    st.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def what_if(engine, deps: SlackDeps, who: dict, runs: int) -> dict:
    service, store = deps.reports, deps.checkins.store
    out = {}
    for weeks in (4, 8, DEFAULT_WEEKS):
        out[f"build_report all chains, {weeks} weeks"] = median_ms(
            lambda w=weeks: build_report(engine, chain_ids=None, weeks=w, min_group=5, now=NOW), runs
        )
    full = build_report(engine, chain_ids=None, weeks=DEFAULT_WEEKS, min_group=5, now=NOW)
    shown = [c.chain_id for c in full.chains[:MAX_HOME_CHAINS]]
    out[f"build_report the {MAX_HOME_CHAINS} shown chains only, {DEFAULT_WEEKS} weeks (+ chain_count)"] = (
        median_ms(
            lambda: (
                build_report(engine, chain_ids=shown, weeks=DEFAULT_WEEKS, min_group=5, now=NOW),
                service.chain_count(),
            ),
            runs,
        )
    )
    part = build_report(engine, chain_ids=shown, weeks=DEFAULT_WEEKS, min_group=5, now=NOW)
    same = sum(
        chain_lines(a, "nl", AMS) == chain_lines(b, "nl", AMS)
        for a, b in zip(full.chains[:MAX_HOME_CHAINS], part.chains, strict=True)
    )
    out[f"  ... shown chains with the same lines as in the full report (of {MAX_HOME_CHAINS})"] = same
    before = {u: median_ms(lambda u=u: store.own_answers(u, limit=5), runs) for u in (COORD, who["member"])}
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX bench_ix_answers_user ON checkin_answers (user_id)"))
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE checkin_answers"))
        after = {
            u: median_ms(lambda u=u: store.own_answers(u, limit=5), runs) for u in (COORD, who["member"])
        }
        with_index = stats(timed(lambda: render(deps, COORD), runs)[1])["median_ms"]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX bench_ix_answers_user"))
    for u, role in ((COORD, "coordinator"), (who["member"], "member")):
        out[f"own_answers ({role}) without / with an index on checkin_answers (user_id)"] = (
            f"{before[u]} / {after[u]}"
        )
    out["coordinator Home with that index (median)"] = with_index
    gc.collect()
    gc.freeze()  # what the bot could do once at startup: the objects alive then are never scanned again
    try:
        with FullCollections() as full:
            times = timed(lambda: render(deps, COORD), runs)[1]
    finally:
        gc.unfreeze()
    s = stats(times)
    out["coordinator Home after gc.freeze(): median / p95 (full collections)"] = (
        f"{s['median_ms']} / {s['p95_ms']} ({full.count})"
    )
    return out


def run(kind: str, url: str, args: argparse.Namespace) -> tuple[dict, list[str], str]:
    engine = make_engine(url)
    try:
        migrate(engine)
        how, load = ensure_filled(engine, args)
        deps = wire(engine)
        who = people(engine)
        n_chains = deps.reports.chain_count()
        gc.collect()
        gc.freeze()  # as `ketenbot run` does once it has started
        others = OtherLoad()
        result = {
            "database": kind,
            "runs": args.runs,
            "data": how,
            "load_s": None if load is None else round(load, 1),
            "chains": n_chains,
            "people": {k: who[k] for k in ("manager", "member")},
        }
        errors: list[str] = []
        for role in ("coordinator", "manager", "member"):
            with FullCollections() as full:
                first, times, (view, payload) = timed(lambda r=role: render(deps, who[r]), args.runs)
            shape, wrong = check_view(role, view, payload, who, n_chains)
            errors += wrong
            result[role] = {
                "first_ms": round(first * 1000, 1),
                **stats(times),
                **shape,
                "full_gc": full.count,
                "full_gc_ms": round(full.seconds * 1000, 1),
            }
        result["coordinator"]["target_300ms_met"] = result["coordinator"]["median_ms"] <= TARGET_S * 1000
        result["coordinator_parts_ms"] = breakdown(deps, args.runs)
        result["other_cores"] = others.cores()
        prof = ""
        if args.profile or not result["coordinator"]["target_300ms_met"]:
            prof = profile(deps, args.top)
        if args.what_if:
            result["what_if_ms"] = what_if(engine, deps, who, args.runs)
        return result, errors, prof
    finally:
        engine.dispose()


def show(result: dict) -> None:
    print(
        f"{result['database']}: {result['chains']} chains, data {result['data']}"
        + (f", loaded in {result['load_s']} s" if result["load_s"] is not None else "")
    )
    for role in ("coordinator", "manager", "member"):
        r = result[role]
        print(
            f"  {role:11} first {r['first_ms']:7.1f} ms  median {r['median_ms']:7.1f} ms"
            f"  p95 {r['p95_ms']:7.1f} ms"
            f"  | {r['blocks']} blocks ({r['sections']} sections), {r['json_bytes']:,} bytes JSON,"
            f" slack_sdk validation {'passes' if r['valid'] else 'FAILS'}"
        )
        if r["full_gc"]:
            print(
                f"  {'':11} {r['full_gc']} full garbage collections during its {1 + result['runs']} renders,"
                f" {r['full_gc_ms']:.0f} ms in all"
            )
    met = result["coordinator"]["target_300ms_met"]
    print(f"  coordinator Home <= 300 ms (median): {'met' if met else 'NOT met'}")
    print("  coordinator Home, part by part (median ms, each timed alone):")
    for part, ms in result["coordinator_parts_ms"].items():
        print(f"    {part:58} {ms:8.1f}")
    for key, value in result.get("what_if_ms", {}).items():
        if key == next(iter(result["what_if_ms"])):
            print("  what if (median ms):")
        print(f"    {key:80} {value}")
    print(f"  other processes' CPU meanwhile: {result['other_cores']} cores")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=300)
    parser.add_argument("--members", type=int, default=25)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sqlite", type=Path, help="a SQLite file: filled when empty, else reused as it is")
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a throwaway database is made there")
    parser.add_argument(
        "--profile", action="store_true", help="profile the coordinator's Home even when fast"
    )
    parser.add_argument("--top", type=int, default=25, help="rows of each cProfile listing")
    parser.add_argument("--what-if", action="store_true", help="time candidate fixes (see above)")
    parser.add_argument("--json", action="store_true", help="one JSON object per database")
    args = parser.parse_args(argv)

    failed = False
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    with sqlite_file(args.sqlite) as sqlite_path:
        for kind in kinds:
            if kind == "sqlite":
                result, errors, prof = run(kind, f"sqlite:///{sqlite_path}", args)
            else:
                with database(kind, sqlite_path.parent, args.postgres) as url:
                    result, errors, prof = run(kind, url, args)
            if args.json:
                print(json.dumps(result | {"errors": errors}))
            else:
                show(result)
            if prof:
                print(
                    f"  cProfile of one coordinator Home ({kind}):\n{prof}",
                    file=sys.stderr if args.json else sys.stdout,
                )
            for error in errors:
                print(f"  CHECK: {error}", file=sys.stderr)
            failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
