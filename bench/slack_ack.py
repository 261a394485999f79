"""Slack ack latency while answering is slow: 200 signed events over HTTP, answers stubbed to 10 s.

    .venv/bin/python bench/slack_ack.py [--events 200] [--answer-seconds 10] [--concurrency 4]

Runs the real HTTP app (uvicorn + Bolt + our listeners) on loopback against the fake Slack;
the answering core is replaced by a stand-in that sleeps, so only the ack path is measured.
Slack wants every request acknowledged within 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402

from bot.slack.http import asgi_app  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.slack_requests import (  # noqa: E402
    StubAnswerer,
    app_against,
    event_body,
    mention,
    signature_headers,
    sqlite_records,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--answer-seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    with FakeSlack() as fake, tempfile.TemporaryDirectory() as tmp:
        app = app_against(fake, StubAnswerer(args.answer_seconds), sqlite_records(Path(tmp)))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(asgi_app(app), host="127.0.0.1", port=port, log_level="error"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/slack/events"

        def post(n: int) -> tuple[int, float]:
            event = mention("Waarom geduld?", f"{1_700_100_000 + n}.000100")
            body = event_body(event, f"EvB{n}")
            headers = {"Content-Type": "application/json", **signature_headers(body)}
            started = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(url, body.encode(), headers), timeout=30) as r:
                return r.status, time.perf_counter() - started

        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(post, range(args.events)))
        times = sorted(t * 1000 for _, t in results)
        p99 = times[max(0, int(len(times) * 0.99) - 1)]
        summary = {
            "events": args.events, "answer_seconds": args.answer_seconds, "concurrency": args.concurrency,
            "status_200": sum(s == 200 for s, _ in results), "over_3s": sum(t > 3000 for t in times),
            "ack_ms_p50": round(statistics.median(times), 1), "ack_ms_p99": round(p99, 1),
            "ack_ms_max": round(times[-1], 1),
        }
        print(json.dumps(summary))
        sys.stdout.flush()
        os._exit(0)  # the stubbed answers would keep the worker threads busy for minutes


if __name__ == "__main__":
    main()
