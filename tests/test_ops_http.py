"""HTTP mode's operations endpoints on a real server (uvicorn on loopback, Slack faked):
``/metrics`` is valid exposition format and moves as Slack's requests arrive; ``/healthz`` says
truthfully whether the database and the index are there, without blocking the event loop."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
import uvicorn

from bot.ops import metrics
from bot.ops.health import HealthCheck, database_check, index_check, readiness
from bot.records.db import make_engine, migrate
from bot.records.store import Records
from bot.slack import ids
from bot.slack.http import asgi_app
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import StubAnswerer, app_against, event_body, mention, signature_headers
from tests.test_ops_metrics import parse_exposition, sample


class Served:
    """An ASGI app served by uvicorn in a thread on a free loopback port."""

    def __init__(self, asgi) -> None:  # noqa: ANN001
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                log_config=None, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)
        self.base = f"http://127.0.0.1:{port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def request(url: str, body: bytes | None = None, headers: dict | None = None, method: str | None = None):
    """(status, headers, body bytes), HTTP errors included."""
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def signed(body: str, content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, **signature_headers(body)}


def scrape(base: str) -> dict:
    status, headers, body = request(base + "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(body.decode("utf-8"))


def wait_for(check, timeout: float = 10.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def registry():
    """A fresh registry, also the process default (answers record into the default)."""
    fresh = metrics.Registry()
    previous = metrics.set_default_registry(fresh)
    yield fresh
    metrics.set_default_registry(previous)


class Store:
    def __init__(self, count: int) -> None:
        self.n = count

    def count(self) -> int:
        return self.n


def test_metrics_are_valid_and_move_as_slack_requests_arrive(fake, engine, registry):
    app = app_against(fake, StubAnswerer(), Records(engine))
    with Served(asgi_app(app, health=readiness(engine, Store(3)), registry=registry)) as served:
        before = scrape(served.base)
        for kind in metrics.KINDS:
            assert sample(before, "ketenbot_slack_ack_seconds_count", kind=kind) == 0
        assert not before["ketenbot_slack_events_total"]["samples"]

        url = served.base + "/slack/events"
        mention_body = event_body(mention("Wat doe je als er iets misgaat?", "1700000100.000100"), "EvOps1")
        assert request(url, mention_body.encode(), signed(mention_body, "application/json"))[0] == 200
        post = fake.wait_for_calls("chat.postMessage", 1, timeout=10)[0]
        assert request(url, mention_body.encode(), {"Content-Type": "application/json"})[0] == 401  # unsigned

        command = urlencode({"command": "/keten", "text": "help", "user_id": "U1", "channel_id": "C1",
                             "team_id": "T0KETEN001", "response_url": fake.response_url("cmd"),
                             "trigger_id": fake.issue_trigger_id(), "api_app_id": "A0KETENBOT"})
        form = "application/x-www-form-urlencoded"
        assert request(url, command.encode(), signed(command, form))[0] == 200

        blocks = post.args["blocks"]
        blocks = blocks if isinstance(blocks, list) else json.loads(blocks)
        elements = [e for b in blocks for e in b.get("elements", [])]
        up = next(e for e in elements if e.get("action_id") == ids.ANSWER_FEEDBACK_UP)
        click = {"type": "block_actions", "team": {"id": "T0KETEN001"}, "user": {"id": "U2"},
                 "api_app_id": "A0KETENBOT", "trigger_id": fake.issue_trigger_id(),
                 "response_url": fake.response_url("click"), "channel": {"id": "C1"},
                 "container": {"type": "message", "channel_id": "C1", "message_ts": post.response["ts"]},
                 "actions": [{"type": "button", "action_id": ids.ANSWER_FEEDBACK_UP,
                              "block_id": ids.ANSWER_ACTIONS_BLOCK, "value": up["value"],
                              "action_ts": str(time.time())}]}
        interaction = urlencode({"payload": json.dumps(click)})
        assert request(url, interaction.encode(), signed(interaction, form))[0] == 200

        challenge = json.dumps({"type": "url_verification", "token": "t", "challenge": "abc"})
        status, _, body = request(url, challenge.encode(), signed(challenge, "application/json"))
        assert status == 200 and b"abc" in body

        after = wait_for(lambda: (m := scrape(served.base))
                         and sample(m, "ketenbot_answer_seconds_count", path="quotes") == 1 and m)
    assert after, "the answer was not timed"
    assert sample(after, "ketenbot_slack_ack_seconds_count", kind="event") == 2  # the unsigned one too
    assert sample(after, "ketenbot_slack_ack_seconds_count", kind="command") == 1
    assert sample(after, "ketenbot_slack_ack_seconds_count", kind="interaction") == 1
    assert sample(after, "ketenbot_slack_ack_seconds_count", kind="other") == 1
    assert 0 < sample(after, "ketenbot_slack_ack_seconds_sum", kind="event") < 2 * 3.0
    # only the request Slack really sent (signature verified) counts as an event received
    assert sample(after, "ketenbot_slack_events_total", type="app_mention") == 1
    assert sample(after, "ketenbot_answer_seconds_count", path="ai") == 0
    assert sample(after, "ketenbot_answer_seconds_sum", path="quotes") > 0


def test_answers_are_timed_by_path(fake, engine, registry):
    from dataclasses import replace

    from bot.answering.phrases import phrase

    class Answers(StubAnswerer):
        def __init__(self, change) -> None:  # noqa: ANN001
            super().__init__()
            self.change = change

        def answer(self, text: str, **hints: object):  # noqa: ANN201
            return self.change(super().answer(text, **hints))

    def fallback(a):  # noqa: ANN001, ANN202
        return replace(a, framing=phrase("ai_fallback", "nl") + " " + a.framing)

    for n, change in enumerate((lambda a: replace(a, ai_text="Tekst [1].", ai_model="m"), fallback)):
        app = app_against(fake, Answers(change), Records(engine))
        body = event_body(mention("Hoe begin je met een keten?", f"170000020{n}.000100"), f"EvPath{n}")
        from slack_bolt import BoltRequest

        from tests.fakes.slack_requests import bolt_headers

        assert app.dispatch(BoltRequest(body=body, headers=bolt_headers(body))).status == 200
        fake.wait_for_calls("chat.postMessage", n + 1, timeout=10)
    assert wait_for(lambda: registry.value("ketenbot_answer_seconds_count", path="fallback") == 1)
    assert registry.value("ketenbot_answer_seconds_count", path="ai") == 1
    assert registry.value("ketenbot_answer_seconds_count", path="quotes") == 0


def test_an_unreadable_request_is_refused_counted_and_timed(fake, engine, registry):
    app = app_against(fake, StubAnswerer(), Records(engine))
    with Served(asgi_app(app, registry=registry)) as served:
        body = "{not json"
        status, _, _ = request(served.base + "/slack/events", body.encode(), signed(body, "application/json"))
        fams = scrape(served.base)
    assert status == 400  # Bolt raised on the body: the router answers, counts and times it
    assert sample(fams, "ketenbot_slack_ack_seconds_count", kind="other") == 1
    assert sample(fams, "ketenbot_errors_total", where="http_request") == 1


def _health(base: str):  # noqa: ANN202
    status, headers, body = request(base + "/healthz")
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(body)


def test_healthz_reports_ready_only_when_database_and_index_answer(fake, engine, tmp_path, registry):
    app = app_against(fake, StubAnswerer(), Records(engine))
    with Served(asgi_app(app, health=readiness(engine, Store(12)), registry=registry)) as served:
        assert _health(served.base) == (200, {"ok": True, "checks": {"database": "ok", "index": "ok"}})
        assert request(served.base + "/healthz", method="HEAD")[0] == 200

    from sqlalchemy import create_engine

    gone = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'records.sqlite3'}")
    with Served(asgi_app(app, health=readiness(gone, Store(0)), registry=registry)) as served:
        status, payload = _health(served.base)
    assert status == 503
    assert payload["ok"] is False and payload["failed"] == ["database", "index"]
    assert payload["checks"] == {"database": "failed: OperationalError", "index": "failed"}

    search = type("Search", (), {"chunks": []})()  # the store has chunks, search has none loaded
    with Served(asgi_app(app, health=readiness(engine, Store(5), search), registry=registry)) as served:
        assert _health(served.base)[1]["failed"] == ["index"]


def test_a_hanging_check_times_out_and_never_blocks_the_event_loop(fake, engine, registry):
    release = threading.Event()
    calls = []

    def hanging() -> None:
        calls.append(time.monotonic())
        release.wait(20)

    health = HealthCheck({"database": hanging, "index": index_check(Store(1))}, timeout_s=0.5)
    app = app_against(fake, StubAnswerer(), Records(engine))
    with Served(asgi_app(app, health=health, registry=registry)) as served:
        results = []
        probe = threading.Thread(target=lambda: results.append(_health(served.base)))
        started = time.monotonic()
        probe.start()
        time.sleep(0.1)
        # while the check hangs, the server still answers at once
        t = time.monotonic()
        assert request(served.base + "/metrics")[0] == 200
        assert time.monotonic() - t < 1.0  # the check hangs for up to 20 s
        probe.join(5)
        took = time.monotonic() - started
        assert results[0] == (503, {"ok": False, "failed": ["database"],
                                    "checks": {"database": "timeout", "index": "ok"}})
        assert 0.4 < took < 5.0
        assert _health(served.base)[0] == 503  # still hanging: waited on, not started again
        assert len(calls) == 1
        release.set()
        assert wait_for(lambda: _health(served.base)[0] == 200, timeout=5)  # the hung check returned
        assert _health(served.base)[0] == 200  # and the next probe runs a fresh one
        assert len(calls) >= 2


def test_a_check_returning_false_or_raising_is_named():
    import asyncio

    def boom() -> None:
        raise ConnectionRefusedError("postgresql://ketenbot:geheim@db:5432")

    health = HealthCheck({"a": lambda: False, "b": boom, "c": lambda: None})
    ready, checks = asyncio.run(health.run())
    assert not ready
    # the exception's type only: its message may hold a password
    assert checks == {"a": "failed", "b": "failed: ConnectionRefusedError", "c": "ok"}


def test_database_check_runs_select_1(engine):
    database_check(engine)()


def test_old_calls_keep_working(fake, engine):
    app = app_against(fake, StubAnswerer(), Records(engine))
    with Served(asgi_app(app)) as served:
        assert _health(served.base) == (200, {"ok": True})
        status, headers, body = request(served.base + "/metrics")
        assert status == 200 and headers["Content-Type"] == metrics.CONTENT_TYPE
        parse_exposition(body.decode())
        assert request(served.base + "/elsewhere")[0] == 404
        assert request(served.base + "/metrics", b"x", method="POST")[0] == 404


def test_the_asgi_callable_can_be_called_directly(fake, engine):
    import asyncio

    registry = metrics.Registry()
    router = asgi_app(app_against(fake, StubAnswerer(), Records(engine)), registry=registry)
    sent = []

    async def receive():  # noqa: ANN202
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):  # noqa: ANN001, ANN202
        sent.append(message)

    asyncio.run(router({"type": "http", "method": "GET", "path": "/metrics", "headers": []}, receive, send))
    assert sent[0]["status"] == 200
    assert (b"content-type", metrics.CONTENT_TYPE.encode()) in sent[0]["headers"]
    parse_exposition(sent[1]["body"].decode())
