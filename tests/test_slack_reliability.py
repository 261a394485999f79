"""Slack's real behaviour at volume: retried deliveries, forged requests, rate limits, hostile payloads.

The answer path is a fast stand-in here (the real one is covered in test_slack_app.py), so the
counts measure the Slack layer alone. Every count printed is also asserted.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_bolt import BoltRequest

from bot.slack.http import asgi_app
from tests.fakes.measures import rate_limit_report
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    SECRET,
    StubAnswerer,
    app_against,
    bolt_headers,
    event_body,
    sqlite_records,
)


@pytest.fixture
def setup(tmp_path):
    with FakeSlack() as fake:
        records = sqlite_records(tmp_path)
        yield app_against(fake, StubAnswerer(), records), fake, records


def _headers(body: str, *, ts: int | None = None, secret: str = SECRET) -> dict:
    return bolt_headers(body, secret=secret, timestamp=ts)


def _mention_body(n: int, text: str = "<@U0KETENBOT> Waarom geduld?") -> str:
    ts = f"{1_700_001_000 + n}.000100"
    event = {"type": "app_mention", "user": "U1", "channel": "C1", "ts": ts, "text": text}
    return event_body(event, f"Ev{n:05d}")


def test_100_events_each_delivered_4_times_are_answered_100_times(setup):
    app, fake, _records = setup
    bodies = [_mention_body(n) for n in range(100)] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda b: app.dispatch(BoltRequest(body=b, headers=_headers(b))).status, bodies)
        )
    assert statuses == [200] * 400
    fake.wait_for_calls("chat.postMessage", 100, timeout=60)
    time.sleep(1.0)
    posts = fake.calls("chat.postMessage")
    print(f"\n400 deliveries of 100 events -> {len(posts)} answers posted")
    assert len(posts) == 100
    assert len({p.args["thread_ts"] for p in posts}) == 100


def test_200_tampered_unsigned_or_replayed_requests_are_all_rejected(setup):
    app, fake, records = setup
    rejected = 0
    for n in range(200):
        body = _mention_body(1000 + n)
        kind = n % 4
        if kind == 0:  # tampered after signing
            headers, body = _headers(body), body.replace("geduld", "haast")
        elif kind == 1:  # unsigned
            headers = {"content-type": ["application/json"]}
        elif kind == 2:  # replayed: signed, but over five minutes old
            headers = _headers(body, ts=int(time.time()) - 301)
        else:  # signed with another secret
            headers = _headers(body, secret="someone-else")
        rejected += app.dispatch(BoltRequest(body=body, headers=headers)).status == 401
    time.sleep(0.5)
    print(f"\n200 forged requests -> {rejected} rejected, {len(fake.calls('chat.postMessage'))} posts")
    assert rejected == 200
    assert fake.calls("chat.postMessage") == []
    with records.engine.connect() as conn:
        from sqlalchemy import text
        assert conn.execute(text("select count(*) from answers")).scalar() == 0
        assert conn.execute(text("select count(*) from processed_events")).scalar() == 0


def test_rate_limited_posts_are_delivered_once_and_never_before_retry_after(setup):
    app, fake, _records = setup
    fake.fail_rate("chat.postMessage", share=0.1, status=429, retry_after=1, seed=7)
    bodies = [_mention_body(2000 + n) for n in range(60)]
    for b in bodies:
        assert app.dispatch(BoltRequest(body=b, headers=_headers(b))).status == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        delivered = [c for c in fake.calls("chat.postMessage") if c.status == 200]
        if len(delivered) >= 60:
            break
        time.sleep(0.2)
    time.sleep(1.5)
    r = rate_limit_report(fake.calls("chat.postMessage"), key="thread_ts", retry_after=1.0)
    print(f"\n60 answers, {r.rate_limited} answered 429 -> {r.delivered} delivered "
          f"({r.distinct_delivered} distinct), {r.early_retries} retried before Retry-After, "
          f"{r.into_known_window} sent into a known window")
    assert r.rate_limited, "the fake should have rate-limited some calls"
    assert r.delivered == r.distinct_delivered == 60
    assert r.early_retries == 0 and r.into_known_window == 0


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        json.dumps({"type": "event_callback", "event_id": "EvA"}),  # no event
        json.dumps({"type": "event_callback", "event_id": "EvB", "event": {"type": "app_mention"}}),
        json.dumps({"type": "event_callback", "event_id": "EvC", "event": {"type": "reaction_added"}}),
        json.dumps({"type": "event_callback", "event_id": "EvD",
                    "event": {"type": "app_mention", "user": 5, "channel": None, "ts": [], "text": {}}}),
        json.dumps([1, 2, 3]),
    ],
)
def test_malformed_or_unexpected_payloads_never_crash(setup, body):
    app, fake, _records = setup
    for headers in (_headers(body), {"content-type": ["application/json"]}):  # signed, and not
        status = _asgi_post(asgi_app(app), "/slack/events", body.encode(), headers)
        assert status in (200, 400, 401, 404), status
    time.sleep(0.3)
    assert fake.calls("chat.postMessage") == []


def _asgi_post(asgi, path: str, body: bytes, headers: dict) -> int:
    """One request through the ASGI app exactly as uvicorn would hand it over; returns the status."""
    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": [
        (k.encode(), v[0].encode()) for k, v in headers.items()]}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(asgi(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_a_40000_character_message_and_a_bare_mention_get_a_reply(setup):
    app, fake, _records = setup
    for n, text in enumerate(["<@U0KETENBOT> " + "keten " * 6700, "<@U0KETENBOT>"]):
        body = _mention_body(3000 + n, text)
        assert app.dispatch(BoltRequest(body=body, headers=_headers(body))).status == 200
    posts = fake.wait_for_calls("chat.postMessage", 2, timeout=20)
    assert all(p.ok for p in posts)


def test_the_rate_limit_gate_holds_every_caller_until_it_opens():
    from bot.slack.ratelimit import RateLimitGate

    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gate = RateLimitGate(clock=lambda: now[0], sleep=sleep)
    gate.wait("chat.postMessage")
    assert slept == []  # open: no waiting
    gate.close("chat.postMessage", 2.0)
    gate.close("chat.postMessage", 1.0)  # a shorter window never shortens the longer one
    gate.wait("views.open")
    assert slept == []  # other methods are not held
    gate.wait("chat.postMessage")
    assert 2.0 <= sum(slept) <= 2.25 and now[0] >= 102.0
