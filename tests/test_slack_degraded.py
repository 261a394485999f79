"""When the database or the answering core fails, the asker still hears from the bot, once."""

from __future__ import annotations

import json
import time

import pytest
from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.exc import OperationalError

from bot.answering.phrases import PHRASES
from bot.settings import load_settings
from bot.slack.app import create_app
from bot.slack.deps import SlackDeps
from tests.fakes.slack_api import FakeSlack

SECRET = "degraded-secret"


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


def _app(fake, answerer, records):
    settings = load_settings(
        {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.base_url},
        env_file=None,
    )
    return create_app(settings, SlackDeps(answerer, records))


def _deliver(app, event: dict, event_id: str) -> int:
    body = json.dumps({"type": "event_callback", "team_id": "T0KETEN001", "api_app_id": "A0KETENBOT",
                       "event_id": event_id, "event_time": int(time.time()), "event": event})
    ts = str(int(time.time()))
    sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    headers = {"content-type": ["application/json"], "x-slack-request-timestamp": [ts],
               "x-slack-signature": [sig]}
    return app.dispatch(BoltRequest(body=body, headers=headers)).status


MENTION = {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1700005000.000100",
           "text": "<@U0KETENBOT> Hoe bouwen we vertrouwen op tussen werkvloer en management?"}


def test_database_down_the_answer_still_comes_once_without_feedback_buttons(fake, core):
    app = _app(fake, core.answerer, DownRecords())
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
    app = _app(fake, core.answerer, DownRecords())
    chatter = {"type": "message", "channel_type": "channel", "user": "U2", "channel": "C1",
               "text": "Zie ik je straks?", "ts": "1700005100.000100", "thread_ts": "1700005000.000100"}
    assert _deliver(app, chatter, "EvChatDown") == 200
    time.sleep(0.5)
    assert fake.calls("chat.postMessage") == []


def test_a_failing_answer_path_gets_a_polite_retry_message(fake, tmp_path):
    from bot.records.db import make_engine, migrate
    from bot.records.store import Records

    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    migrate(engine)
    app = _app(fake, BrokenAnswerer(), Records(engine))
    assert _deliver(app, MENTION, "EvBroken") == 200
    post = fake.wait_for_calls("chat.postMessage", 1, timeout=10)[0]
    assert post.args["text"] == PHRASES["failed"]["nl"]
    assert post.args["thread_ts"] == MENTION["ts"]
