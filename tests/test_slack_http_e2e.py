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
from urllib.parse import urlencode

import pytest

from tests.conftest import KNOWLEDGE
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SECRET, event_body, signature_headers


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


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("e2e")
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
    return {"Content-Type": "application/json", **signature_headers(body.decode())}


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


def _form(payload: dict) -> tuple[bytes, dict[str, str]]:
    body = urlencode(payload).encode()
    headers = _signed(body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return body, headers


def _event_body(event: dict, event_id: str) -> bytes:
    return event_body(event, event_id).encode()


def test_dm_follow_up_slash_command_and_buttons_over_http(served):
    base, fake, _log = served
    fake.reset()
    url = base + "/slack/events"
    dm = {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1",
          "text": "How do we build trust between the partners?", "ts": "1700001900.000100"}
    body = _event_body(dm, "EvE2E-DM")
    assert _post(url, body, _signed(body))[0] == 200
    assert fake.wait_for_calls("chat.postMessage", 1, timeout=20)[0].args["channel"] == "D1"

    mention = {"type": "app_mention", "user": "U1", "channel": "C2", "ts": "1700001950.000100",
               "text": "<@U0KETENBOT> Hoe bouwen we vertrouwen op tussen de partners?"}
    body = _event_body(mention, "EvE2E-Mention2")
    assert _post(url, body, _signed(body))[0] == 200
    fake.wait_for_calls("chat.postMessage", 2, timeout=20)
    follow = {"type": "message", "channel_type": "channel", "user": "U1", "channel": "C2",
              "text": "Kun je daar iets meer over vertellen?", "ts": "1700001951.000100",
              "thread_ts": "1700001950.000100"}  # no mention: a follow-up in the bot's thread
    body = _event_body(follow, "EvE2E-Follow")
    assert _post(url, body, _signed(body))[0] == 200
    third = fake.wait_for_calls("chat.postMessage", 3, timeout=20)[2]
    assert third.args["channel"] == "C2" and third.args["thread_ts"] == "1700001950.000100"

    body, headers = _form({"command": "/keten", "text": "vraag Waarom is geduld nodig?", "user_id": "U1",
                           "channel_id": "C1", "team_id": "T0KETEN001", "api_app_id": "A0KETENBOT",
                           "response_url": fake.response_url("e2e"), "trigger_id": fake.issue_trigger_id()})
    status, took = _post(url, body, headers)
    assert status == 200 and took < 3.0
    reply = fake.wait_for_calls("response_url", 1, timeout=20)[0]
    assert reply.args["response_type"] == "ephemeral"
    actions = [b for b in reply.args["blocks"] if b["type"] == "actions"][0]["elements"]
    answer_id = actions[0]["value"]

    click = {"type": "block_actions", "team": {"id": "T0KETEN001"}, "user": {"id": "U2"},
             "api_app_id": "A0KETENBOT", "trigger_id": fake.issue_trigger_id(),
             "response_url": fake.response_url("e2e-click"), "channel": {"id": "C1"},
             "actions": [{"type": "button", "action_id": actions[0]["action_id"], "value": answer_id,
                          "block_id": "answer_actions", "action_ts": str(time.time())}]}
    body, headers = _form({"payload": json.dumps(click)})
    assert _post(url, body, headers)[0] == 200
    thanks = fake.wait_for_calls("response_url", 2, timeout=20)[1]
    assert thanks.args["response_type"] == "ephemeral" and thanks.args["replace_original"] is False
