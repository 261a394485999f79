"""The fake Slack Web API, exercised through the real slack_sdk WebClient."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    FixedValueRetryIntervalCalculator,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from tests.fakes.slack_api import UPLOAD, FakeSlack

FAST = FixedValueRetryIntervalCalculator(0.05)


def api_error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return excinfo.value.response["error"]


# --------------------------------------------------------------------------- basics


def test_auth_test_answers_the_documented_bot_shape(fake_slack: FakeSlack) -> None:
    client = WebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    response = client.auth_test()
    assert response.data == {
        "ok": True,
        "url": "https://ketenbot-test.slack.com/",
        "team": "Ketenbot Test",
        "user": "ketenbot",
        "team_id": "T0KETEN001",
        "user_id": "U0KETENBOT",
        "bot_id": "B0KETENBOT",
        "is_enterprise_install": False,
    }
    # slack_bolt reads the granted scopes from this header, by its lower-case name
    assert "chat:write" in response.headers["x-oauth-scopes"].split(",")
    (call,) = fake_slack.calls("auth.test")
    assert call.header("authorization") == f"Bearer {fake_slack.token}"
    assert call.status == 200 and call.ok


def test_bad_token_is_invalid_auth_and_no_token_is_not_authed(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as bad:
        WebClient(token="xoxb-not-a-real-token", base_url=fake_slack.base_url).auth_test()
    assert api_error(bad) == "invalid_auth"
    assert bad.value.response.status_code == 200  # Slack reports API errors in a 200

    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=fake_slack.base_url).auth_test()
    assert api_error(missing) == "not_authed"


def test_post_message_is_recorded_with_its_args(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hoi*"}}]
    response = client.chat_postMessage(channel="C1", text="Hoi", blocks=blocks, thread_ts=None)

    assert response["channel"] == "C1"
    assert response["ts"] == "1700000000.000100"
    message = response["message"]
    assert message["ts"] == response["ts"] and message["text"] == "Hoi"
    assert message["user"] == "U0KETENBOT" and message["bot_id"] == "B0KETENBOT"
    assert message["blocks"] == blocks

    (call,) = fake_slack.calls("chat.postMessage")
    assert call.args == {"channel": "C1", "text": "Hoi", "blocks": blocks}  # the SDK sends JSON here
    assert call.header("content-type", "").startswith("application/json")
    assert call.at <= call.answered_at

    second = client.chat_postMessage(channel="C1", text="nog een")
    assert second["ts"] > response["ts"]  # ts values go up
    assert [m["text"] for m in fake_slack.messages("C1")] == ["Hoi", "nog een"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "geen kanaal"}, "channel_not_found"),
        ({"channel": "C1"}, "no_text"),
        ({"channel": "C1", "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "C1", "text": "x", "blocks": {"type": "section"}}, "invalid_blocks"),
        ({"channel": "C1", "text": "x", "blocks": "[{not json"}, "invalid_blocks"),
        ({"channel": "C1", "text": "x", "blocks": [{"text": "no type"}]}, "invalid_blocks"),
        ({"channel": "C1", "text": "x", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
    ],
)
def test_post_message_validates_like_slack(fake_slack: FakeSlack, kwargs: dict, error: str) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        fake_slack.client().api_call("chat.postMessage", json=kwargs)
    assert api_error(excinfo) == error
    assert fake_slack.messages() == []


def test_form_encoded_arguments_are_parsed_too(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    blocks = json.dumps([{"type": "divider"}])
    response = client.api_call("chat.postMessage", params={"channel": "C1", "text": "form", "blocks": blocks})
    assert response["message"]["blocks"] == [{"type": "divider"}]
    assert fake_slack.calls("chat.postMessage")[0].args["blocks"] == blocks  # recorded as sent
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.postMessage", params={"channel": "C1", "text": "x", "blocks": "{}"})
    assert api_error(excinfo) == "invalid_blocks"


def test_unknown_method(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        fake_slack.client().api_call("chat.teleport")
    assert excinfo.value.response.data == {"ok": False, "error": "unknown_method"}


# --------------------------------------------------------------------------- rate limits and faults


def test_429_is_retried_no_earlier_than_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    client = fake_slack.client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])

    response = client.chat_postMessage(channel="C1", text="na even wachten")

    assert response["ok"]
    first, retry = fake_slack.calls("chat.postMessage")
    assert (first.status, first.error, first.fault) == (429, "ratelimited", "ratelimited")
    assert retry.status == 200
    assert retry.at - first.answered_at >= 1.0
    (limit,) = fake_slack.rate_limits("chat.postMessage")
    assert limit.retry_after == 1 and limit.respected
    assert len(fake_slack.messages("C1")) == 1


def test_429_without_a_rate_limit_handler_raises(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=2)
    client = fake_slack.client()  # default handlers: only ConnectionErrorRetryHandler

    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1", text="te snel")

    assert excinfo.value.response.status_code == 429
    assert api_error(excinfo) == "ratelimited"
    assert excinfo.value.response.headers["retry-after"] == "2"
    assert len(fake_slack.calls("chat.postMessage")) == 1


def test_calls_inside_the_retry_after_window_are_limited_again(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("users.info", status=429, retry_after=5)
    client = fake_slack.client(retry_handlers=[])
    for _ in range(2):
        with pytest.raises(SlackApiError):
            client.users_info(user="U0KETENBOT")
    first, second = fake_slack.rate_limits("users.info")
    assert first.respected is False and first.waited < 5
    assert second.retry_after <= 5
    assert client.auth_test()["ok"]  # other methods are not limited


def test_500_is_retried_by_server_error_handler(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("conversations.info", status=500)
    client = fake_slack.client(
        retry_handlers=[ServerErrorRetryHandler(max_retry_count=1, interval_calculator=FAST)]
    )

    response = client.conversations_info(channel="C1")

    assert response["channel"]["id"] == "C1"
    assert [c.status for c in fake_slack.calls("conversations.info")] == [500, 200]
    assert fake_slack.calls("conversations.info")[0].error == "internal_error"


def test_dropped_connection_is_retried_by_connection_error_handler(fake_slack: FakeSlack) -> None:
    fake_slack.drop_next("auth.test")
    client = fake_slack.client(
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1, interval_calculator=FAST)]
    )

    assert client.auth_test()["ok"]

    dropped, retried = fake_slack.calls("auth.test")
    assert dropped.fault == "dropped" and dropped.status is None
    assert retried.status == 200


def test_retrying_a_post_whose_answer_was_lost_posts_twice(fake_slack: FakeSlack) -> None:
    # The default WebClient retries connection errors once, for any method.
    fake_slack.drop_next("chat.postMessage", after=True)
    fake_slack.client().chat_postMessage(channel="C1", text="dubbel?")
    assert [m["text"] for m in fake_slack.messages("C1")] == ["dubbel?", "dubbel?"]


def test_retry_handlers_share_one_attempt_budget(fake_slack: FakeSlack) -> None:
    # RetryState counts attempts across all handlers: one connection retry uses up the
    # budget of a RateLimitErrorRetryHandler(max_retry_count=1) for the same request.
    fake_slack.drop_next("auth.test")
    fake_slack.fail_next("auth.test", status=429, retry_after=1)
    client = fake_slack.client(
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1, interval_calculator=FAST),
            RateLimitErrorRetryHandler(max_retry_count=1),
        ]
    )
    with pytest.raises(SlackApiError) as excinfo:
        client.auth_test()
    assert api_error(excinfo) == "ratelimited"
    assert [c.fault for c in fake_slack.calls("auth.test")] == ["dropped", "ratelimited"]


def test_fail_rate_is_reproducible_with_a_seed() -> None:
    patterns = []
    for _ in range(2):
        with FakeSlack() as slack:
            slack.fail_rate("auth.test", share=0.5, status=503, seed=7)
            client = slack.client(retry_handlers=[])
            for _ in range(12):
                try:
                    client.auth_test()
                except SlackApiError:
                    pass
            patterns.append([c.status for c in slack.calls("auth.test")])
    assert patterns[0] == patterns[1]
    assert {200, 503} == set(patterns[0])


def test_delay_makes_a_client_time_out(fake_slack: FakeSlack) -> None:
    fake_slack.delay("auth.test", 1.0, times=1)
    client = fake_slack.client(timeout=0.2, retry_handlers=[])
    started = time.monotonic()
    with pytest.raises((TimeoutError, URLError)):
        client.auth_test()
    assert time.monotonic() - started < 0.9
    assert client.auth_test()["ok"]  # the delay was for one call only


# --------------------------------------------------------------------------- files, paging, other methods


def test_files_upload_v2_completes_against_the_fake(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    response = client.files_upload_v2(content=b"\x89PNG fake", filename="x.png", channel="C1")

    file = response["file"]
    assert response["files"] == [file]
    assert file["name"] == "x.png" and file["mimetype"] == "image/png" and file["size"] == 9
    assert fake_slack.uploaded(file["id"]) == b"\x89PNG fake"
    assert [c.method for c in fake_slack.calls()] == [
        "files.getUploadURLExternal",
        UPLOAD,
        "files.completeUploadExternal",
    ]
    get_url = fake_slack.calls("files.getUploadURLExternal")[0]
    assert get_url.args["filename"] == "x.png" and get_url.args["length"] == "9"
    assert fake_slack.calls(UPLOAD)[0].header("authorization") is None  # the upload URL needs no token
    (shared,) = fake_slack.messages("C1")
    assert shared["files"][0]["id"] == file["id"]
    info = client.files_info(file=file["id"])
    assert list(info["file"]["shares"]["public"]) == ["C1"]


def test_complete_upload_needs_the_bytes(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    ticket = client.files_getUploadURLExternal(filename="a.txt", length=3)
    assert ticket["upload_url"].startswith(fake_slack.root_url + "/upload/v1/")
    with pytest.raises(SlackApiError) as excinfo:
        client.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "a"}], channel_id="C1")
    assert api_error(excinfo) == "file_not_found"


def test_conversations_members_paginates_through_the_sdk_paginator(fake_slack: FakeSlack) -> None:
    members = [f"U{n:09d}" for n in range(1, 8)]
    fake_slack.add_channel("C0TEAM0001", name="keten-team", members=members)
    client = fake_slack.client()

    # The paginator yields the *same* SlackResponse object each time, so keep .data, not the object.
    pages = [page.data for page in client.conversations_members(channel="C0TEAM0001", limit=3)]

    assert [len(p["members"]) for p in pages] == [3, 3, 2]
    assert [m for p in pages for m in p["members"]] == ["U0KETENBOT", *members]
    assert pages[0]["response_metadata"]["next_cursor"]
    assert pages[-1]["response_metadata"]["next_cursor"] == ""
    cursors = [c.args.get("cursor") for c in fake_slack.calls("conversations.members")]
    assert cursors[0] is None and all(cursors[1:])
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_members(channel="C0TEAM0001", cursor="bm9wZQ==")
    assert api_error(excinfo) == "invalid_cursor"


def test_users_info_locale_only_when_asked(fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0ANNE0001", name="anne", locale="nl-NL")
    client = fake_slack.client()
    plain = client.users_info(user="U0ANNE0001")["user"]
    assert "locale" not in plain and plain["is_bot"] is False
    assert client.users_info(user="U0ANNE0001", include_locale=True)["user"]["locale"] == "nl-NL"
    assert client.users_info(user="U0KETENBOT")["user"]["is_bot"] is True
    with pytest.raises(SlackApiError) as excinfo:
        client.users_info(user="not-a-user")
    assert api_error(excinfo) == "user_not_found"


def test_dm_thread_reactions_and_deletes(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    dm = client.conversations_open(users="U0ANNE0001")
    assert dm["channel"]["id"].startswith("D") and "already_open" not in dm
    again = client.conversations_open(users="U0ANNE0001")
    assert again["already_open"] and again["channel"]["id"] == dm["channel"]["id"]

    question = fake_slack.add_message(dm["channel"]["id"], "Wie is ketenregisseur?", user="U0ANNE0001")
    reply = client.chat_postMessage(channel="U0ANNE0001", text="Antwoord", thread_ts=question["ts"])
    assert reply["channel"] == dm["channel"]["id"]  # posting to a user ID lands in the DM
    thread = client.conversations_replies(channel=dm["channel"]["id"], ts=question["ts"])["messages"]
    assert [m["text"] for m in thread] == ["Wie is ketenregisseur?", "Antwoord"]
    assert thread[0]["reply_count"] == 1

    client.reactions_add(channel=dm["channel"]["id"], timestamp=question["ts"], name="eyes")
    with pytest.raises(SlackApiError) as twice:
        client.reactions_add(channel=dm["channel"]["id"], timestamp=question["ts"], name="eyes")
    assert api_error(twice) == "already_reacted"
    client.reactions_remove(channel=dm["channel"]["id"], timestamp=question["ts"], name="eyes")

    with pytest.raises(SlackApiError) as not_ours:
        client.chat_delete(channel=dm["channel"]["id"], ts=question["ts"])
    assert api_error(not_ours) == "cant_delete_message"
    assert client.chat_update(channel=reply["channel"], ts=reply["ts"], text="Beter antwoord")["text"] == (
        "Beter antwoord"
    )
    client.chat_delete(channel=reply["channel"], ts=reply["ts"])
    with pytest.raises(SlackApiError) as gone:
        client.chat_update(channel=reply["channel"], ts=reply["ts"], text="weg")
    assert api_error(gone) == "message_not_found"
    assert client.chat_postEphemeral(channel="C1", user="U0ANNE0001", text="alleen voor jou")["message_ts"]


def test_views_open_update_publish(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Vraag"}, "blocks": []}
    opened = client.views_open(trigger_id=fake_slack.issue_trigger_id(), view=modal)["view"]
    assert opened["id"].startswith("V") and opened["type"] == "modal" and opened["state"] == {"values": {}}

    updated = client.views_update(
        view_id=opened["id"],
        hash=opened["hash"],
        view={**modal, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "bijgewerkt"}}]},
    )["view"]
    assert updated["id"] == opened["id"] and len(updated["blocks"]) == 1
    with pytest.raises(SlackApiError) as stale:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    assert api_error(stale) == "hash_conflict"
    with pytest.raises(SlackApiError) as missing:
        client.views_update(view_id="V000MISSING", view=modal)
    assert api_error(missing) == "not_found"

    home = {"type": "home", "blocks": [{"type": "divider"}]}
    first = client.views_publish(user_id="U0ANNE0001", view=home)["view"]
    assert client.views_publish(user_id="U0ANNE0001", view=home)["view"]["id"] == first["id"]
    with pytest.raises(SlackApiError) as wrong_type:
        client.views_open(trigger_id=fake_slack.issue_trigger_id(), view=home)
    assert api_error(wrong_type) == "invalid_arguments"
    assert wrong_type.value.response["response_metadata"]["messages"]


def test_reset_forgets_calls_and_faults(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("auth.test", status=500)
    client = fake_slack.client(retry_handlers=[])
    client.chat_postMessage(channel="C1", text="blijft")
    fake_slack.reset()
    assert fake_slack.calls() == [] and client.auth_test()["ok"]
    assert len(fake_slack.messages("C1")) == 1
    fake_slack.reset(state=True)
    assert fake_slack.messages() == []
    assert fake_slack.server_errors == []


def test_concurrent_calls_get_distinct_ts_and_are_all_recorded(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: client.chat_postMessage(channel="C1", text=str(i)), range(24)))
    assert len({r["ts"] for r in results}) == 24
    assert len(fake_slack.calls("chat.postMessage")) == 24


def test_the_guard_stops_real_slack_calls() -> None:
    with pytest.raises(AssertionError, match="slack.com"):
        WebClient(token="xoxb-real-looking").auth_test()
