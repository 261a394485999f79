"""A simulated year of nudges for 20 chains, with a moving clock and two schedulers.

Every simulated hour from 06:00 to 22:00 two schedulers run the due work at the same moment (in
two threads, on one database); each chain holds a weekly check-in round in which, now and then,
setbacks are reported. Counted at the messenger by delivery key and tip:

- nudges sent per chain (scheduled and contextual);
- repeats of a scheduled tip before the chain had every tip of the library (target 0);
- nudges on Dutch public holidays, at weekends or outside 08:00–18:00 (target 0);
- weeks with more than one contextual nudge for a chain (target 0, the cap);
- duplicate deliveries (the same key twice; target 0).

    .venv/bin/python bench/nudge_year.py [--chains 20] [--postgres URL]

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from bot.checkins.due import run_due  # noqa: E402
from bot.checkins.model import CheckinResponse  # noqa: E402
from bot.checkins.service import CheckinService  # noqa: E402
from bot.checkins.store import Checkins  # noqa: E402
from bot.checkins.when import is_dutch_holiday  # noqa: E402
from bot.nudges.advice import library  # noqa: E402
from bot.nudges.schedule import Nudges, iso_week  # noqa: E402
from bot.records.db import make_engine, migrate  # noqa: E402

AMS = ZoneInfo("Europe/Amsterdam")
ADMIN = "UADMIN0001"
START = datetime(2027, 1, 4, 6, 0, tzinfo=AMS)  # a Monday


class Recorder:
    """A messenger that keeps what was sent, with the simulated moment."""

    def __init__(self, members: dict[str, list[str]]):
        self.members, self.sent, self.now = members, [], None
        self._lock = threading.Lock()

    def human_members(self, channel_id: str) -> list[str]:
        return self.members[channel_id]

    def language(self, user_id: str) -> str:
        return "nl"

    def send(self, **message) -> str:
        with self._lock:
            self.sent.append({**message, "at": self.now})
            return f"1900000000.{len(self.sent):06d}"


def answer(rng: random.Random, setback: bool) -> CheckinResponse:
    stage = rng.choice(["opportunisme", "procedure", "procedure", "verankering", "weet_niet"])
    stages = {"strategische_focus": stage, "operationeel_model": stage, "zichtbaarheid": stage}
    pulse = {"trust": rng.randint(2, 5), "learning": rng.randint(2, 5), "control": rng.randint(1, 4)}
    return CheckinResponse(stages, pulse, setback, None, None, None)


def simulate(engine, chains: int) -> dict:
    store, nudges = Checkins(engine), Nudges(engine)
    service = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=5, nudges=nudges)
    reports = SimpleNamespace(engine=engine, min_group=5)
    members, managers = {}, {}
    start = START.astimezone(UTC)
    for i in range(chains):
        channel, manager = f"CSIM{i:04d}", f"USIMMGR{i:03d}"
        members[channel] = [f"USIM{i:03d}M{j:02d}" for j in range(8)]
        managers[channel] = manager
        service.handle(ADMIN, channel, f"rol ketenmanager <@{manager}|m>", "nl", start)
        service.handle(manager, channel, f"keten registreer Keten {i}", "nl", start)
        service.handle(manager, channel, "checkin plan maandag 9:00", "nl", start)
    messenger = Recorder(members)
    rng = random.Random(5)
    runs = 0
    now = start
    end = start + timedelta(days=365)
    while now < end:
        local = now.astimezone(AMS)
        if 6 <= local.hour <= 22:
            messenger.now = now
            barrier = threading.Barrier(2)

            def scheduler(moment=now, gate=barrier):
                gate.wait()
                run_due(store, messenger, now=moment, zone=AMS, min_group=5, nudges=nudges, reports=reports)

            threads = [threading.Thread(target=scheduler) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            runs += 2
            if local.weekday() == 1 and local.hour == 12:  # Tuesday noon: the chains answer
                for channel in members:
                    chain = store.chain_by_channel(channel)
                    current = store.open_round_of(chain["id"])
                    if current is None:
                        continue
                    setback = rng.random() < 0.15
                    for person in members[channel][: rng.randint(4, 8)]:
                        try:
                            store.save_response(current["id"], person, answer(rng, setback), now)
                        except Exception:  # noqa: BLE001, S112 - not invited (absent) or closed: skip
                            continue
        now += timedelta(hours=1)
    return {"sent": messenger.sent, "runs": runs, "chains": store.all_chains()}


def count(result: dict) -> dict:
    tips = library()
    by_quote = {t.quote: t.id for t in tips}
    keys = Counter(m["key"] for m in result["sent"])
    per_chain_sched: dict[str, list[str]] = defaultdict(list)
    ctx_weeks: Counter = Counter()
    bad_time = 0
    channel_of = {c["channel_id"]: c["id"] for c in result["chains"]}
    manager_of = {c["manager_id"]: c["id"] for c in result["chains"]}
    for m in result["sent"]:
        if not m["key"].startswith("nudge"):
            continue
        local = m["at"].astimezone(AMS)
        if is_dutch_holiday(local.date()) or local.weekday() >= 5 or not 8 <= local.hour < 18:
            bad_time += 1
        chain = channel_of.get(m.get("channel_id")) or manager_of.get(m.get("user_id"))
        tip = next((tid for q, tid in by_quote.items() if q in str(m["blocks"])), None)
        if m["key"].startswith("nudge:"):
            per_chain_sched[chain].append(tip)
        else:
            ctx_weeks[(chain, iso_week(m["at"], AMS))] += 1
    repeats = 0
    for sent in per_chain_sched.values():
        for start in range(0, len(sent), len(tips)):
            block = sent[start:start + len(tips)]
            repeats += len(block) - len(set(block))
    scheduled = [len(v) for v in per_chain_sched.values()]
    contextual = Counter(chain for chain, _ in ctx_weeks.elements())
    return {
        "runs": result["runs"],
        "nudges": sum(1 for m in result["sent"] if m["key"].startswith("nudge")),
        "scheduled_per_chain_min_max": (min(scheduled, default=0), max(scheduled, default=0)),
        "contextual_per_chain_min_max": (
            min(contextual.values(), default=0), max(contextual.values(), default=0)
        ),
        "repeats_before_library_used": repeats,
        "on_holiday_weekend_or_quiet_hours": bad_time,
        "weeks_over_cap": sum(1 for n in ctx_weeks.values() if n > 1),
        "duplicate_deliveries": sum(n - 1 for n in keys.values() if n > 1),
        "library_size": len(tips),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=20)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a throwaway database is made there")
    args = parser.parse_args(argv)
    if args.postgres:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"ketenbot_nudges_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url, cleanup = admin.url.set(database=name).render_as_string(hide_password=False), (admin, name)
    else:
        folder = tempfile.mkdtemp(prefix="nudge_year_")
        url, cleanup = f"sqlite:///{folder}/year.sqlite3", None
    engine = make_engine(url)
    migrate(engine)
    started = time.perf_counter()
    try:
        figures = count(simulate(engine, args.chains))
    finally:
        engine.dispose()
        if cleanup:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    for key, value in figures.items():
        print(f"{key:40} {value}")
    wrong = (figures["repeats_before_library_used"] or figures["on_holiday_weekend_or_quiet_hours"]
             or figures["weeks_over_cap"] or figures["duplicate_deliveries"] or not figures["nudges"])
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
