"""Language-model answers in Slack (issue 7): one message posted at once, updated in place as
checked sentences come in, replaced by the final answer; the plain answerer is unchanged.

The real Bolt app and answering core, a scripted chat model, the fake Slack Web API on loopback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from slack_bolt import BoltRequest
from slack_sdk.models.blocks import Block
from sqlalchemy import func, select

from bot.answering.model import AI_LABEL
from bot.answering.phrases import phrase
from bot.llm.checks import split_sentences as split_answer
from bot.llm.prompts import load_prompts
from bot.llm.writer import LlmAnswerer
from bot.records.schema import answers
from bot.slack import ids
from bot.slack.posting import METADATA_EVENT_TYPE
from bot.slack.replies import InPlace
from bot.slack.text import FALLBACK_LIMIT, SECTION_LIMIT, escape
from tests.fakes.chat_model import ScriptedChatModel, is_rewrite, passages_of
from tests.fakes.slack_api import MAX_MESSAGE_BLOCKS, MAX_TEXT_CHARS, Call, FakeSlack
from tests.fakes.slack_requests import app_against, bolt_headers, event_body, mention, sqlite_records
from tests.test_llm_answers import DUTCH, first_sentence, good_writer

TS = "1700000100.000100"
KEY = f"msg:C1:{TS}"
ROBOT = "🤖"
SLOW = 30.0  # seconds to wait for an answer at most; the answers here take ~0.5-4 s


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def records(tmp_path):
    return sqlite_records(tmp_path)


def llm(core, model: ScriptedChatModel, timeout_s: float = 20.0) -> LlmAnswerer:
    return LlmAnswerer(core.answerer, model, load_prompts(), model_name="scripted", timeout_s=timeout_s)


def send(app, event: dict, event_id: str):
    body = event_body(event, event_id)
    return app.dispatch(BoltRequest(body=body, headers=bolt_headers(body)))


# ----------------------------------------------------------------------------- reading the fake


def as_json(value):
    return json.loads(value) if isinstance(value, str) else value


def blocks_of(call: Call) -> list[dict]:
    return as_json(call.args.get("blocks")) or []


def key_of(call: Call) -> str | None:
    meta = as_json(call.args.get("metadata")) or {}
    assert meta.get("event_type") == METADATA_EVENT_TYPE, meta
    return (meta.get("event_payload") or {}).get("key")


def texts_of(blocks: list[dict]) -> list[str]:
    """Every mrkdwn/plain text in section and context blocks, in order."""
    out = []
    for b in blocks:
        if b["type"] == "section":
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out.extend(e.get("text", "") for e in b["elements"])
    return out


def is_final(call: Call) -> bool:
    """The finished answer: it has the feedback buttons (the answer was stored)."""
    return any(b.get("block_id") == ids.ANSWER_ACTIONS_BLOCK for b in blocks_of(call))


def answered(fake: FakeSlack, method: str) -> list[Call]:
    return [c for c in fake.calls(method) if c.answered_at is not None]


def wait_until(fake: FakeSlack, method: str, match: Callable[[Call], bool], timeout: float = SLOW) -> Call:
    """The first answered call to ``method`` that ``match``es, waiting for it to arrive."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in answered(fake, method) if match(c)]
        if found:
            return found[0]
        if time.monotonic() >= deadline:
            seen = [(c.method, c.error, texts_of(blocks_of(c))[:1]) for c in fake.calls()]
            pytest.fail(f"no matching {method} within {timeout} s; calls: {seen}")
        fake.wait_for_calls(method, len(answered(fake, method)) + 1, timeout=0.2)


def settle(seconds: float = 1.0) -> None:
    time.sleep(seconds)  # long enough for a stray duplicate post or update to arrive


def answer_id_of(call: Call) -> str:
    actions = [b for b in blocks_of(call) if b.get("block_id") == ids.ANSWER_ACTIONS_BLOCK]
    return actions[0]["elements"][0]["value"]


def assert_valid_for_slack(call: Call) -> None:
    """What Slack would refuse: too many blocks, a section over 3000 characters, a block
    slack_sdk's own models reject, a missing or overlong fallback ``text``."""
    assert call.ok, (call.method, call.error, call.fault)
    text = call.args.get("text")
    assert isinstance(text, str) and text.strip() and len(text) <= MAX_TEXT_CHARS
    blocks = blocks_of(call)
    assert 0 < len(blocks) <= MAX_MESSAGE_BLOCKS
    for b in blocks:
        parsed = Block.parse(b)
        assert parsed is not None and parsed.type == b["type"], b
        parsed.validate_json()  # raises SlackObjectFormationError beyond Slack's documented limits
        assert parsed.to_dict() == b  # nothing the SDK does not know (and would drop)
        if b["type"] == "section":
            assert 0 < len(b["text"]["text"]) <= SECTION_LIMIT
        if b["type"] == "context":
            assert 0 < len(b["elements"]) <= 10


def assert_all_valid(fake: FakeSlack) -> None:
    for call in answered(fake, "chat.postMessage") + answered(fake, "chat.update"):
        if call.fault is None:  # a fault the test scripted is no statement about the payload
            assert_valid_for_slack(call)


def ai_label(language: str) -> str:
    return f"{ROBOT} {escape(AI_LABEL[language])}"


# ----------------------------------------------------------------------------- scripted models


def steady_writer(messages) -> str:
    """Six sentences, each a verbatim quote of passage 1, cited: all pass the checks."""
    if is_rewrite(messages):
        return good_writer(messages)
    quote = first_sentence(passages_of(messages)[1])
    leads = ("Eerst dit", "Daarna", "Verder", "Ook", "Bovendien", "Tot slot")
    return " ".join(f"{lead}: „{quote}” [1]." for lead in leads)


def broken_provider(messages) -> str:
    raise RuntimeError("503 from the provider")


# ----------------------------------------------------------------------------- 1. the happy path


def test_a_mention_is_answered_in_one_message_updated_in_place(fake, core, records):
    model = ScriptedChatModel(default=good_writer)
    app = app_against(fake, llm(core, model), records)
    assert send(app, mention(DUTCH, TS), "Ev1").status == 200

    final = wait_until(fake, "chat.update", is_final)
    settle()
    posts, updates = answered(fake, "chat.postMessage"), answered(fake, "chat.update")
    assert len(posts) == 1 and updates and updates[-1] is final
    placeholder = posts[0]
    assert placeholder.args["channel"] == "C1" and placeholder.args["thread_ts"] == TS
    assert key_of(placeholder) == KEY
    assert texts_of(blocks_of(placeholder)) == [f"*Ketenbot:* {escape(phrase('working', 'nl'))}"]
    assert placeholder.at < updates[0].at
    ts = placeholder.response["ts"]
    for update in updates:
        assert update.args["channel"] == "C1" and update.args["ts"] == ts and key_of(update) == KEY

    row = records.get_answer(answer_id_of(final))
    assert row is not None and row["ai_text"] and row["ai_model"] == "scripted"
    assert row["prompt_version"] == load_prompts().version
    assert row["thread_ts"] == TS and row["user_id"] == "U1"
    blocks = blocks_of(final)
    texts = texts_of(blocks)
    assert texts[0] == f"*Ketenbot:* {escape(phrase('ai_answered', 'nl'))}"
    label = blocks[1]
    assert label["type"] == "context" and label["elements"][0]["text"] == f"{ai_label('nl')} · _scripted_"
    assert blocks[2]["type"] == "section" and blocks[2]["text"]["text"] == escape(row["ai_text"])
    quotes = [b for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("> „")]
    assert quotes and blocks.index(quotes[0]) > 2  # the quotes come after the AI text
    assert any(t.startswith("*[1]* ") for t in texts)  # what the AI text's [1] refers to
    assert all(phrase("writing", "nl") not in t for t in texts)
    assert final.args["text"].strip() and len(final.args["text"]) <= FALLBACK_LIMIT
    assert f"[{AI_LABEL['nl']}]" in final.args["text"]
    # the message in Slack is the final answer, not the placeholder
    assert fake.messages("C1")[-1]["blocks"] == blocks
    assert_all_valid(fake)


def test_an_english_speaker_gets_the_english_placeholder_and_ai_label(fake, core, records):
    records.set_language("U1", "en")  # what `/keten taal en` stores
    app = app_against(fake, llm(core, ScriptedChatModel(default=good_writer)), records)
    send(app, mention(DUTCH, TS), "EvEn")
    final = wait_until(fake, "chat.update", is_final)
    placeholder = answered(fake, "chat.postMessage")[0]
    assert placeholder.args["text"] == phrase("working", "en")
    texts = texts_of(blocks_of(final))
    assert texts[0] == f"*Ketenbot:* {escape(phrase('ai_answered', 'en'))}"
    assert texts[1].startswith(ai_label("en")) and "AI-written text" in texts[1]
    assert texts[2].startswith("The guidance puts it like this")
    assert not any("AI-tekst" in t for t in texts)
    assert_all_valid(fake)


# ----------------------------------------------------------------------------- 2. progress in place


def test_checked_sentences_show_while_the_model_writes_at_most_every_1_2_seconds(fake, core, records):
    model = ScriptedChatModel(default=steady_writer, delay=0.025)  # ~3 s for the whole reply
    app = app_against(fake, llm(core, model), records)
    send(app, mention(DUTCH, TS), "EvSlow")
    final = wait_until(fake, "chat.update", is_final)
    settle(0.5)
    posts, updates = answered(fake, "chat.postMessage"), answered(fake, "chat.update")
    assert len(posts) == 1 and updates[-1] is final
    placeholder, progress = posts[0], updates[:-1]
    ai_text = records.get_answer(answer_id_of(final))["ai_text"]
    sentences = split_answer(ai_text)
    assert len(sentences) == 6  # the model's whole reply passed the checks

    working = f"*Ketenbot:* {escape(phrase('working', 'nl'))}"
    writing = f"_{escape(phrase('writing', 'nl'))}_"
    assert len(progress) >= 2, [texts_of(blocks_of(u)) for u in updates]
    shown_counts = []
    for update in progress:
        texts = texts_of(blocks_of(update))
        assert texts[0] == working and texts[1] == f"{ai_label('nl')} · _scripted_" and texts[-1] == writing
        shown = " ".join(texts[2:-1])
        # only whole sentences, each checked, in the model's order; never the full text yet
        counts = [k for k in range(1, len(sentences)) if shown == escape(" ".join(sentences[:k]))]
        assert counts, shown
        shown_counts.append(counts[0])
        assert update.args["text"].startswith(phrase("working", "nl"))
    assert shown_counts == sorted(set(shown_counts))  # it only ever grows

    # throttled: progress updates at least ~1.2 s apart (the fake's arrival times)
    gaps = [b.at - a.at for a, b in zip(progress, progress[1:], strict=False)]
    assert all(gap >= 1.15 for gap in gaps), gaps
    elapsed = final.at - placeholder.at
    assert elapsed >= 2.0, elapsed  # the model really took its time
    assert len(progress) <= elapsed / 1.2 + 1, (len(progress), elapsed)
    assert writing not in texts_of(blocks_of(final))
    assert_all_valid(fake)


# ----------------------------------------------------------------------------- 3. the model fails


def test_a_failing_model_gives_the_quote_answer_in_the_same_message(fake, core, records):
    model = ScriptedChatModel(default=broken_provider)
    app = app_against(fake, llm(core, model), records)
    send(app, mention(DUTCH, TS), "EvBroken")
    final = wait_until(fake, "chat.update", is_final)
    settle()
    assert model.seen  # the language model was asked (and failed)
    assert len(answered(fake, "chat.postMessage")) == 1
    assert answered(fake, "chat.update") == [final]  # nothing to show while writing
    blocks = blocks_of(final)
    texts = texts_of(blocks)
    fallback = escape(phrase("ai_fallback", "nl"))
    assert texts[0].startswith(f"*Ketenbot:* {fallback} ")
    assert not any(ROBOT in t or "AI-tekst" in t for t in texts)
    assert any(b["type"] == "section" and b["text"]["text"].startswith("> „") for b in blocks)
    assert "AI-tekst" not in final.args["text"] and final.args["text"].strip()
    row = records.get_answer(answer_id_of(final))
    assert row["answered"] and row["ai_text"] is None and row["ai_model"] is None
    assert_all_valid(fake)


# ----------------------------------------------------------------------------- 4. the update fails


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "error": "message_not_found", "times": 1},  # a plain Slack API error
        {"status": 503, "times": 3},  # Slack down for the first try and both retries
    ],
    ids=["api_error", "server_error"],
)
def test_when_the_final_update_fails_the_answer_is_posted_as_its_own_message(fake, core, records, fault):
    fake.fail_next("chat.update", **fault)  # a one-sentence reply: the final update is the only one
    app = app_against(fake, llm(core, ScriptedChatModel(default=good_writer)), records)
    send(app, mention(DUTCH, TS), "EvUpd")
    post = wait_until(fake, "chat.postMessage", is_final)
    settle()
    posts, updates = answered(fake, "chat.postMessage"), answered(fake, "chat.update")
    assert len(posts) == 2 and posts[1] is post
    assert key_of(posts[0]) == KEY and key_of(post) == f"{KEY}:answer"
    assert post.args["channel"] == "C1" and post.args["thread_ts"] == TS
    assert updates and all(not u.ok for u in updates) and len(updates) == fault["times"]
    assert all(is_final(u) for u in updates)  # it was the final answer that did not get through
    # nothing lost: the whole answer, AI text and all, stored and posted
    row = records.get_answer(answer_id_of(post))
    texts = texts_of(blocks_of(post))
    assert row["ai_text"] and escape(row["ai_text"]) in texts and texts[1].startswith(ai_label("nl"))
    assert blocks_of(post) == blocks_of(updates[-1])
    assert fake.messages("C1")[-1]["metadata"]["event_payload"]["key"] == f"{KEY}:answer"
    # the "searching…" placeholder does not linger above the answer
    fake.wait_for_calls("chat.delete", 1, timeout=10)
    deleted = answered(fake, "chat.delete")
    assert [d.args["ts"] for d in deleted] == [posts[0].response["ts"]] and deleted[0].ok
    assert all(m.get("ts") != posts[0].response["ts"] for m in fake.messages("C1"))
    assert_all_valid(fake)


# ----------------------------------------------------------------------------- 5. Slack retries


def test_a_retried_event_gets_one_placeholder_and_one_answer(fake, core, records):
    model = ScriptedChatModel(default=good_writer)
    app = app_against(fake, llm(core, model), records)
    for _ in range(4):
        assert send(app, mention(DUTCH, TS), "EvSame").status == 200
    twin = {**mention(DUTCH, TS), "type": "message", "channel_type": "channel"}
    send(app, twin, "EvTwin")  # the same message again, as a message event
    wait_until(fake, "chat.update", is_final)
    settle(1.5)
    posts, updates = answered(fake, "chat.postMessage"), answered(fake, "chat.update")
    assert len(posts) == 1 and key_of(posts[0]) == KEY
    assert [u for u in updates if is_final(u)] == [updates[-1]] and len(updates) == 1
    assert len([m for m in model.seen if not is_rewrite(m)]) == 1  # the model wrote once
    with records.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(answers)).scalar() == 1
    assert_all_valid(fake)


# ----------------------------------------------------------------------------- 6. follow-ups


def test_a_follow_up_in_the_thread_reaches_the_model_with_the_first_exchange(fake, core, records):
    model = ScriptedChatModel(default=good_writer)
    app = app_against(fake, llm(core, model), records)
    send(app, mention(DUTCH, TS), "EvQ1")
    first = wait_until(fake, "chat.update", is_final)
    first_ai = records.get_answer(answer_id_of(first))["ai_text"]
    assert first_ai
    calls_before = len(model.seen)

    follow_ts = "1700000400.000100"
    follow_up = {"type": "message", "channel_type": "channel", "user": "U1", "channel": "C1",
                 "text": "En wat doe je als de weerstand blijft?", "ts": follow_ts, "thread_ts": TS}
    send(app, follow_up, "EvQ2")
    second = wait_until(fake, "chat.update", lambda c: is_final(c) and c is not first)
    settle(0.5)

    answer_calls = [m for m in model.seen[calls_before:] if not is_rewrite(m)]
    assert len(answer_calls) == 1
    prompt = answer_calls[0]
    assert [m.type for m in prompt] == ["system", "human", "ai", "human"]
    assert prompt[2].text == first_ai
    assert "weerstand blijft" in prompt[-1].text and DUTCH in prompt[1].text
    rewrite_calls = [m for m in model.seen[calls_before:] if is_rewrite(m)]
    assert rewrite_calls and DUTCH in rewrite_calls[0][-1].text  # the thread so far, for the queries

    posts = answered(fake, "chat.postMessage")
    assert len(posts) == 2 and key_of(posts[1]) == f"msg:C1:{follow_ts}"
    assert posts[1].args["thread_ts"] == TS
    assert second.args["ts"] == posts[1].response["ts"] != first.args["ts"]
    assert records.get_answer(answer_id_of(second))["thread_ts"] == TS
    assert_all_valid(fake)


# ----------------------------------------------------------------------------- 7. no language model


def test_without_a_language_model_one_message_is_posted_and_never_updated(fake, core, records):
    assert not getattr(core.answerer, "streams", False)
    app = app_against(fake, core.answerer, records)
    send(app, mention(DUTCH, TS), "EvPlain")
    post = wait_until(fake, "chat.postMessage", is_final)
    settle()
    assert answered(fake, "chat.postMessage") == [post] and fake.calls("chat.update") == []
    assert key_of(post) == KEY and post.args["thread_ts"] == TS
    texts = texts_of(blocks_of(post))
    assert not any(ROBOT in t or phrase("working", "nl") in t for t in texts)
    assert records.get_answer(answer_id_of(post))["ai_text"] is None
    assert_all_valid(fake)


# ----------------------------------------------------------------------------- found while testing


def test_progress_fallback_text_is_escaped_like_every_other_text(fake):
    client = fake.client()
    live = InPlace(client, key=KEY, channel="C1", thread_ts=TS, language="nl")
    live.start()
    # the safety checks (bot/llm/checks.py) refuse pings, links and markup, not a plain "<" or "&"
    sentence = "Bij P&O geldt: „score < 5 is te laag” [1]."
    live.show(sentence)
    update = fake.wait_for_calls("chat.update", 1, timeout=10)[0]
    assert escape(sentence) in texts_of(blocks_of(update))  # the blocks are escaped ...
    assert escape(sentence) in update.args["text"]  # ... and so is the notification text
