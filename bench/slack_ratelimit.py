"""Answers delivered under Slack rate limits: N answers while the fake answers 429 on a share of calls.

    .venv/bin/python bench/slack_ratelimit.py [--answers 300] [--share 0.1] [--retry-after 1]

The Bolt app with its real Web API client runs in-process against the fake Slack; the answering
core is a fast stand-in, so the figures are about delivery alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt import BoltRequest  # noqa: E402

from tests.fakes.measures import rate_limit_report  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.fakes.slack_requests import (  # noqa: E402
    StubAnswerer,
    app_against,
    bolt_headers,
    event_body,
    mention,
    sqlite_records,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--answers", type=int, default=300)
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--retry-after", type=int, default=1)
    args = ap.parse_args()
    with FakeSlack() as fake, tempfile.TemporaryDirectory() as tmp:
        app = app_against(fake, StubAnswerer(), sqlite_records(Path(tmp)))
        fake.fail_rate(
            "chat.postMessage", share=args.share, status=429, retry_after=args.retry_after, seed=11
        )
        started = time.monotonic()
        for n in range(args.answers):
            event = mention("Waarom geduld?", f"{1_700_200_000 + n}.000100", channel=f"C{n % 20:03d}")
            body = event_body(event, f"EvR{n}")
            headers = bolt_headers(body)
            assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 200
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if sum(c.status == 200 for c in fake.calls("chat.postMessage")) >= args.answers:
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        time.sleep(args.retry_after + 0.5)  # anything still arriving would be a duplicate
        calls = fake.calls("chat.postMessage")
        report = rate_limit_report(calls, key="thread_ts", retry_after=args.retry_after)
        print(json.dumps({"answers": args.answers, "share_429": args.share, "retry_after_s": args.retry_after,
                          **report.__dict__, "seconds_to_deliver_all": round(elapsed, 1)}))


if __name__ == "__main__":
    main()
