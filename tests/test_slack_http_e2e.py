"""End to end: `ketenbot run --http` as its own process, Slack faked on loopback."""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.models.views import View

from bot.slack import ids
from bot.slack.blocks import labels
from bot.slack.views import feedback_reason_view
from tests.conftest import KNOWLEDGE
from tests.fakes.slack_api import RESPONSE, Call, FakeSlack
from tests.fakes.slack_requests import SECRET, event_body, signature_headers

HANDOFF_CHANNEL = "C0E2EMENS1"  # where "vraag een mens" goes; the fake knows it as #ketenbot-mensen


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
        fake.add_channel(HANDOFF_CHANNEL, name="ketenbot-mensen", members=["U0E2ESTAF1"])
        fake.add_channel(CHAIN_CHANNEL, name="jeugdketen", members=[CHAIN_MANAGER, *CHAIN_MEMBERS])
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "CHROMA_")) and k != "DATABASE_URL"
        }  # SQLite in DATA_DIR
        env.update(
            SLACK_BOT_TOKEN=fake.token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.base_url,
            DATA_DIR=str(tmp_path / "data"),
            KNOWLEDGE_DIR=str(KNOWLEDGE),
            HF_HUB_OFFLINE="1",
            SLACK_HANDOFF_CHANNEL=HANDOFF_CHANNEL,
            ADMIN_USER_IDS=CHAIN_ADMIN,
        )
        fake.bot_env = env  # for `ketenbot due` runs against the same database and fake
        log = open(tmp_path / "bot.log", "w")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--http", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
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
        "type": "event_callback",
        "team_id": "T0KETEN001",
        "api_app_id": "A0KETENBOT",
        "event_id": "EvE2E",
        "event_time": int(time.time()),
        "event": {
            "type": "app_mention",
            "user": "U1",
            "channel": "C1",
            "ts": "1700000900.000100",
            "text": "<@U0KETENBOT> Wat doe je als er iets misgaat in de keten?",
        },
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
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": "U1",
        "channel": "D1",
        "text": "How do we build trust between the partners?",
        "ts": "1700001900.000100",
    }
    body = _event_body(dm, "EvE2E-DM")
    assert _post(url, body, _signed(body))[0] == 200
    assert fake.wait_for_calls("chat.postMessage", 1, timeout=20)[0].args["channel"] == "D1"

    mention = {
        "type": "app_mention",
        "user": "U1",
        "channel": "C2",
        "ts": "1700001950.000100",
        "text": "<@U0KETENBOT> Hoe bouwen we vertrouwen op tussen de partners?",
    }
    body = _event_body(mention, "EvE2E-Mention2")
    assert _post(url, body, _signed(body))[0] == 200
    fake.wait_for_calls("chat.postMessage", 2, timeout=20)
    follow = {
        "type": "message",
        "channel_type": "channel",
        "user": "U1",
        "channel": "C2",
        "text": "Kun je daar iets meer over vertellen?",
        "ts": "1700001951.000100",
        "thread_ts": "1700001950.000100",
    }  # no mention: a follow-up in the bot's thread
    body = _event_body(follow, "EvE2E-Follow")
    assert _post(url, body, _signed(body))[0] == 200
    third = fake.wait_for_calls("chat.postMessage", 3, timeout=20)[2]
    assert third.args["channel"] == "C2" and third.args["thread_ts"] == "1700001950.000100"

    body, headers = _form(
        {
            "command": "/keten",
            "text": "vraag Waarom is geduld nodig?",
            "user_id": "U1",
            "channel_id": "C1",
            "team_id": "T0KETEN001",
            "api_app_id": "A0KETENBOT",
            "response_url": fake.response_url("e2e"),
            "trigger_id": fake.issue_trigger_id(),
        }
    )
    status, took = _post(url, body, headers)
    assert status == 200 and took < 3.0
    reply = fake.wait_for_calls("response_url", 1, timeout=20)[0]
    assert reply.args["response_type"] == "ephemeral"
    actions = [b for b in reply.args["blocks"] if b["type"] == "actions"][0]["elements"]
    answer_id = actions[0]["value"]

    click = {
        "type": "block_actions",
        "team": {"id": "T0KETEN001"},
        "user": {"id": "U2"},
        "api_app_id": "A0KETENBOT",
        "trigger_id": fake.issue_trigger_id(),
        "response_url": fake.response_url("e2e-click"),
        "channel": {"id": "C1"},
        "actions": [
            {
                "type": "button",
                "action_id": actions[0]["action_id"],
                "value": answer_id,
                "block_id": "answer_actions",
                "action_ts": str(time.time()),
            }
        ],
    }
    body, headers = _form({"payload": json.dumps(click)})
    assert _post(url, body, headers)[0] == 200
    thanks = fake.wait_for_calls("response_url", 2, timeout=20)[1]
    assert thanks.args["response_type"] == "ephemeral" and thanks.args["replace_original"] is False


# --- 👎 with its reason modal, the hand-off button, and forged modal submissions -----------------------


@pytest.fixture
def database(served) -> Path:
    """The SQLite file the bot process writes (DATABASE_URL unset: ``DATA_DIR/ketenbot.sqlite3``)."""
    _base, _fake, log_path = served
    return log_path.parent / "data" / "ketenbot.sqlite3"


def _exchange(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, float]:
    """POST; the status, the response body and how long the answer took."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read(), time.monotonic() - started
    except urllib.error.HTTPError as e:
        return e.code, e.read(), time.monotonic() - started


def _until(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``probe`` until it returns something truthy (the bot handles a request after acking it)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _rows(db: Path, sql: str, *params: object) -> list[dict]:
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, params)]


def _feedback(db: Path, answer_id: str) -> list[dict]:
    return _rows(
        db, "SELECT user_id, helpful, reason FROM feedback WHERE answer_id = ? ORDER BY user_id", answer_id
    )


def _json(value: Any) -> Any:
    """An argument as the fake recorded it: JSON values for JSON bodies, JSON text for form bodies."""
    return json.loads(value) if isinstance(value, str) else value


def _ask_in_channel(base: str, fake: FakeSlack, channel: str, ts: str, text: str) -> tuple[Call, dict]:
    """Mention the bot in ``channel``; the chat.postMessage with the answer, and its buttons by action_id."""
    before = len(fake.wait_for_calls("chat.postMessage", 0))
    mention = {
        "type": "app_mention",
        "user": "U1",
        "channel": channel,
        "ts": ts,
        "event_ts": ts,
        "text": f"<@U0KETENBOT> {text}",
    }
    body = _event_body(mention, f"Ev-{channel}-{ts}")
    assert _post(base + "/slack/events", body, _signed(body))[0] == 200
    posts = fake.wait_for_calls("chat.postMessage", before + 1, timeout=20)
    assert len(posts) == before + 1
    post = posts[-1]
    assert post.ok and post.args["channel"] == channel and post.args["thread_ts"] == ts
    actions = [b for b in _json(post.args["blocks"]) if b["type"] == "actions"]
    assert len(actions) == 1 and actions[0]["block_id"] == ids.ANSWER_ACTIONS_BLOCK
    return post, {e["action_id"]: e for e in actions[0]["elements"]}


def _click(fake: FakeSlack, post: Call, button: dict, user: str, key: str) -> tuple[dict, str]:
    """A block_actions payload for ``button`` on the posted message, shaped as Slack sends it."""
    message = post.response["message"]
    trigger = fake.issue_trigger_id()
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0KETEN001"},
        "api_app_id": "A0KETENBOT",
        "token": "unused-verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": post.response["channel"],
            "is_ephemeral": False,
            "thread_ts": message.get("thread_ts"),
        },
        "trigger_id": trigger,
        "team": {"id": "T0KETEN001", "domain": "ketenbot-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": post.response["channel"], "name": "e2e"},
        "message": message,
        "state": {"values": {}},
        "response_url": fake.response_url(key),
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": ids.ANSWER_ACTIONS_BLOCK,
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return payload, trigger


def _submission(view: dict, user: str, reason: str | None, fake: FakeSlack) -> dict:
    """A view_submission payload for ``view`` (as views.open returned it) with ``reason`` typed in."""
    submitted = copy.deepcopy(view)
    submitted["state"] = {
        "values": {
            ids.FEEDBACK_REASON_BLOCK: {
                ids.FEEDBACK_REASON_INPUT: {"type": "plain_text_input", "value": reason}
            }
        }
    }
    return {
        "type": "view_submission",
        "team": {"id": "T0KETEN001", "domain": "ketenbot-test"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0KETEN001"},
        "api_app_id": "A0KETENBOT",
        "token": "unused-verification-token",
        "trigger_id": fake.issue_trigger_id(),
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def _assert_valid_reason_modal(view: dict, answer_id: str) -> None:
    View(**view).validate_json()  # slack_sdk's own Block Kit limits
    assert view["type"] == "modal" and view["callback_id"] == ids.FEEDBACK_REASON_VIEW
    for part in ("title", "submit", "close"):
        assert view[part]["type"] == "plain_text" and 0 < len(view[part]["text"]) <= 24
    assert json.loads(view["private_metadata"])["answer_id"] == answer_id  # how the submission finds it
    assert len(view["private_metadata"]) <= 3000
    assert not view.get("notify_on_close")  # closing the modal sends nothing: the 👎 must stand alone
    [block] = view["blocks"]
    assert block["type"] == "input" and block["block_id"] == ids.FEEDBACK_REASON_BLOCK
    assert block["optional"] is True
    assert block["element"]["type"] == "plain_text_input"
    assert block["element"]["action_id"] == ids.FEEDBACK_REASON_INPUT


def test_thumbs_down_opens_the_reason_modal_and_stores_vote_and_reason(served, database):
    base, fake, log_path = served
    fake.reset()
    url = base + "/slack/events"
    post, buttons = _ask_in_channel(
        base, fake, "C0E2EDOWN1", "1700003900.000100", "Wie is eigenaar van een ketenproces?"
    )
    down = buttons[ids.ANSWER_FEEDBACK_DOWN]
    answer_id = down["value"]
    assert _rows(database, "SELECT id FROM answers WHERE id = ?", answer_id) == [{"id": answer_id}]

    click, trigger = _click(fake, post, down, "U1", "e2e-down")
    body, headers = _form({"payload": json.dumps(click)})
    status, _reply, took = _exchange(url, body, headers)
    assert status == 200 and took < 3.0

    opened = fake.wait_for_calls("views.open", 1, timeout=10)
    assert len(opened) == 1 and opened[0].ok, opened and opened[0].response
    assert opened[0].args["trigger_id"] == trigger  # the click's own trigger, used within its 3 seconds
    view = _json(opened[0].args["view"])
    _assert_valid_reason_modal(view, answer_id)
    assert view["title"]["text"] == labels("nl")["reason_title"]

    # the 👎 is stored at the click: a modal that is closed (or never submitted) loses nothing
    assert _until(lambda: _feedback(database, answer_id)) == [{"user_id": "U1", "helpful": 0, "reason": None}]
    assert fake.calls("response_url") == []  # 👎 answers with the modal, not with a message

    opened_view = opened[0].response["view"]  # what Slack sends back on submit: the view it shows
    reason = "  De citaten gingen over iets anders dan mijn vraag.  "
    body, headers = _form({"payload": json.dumps(_submission(opened_view, "U1", reason, fake))})
    status, reply, took = _exchange(url, body, headers)
    assert status == 200 and took < 3.0
    assert reply == b""  # ack() without response_action: Slack closes the modal
    stored = _until(lambda: [r for r in _feedback(database, answer_id) if r["reason"]])
    assert stored == [{"user_id": "U1", "helpful": 0, "reason": reason.strip()}]
    assert len(_feedback(database, answer_id)) == 1  # the reason updates the vote, no second row

    # someone else: 👎, then submits the modal with the optional field left empty (value null)
    click, trigger = _click(fake, post, down, "U2", "e2e-down-2")
    body, headers = _form({"payload": json.dumps(click)})
    assert _exchange(url, body, headers)[0] == 200
    second = fake.wait_for_calls("views.open", 2, timeout=10)[1]
    assert second.ok and second.args["trigger_id"] == trigger
    body, headers = _form({"payload": json.dumps(_submission(second.response["view"], "U2", None, fake))})
    status, reply, _took = _exchange(url, body, headers)
    assert status == 200 and reply == b""
    assert _until(lambda: len(_feedback(database, answer_id)) == 2)
    time.sleep(0.5)  # give a (wrong) write of the empty reason the time to land
    assert _feedback(database, answer_id) == [
        {"user_id": "U1", "helpful": 0, "reason": reason.strip()},
        {"user_id": "U2", "helpful": 0, "reason": None},
    ]
    assert "Traceback" not in log_path.read_text()


def test_ask_a_human_posts_an_escaped_question_to_the_handoff_channel(served, database):
    base, fake, log_path = served
    fake.reset()
    url = base + "/slack/events"
    channel = "C0E2EHELP1"
    question = "Wie beslist er bij een ketenstoring? <!channel> <!here> @here <!subteam^S0E2E|@beheer>"
    post, buttons = _ask_in_channel(base, fake, channel, "1700004900.000100", question)
    human = buttons[ids.ANSWER_ASK_HUMAN]
    answer_id = human["value"]
    [row] = _rows(database, "SELECT question, language FROM answers WHERE id = ?", answer_id)
    assert "<!channel>" in row["question"]  # stored as asked: the escaping is the hand-off's job

    click, _trigger = _click(fake, post, human, "U3", "e2e-human")
    body, headers = _form({"payload": json.dumps(click)})
    status, _reply, took = _exchange(url, body, headers)
    assert status == 200 and took < 3.0

    handed = _until(
        lambda: [
            c for c in fake.wait_for_calls("chat.postMessage", 0) if c.args.get("channel") == HANDOFF_CHANNEL
        ]
    )
    assert len(handed) == 1 and handed[0].ok, handed and handed[0].response
    text = handed[0].args["text"]
    # nothing in it can ping: the only <…> tokens are the clicker's name and the channel it came from
    assert re.findall(r"<[^>]*>", text) == ["<@U3>", f"<#{channel}>"]
    assert "<!" not in text and "&lt;!channel&gt;" in text and "&lt;!here&gt;" in text
    assert "Wie beslist er bij een ketenstoring?" in text
    assert not handed[0].args.get("link_names") and handed[0].args.get("parse") in (None, "none")
    assert "blocks" not in handed[0].args and "thread_ts" not in handed[0].args
    [message] = [m for m in fake.messages(HANDOFF_CHANNEL) if m["ts"] == handed[0].response["ts"]]
    assert message["text"] == text

    confirm = fake.wait_for_calls("response_url", 1, timeout=10)
    assert len(confirm) == 1 and confirm[0].args["key"] == "e2e-human"
    assert confirm[0].args["text"] == labels(row["language"])["handoff_done"]
    assert confirm[0].args["response_type"] == "ephemeral" and confirm[0].args["replace_original"] is False
    assert [c for c in fake.calls("chat.postMessage") if c.args.get("channel") == channel] == [post]
    assert "Wie beslist" not in log_path.read_text()  # the question stays out of the logs


def test_forged_or_stale_reason_submissions_are_refused_and_store_nothing(served, database):
    base, fake, log_path = served
    fake.reset()
    url = base + "/slack/events"
    _post_call, buttons = _ask_in_channel(
        base, fake, "C0E2EFORG1", "1700005900.000100", "Hoe meet je of een keten goed werkt?"
    )
    answer_id = buttons[ids.ANSWER_FEEDBACK_DOWN]["value"]
    # the modal as Slack would hold it after views.open (no 👎 click here: that alone would store a row)
    view = {
        **feedback_reason_view(answer_id, "nl").to_dict(),
        "id": "V0E2EFORG1",
        "team_id": "T0KETEN001",
        "hash": "1700005901.abcdef12",
        "root_view_id": "V0E2EFORG1",
        "previous_view_id": None,
        "app_id": "A0KETENBOT",
        "bot_id": "B0KETENBOT",
        "external_id": "",
        "clear_on_close": False,
        "notify_on_close": False,
        "app_installed_team_id": "T0KETEN001",
    }
    genuine = urlencode({"payload": json.dumps(_submission(view, "U4", "Echt: te vaag.", fake))}).encode()
    forged = urlencode({"payload": json.dumps(_submission(view, "U5", "Vervalst.", fake))}).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    attempts = {
        # signed, then the body swapped for another one (a different user and reason)
        "tampered body": (forged, {**form, **signature_headers(genuine.decode())}),
        # one byte changed in the signature itself
        "bad signature": (
            genuine,
            {
                **form,
                **{
                    k: (v[:-1] + ("0" if v[-1] != "0" else "1") if k == "x-slack-signature" else v)
                    for k, v in signature_headers(genuine.decode()).items()
                },
            },
        ),
        "other secret": (forged, {**form, **signature_headers(forged.decode(), secret="not-the-secret")}),
        "replayed after 10 minutes": (
            forged,
            {**form, **signature_headers(forged.decode(), timestamp=int(time.time()) - 600)},
        ),
        "unsigned": (forged, form),
    }
    for name, (body, headers) in attempts.items():
        status, _reply, _took = _exchange(url, body, headers)
        assert status == 401, name
    time.sleep(1.0)  # a request that slipped through would be stored by now
    assert _feedback(database, answer_id) == []

    # the same submission, correctly signed, is stored: the refusals above were about the signature
    status, reply, _took = _exchange(url, genuine, {**form, **signature_headers(genuine.decode())})
    assert status == 200 and reply == b""
    assert _until(lambda: _feedback(database, answer_id)) == [
        {"user_id": "U4", "helpful": 0, "reason": "Echt: te vaag."}
    ]
    assert _rows(database, "SELECT COUNT(*) AS n FROM feedback WHERE reason = ?", "Vervalst.") == [{"n": 0}]
    assert fake.calls("views.open") == [] and fake.calls("response_url") == []


CHAIN_ADMIN, CHAIN_MANAGER, CHAIN_CHANNEL = "U0E2EADMN1", "U0E2EMGR01", "C0E2EKETEN"
CHAIN_MEMBERS = ["U0E2EMBR01", "U0E2EMBR02"]


def _slash(base: str, fake: FakeSlack, user: str, text: str, key: str) -> dict:
    body, headers = _form(
        {
            "token": "unused",
            "team_id": "T0KETEN001",
            "team_domain": "keten",
            "channel_id": CHAIN_CHANNEL,
            "channel_name": "jeugdketen",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/keten",
            "text": text,
            "api_app_id": "A0KETENBOT",
            "response_url": fake.response_url(key),
            "trigger_id": fake.issue_trigger_id(),
        }
    )
    status, _ = _post(base + "/slack/events", body, headers)
    assert status == 200
    reply = _until(lambda: [c for c in fake.calls(RESPONSE) if c.args.get("key") == key])
    assert reply, f"no reply to /keten {text}"
    return reply[0].args


def test_a_check_in_round_over_http_and_ketenbot_due_as_its_own_process(served):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.checkins.when import next_working_moment

    base, fake, log = served
    assert (
        "ketenmanager"
        in _slash(base, fake, CHAIN_ADMIN, f"rol ketenmanager <@{CHAIN_MANAGER}|m>", "c1")["text"]
    )
    assert "Jeugdketen" in _slash(base, fake, CHAIN_MANAGER, "keten registreer Jeugdketen", "c2")["text"]
    started = _slash(base, fake, CHAIN_MANAGER, "checkin start", "c3")
    assert started["response_type"] == "ephemeral" and "geopend" in started["text"]

    # the DMs go out now, or at the next working morning: `ketenbot due --now` that moment
    when = next_working_moment(datetime.now(UTC), ZoneInfo("Europe/Amsterdam"))
    due = [sys.executable, "-m", "bot", "due", "--now", when.isoformat()]
    first = subprocess.run(due, env=fake.bot_env, capture_output=True, text=True, timeout=120, cwd=log.parent)
    assert first.returncode == 0, first.stderr[-2000:]
    again = subprocess.run(due, env=fake.bot_env, capture_output=True, text=True, timeout=120, cwd=log.parent)
    assert again.returncode == 0 and json.loads(again.stdout)["invited"] == 0
    invited = {
        c.args["channel"]
        for c in fake.calls("chat.postMessage")
        if '"invite:' in json.dumps(_json(c.args.get("metadata") or {}))
    }
    expected = {fake.dm_channel(u) for u in (CHAIN_MANAGER, *CHAIN_MEMBERS)}
    assert None not in expected and invited == expected  # each participant once, the bot not at all
    assert (
        len(
            [
                c
                for c in fake.calls("chat.postMessage")
                if '"invite:' in json.dumps(_json(c.args.get("metadata") or {}))
            ]
        )
        == 3
    )
    status = _slash(base, fake, CHAIN_MANAGER, "checkin status", "c4")["text"]
    assert "0 van 3" in status
