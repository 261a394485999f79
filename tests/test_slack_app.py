"""The Bolt app in-process: signed requests in, Web API calls out to the fake Slack on loopback."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from slack_bolt import BoltRequest

from bot.slack import ids
from tests.fakes.slack_api import RESPONSE, FakeSlack
from tests.fakes.slack_requests import SECRET, app_against, bolt_headers, event_body, sqlite_records


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def records(tmp_path):
    return sqlite_records(tmp_path)


def _app(fake, core, records, handoff=""):
    return app_against(fake, core.answerer, records, handoff=handoff)


@pytest.fixture
def app(fake, core, records):
    return _app(fake, core, records)


def _send(app, body: str, content_type: str, *, timestamp: int | None = None, secret: str = SECRET):
    headers = bolt_headers(body, content_type, secret=secret, timestamp=timestamp)
    return app.dispatch(BoltRequest(body=body, headers=headers))


def _event(app, event: dict, event_id: str = "Ev1", **kw):
    return _send(app, event_body(event, event_id), "application/json", **kw)


QUESTION = "<@U0KETENBOT> Hoe bouwen we vertrouwen op tussen werkvloer en management?"


def _mention(text=QUESTION, ts="1700000100.000100"):
    return {"type": "app_mention", "user": "U1", "text": text, "ts": ts, "channel": "C1", "event_ts": ts}


def _interaction(app, payload: dict, **kw):
    return _send(app, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kw)


def _click(fake, action_id: str, answer_id: str, user: str = "U2") -> dict:
    return {
        "type": "block_actions", "team": {"id": "T0KETEN001"}, "user": {"id": user},
        "api_app_id": "A0KETENBOT", "trigger_id": fake.issue_trigger_id(),
        "response_url": fake.response_url(), "channel": {"id": "C1"},
        "container": {"type": "message", "channel_id": "C1", "message_ts": "1700000100.000200"},
        "actions": [{"type": "button", "action_id": action_id, "block_id": ids.ANSWER_ACTIONS_BLOCK,
                     "value": answer_id, "action_ts": str(time.time())}],
    }


def _settle(seconds: float = 0.5) -> None:
    time.sleep(seconds)  # listeners run after the ack, on Bolt's worker threads


def test_a_mention_is_acknowledged_and_answered_in_its_thread(app, fake, records):
    response = _event(app, _mention())
    assert response.status == 200
    post = fake.wait_for_calls("chat.postMessage", 1, timeout=10)[0]
    assert post.args["channel"] == "C1" and post.args["thread_ts"] == "1700000100.000100"
    blocks = post.args["blocks"] if isinstance(post.args["blocks"], list) else json.loads(post.args["blocks"])
    assert blocks[0]["text"]["text"].startswith("*Ketenbot:*")
    assert any(b.get("block_id") == ids.ANSWER_ACTIONS_BLOCK for b in blocks)
    assert records.has_answer_in_thread("C1", "1700000100.000100")


def test_retried_and_twin_deliveries_are_answered_once(app, fake):
    for _ in range(4):
        assert _event(app, _mention(), event_id="EvSame").status == 200
    twin = {**_mention(), "type": "message", "channel_type": "channel"}
    _event(app, twin, event_id="EvTwin")
    fake.wait_for_calls("chat.postMessage", 1, timeout=10)
    _settle(1.0)
    assert len(fake.calls("chat.postMessage")) == 1


def test_a_direct_message_is_answered_in_the_dm(app, fake):
    dm = {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1",
          "text": "What should the board do when something goes wrong?", "ts": "1700000200.000100"}
    _event(app, dm, event_id="EvDm")
    post = fake.wait_for_calls("chat.postMessage", 1, timeout=10)[0]
    assert post.args["channel"] == "D1"


def test_channel_chatter_is_ignored_but_follow_ups_in_the_bots_thread_are_answered(app, fake):
    chatter = {"type": "message", "channel_type": "channel", "user": "U3", "channel": "C1",
               "text": "Lunch om 12?", "ts": "1700000300.000100", "thread_ts": "1699999999.000001"}
    _event(app, chatter, event_id="EvChat")
    _event(app, _mention(), event_id="EvM")
    fake.wait_for_calls("chat.postMessage", 1, timeout=10)
    follow_up = {"type": "message", "channel_type": "channel", "user": "U1", "channel": "C1",
                 "text": "En hoe lang duurt dat meestal?", "ts": "1700000400.000100",
                 "thread_ts": "1700000100.000100"}
    _event(app, follow_up, event_id="EvFollow")
    posts = fake.wait_for_calls("chat.postMessage", 2, timeout=10)
    assert [p.args.get("thread_ts") for p in posts] == ["1700000100.000100", "1700000100.000100"]


def test_bot_messages_and_edits_are_ignored(app, fake):
    bot = {"type": "message", "channel_type": "im", "bot_id": "B1", "user": "U0KETENBOT", "channel": "D1",
           "text": "Ik ben een bot", "ts": "1700000500.000100"}
    edit = {"type": "message", "subtype": "message_changed", "channel_type": "im", "channel": "D1",
            "ts": "1700000600.000100", "message": {"text": "gewijzigd"}}
    assert _event(app, bot, event_id="EvBot").status == 200
    assert _event(app, edit, event_id="EvEdit").status == 200
    _settle()
    assert fake.calls("chat.postMessage") == []


@pytest.mark.parametrize("how", ["tampered", "wrong_secret", "stale"])
def test_unsigned_tampered_or_replayed_requests_are_rejected(app, fake, records, how):
    if how == "tampered":
        body = event_body(_mention(), "EvX")
        tampered = body.replace("vertrouwen", "wantrouwen")
        response = app.dispatch(BoltRequest(body=tampered, headers=bolt_headers(body)))
    elif how == "wrong_secret":
        response = _event(app, _mention(), secret="not-the-secret")
    else:
        response = _event(app, _mention(), timestamp=int(time.time()) - 6 * 60)
    assert response.status == 401
    _settle()
    assert fake.calls("chat.postMessage") == []
    assert not records.has_answer_in_thread("C1", "1700000100.000100")


def _command(app, fake, text: str):
    body = urlencode({
        "token": "unused", "team_id": "T0KETEN001", "channel_id": "C1", "user_id": "U1",
        "command": "/keten", "text": text, "response_url": fake.response_url("cmd"),
        "trigger_id": fake.issue_trigger_id(), "api_app_id": "A0KETENBOT",
    })
    return _send(app, body, "application/x-www-form-urlencoded")


def test_keten_help_and_a_private_answer_with_a_share_button(app, fake):
    assert _command(app, fake, "help").status == 200
    help_reply = fake.wait_for_calls(RESPONSE, 1, timeout=10)[0]
    assert help_reply.args["response_type"] == "ephemeral" and "/keten" in help_reply.args["text"]
    _command(app, fake, "vraag Waarom is geduld nodig?")
    answer = fake.wait_for_calls(RESPONSE, 2, timeout=10)[1]
    assert answer.args["response_type"] == "ephemeral"
    actions = [b for b in answer.args["blocks"] if b["type"] == "actions"][0]
    assert ids.ANSWER_SHARE in [e["action_id"] for e in actions["elements"]]


def test_sharing_a_private_answer_posts_it_in_the_channel(app, fake):
    _command(app, fake, "Waarom is geduld nodig?")
    private = fake.wait_for_calls(RESPONSE, 1, timeout=10)[0]
    answer_id = [b for b in private.args["blocks"] if b["type"] == "actions"][0]["elements"][0]["value"]
    _interaction(app, _click(fake, ids.ANSWER_SHARE, answer_id, user="U1"))
    shared = fake.wait_for_calls(RESPONSE, 2, timeout=10)[1]
    assert shared.args["response_type"] == "in_channel" and shared.args["delete_original"] is True
    assert ids.ANSWER_SHARE not in json.dumps(shared.args["blocks"])


def test_thumbs_up_is_stored_and_thumbs_down_asks_for_a_reason(app, fake, records):
    _event(app, _mention(), event_id="EvF")
    post = fake.wait_for_calls("chat.postMessage", 1, timeout=10)[0]
    blocks = post.args["blocks"] if isinstance(post.args["blocks"], list) else json.loads(post.args["blocks"])
    answer_id = [b for b in blocks if b["type"] == "actions"][0]["elements"][0]["value"]

    assert _interaction(app, _click(fake, ids.ANSWER_FEEDBACK_UP, answer_id, user="U2")).status == 200
    thanks = fake.wait_for_calls(RESPONSE, 1, timeout=10)[0]
    assert thanks.args["response_type"] == "ephemeral" and thanks.args["replace_original"] is False

    _interaction(app, _click(fake, ids.ANSWER_FEEDBACK_DOWN, answer_id, user="U3"))
    opened = fake.wait_for_calls("views.open", 1, timeout=10)[0]
    view = opened.args["view"] if isinstance(opened.args["view"], dict) else json.loads(opened.args["view"])
    assert view["callback_id"] == ids.FEEDBACK_REASON_VIEW

    submission = {
        "type": "view_submission", "team": {"id": "T0KETEN001"}, "user": {"id": "U3"},
        "api_app_id": "A0KETENBOT", "trigger_id": fake.issue_trigger_id(),
        "view": {**view, "id": "V1", "state": {"values": {ids.FEEDBACK_REASON_BLOCK: {
            ids.FEEDBACK_REASON_INPUT: {"type": "plain_text_input", "value": "Het citaat past niet"}}}}},
    }
    assert _interaction(app, submission).status == 200
    _settle()
    votes = {r["user_id"]: (r["helpful"], r["reason"]) for r in records.feedback_for(answer_id)}
    assert votes == {"U2": (True, None), "U3": (False, "Het citaat past niet")}


def test_ask_a_human_without_and_with_a_handoff_channel(fake, core, records):
    for handoff, expect_post in (("", False), ("C0HANDOFF", True)):
        app = _app(fake, core, records, handoff=handoff)
        fake.reset()
        answer_id = records.save_answer(
            core.answerer.answer("Wat als <!channel> niet meewerkt?"),
            user_id="U1", channel_id="C1", thread_ts=None,
        )
        _interaction(app, _click(fake, ids.ANSWER_ASK_HUMAN, answer_id, user="U1"))
        reply = fake.wait_for_calls(RESPONSE, 1, timeout=10)[0]
        assert reply.args["response_type"] == "ephemeral"
        posts = [c for c in fake.calls("chat.postMessage") if c.args.get("channel") == "C0HANDOFF"]
        assert bool(posts) is expect_post
        if posts:
            assert "<!channel>" not in posts[0].args["text"] and "&lt;!channel&gt;" in posts[0].args["text"]


def test_one_click_on_ask_a_human_delivered_twice_posts_once(fake, core, records):
    """A load balancer may hand the same interaction to two workers (or Slack resend it)."""
    app = _app(fake, core, records, handoff="C0HANDOFF")
    answer_id = records.save_answer(core.answerer.answer("Hoe bouw je vertrouwen op?"),
                                    user_id="U1", channel_id="C1", thread_ts=None)
    click = _click(fake, ids.ANSWER_ASK_HUMAN, answer_id, user="U1")
    _interaction(app, click)
    _interaction(app, click)
    fake.wait_for_calls(RESPONSE, 2, timeout=10)
    posts = [c for c in fake.calls("chat.postMessage") if c.args.get("channel") == "C0HANDOFF"]
    assert len(posts) == 1


def test_opening_the_app_home_publishes_it(app, fake):
    _event(app, {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home",
                 "event_ts": "1700000700.000100"}, event_id="EvHome")
    published = fake.wait_for_calls("views.publish", 1, timeout=10)[0]
    assert published.args["user_id"] == "U1"


def test_an_english_slack_locale_alone_keeps_dutch_and_keten_taal_en_switches(app, fake, records):
    """Slack has no Dutch interface: Dutch users have English locales. Dutch stays the default;
    a person chooses English with /keten taal en."""
    fake.add_user("U7", locale="en-US")
    mention = {**_mention(text="<@U0KETENBOT> Hoe bouwen we vertrouwen op?"), "user": "U7"}
    _event(app, mention, event_id="EvLocale")
    post = fake.wait_for_calls("chat.postMessage", 1, timeout=10)[0]
    blocks = post.args["blocks"] if isinstance(post.args["blocks"], list) else json.loads(post.args["blocks"])
    assert "This is what the guidance says" not in blocks[0]["text"]["text"]

    body = urlencode({
        "token": "unused", "team_id": "T0KETEN001", "channel_id": "C1", "user_id": "U7",
        "command": "/keten", "text": "taal en", "response_url": fake.response_url("lang"),
        "trigger_id": fake.issue_trigger_id(), "api_app_id": "A0KETENBOT",
    })
    assert _send(app, body, "application/x-www-form-urlencoded").status == 200
    reply = fake.wait_for_calls(RESPONSE, 1, timeout=10)[0]
    assert "English" in reply.args["text"] and records.language_of("U7") == "en"
    again = {**mention, "ts": "1700000900.000100"}
    _event(app, again, event_id="EvLocale2")
    post = fake.wait_for_calls("chat.postMessage", 2, timeout=10)[1]
    blocks = post.args["blocks"] if isinstance(post.args["blocks"], list) else json.loads(post.args["blocks"])
    assert "This is what the guidance says" in blocks[0]["text"]["text"]


def test_a_vague_follow_up_in_the_thread_uses_the_first_question_as_context(app, fake):
    _event(app, _mention(), event_id="EvCtx1")
    fake.wait_for_calls("chat.postMessage", 1, timeout=10)
    follow_up = {"type": "message", "channel_type": "channel", "user": "U1", "channel": "C1",
                 "text": "Kun je daar iets meer over vertellen?", "ts": "1700000450.000100",
                 "thread_ts": "1700000100.000100"}
    _event(app, follow_up, event_id="EvCtx2")
    second = fake.wait_for_calls("chat.postMessage", 2, timeout=10)[1]
    blocks = second.args["blocks"]
    blocks = blocks if isinstance(blocks, list) else json.loads(blocks)
    assert any(b["type"] == "section" and b["text"]["text"].startswith("> „") for b in blocks)
