"""When the database or the answering core fails, the asker still hears from the bot, once."""

from __future__ import annotations

import json
import time

import pytest
from slack_bolt import BoltRequest
from sqlalchemy.exc import OperationalError

from bot.answering.phrases import PHRASES
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import app_against, bolt_headers, event_body, sqlite_records


class DownRecords:
    """Every database call fails as when PostgreSQL is unreachable."""

    def __getattr__(self, name):
        def fail(*_args, **_kwargs):
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database is down"))

        return fail


class BrokenAnswerer:
    def answer(self, text: str, **_hints: object):
        raise RuntimeError("index unreadable")


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


def _deliver(app, event: dict, event_id: str) -> int:
    body = event_body(event, event_id)
    return app.dispatch(BoltRequest(body=body, headers=bolt_headers(body))).status


MENTION = {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1700005000.000100",
           "text": "<@U0KETENBOT> Hoe bouwen we vertrouwen op tussen werkvloer en management?"}


def test_database_down_the_answer_still_comes_once_without_feedback_buttons(fake, core):
    app = app_against(fake, core.answerer, DownRecords())
    for _ in range(3):  # Slack retrying the same event
        assert _deliver(app, MENTION, "EvDown") == 200
    post = fake.wait_for_calls("chat.postMessage", 1, timeout=10)[0]
    time.sleep(0.5)
    assert len(fake.calls("chat.postMessage")) == 1
    blocks = post.args["blocks"] if isinstance(post.args["blocks"], list) else json.loads(post.args["blocks"])
    assert not any(b["type"] == "actions" for b in blocks)
    assert any(b["type"] == "section" and b["text"]["text"].startswith("> „") for b in blocks)
    assert PHRASES["no_feedback"]["nl"] in json.dumps(blocks, ensure_ascii=False)


def test_database_down_channel_chatter_in_threads_stays_quiet(fake, core):
    app = app_against(fake, core.answerer, DownRecords())
    chatter = {"type": "message", "channel_type": "channel", "user": "U2", "channel": "C1",
               "text": "Zie ik je straks?", "ts": "1700005100.000100", "thread_ts": "1700005000.000100"}
    assert _deliver(app, chatter, "EvChatDown") == 200
    time.sleep(0.5)
    assert fake.calls("chat.postMessage") == []


def test_a_failing_answer_path_gets_a_polite_retry_message(fake, tmp_path):
    app = app_against(fake, BrokenAnswerer(), sqlite_records(tmp_path))
    assert _deliver(app, MENTION, "EvBroken") == 200
    post = fake.wait_for_calls("chat.postMessage", 1, timeout=10)[0]
    assert post.args["text"] == PHRASES["failed"]["nl"]
    assert post.args["thread_ts"] == MENTION["ts"]
