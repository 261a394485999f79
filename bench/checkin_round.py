"""A check-in round for 200 people while Slack answers 429 on 10% of calls.

    .venv/bin/python bench/checkin_round.py [--people 200] [--share 0.1] [--retry-after 1]
    .venv/bin/python bench/checkin_round.py --postgres postgresql+psycopg://root@127.0.0.1:5432/test

A chain channel in the fake Slack has ``--people`` human members and the bot. The chain manager
starts a round ("checkin start", on a working Monday morning), then due work runs as the bot runs
it (``DueRunner.run`` with a ``SlackMessenger`` over ``make_client(settings)`` pointed at the fake)
until every invitation is out; a run that reports failures is followed by another (at most
``--max-runs``). Meanwhile the fake answers a random ``--share`` of all Web API calls (every
method) with HTTP 429 and ``Retry-After``.

Counted at the fake afterwards: invitation messages per person in their DM (by the metadata key
``invite:<round>:<user>``) — duplicates and missing ones must be 0; announcements in the channel
(must be 1); 429s answered, per method; calls sent into a Retry-After window the client already
knew of (must be 0); calls that came back sooner than Retry-After after a 429 (must be 0). "Round
start" is the wall time from starting due work to the last invitation the fake stored.
Exit 1 when a correctness count is wrong. SQLite by default; ``--postgres URL`` uses a throwaway
database on that server instead.
"""

from __future__ import annotations

import argparse
import json
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
    database,
    into_known_windows,
    metadata_key,
    people,
    registered_chain,
)
from machine import OtherLoad  # noqa: E402

from bot.checkins.runner import DueRunner  # noqa: E402
from bot.checkins.store import Checkins  # noqa: E402
from bot.records.db import make_engine, migrate  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.slack.app import make_client  # noqa: E402
from bot.slack.messenger import SlackMessenger  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

CHANNEL = "CKETEN0001"


def run(args: argparse.Namespace, kind: str, tmp: Path) -> dict:
    members = people(args.people)
    with FakeSlack(seed=7) as fake, database(kind, tmp, args.postgres) as url:
        for n, user in enumerate(members):
            fake.add_user(user, locale="en-US" if n % 5 == 4 else "nl-NL")  # one in five English
        fake.add_channel(CHANNEL, name="jeugdketen-noord", members=members)  # the bot is a member too
        engine = make_engine(url)
        migrate(engine)
        store = Checkins(engine)
        service, chain = registered_chain(store, CHANNEL)
        reply = service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
        assert reply.run_due, reply.text
        round_id = store.open_round_of(chain["id"])["id"]

        settings = load_settings(
            {"SLACK_BOT_TOKEN": fake.token, "SLACK_API_URL": fake.base_url, "DATA_DIR": str(tmp / "data")},
            env_file=None,
        )
        runner = DueRunner(store, SlackMessenger(make_client(settings)), zone=AMS, min_group=MIN_GROUP)
        if args.share > 0:
            fake.fail_rate(None, share=args.share, status=429, retry_after=args.retry_after, seed=args.seed)

        others = OtherLoad()
        started = time.monotonic()
        reports = []
        while len(reports) < args.max_runs:
            report = runner.run(MONDAY)
            reports.append(report.as_dict())
            if not store.to_invite(round_id) and not report.failed:
                break
        elapsed = time.monotonic() - started
        cores = others.cores()
        time.sleep(args.retry_after + 0.5)  # anything still arriving would be a late duplicate

        calls = fake.calls()
        limits = fake.rate_limits()
        expected = {f"invite:{round_id}:{u}": u for u in members}
        in_own_dm = Counter()
        for user in members:
            dm = fake.dm_channel(user)
            for message in fake.messages(dm) if dm else []:
                if metadata_key(message) == f"invite:{round_id}:{user}":
                    in_own_dm[user] += 1
        everywhere = Counter(k for k in (metadata_key(m) for m in fake.messages()) if k)
        invites_anywhere = sum(n for k, n in everywhere.items() if k.startswith("invite:"))
        stored_dm_times = [
            c.answered_at
            for c in calls
            if c.method == "chat.postMessage" and c.status == 200 and metadata_key(c.args) in expected
        ]
        status = store.status(round_id)
        not_marked = len(store.to_invite(round_id))
        engine.dispose()

    per_method = Counter(c.method for c in calls)
    limited = Counter(r.method for r in limits)
    return {
        "database": kind,
        "people": args.people,
        "share_429": args.share,
        "retry_after_s": args.retry_after,
        "seed": args.seed,
        "due_runs": len(reports),
        "run_failures": sum(r["failed"] for r in reports),
        "run_errors": sorted({e for r in reports for e in r["errors"]}),
        "participants": status.invited,
        "invited_once": sum(1 for u in members if in_own_dm[u] == 1),
        "duplicates": sum(max(0, in_own_dm[u] - 1) for u in members)
        + max(0, invites_anywhere - sum(in_own_dm.values())),
        "missing": sum(1 for u in members if in_own_dm[u] == 0),
        "announcements": everywhere.get(f"announce:{round_id}", 0),
        "not_marked_invited": not_marked,
        "calls": len(calls),
        "calls_per_method": dict(sorted(per_method.items())),
        "answered_429": len(limits),
        "answered_429_per_method": dict(sorted(limited.items())),
        "into_known_window": into_known_windows(calls, limits),
        "sooner_than_retry_after": sum(1 for r in limits if r.respected is False),
        "round_start_s": round(max(stored_dm_times) - started, 1) if stored_dm_times else None,
        "due_work_s": round(elapsed, 1),
        "other_processes_cores": cores,
    }


def problems(r: dict) -> list[str]:
    wrong = []
    if r["participants"] != r["people"]:
        wrong.append(f"participants {r['participants']} != {r['people']}")
    must_be_zero = (
        "duplicates",
        "missing",
        "into_known_window",
        "sooner_than_retry_after",
        "not_marked_invited",
    )
    for name in must_be_zero:
        if r[name]:
            wrong.append(f"{name} = {r[name]}")
    if r["invited_once"] != r["people"]:
        wrong.append(f"invited_once {r['invited_once']} != {r['people']}")
    if r["announcements"] != 1:
        wrong.append(f"announcements = {r['announcements']}")
    return wrong


def print_table(results: list[dict]) -> None:
    rows = [
        ("participants (members minus the bot)", "participants"),
        ("DM with exactly one invitation", "invited_once"),
        ("duplicate invitations", "duplicates"),
        ("missing invitations", "missing"),
        ("announcements in the channel", "announcements"),
        ("Web API calls", "calls"),
        ("answered 429", "answered_429"),
        ("calls into a known Retry-After window", "into_known_window"),
        ("calls sooner than Retry-After after a 429", "sooner_than_retry_after"),
        ("due runs (failed deliveries)", None),
        ("round start: to the last invitation, s", "round_start_s"),
        ("other processes' CPU, cores", "other_processes_cores"),
    ]
    print(f"{'':44s}" + "".join(f"{r['database']:>14s}" for r in results))
    for label, key in rows:
        if key is None:
            cells = [f"{r['due_runs']} ({r['run_failures']})" for r in results]
        else:
            cells = [str(r[key]) for r in results]
        print(f"{label:44s}" + "".join(f"{c:>14s}" for c in cells))
    for r in results:
        print(f"{r['database']}: calls {r['calls_per_method']}")
        print(f"{r['database']}: 429s {r['answered_429_per_method']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--share", type=float, default=0.1, help="share of all calls answered 429")
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--seed", type=int, default=11, help="which calls get the 429s")
    ap.add_argument("--max-runs", type=int, default=5, help="due runs at most, until all are invited")
    ap.add_argument("--postgres", metavar="URL", help="use a throwaway database on this PostgreSQL server")
    ap.add_argument("--both", action="store_true", help="SQLite and then PostgreSQL (needs --postgres)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if args.both else (["postgresql"] if args.postgres else ["sqlite"])
    results = []
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run(args, kind, Path(tmp)))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    bad = [f"{r['database']}: {p}" for r in results for p in problems(r)]
    for line in bad:
        print("WRONG " + line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
