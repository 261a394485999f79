"""Load on N HTTP workers: question events at a fixed rate, spread over the workers.

    .venv/bin/python bench/load_workers.py                      # 50 events/s for 60 s on 2 workers
    .venv/bin/python bench/load_workers.py --rate 20 --seconds 60 --workers 2
    .venv/bin/python bench/load_workers.py --retry-share 0.2    # a fifth also re-sent to another worker

Starts what production would have, on loopback: a Chroma server (``chroma run``), a fresh
PostgreSQL database (``KETENBOT_TEST_POSTGRES``, default 127.0.0.1:5432), the fake Slack Web API
in this process, and ``--workers`` × ``ketenbot run --http`` (``tests/fakes/workers.py``). Then
``app_mention`` events, signed like Slack's, go out at ``--rate`` per second for ``--seconds``,
event n to worker n mod N, from a thread pool driven by a clock (a late response never holds
up the next send). Questions come from ``bench/eval/*.jsonl`` (repeated when there are fewer).

Measured by the sender: the HTTP acknowledgement time of every event (Slack wants < 3 s),
errors (non-2xx, timeouts after ``--timeout``), and the time from sending an event to the fake
Slack receiving the answer posted for it (``chat.postMessage`` with the question's key in its
metadata); answers still missing ``--drain`` seconds after the last send are counted as missing.
Also: the achieved send rate, duplicates (a key posted twice), which worker answered, the CPU
each process used, and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import httpx  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402

from bot.slack.posting import METADATA_EVENT_TYPE  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.slack_requests import event_body, mention, signature_headers  # noqa: E402
from tests.fakes.workers import Workers, WorkerStartError  # noqa: E402
from tests.integration.conftest import ServerStartError, chroma_executable, start_server, stop  # noqa: E402

POSTGRES = os.environ.get("KETENBOT_TEST_POSTGRES", "postgresql+psycopg://127.0.0.1:5432/test")
CHANNEL = "C0LAST0001"
TS_BASE = 1_700_500_000


def machine() -> dict:
    mem = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, value = line.split(":", 1)
        mem[name] = int(value.split()[0]) // 1024
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {
        "nproc": os.cpu_count(), "cpu": model, "ram_mib": mem.get("MemTotal"),
        "ram_available_mib": mem.get("MemAvailable"), "loadavg_before": os.getloadavg(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children so far (0 when gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, minus idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, int(q / 100 * len(ordered) + 0.5) - 1))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def questions() -> list[str]:
    found: list[str] = []
    for path in sorted((ROOT / "bench" / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append(json.loads(line)["question"])
    return list(dict.fromkeys(found))


def post_key(call) -> str | None:  # noqa: ANN001 - a FakeSlack Call
    meta = call.args.get("metadata") or {}
    if isinstance(meta, str):
        meta = json.loads(meta)
    if meta.get("event_type") != METADATA_EVENT_TYPE:
        return None
    return (meta.get("event_payload") or {}).get("key")


class Database:
    """A throwaway database on the PostgreSQL server, dropped afterwards."""

    def __init__(self) -> None:
        self.admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        self.name = f"ketenbot_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(POSTGRES).set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def run(args: argparse.Namespace) -> dict:
    facts = machine()
    total = int(args.rate * args.seconds)
    texts = questions()
    with tempfile.TemporaryDirectory(prefix="ketenbot-load-") as tmp:
        root = Path(tmp)
        try:
            chroma, chroma_url = start_server(chroma_executable(), root / "chroma", root / "chroma.log")
        except ServerStartError as exc:
            raise SystemExit(f"load_workers: no Chroma server: {exc}") from exc
        db = Database()
        try:
            with FakeSlack() as slack, Workers(
                args.workers, root=root, slack=slack, database_url=db.url, chroma_url=chroma_url,
                due_interval_s=60,
            ) as workers:
                started = time.monotonic()
                try:
                    workers.start()
                except WorkerStartError as exc:
                    raise SystemExit(f"load_workers: {exc}") from exc
                ready_s = time.monotonic() - started
                # one question per worker first: the first answer pays for lazy set-up
                warm = _send_all(workers, slack, ["Wat is ketensturing?"] * args.workers, rate=10,
                                 offset=total + 10, timeout=args.timeout, retry_share=0.0, drain=60)
                pids = {f"worker{i}": workers.pid(i) for i in range(args.workers)} | {"chroma": chroma.pid}
                cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                own_before = time.process_time()
                busy_before = machine_busy_seconds()
                loaded = [texts[n % len(texts)] for n in range(total)]
                result = _send_all(workers, slack, loaded, rate=args.rate, offset=0, timeout=args.timeout,
                                   retry_share=args.retry_share, drain=args.drain, pool=args.senders)
                cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 1) for name, pid in pids.items()}
                cpu["sender+fake_slack"] = round(time.process_time() - own_before, 1)
                # PostgreSQL's backends, and anything else running on the machine (other tests...)
                rest = machine_busy_seconds() - busy_before - sum(cpu.values())
                cpu["postgres+other"] = round(max(0.0, rest), 1)
                alive = [workers.alive(i) for i in range(args.workers)]
        finally:
            stop(chroma)
            db.drop()
    wall = result.pop("wall_s")
    return {
        "machine": facts,
        "setup": {"workers": args.workers, "rate_per_s": args.rate, "seconds": args.seconds,
                  "events": total, "retry_share": args.retry_share, "sender_threads": args.senders,
                  "timeout_s": args.timeout, "questions_distinct": min(total, len(texts)),
                  "workers_ready_s": round(ready_s, 1), "warm_up_ok": warm["answers"] == args.workers},
        **result,
        "cpu_s": cpu, "cpu_cores_used": round(sum(cpu.values()) / wall, 2) if wall else None,
        "workers_alive_after": alive,
    }


def _send_all(workers: Workers, slack: FakeSlack, texts: list[str], *, rate: float, offset: int,
              timeout: float, retry_share: float, drain: float, pool: int = 64) -> dict:
    n_workers = len(workers)
    sent_at: dict[str, float] = {}
    acks: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    lag: list[float] = []  # how late each send started against its slot (sender saturation)
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=pool * 2, max_keepalive_connections=pool * 2)
    client = httpx.Client(timeout=timeout, limits=limits)
    before = len(slack.calls("chat.postMessage"))

    def send(n: int, slot: float) -> None:
        ts = f"{TS_BASE + offset + n}.000100"
        event = mention(texts[n], ts, user=f"U0LAST{n % 50:04d}", channel=CHANNEL)
        body = event_body(event, f"EvL{offset + n}")
        targets = [n % n_workers]
        if retry_share and (n * 7919) % 1000 < retry_share * 1000:  # Slack's retry, to another worker
            targets.append((n + 1) % n_workers)
        for attempt, worker in enumerate(targets):
            headers = {"Content-Type": "application/json", **signature_headers(body)}
            if attempt:
                headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
            start = time.monotonic()
            if not attempt:
                with lock:
                    sent_at[f"msg:{CHANNEL}:{ts}"] = start
                    lag.append(start - slot)
            try:
                response = client.post(workers.events_url(worker), content=body.encode(), headers=headers)
            except httpx.TimeoutException:
                with lock:
                    errors["timeout"] += 1
                continue
            except httpx.HTTPError as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                continue
            took = time.monotonic() - start
            with lock:
                acks.append(took)
                statuses[response.status_code] += 1
                if not 200 <= response.status_code < 300:
                    errors[f"http_{response.status_code}"] += 1

    t0 = time.monotonic()
    with ThreadPoolExecutor(pool) as executor:
        futures = []
        for n in range(len(texts)):
            slot = t0 + n / rate
            delay = slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(executor.submit(send, n, slot))
        sending_done = time.monotonic()
        for f in futures:
            f.result()
    send_s = max(sending_done - t0, 1e-9)
    keys = set(sent_at)
    deadline = time.monotonic() + drain
    while time.monotonic() < deadline:
        got = {post_key(c) for c in slack.calls("chat.postMessage")[before:] if c.ok}
        if keys <= got:
            break
        time.sleep(0.2)
    time.sleep(1.0)  # a late duplicate would arrive now
    wall = time.monotonic() - t0
    client.close()
    calls = [c for c in slack.calls("chat.postMessage")[before:] if c.ok and post_key(c) in keys]
    counts = Counter(post_key(c) for c in calls)
    first_at: dict[str, float] = {}
    for c in calls:
        first_at.setdefault(post_key(c), c.at)
    latency = [first_at[k] - sent_at[k] for k in keys if k in first_at]
    window = [a for k, a in first_at.items() if a <= sending_done]
    failed_posts = Counter(
        c.error for c in slack.calls("chat.postMessage")[before:] if c.response and not c.ok
    )
    return {
        "events_sent": len(keys), "requests": sum(statuses.values()) + sum(
            v for k, v in errors.items() if not k.startswith("http_")),
        "send_seconds": round(send_s, 2), "achieved_rate_per_s": round(len(keys) / send_s, 1),
        "send_start_lag_ms_p99": ms(pct(lag, 99)),
        "ack_ms": {"p50": ms(pct(acks, 50)), "p99": ms(pct(acks, 99)), "max": ms(max(acks, default=None)),
                   "over_3s": sum(a > 3 for a in acks)},
        "errors": dict(errors), "statuses": dict(statuses),
        "answers": len(first_at), "missing_answers": len(keys - set(first_at)),
        "duplicates": sum(1 for n in counts.values() if n > 1),
        "answer_s": {"p50": _r(pct(latency, 50)), "p95": _r(pct(latency, 95)),
                     "max": _r(max(latency, default=None))},
        "answers_per_s_while_sending": round(len(window) / send_s, 1),
        "answered_by_worker": dict(sorted(Counter(workers.worker_of(c) for c in calls).items(),
                                          key=lambda kv: (kv[0] is None, kv[0] or 0))),
        "failed_posts": dict(failed_posts),
        "wall_s": wall,
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=50.0, help="question events per second (default 50)")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to send (default 60)")
    ap.add_argument("--workers", type=int, default=2, help="HTTP workers (default 2)")
    ap.add_argument("--retry-share", type=float, default=0.0,
                    help="share of events also re-sent to another worker as Slack's retry (default 0)")
    ap.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout per request, s (default 10)")
    ap.add_argument("--drain", type=float, default=180.0,
                    help="seconds to wait for answers after the last send (default 180)")
    ap.add_argument("--senders", type=int, default=64, help="sender threads (default 64)")
    ap.add_argument("--json", action="store_true", help="only the JSON result")
    args = ap.parse_args()
    if args.rate <= 0 or args.seconds <= 0 or args.workers < 1:
        ap.error("--rate and --seconds must be > 0, --workers >= 1")
    result = run(args)
    if not args.json:
        _print(result)
    print(json.dumps(result, ensure_ascii=False))


def _print(r: dict) -> None:
    m, s = r["machine"], r["setup"]
    print(f"machine: {m['nproc']} cores ({m['cpu']}), {m['ram_mib']} MiB RAM, {m['date']}, "
          f"load before {', '.join(f'{x:.2f}' for x in m['loadavg_before'])}")
    print(f"setup: {s['workers']} workers (ready in {s['workers_ready_s']} s) + Chroma server + PostgreSQL + "
          f"fake Slack + sender on this machine; {s['rate_per_s']:g} events/s for {s['seconds']:g} s")
    print(f"sent {r['events_sent']} events in {r['send_seconds']} s: {r['achieved_rate_per_s']} events/s "
          f"(send start lag p99 {r['send_start_lag_ms_p99']} ms)")
    a = r["ack_ms"]
    print(f"ack: p50 {a['p50']} ms, p99 {a['p99']} ms, max {a['max']} ms, over 3 s: {a['over_3s']}; "
          f"errors {r['errors'] or 0}")
    w = r["answer_s"]
    print(f"answers: {r['answers']} of {r['events_sent']} ({r['missing_answers']} missing), "
          f"{r['duplicates']} duplicates; send -> answer posted p50 {w['p50']} s, p95 {w['p95']} s, "
          f"max {w['max']} s; {r['answers_per_s_while_sending']} answers/s while sending; "
          f"by worker {r['answered_by_worker']}")
    print(f"CPU seconds: {r['cpu_s']} = {r['cpu_cores_used']} of {m['nproc']} cores on average "
          f"(from the first send until the last answer)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
