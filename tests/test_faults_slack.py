"""Slack misbehaving while answers and a check-in round's DMs go out at the same time.

Already covered elsewhere, and reused here rather than repeated: 429s on answer posts alone (60
mentions, tests/test_slack_reliability.py, measured with tests.fakes.measures.rate_limit_report),
and post_once on its own against one dropped connection or one 500 (tests/test_slack_posting.py).

New here:

* a mixed-fault run over both surfaces at once: 30 questions through the real Bolt app and a
  check-in round for 24 people (the announcement and 24 DMs, sent by the due-work runner on the
  same Web API client, so sharing its rate-limit gate), while Slack answers 429 with Retry-After,
  500/503, drops connections before and after it stored a post, and answers slower than the
  client's timeout, on a share of the calls;
* a post whose three attempts all failed, the last after Slack stored it: found, not sent again, by
  the next due run;
* what the bot cannot get right today (xfail, strict): a post Slack stores only after post_once
  looked for it is sent twice.

Faults are planned per request (a post by its metadata key, any other call by what it asks), not
by the order calls arrive in: the threads interleave differently from run to run, and a plan per
request keeps every run within the attempts the bot makes, so the counts are exact every time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import text

from bot.checkins.runner import DueRunner
from bot.checkins.service import CheckinService
from bot.checkins.store import Checkins
from bot.settings import load_settings
from bot.slack.app import create_app, make_client
from bot.slack.deps import SlackDeps
from bot.slack.locales import UserLocales
from bot.slack.messenger import SlackMessenger
from bot.slack.posting import PostFailed, post_once
from tests.fakes.slack_api import FakeSlack, _Fault
from tests.fakes.slack_requests import (
    SECRET,
    StubAnswerer,
    app_against,
    bolt_headers,
    event_body,
    sqlite_records,
)

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2027, 1, 12, 10, 0, tzinfo=AMS).astimezone(UTC)  # a working Tuesday morning
ADMIN, MANAGER, CHANNEL = "U0ADMIN01", "U0MANAGR1", "C0JEUGD01"
MEMBERS = [f"U0LID{n:04d}" for n in range(23)]
QUESTIONS = 30
CLIENT_TIMEOUT = 1.0  # seconds; WebClient's default is 30 and no setting changes it, so the test sets it
SLOW = 1.3  # a slow answer: longer than the client waits (1 s), shorter than that plus post_once's 1 s pause
RETRY_AFTER = 1
IN_FLIGHT = 0.25  # a call already on its way (another thread) when a 429 went out cannot be called back
LOOKUPS = {"conversations.replies", "conversations.history"}
ROUND_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _key(args: dict) -> str:
    meta = args.get("metadata") or {}
    meta = json.loads(meta) if isinstance(meta, str) else meta
    return (meta.get("event_payload") or {}).get("key", "")


class PlannedFaults(FakeSlack):
    """The fake Slack, with faults planned per request.

    A post (``chat.postMessage``) is identified by its metadata key: its first call may get a
    fault, and after an unknown outcome its second too, never a third, so post_once's three
    attempts always suffice. Any other call is identified by its method and arguments and gets
    at most one fault, on its first call, which slack_sdk's retry handlers then take care of.
    Look-ups (conversations.replies/history) are never slow: a look-up that times out counts as
    "not found" by design (``bot.slack.posting._find_posted``), and the post would be sent twice.
    """

    POST_KINDS = {"429": 0.10, "500": 0.08, "drop": 0.06, "drop_after": 0.08, "slow": 0.08}
    OTHER_KINDS = {"429": 0.08, "503": 0.05, "drop": 0.04, "slow": 0.04}
    UNKNOWN = {"500", "drop", "drop_after", "slow"}  # the client cannot tell whether it was posted

    def __init__(self, seed: int, **kwargs: object):
        super().__init__(**kwargs)
        self.seed = seed
        self.seen: Counter = Counter()
        self.faults: Counter = Counter()
        self.faulted_keys: set[str] = set()

    def _plan(self, identity: str, kinds: dict[str, float], count: int) -> list[str | None]:
        rng = random.Random(hashlib.sha256(f"{self.seed}:{identity}".encode()).digest())
        plan: list[str | None] = []
        for _ in range(count):
            roll, chosen = rng.random(), None
            for kind, share in kinds.items():
                if roll < share:
                    chosen = kind
                    break
                roll -= share
            plan.append(chosen)
            if chosen not in self.UNKNOWN:
                break
        return plan

    def _pick_fault(self, method: str, now: float) -> _Fault | None:
        scripted = super()._pick_fault(method, now)  # scripted faults and open Retry-After windows
        if scripted is not None or method in ("auth.test", "upload"):
            return scripted
        call = self._calls[-1]  # FakeSlack._serve appends the call and picks its fault under one lock
        if method == "chat.postMessage":
            # the round's random id left out: the same plan for the same person in every run
            identity, kinds, count = f"post:{ROUND_ID.sub('ROUND', _key(call.args))}", self.POST_KINDS, 2
        else:
            args = {k: v for k, v in call.args.items() if k != "token"}
            identity = f"{method}:{json.dumps(args, sort_keys=True, default=str)}"
            kinds = {k: v for k, v in self.OTHER_KINDS.items() if not (k == "slow" and method in LOOKUPS)}
            count = 1
        n = self.seen[identity]
        self.seen[identity] += 1
        plan = self._plan(identity, kinds, count)
        kind = plan[n] if n < len(plan) else None
        if kind is None:
            return None
        self.faults[kind] += 1
        if method == "chat.postMessage":
            self.faulted_keys.add(_key(call.args))
        if kind == "slow":
            self.delay(method, SLOW, times=1)  # picked up right after this, under the same lock
            return None
        if kind == "429":
            return _Fault("status", status=429, retry_after=RETRY_AFTER)
        if kind in ("500", "503"):
            return _Fault("status", status=int(kind))
        return _Fault("drop", after=kind == "drop_after")


def _posted(fake: FakeSlack) -> Counter:
    """How many messages carry each metadata key in Slack (the fake's stored world)."""
    found: Counter = Counter()
    for message in fake.messages():
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("key"):
            found[payload["key"]] += 1
    return found


def _answer_side(call) -> bool:  # noqa: ANN001
    """Made by an answer listener (Bolt's per-request client) rather than by due work."""
    if call.method == "chat.postMessage":
        return _key(call.args).startswith("msg:")
    return call.method in ("assistant.threads.setStatus", "conversations.replies")  # answers are in threads


def _rate_limit_breaches(fake: FakeSlack) -> tuple[int, int, int]:
    """(calls by due work sent to a method while its Retry-After window was open; the same for
    calls by answer listeners; requests retried sooner than the Retry-After of their own 429).
    Calls that arrive within IN_FLIGHT of the 429 were on their way already and are not counted."""
    calls = [c for c in fake.calls() if c.method != "auth.test"]
    into = Counter()
    early = 0
    for limit in fake.rate_limits():
        for c in calls:
            if c.method == limit.method and limit.at + IN_FLIGHT < c.at < limit.at + limit.retry_after:
                into["answers" if _answer_side(c) else "due"] += 1
        limited = next(c for c in calls if c.method == limit.method and c.answered_at == limit.at)
        again = [
            c for c in calls if c.at > limited.at and (c.method, c.args) == (limited.method, limited.args)
        ]
        early += bool(again) and again[0].at - limit.at < limit.retry_after
    return into["due"], into["answers"], early


@pytest.fixture
def slack(tmp_path):
    with PlannedFaults(seed=8) as fake:
        fake.add_user(ADMIN)
        for user in (MANAGER, *MEMBERS):
            fake.add_user(user)
        fake.add_channel(CHANNEL, name="jeugdketen", members=[MANAGER, *MEMBERS])
        settings = load_settings(
            {
                "SLACK_BOT_TOKEN": fake.token,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": fake.base_url,
                "ADMIN_USER_IDS": ADMIN,
            },
            env_file=None,
        )
        client = make_client(settings)
        client.timeout = CLIENT_TIMEOUT
        records = sqlite_records(tmp_path)
        store = Checkins(records.engine)
        messenger = SlackMessenger(client, UserLocales(lookup=records.language_of))
        runner = DueRunner(store, messenger, zone=AMS, min_group=3, clock=lambda: NOW)
        service = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=3, directory=messenger)
        deps = SlackDeps(StubAnswerer(), records, checkins=service, clock=lambda: NOW)
        yield fake, create_app(settings, deps, client), records, store, service, runner


def test_mixed_faults_over_answers_and_checkin_dms_deliver_every_message_exactly_once(slack, caplog):
    fake, app, records, store, service, runner = slack
    caplog.set_level(logging.WARNING)
    fake.enforce_retry_after = True
    app.client.auth_test()  # Bolt's one-time token check; not part of what is measured
    service.handle(ADMIN, CHANNEL, f"rol ketenmanager <@{MANAGER}|m>", "nl", NOW)
    service.handle(MANAGER, CHANNEL, "keten registreer Jeugdketen", "nl", NOW)
    assert service.handle(MANAGER, CHANNEL, "checkin start", "nl", NOW).run_due
    round_id = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])["id"]

    runs: list = []

    def due_until_done() -> None:  # the every-minute loop, compressed: run until everyone is invited
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            report = runner.run()
            runs.append(report)
            if store.status(round_id).invited == len(MEMBERS) + 1 and not store.to_invite(round_id):
                return
            time.sleep(0.2)

    started = time.monotonic()
    due = threading.Thread(target=due_until_done, name="due-loop")
    due.start()
    questions = []
    for n in range(QUESTIONS):
        ts = f"{1_700_300_000 + n}.000100"
        event = {
            "type": "app_mention",
            "user": MEMBERS[n % len(MEMBERS)],
            "channel": "C0ALGEMN1",
            "ts": ts,
            "text": f"<@U0KETENBOT> Vraag {n}: hoe houden we de keten samen?",
        }
        body = event_body(event, f"EvFault{n:03d}")
        assert app.dispatch(BoltRequest(body=body, headers=bolt_headers(body))).status == 200
        questions.append(f"msg:C0ALGEMN1:{ts}")
    due.join(timeout=120)
    expected_dms = {f"invite:{round_id}:{user}" for user in (MANAGER, *MEMBERS)}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not set(questions) <= set(_posted(fake)):
        time.sleep(0.2)
    time.sleep(SLOW + 0.5)  # let anything still on its way arrive: a late duplicate must be seen
    took = time.monotonic() - started

    posted = _posted(fake)
    answers = {k: posted[k] for k in questions}
    dms = {k: posted[k] for k in expected_dms}
    announce = {k: n for k, n in posted.items() if k.startswith("announce:")}
    into_due, into_answers, early = _rate_limit_breaches(fake)
    calls = fake.calls()
    statuses = Counter(c.status for c in calls)
    dropped = Counter(c.fault for c in calls if c.fault and c.fault.startswith("dropped"))
    timeouts = sum(1 for c in calls if c.answered_at and c.answered_at - c.at >= SLOW)
    crashes = [r for r in caplog.records if r.getMessage().startswith("Failed to run listener")]
    print(
        f"\nfaults: {len(calls)} calls to Slack; {statuses[429]} answered 429 (Retry-After {RETRY_AFTER} s), "
        f"{statuses[500] + statuses[503]} answered 5xx, {sum(dropped.values())} connections dropped "
        f"({dropped['dropped_after']} after Slack stored the post), {timeouts} slower than the client's "
        f"{CLIENT_TIMEOUT:.0f} s timeout; {len(fake.faulted_keys)} of {len(questions) + len(dms) + 1} "
        f"messages hit by a fault\n -> {sum(1 for n in answers.values() if n == 1)}/{QUESTIONS} answers and "
        f"{sum(1 for n in dms.values() if n == 1)}/{len(expected_dms)} check-in DMs "
        f"(+{sum(announce.values())} announcement) delivered exactly once; "
        f"{sum(max(0, n - 1) for n in posted.values())} duplicates, {early} requests retried before "
        f"their Retry-After, {into_due} due-work calls and {into_answers} answer calls sent into "
        f"another call's open Retry-After window; "
        f"{len(runs)} due runs ({sum(r.failed for r in runs if r)} deliveries retried on a later run), "
        f"{len(crashes)} listener crashes; {took:.1f} s"
    )
    assert statuses[429] >= 3 and statuses[500] + statuses[503] >= 3 and dropped["dropped_after"] >= 2
    assert dropped["dropped"] >= 1 and timeouts >= 2 and len(fake.faulted_keys) >= 10
    assert answers == dict.fromkeys(questions, 1), {k: n for k, n in answers.items() if n != 1}
    assert dms == dict.fromkeys(expected_dms, 1), {k: n for k, n in dms.items() if n != 1}
    assert list(announce.values()) == [1]
    assert sum(posted.values()) == QUESTIONS + len(expected_dms) + 1  # nothing else, nothing twice
    assert early == 0 and into_due == 0
    # answer calls do go into open windows: test_answer_listeners_wait_for_a_window_another_call_opened
    assert crashes == [] and not fake.server_errors
    with records.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM answers")).scalar_one() == QUESTIONS
        sent = conn.execute(text("SELECT count(*) FROM deliveries WHERE sent_at IS NOT NULL")).scalar_one()
    assert sent == len(expected_dms) + 1  # every DM and the announcement recorded as sent, once


# ----------------------------------------------------------------------------------- giving up, late posts


@pytest.fixture
def plain(tmp_path):
    with FakeSlack() as fake:
        fake.add_channel(CHANNEL, name="jeugdketen", members=[MANAGER, *MEMBERS[:2]])
        settings = load_settings(
            {"SLACK_BOT_TOKEN": fake.token, "SLACK_API_URL": fake.base_url}, env_file=None
        )
        client = make_client(settings)
        client.timeout = CLIENT_TIMEOUT
        records = sqlite_records(tmp_path)
        store = Checkins(records.engine)
        messenger = SlackMessenger(client)
        runner = DueRunner(store, messenger, zone=AMS, min_group=3, clock=lambda: NOW)
        service = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=3, directory=messenger)
        service.handle(ADMIN, CHANNEL, f"rol ketenmanager <@{MANAGER}|m>", "nl", NOW)
        service.handle(MANAGER, CHANNEL, "keten registreer Jeugdketen", "nl", NOW)
        service.handle(MANAGER, CHANNEL, "checkin start", "nl", NOW)
        yield fake, client, store, runner


def test_a_post_whose_attempts_all_failed_the_last_after_storing_is_found_not_sent_again(plain):
    """post_once gives up (PostFailed) after its last attempt dropped after Slack stored the post;
    due work releases the claim as stale, and the next run takes it over and looks first."""
    fake, client, store, runner = plain
    fake.fail_next("chat.postMessage", status=500)  # the announcement, attempt 1: not stored
    fake.drop_next("chat.postMessage")  # attempt 2: not stored
    fake.drop_next("chat.postMessage", after=True)  # attempt 3: stored, the answer lost
    first = runner.run()
    second = runner.run()  # the next minute
    posted = _posted(fake)
    announce = [k for k in posted if k.startswith("announce:")]
    print(
        f"\nannouncement: 3 failed attempts (last one stored) -> run 1 failed={first.failed}, "
        f"run 2 found it: {posted[announce[0]]} message(s) in Slack"
    )
    assert (first.failed, first.announced, second.failed, second.announced) == (1, 0, 0, 1)
    assert len(announce) == 1 and posted[announce[0]] == 1
    round_id = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])["id"]
    assert store.round(round_id)["announce_ts"]  # the found post's ts recorded


@pytest.mark.xfail(
    strict=True,
    reason=(
        "bot/slack/posting.py post_once: after a timeout it waits `pause` (1 s) and looks once; a post Slack "
        "stores later than that (a response slower than the client's timeout plus the pause; with the "
        "default 30 s timeout, slower than 31 s) is not found and sent again. Fix: after a timeout, look "
        "again before the last attempt (or wait at least as long as the timeout before the first look)."
    ),
)
def test_a_post_slack_stores_after_the_lookup_is_not_sent_twice(plain):
    fake, client, store, runner = plain
    fake.delay("chat.postMessage", CLIENT_TIMEOUT + 1.0 + 0.6, times=1)  # stored after post_once looked
    try:
        post_once(client, key="late", channel="C0ALGEMN1", thread_ts="1700400000.000100", text="antwoord")
    except PostFailed:
        pass
    time.sleep(1.0)
    assert _posted(fake)["late"] == 1


def test_answer_listeners_wait_for_a_window_another_call_opened(tmp_path):
    with FakeSlack() as fake:
        app = app_against(fake, StubAnswerer(), sqlite_records(tmp_path))
        app.client.auth_test()
        fake.fail_next("chat.postMessage", status=429, retry_after=2)  # the first answer opens a 2 s window
        for n in range(2):
            event = {
                "type": "app_mention",
                "user": "U1",
                "channel": "C1",
                "ts": f"{1_700_500_000 + n}.000100",
                "text": "<@U0KETENBOT> Hoe houden we de keten samen?",
            }
            body = event_body(event, f"EvGate{n}")
            assert app.dispatch(BoltRequest(body=body, headers=bolt_headers(body))).status == 200
            if n == 0:
                assert fake.wait_for_calls("chat.postMessage", 1, timeout=10)[0].status == 429
                time.sleep(0.5)  # the second question comes in while the window is open
        posts = fake.wait_for_calls("chat.postMessage", 4, timeout=10)
        opened = fake.rate_limits("chat.postMessage")[0]
        inside = [p for p in posts if opened.at + IN_FLIGHT < p.at < opened.at + opened.retry_after]
        print(
            f"\n429 with Retry-After 2 s, then a second answer 0.5 s later: {len(inside)} post(s) sent into "
            f"the open window"
        )
        assert inside == []
