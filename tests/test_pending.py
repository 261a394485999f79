"""A question whose worker died after Slack's ack is answered by another worker, exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.records.pending import MAX_ATTEMPTS, PendingQuestions
from bot.records.schema import answers, pending_questions
from bot.records.store import Records
from bot.slack.deps import SlackDeps
from bot.slack.pending import PendingSweep
from bot.slack.posting import METADATA_EVENT_TYPE
from bot.slack.replies import answer_id_for, answer_in_thread
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import StubAnswerer

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KEY, CHANNEL, TS = "msg:C0KETEN:1700000000.000100", "C0KETEN", "1700000000.000100"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def pending(engine, clock):
    return PendingQuestions(engine, clock=clock)


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        slack.add_channel(CHANNEL)
        yield slack


def left_by_a_dead_worker(pending: PendingQuestions) -> None:
    question = "Hoe bouw je vertrouwen op?"
    assert pending.claim(KEY, channel_id=CHANNEL, thread_ts=TS, user_id="U1", text=question)


def deps_for(engine, pending) -> SlackDeps:
    return SlackDeps(StubAnswerer(), Records(engine), pending=pending)


def posts_with_key(fake: FakeSlack, key: str) -> list:
    return [
        c for c in fake.calls("chat.postMessage")
        if (c.args.get("metadata") or {}).get("event_payload", {}).get("key") == key
    ]


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_claim_is_taken_once_and_kept_until_done(pending, engine):
    left_by_a_dead_worker(pending)
    assert not pending.claim(KEY, channel_id=CHANNEL, thread_ts=TS, user_id="U2", text="x")
    assert count(engine, pending_questions) == 1
    pending.done(KEY)
    assert count(engine, pending_questions) == 0


def test_only_questions_older_than_an_answer_can_take_are_stale(pending, clock):
    left_by_a_dead_worker(pending)
    assert pending.stale(timedelta(seconds=90)) == []
    clock.now += timedelta(seconds=91)
    [question] = pending.stale(timedelta(seconds=90))
    assert question.key == KEY and question.attempts == 1 and question.user_id == "U1"


def test_one_worker_takes_a_stale_question_over_when_several_try(pending, clock):
    left_by_a_dead_worker(pending)
    clock.now += timedelta(minutes=5)
    [question] = pending.stale(timedelta(seconds=90))
    wins: list[bool] = []
    barrier = threading.Barrier(6)

    def try_it() -> None:
        barrier.wait()
        wins.append(pending.take_over(question))

    threads = [threading.Thread(target=try_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 5 + [True]


def test_a_question_is_given_up_after_its_attempts(pending, clock):
    left_by_a_dead_worker(pending)
    for _ in range(MAX_ATTEMPTS - 1):
        clock.now += timedelta(minutes=5)
        [question] = pending.stale(timedelta(seconds=90))
        assert pending.take_over(question)
    clock.now += timedelta(minutes=5)
    assert pending.stale(timedelta(seconds=90)) == [] and pending.given_up() == 1


def test_the_sweep_answers_what_a_dead_worker_left(engine, pending, clock, fake):
    left_by_a_dead_worker(pending)
    sweep = PendingSweep(deps_for(engine, pending), fake.client(), stale_after=timedelta(seconds=90))
    assert sweep.run_once() == 0  # still young: its worker may be answering it
    clock.now += timedelta(minutes=2)
    assert sweep.run_once() == 1
    fake.wait_for_calls("chat.postMessage", 1)
    [post] = posts_with_key(fake, KEY)
    assert post.args["thread_ts"] == TS and post.args["channel"] == CHANNEL
    assert count(engine, answers) == 1 and count(engine, pending_questions) == 0
    clock.now += timedelta(minutes=5)
    assert sweep.run_once() == 0


def test_an_answer_the_dead_worker_did_post_is_not_posted_again(engine, pending, clock, fake):
    """It died after posting and storing, before clearing the row: the sweep finds the post in the
    thread (message metadata) and the stored answer (same id), and adds nothing."""
    left_by_a_dead_worker(pending)
    deps = deps_for(engine, pending)
    pending.done = lambda key: None  # the dead worker never got this far
    answer_in_thread(deps, fake.client(), key=KEY, channel=CHANNEL, thread_ts=TS, user="U1",
                     text="Vertrouwen?")
    fake.wait_for_calls("chat.postMessage", 1)
    del pending.done
    clock.now += timedelta(minutes=2)
    assert PendingSweep(deps, fake.client(), stale_after=timedelta(seconds=90)).run_once() == 1
    assert len(posts_with_key(fake, KEY)) == 1
    assert fake.calls("conversations.replies")  # it looked before posting
    assert count(engine, answers) == 1 and Records(engine).get_answer(answer_id_for(KEY)) is not None
    assert count(engine, pending_questions) == 0
    assert all(m["metadata"]["event_type"] == METADATA_EVENT_TYPE for m in fake.messages(CHANNEL)
               if m.get("metadata"))


def test_two_workers_sweeping_at_once_answer_once(tmp_path, clock, fake):
    from bot.records.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    migrate(engine)
    first = PendingQuestions(engine, clock=clock)
    left_by_a_dead_worker(first)
    clock.now += timedelta(minutes=2)
    sweeps = [
        PendingSweep(deps_for(engine, PendingQuestions(engine, clock=clock)), fake.client(),
                     stale_after=timedelta(seconds=90))
        for _ in range(2)
    ]
    done: list[int] = []
    threads = [threading.Thread(target=lambda s=s: done.append(s.run_once())) for s in sweeps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(done) == [0, 1]
    fake.wait_for_calls("chat.postMessage", 1)
    assert len(posts_with_key(fake, KEY)) == 1 and count(engine, answers) == 1


def test_a_mention_is_claimed_with_its_question_and_cleared_once_answered(engine, pending, fake):
    from slack_bolt import BoltRequest

    from tests.fakes.slack_requests import app_against, bolt_headers, event_body, mention

    app = app_against(fake, StubAnswerer(), Records(engine), pending=pending)
    body = event_body(mention("Hoe bouw je vertrouwen op?", TS, channel=CHANNEL), "Ev1")
    assert app.dispatch(BoltRequest(body=body, headers=bolt_headers(body, "application/json"))).status == 200
    fake.wait_for_calls("chat.postMessage", 1)
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while count(engine, pending_questions) and datetime.now(UTC) < deadline:
        threading.Event().wait(0.05)
    assert count(engine, pending_questions) == 0 and count(engine, answers) == 1
    assert len(posts_with_key(fake, KEY)) == 1


def test_a_language_model_answer_left_half_written_is_finished_in_its_message(
    core, engine, pending, clock, fake
):
    """The dead worker had posted the "searching…" placeholder (state working): the sweep writes
    the answer into that message instead of posting a second one."""
    from bot.llm.prompts import load_prompts
    from bot.llm.writer import LlmAnswerer
    from bot.slack.posting import post_once
    from tests.fakes.chat_model import ScriptedChatModel
    from tests.test_llm_answers import good_writer

    question = "Hoe gaan we om met weerstand tegen de nieuwe werkwijze in de keten?"
    assert pending.claim(KEY, channel_id=CHANNEL, thread_ts=TS, user_id="U1", text=question)
    placeholder = post_once(fake.client(), key=KEY, channel=CHANNEL, thread_ts=TS, text="Ik zoek…",
                            state="working")
    writer = LlmAnswerer(core.answerer, ScriptedChatModel(default=good_writer), load_prompts(),
                         model_name="scripted")
    deps = SlackDeps(writer, Records(engine), pending=pending)
    clock.now += timedelta(minutes=2)
    assert PendingSweep(deps, fake.client(), stale_after=timedelta(seconds=90)).run_once() == 1
    assert len(posts_with_key(fake, KEY)) == 1  # only the placeholder, never a second message
    final = fake.wait_for_calls("chat.update", 1)[-1]
    assert final.args["ts"] == placeholder
    assert final.args["metadata"]["event_payload"] == {"key": KEY, "state": "done"}
    assert Records(engine).get_answer(answer_id_for(KEY))["ai_text"]
    assert count(engine, pending_questions) == 0
