"""When the database or the answering core fails, the asker still hears from the bot, once."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from slack_bolt import BoltRequest
from sqlalchemy.exc import OperationalError

from bot.answering.phrases import PHRASES
from bot.records.outbox import Outbox
from bot.records.store import Records, utcnow
from tests.fakes.slack_api import RESPONSE, FakeSlack
from tests.fakes.slack_requests import (
    StubAnswerer,
    app_against,
    bolt_headers,
    event_body,
    mention,
    sqlite_records,
)


def _down(*_args, **_kwargs):
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database is down"))


class DownRecords:
    """Every database call fails as when PostgreSQL is unreachable."""

    clock = staticmethod(utcnow)

    def answer_row(self, answer, **where):  # builds a row in memory; touches no database
        return Records.answer_row(self, answer, **where)

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


class FlakyRecords:
    """Real records on SQLite that fail like an unreachable database while ``down`` is set."""

    _DB_METHODS = {"claim_event", "insert_answer", "save_answer", "get_answer", "has_answer_in_thread",
                   "first_question_in_thread", "save_feedback", "feedback_for", "restore"}

    def __init__(self, records: Records):
        self.real, self.down = records, True

    def __getattr__(self, name):
        if self.down and name in self._DB_METHODS:
            return _down
        return getattr(self.real, name)


def test_answers_given_while_the_database_is_down_are_stored_when_it_is_back(fake, tmp_path):
    records = FlakyRecords(sqlite_records(tmp_path))
    outbox = Outbox(tmp_path / "outbox.jsonl")
    app = app_against(fake, StubAnswerer(), records, outbox=outbox)
    down = mention("Hoeveel geduld is nodig?", "1700006000.000100")
    assert _deliver(app, down, "EvOut1") == 200
    fake.wait_for_calls("chat.postMessage", 1, timeout=10)
    time.sleep(0.3)
    assert outbox.pending() == 2  # the claimed message key and the answer

    records.down = False
    up = mention("En hoe bouw je vertrouwen op?", "1700006001.000100")
    assert _deliver(app, up, "EvOut2") == 200
    fake.wait_for_calls("chat.postMessage", 2, timeout=10)
    time.sleep(0.3)
    assert outbox.pending() == 0
    real = records.real
    assert real.has_answer_in_thread("C1", down["ts"])  # the outage answer, stored late
    assert real.has_answer_in_thread("C1", up["ts"])
    assert real.claim_event(f"msg:C1:{down['ts']}") is False  # a late retry of it is not answered again
    assert _deliver(app, down, "EvOut1") == 200
    time.sleep(0.5)
    assert len(fake.calls("chat.postMessage")) == 2


def test_an_outbox_flush_that_fails_half_way_keeps_the_rest_and_repeats_nothing(tmp_path):
    records = FlakyRecords(sqlite_records(tmp_path))
    records.down = False
    outbox = Outbox(tmp_path / "outbox.jsonl")
    answer = StubAnswerer().answer("Vraag")
    rows = [records.real.answer_row(answer, user_id="U1", channel_id="C1", thread_ts=f"170000700{i}.000100")
            for i in range(3)]
    for row in rows:
        outbox.add("answer", row)
    calls = {"n": 0}
    real_restore = records.real.restore

    def restore_then_fail(kind, row):
        calls["n"] += 1
        if calls["n"] == 2:
            _down()
        real_restore(kind, row)

    records.real.restore = restore_then_fail
    assert outbox.flush(records) == 1
    assert outbox.pending() == 2
    records.real.restore = real_restore
    outbox.add("answer", rows[0])  # the same row again, as after a crash between insert and rewrite
    assert outbox.flush(records) == 3
    assert outbox.pending() == 0
    for row in rows:
        assert records.real.get_answer(row["id"])["thread_ts"] == row["thread_ts"]


def test_feedback_while_the_database_is_down_gets_a_polite_message(fake, tmp_path):
    records = FlakyRecords(sqlite_records(tmp_path))
    records.down = False
    app = app_against(fake, StubAnswerer(), records)
    answer_id = records.real.save_answer(StubAnswerer().answer("Vraag"), user_id="U1", channel_id="C1",
                                         thread_ts="1700008000.000100")
    records.down = True
    payload = {
        "type": "block_actions", "user": {"id": "U1", "name": "u1", "team_id": "T0KETEN001"},
        "api_app_id": "A0KETENBOT", "token": "unused", "trigger_id": "123.456.abc",
        "team": {"id": "T0KETEN001", "domain": "keten"}, "channel": {"id": "C1", "name": "keten"},
        "container": {"type": "message", "message_ts": "1700008000.000200", "channel_id": "C1"},
        "response_url": fake.response_url("C1"),
        "actions": [{"action_id": "answer_feedback_up", "block_id": "fb", "type": "button",
                     "value": answer_id, "action_ts": "1700008001.000100"}],
    }
    body = "payload=" + quote(json.dumps(payload))
    request = BoltRequest(body=body, headers=bolt_headers(body, "application/x-www-form-urlencoded"))
    assert app.dispatch(request).status == 200
    posted = fake.wait_for_calls(RESPONSE, 1, timeout=10)
    assert posted, "the user was told nothing"
    text = posted[0].args["text"]
    assert "opnieuw" in text and "try again" in text
