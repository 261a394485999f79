"""End to end: `ketenbot run --http` as its own process, Slack faked on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.conftest import KNOWLEDGE
from tests.fakes.slack_api import FakeSlack

SECRET = "e2e-signing-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except (urllib.error.URLError, OSError):
        return 0


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, time.monotonic() - started
    except urllib.error.HTTPError as e:
        return e.code, time.monotonic() - started


@pytest.fixture
def served(tmp_path):
    with FakeSlack() as fake:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHROMA_"))}
        env.update(
            SLACK_BOT_TOKEN=fake.token, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.base_url,
            DATA_DIR=str(tmp_path / "data"), KNOWLEDGE_DIR=str(KNOWLEDGE), HF_HUB_OFFLINE="1",
        )
        log = open(tmp_path / "bot.log", "w")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--http", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while _get(base + "/healthz") != 200:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("bot did not start:\n" + (tmp_path / "bot.log").read_text()[-3000:])
                time.sleep(0.3)
            yield base, fake, tmp_path / "bot.log"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def _signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body.decode())
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


def test_http_mode_answers_a_signed_mention_and_rejects_an_unsigned_one(served):
    base, fake, log_path = served
    assert _get(base + "/healthz") == 200
    event = {
        "type": "event_callback", "team_id": "T0KETEN001", "api_app_id": "A0KETENBOT", "event_id": "EvE2E",
        "event_time": int(time.time()),
        "event": {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1700000900.000100",
                  "text": "<@U0KETENBOT> Wat doe je als er iets misgaat in de keten?"},
    }
    body = json.dumps(event).encode()
    status, took = _post(base + "/slack/events", body, _signed(body))
    assert status == 200 and took < 3.0  # acknowledged well within Slack's 3 seconds
    post = fake.wait_for_calls("chat.postMessage", 1, timeout=20)[0]
    assert post.args["thread_ts"] == "1700000900.000100"

    status, _ = _post(base + "/slack/events", body, {"Content-Type": "application/json"})
    assert status == 401
    time.sleep(0.5)
    assert len(fake.calls("chat.postMessage")) == 1
    assert "iets misgaat" not in log_path.read_text()  # message text stays out of the logs
