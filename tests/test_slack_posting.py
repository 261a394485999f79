"""Posting exactly once when the connection drops or Slack answers 5xx (bot.slack.posting)."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from bot.settings import load_settings
from bot.slack.app import make_client
from bot.slack.posting import METADATA_EVENT_TYPE, PostFailed, post_once
from tests.fakes.slack_api import FakeSlack

THREAD = "1700009000.000100"


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def client(fake):
    settings = load_settings({"SLACK_BOT_TOKEN": fake.token, "SLACK_API_URL": fake.base_url}, env_file=None)
    c = make_client(settings)
    c.timeout = 5
    return c


def _with_key(fake, channel: str, key: str) -> list[dict]:
    lookup = fake.client()
    found = []
    for page_of in ("replies", "history"):
        try:
            if page_of == "replies":
                page = lookup.conversations_replies(channel=channel, ts=THREAD, include_all_metadata=True)
            else:
                page = lookup.conversations_history(channel=channel, include_all_metadata=True)
        except SlackApiError:
            continue
        found += [m for m in page["messages"]
                  if (m.get("metadata") or {}).get("event_payload", {}).get("key") == key]
    return list({m["ts"]: m for m in found}.values())


@pytest.mark.parametrize("thread_ts", [THREAD, None], ids=["in-thread", "top-level"])
def test_a_connection_lost_after_slack_stored_the_post_does_not_post_twice(fake, client, thread_ts):
    fake.drop_next("chat.postMessage", after=True)
    ts = post_once(client, key="k1", channel="C1", thread_ts=thread_ts, text="antwoord", pause=0.01)
    assert len(fake.calls("chat.postMessage")) == 1  # slack_sdk did not retry blindly
    assert len(_with_key(fake, "C1", "k1")) == 1
    assert _with_key(fake, "C1", "k1")[0]["ts"] == ts


def test_a_connection_lost_before_slack_stored_the_post_posts_again(fake, client):
    fake.drop_next("chat.postMessage", after=False)
    post_once(client, key="k2", channel="C1", thread_ts=THREAD, text="antwoord", pause=0.01)
    assert len(fake.calls("chat.postMessage")) == 2
    assert len(_with_key(fake, "C1", "k2")) == 1


def test_a_500_is_checked_then_posted_again_once(fake, client):
    fake.fail_next("chat.postMessage", status=500)
    post_once(client, key="k3", channel="C1", thread_ts=THREAD, text="antwoord", pause=0.01)
    assert [c.status for c in fake.calls("chat.postMessage")] == [500, 200]
    assert len(_with_key(fake, "C1", "k3")) == 1


def test_the_post_carries_its_key_as_message_metadata(fake, client):
    post_once(client, key="k4", channel="C1", thread_ts=THREAD, text="antwoord")
    call = fake.calls("chat.postMessage")[0]
    assert '"event_type": "ketenbot_post"' in str(call.args["metadata"]).replace("'", '"')
    assert _with_key(fake, "C1", "k4")[0]["metadata"]["event_type"] == METADATA_EVENT_TYPE


def test_a_plain_slack_error_is_raised_at_once(fake, client):
    with pytest.raises(SlackApiError):
        post_once(client, key="k5", channel="C_NOPE", text="antwoord", pause=0.01)
    assert len(fake.calls("chat.postMessage")) == 1


def test_giving_up_after_every_attempt_failed_says_so(fake, client):
    fake.drop_next("chat.postMessage", times=3)
    with pytest.raises(PostFailed):
        post_once(client, key="k6", channel="C1", thread_ts=THREAD, text="antwoord", pause=0.01)
    assert len(fake.calls("chat.postMessage")) == 3
    assert _with_key(fake, "C1", "k6") == []


def test_other_methods_still_retry_dropped_connections(fake, client):
    fake.drop_next("users.info")
    assert client.users_info(user="U1")["ok"]
    assert len(fake.calls("users.info")) == 2
