"""PostgreSQL goes away in the middle of a check-in round while answers and questions keep coming.

In-process: the real Bolt app on a fresh PostgreSQL database, a check-in round open for 80 people
(invited by the due-work runner, which keeps running every 0.3 s), and the fake Slack. While check-in
forms are submitted and questions asked (each every 50 ms, from 0.8 s before the outage until 1 s
after it), the database goes away. Afterwards:

* every form submitted was either stored exactly once (the form closed) or the person was told to
  try again (the form showed the storage error and nothing was stored); told-to-retry people then
  submit again once the database is back and are stored;
* every question was answered in Slack exactly once, and its answer is in the database: written at
  once, or kept in the outbox (``bot/records/outbox.py``) while the database was away and written
  when it came back (flushed by the next question);
* due work survived the outage.

The outage: the machine's PostgreSQL is restarted (``pg_ctlcluster --skip-systemctl-redirect VERSION
CLUSTER restart``, as root) when no other process is connected to the server: a restart cuts every
connection on the server, and other test sessions sharing it (their session-wide admin connection
has no pre-ping) would fail. Otherwise, and where the server cannot be restarted from here (not
root, no pg_ctlcluster, a remote server), the test database alone is cut off: every backend of it is
terminated (``pg_terminate_backend``) and new connections are refused (``ALTER DATABASE ... WITH
ALLOW_CONNECTIONS false``) for OUTAGE_S seconds. KETENBOT_PG_OUTAGE=restart|terminate forces one.
The test prints which it used and why. Whatever happens, the server is running and the database
accepts connections again when the test ends, and PostgreSQL engines of this process are disposed
of after a restart (their pooled connections are dead), so later tests are not affected.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.checkins import forms
from bot.checkins.messages import say
from bot.checkins.model import DIMENSIONS, PULSE, CheckinResponse
from bot.checkins.runner import DueRunner
from bot.checkins.service import CheckinService
from bot.checkins.store import Checkins
from bot.records.db import make_engine, migrate
from bot.records.outbox import Outbox
from bot.records.store import Records
from bot.settings import load_settings
from bot.slack.app import create_app, make_client
from bot.slack.deps import SlackDeps
from bot.slack.locales import UserLocales
from bot.slack.messenger import SlackMessenger
from tests.conftest import POSTGRES, _ci
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SECRET, StubAnswerer, bolt_headers, event_body
from tests.test_checkin_forms import state_values

pytestmark = pytest.mark.postgres

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2027, 1, 12, 10, 0, tzinfo=AMS).astimezone(UTC)
ADMIN, MANAGER, CHANNEL = "U0ADMIN01", "U0MANAGR1", "C0JEUGD01"
MEMBERS = [f"U0LID{n:04d}" for n in range(79)]
PEOPLE = [MANAGER, *MEMBERS]
QUESTIONS = 80  # at most; traffic stops AFTER_S after the database is back
OUTAGE_S = 2.0  # how long the test database refuses connections in "terminate" mode
EVERY_S = 0.05  # one submission and one question this often: before, during and after the outage
BEFORE_S, AFTER_S = 0.8, 1.0  # traffic before the outage begins and after it ended
STORAGE_DOWN = {say("storage_down", "nl"), say("storage_down", "en")}


# --------------------------------------------------------------------------------------------- the database


@pytest.fixture
def database():
    """A fresh database of its own (like ``postgres_url``, but its admin engine opens a new connection
    each time, so a server restart cannot leave it holding a dead one)."""
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"ketenbot_restart_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server, no rights
        message = f"PostgreSQL at {POSTGRES} not usable ({type(exc).__name__}: {exc})"
        if _ci():
            pytest.fail(message + "; CI needs it")
        pytest.skip(message + "; set CI=true to make this a failure")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield admin, name, url
    finally:
        _wait_for_server(admin, 60)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _wait_for_server(admin: Engine, seconds: float) -> float:
    """Seconds until the server answered again (raises when it did not within ``seconds``)."""
    started = time.monotonic()
    while True:
        try:
            with admin.connect() as conn:
                conn.execute(text("SELECT 1"))
            return time.monotonic() - started
        except Exception:
            if time.monotonic() - started > seconds:
                raise
            time.sleep(0.1)


def _cluster_for(url: str) -> tuple[str, str, str] | None:
    """(version, cluster, status) of the local cluster listening on the URL's port, if any."""
    parsed = make_url(url)
    if (
        parsed.host not in (None, "", "127.0.0.1", "localhost", "::1")
        or shutil.which("pg_lsclusters") is None
    ):
        return None
    listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False)
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == str(parsed.port or 5432):
            return fields[0], fields[1], fields[3]
    return None


def _others_connected(admin: Engine) -> list[str]:
    """The databases other processes are connected to on this server (one entry per connection)."""
    with admin.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT coalesce(datname, '-') FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
                )
            ).scalars()
        )


def _dispose_postgres_engines() -> None:
    """Every PostgreSQL engine of this process drops its pooled connections (dead after a restart)."""
    for obj in gc.get_objects():
        if isinstance(obj, Engine) and obj.dialect.name == "postgresql":
            obj.dispose()


def _choose_outage(admin: Engine, url: str) -> tuple[str, str]:
    """("restart" or "terminate", why)."""
    forced = os.environ.get("KETENBOT_PG_OUTAGE", "").strip().lower()
    cluster = _cluster_for(url)
    if forced == "terminate":
        return "terminate", "KETENBOT_PG_OUTAGE=terminate"
    if cluster is None or shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        return "terminate", "the server cannot be restarted from here (not root, no pg_ctlcluster, or remote)"
    if forced == "restart":
        return "restart", "KETENBOT_PG_OUTAGE=restart"
    _dispose_postgres_engines()  # this process's own idle pooled connections are not "others"
    deadline = time.monotonic() + 10
    while (others := _others_connected(admin)) and time.monotonic() < deadline:
        time.sleep(1)
    if others:
        names = ", ".join(sorted(set(others)))
        return (
            "terminate",
            f"{len(others)} connections of other processes (to {names}); a restart would cut them",
        )
    return "restart", "no other process connected to the server"


class CountingOutbox(Outbox):
    """The outbox, counting what was kept in it."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.kept: Counter = Counter()

    def add(self, kind: str, row: dict) -> None:
        super().add(kind, row)
        self.kept[kind] += 1


class Probe:
    """Tries a new connection to the test database every 20 ms: when it was really refused."""

    def __init__(self, url: str):
        self.engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 2})
        self.failed: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception:
                self.failed.append(time.monotonic())
            self.stop.wait(0.02)

    @property
    def refused_s(self) -> float:
        return self.failed[-1] - self.failed[0] if self.failed else 0.0


class Outage:
    """Cuts the test database off (a server restart, or its backends terminated and new connections
    refused) and makes sure it is back, whatever happens."""

    def __init__(self, admin: Engine, name: str, url: str, mode: str):
        self.admin, self.name, self.url, self.mode = admin, name, url, mode
        self.started = self.ended = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.started = time.monotonic()
            if self.mode == "restart":
                version, cluster, _ = _cluster_for(self.url)
                subprocess.run(
                    ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"],
                    check=True,
                    capture_output=True,
                    timeout=120,
                )
                _wait_for_server(self.admin, 60)
            else:
                with self.admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS false'))
                    conn.execute(
                        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                        {"name": self.name},
                    )
                time.sleep(OUTAGE_S)
                with self.admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS true'))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.ended = time.monotonic()

    def ensure_back(self) -> None:
        if self.mode == "restart":
            cluster = _cluster_for(self.url)
            if cluster is not None and cluster[2] != "online":
                subprocess.run(
                    ["pg_ctlcluster", "--skip-systemctl-redirect", cluster[0], cluster[1], "start"],
                    check=False,
                    capture_output=True,
                    timeout=120,
                )
            _wait_for_server(self.admin, 60)
            _dispose_postgres_engines()
        else:
            _wait_for_server(self.admin, 60)
            with self.admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS true'))


# --------------------------------------------------------------------------------------------- the bot


def _answer_for(n: int) -> CheckinResponse:
    stages = {d: ("procedure", "verankering", "weet_niet")[(n + i) % 3] for i, d in enumerate(DIMENSIONS)}
    return CheckinResponse(
        stages,
        {p: 1 + (n + i) % 5 for i, p in enumerate(PULSE)},
        n % 2 == 0,
        f"Overleg {n} liep goed",
        None,
        None,
    )


def _submission(user: str, round_id: str, response: CheckinResponse) -> str:
    payload = {
        "type": "view_submission",
        "team": {"id": "T0KETEN001", "domain": "keten"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0KETEN001"},
        "api_app_id": "A0KETENBOT",
        "token": "unused",
        "trigger_id": "1.2.3",
        "view": {
            "id": "V0RESTART1",
            "type": "modal",
            "callback_id": forms.CALLBACK_ID,
            "private_metadata": json.dumps({"round_id": round_id, "language": "nl"}),
            "state": {"values": state_values(response)},
        },
    }
    return "payload=" + quote(json.dumps(payload))


@pytest.fixture
def world(database, tmp_path: Path):
    admin, name, url = database
    engine = make_engine(url)
    migrate(engine)
    with FakeSlack() as fake:
        fake.add_user(ADMIN)
        fake.add_channel(CHANNEL, name="jeugdketen", members=PEOPLE)
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
        records = Records(engine)
        store = Checkins(engine)
        outbox = CountingOutbox(tmp_path / "outbox.jsonl")
        locales = UserLocales(lookup=records.language_of)
        messenger = SlackMessenger(client, locales)
        runner = DueRunner(store, messenger, zone=AMS, min_group=3, clock=lambda: NOW)
        service = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=3, directory=messenger)
        deps = SlackDeps(
            StubAnswerer(),
            records,
            outbox=outbox,
            checkins=service,
            due=runner,
            locales=locales,
            clock=lambda: NOW,
        )
        app = create_app(settings, deps, client)
        app.client.auth_test()
        service.handle(ADMIN, CHANNEL, f"rol ketenmanager <@{MANAGER}|m>", "nl", NOW)
        service.handle(MANAGER, CHANNEL, "keten registreer Jeugdketen", "nl", NOW)
        service.handle(MANAGER, CHANNEL, "checkin start", "nl", NOW)
        first = runner.run()
        assert first is not None and first.invited == len(PEOPLE)
        round_id = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])["id"]
        yield {
            "admin": admin,
            "name": name,
            "url": url,
            "engine": engine,
            "fake": fake,
            "app": app,
            "records": records,
            "store": store,
            "outbox": outbox,
            "runner": runner,
            "round_id": round_id,
        }
        runner.stop()
        engine.dispose()


def _count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _posts_by_key(fake: FakeSlack) -> Counter:
    found: Counter = Counter()
    for message in fake.messages():
        key = ((message.get("metadata") or {}).get("event_payload") or {}).get("key")
        if key:
            found[key] += 1
    return found


def test_postgres_going_away_mid_round_loses_no_answer_and_no_question(world):
    app, fake, store, engine = world["app"], world["fake"], world["store"], world["engine"]
    round_id, outbox = world["round_id"], world["outbox"]
    mode, why = _choose_outage(world["admin"], world["url"])
    outage = Outage(world["admin"], world["name"], world["url"], mode)
    runner = world["runner"]
    runner.start(every_seconds=0.3)  # due work keeps running through the outage

    acks: dict[str, list[str]] = {}  # person -> what each submission was answered: "saved" / "retry"
    lock = threading.Lock()

    def submit(user: str, n: int) -> str:
        body = _submission(user, round_id, _answer_for(n))
        response = app.dispatch(
            BoltRequest(body=body, headers=bolt_headers(body, "application/x-www-form-urlencoded"))
        )
        assert response.status == 200, (response.status, response.body)
        if response.body in ("", None):
            return "saved"
        reply = json.loads(response.body)
        assert reply["response_action"] == "errors"
        assert set(reply["errors"].values()) <= STORAGE_DOWN, reply  # only the storage error, nothing else
        return "retry"

    done = threading.Event()  # the database is back

    def going() -> bool:
        return not done.is_set() or time.monotonic() < outage.ended + AFTER_S

    def people_submit() -> None:
        for n, user in enumerate(PEOPLE):
            if not going():
                return
            outcome = submit(user, n)
            with lock:
                acks.setdefault(user, []).append(outcome)
            time.sleep(EVERY_S)

    questions: list[str] = []

    def people_ask() -> None:
        for n in range(QUESTIONS):
            if not going():
                return
            ts = f"{1_700_600_000 + n}.000100"
            event = {
                "type": "app_mention",
                "user": PEOPLE[n % len(PEOPLE)],
                "channel": "C0ALGEMN1",
                "ts": ts,
                "text": f"<@U0KETENBOT> Vraag {n}: hoe houden we vertrouwen in de keten?",
            }
            body = event_body(event, f"EvPg{n:03d}")
            assert app.dispatch(BoltRequest(body=body, headers=bolt_headers(body))).status == 200
            questions.append(ts)
            time.sleep(EVERY_S)

    probe = Probe(world["url"])
    watch = threading.Thread(target=probe.run, name="probe")
    traffic = [threading.Thread(target=people_submit), threading.Thread(target=people_ask)]
    began = time.monotonic()
    try:
        watch.start()
        for thread in traffic:
            thread.start()
        time.sleep(BEFORE_S)  # traffic first, then the outage in the middle of it
        cut = threading.Thread(target=outage.run, name="outage")
        cut.start()
        cut.join(timeout=150)
        done.set()
        for thread in traffic:
            thread.join(timeout=120)
    finally:
        done.set()
        outage.ensure_back()
        probe.stop.set()
        watch.join(timeout=10)
    assert outage.error is None, f"the outage could not be made ({mode}): {outage.error!r}"
    assert not any(t.is_alive() for t in traffic)

    # the people told to try again do so, now that the database is back
    submitted = [u for u in PEOPLE if u in acks]
    assert submitted == PEOPLE[: len(submitted)] and len(submitted) >= 40
    told = sorted(u for u, outcomes in acks.items() if outcomes[-1] == "retry")
    stored_though_told = [u for u in told if store.response_of(round_id, u) is not None]
    for user in told:
        acks[user].append(submit(user, PEOPLE.index(user)))
    # the first question after the outage flushed the outbox; one more arrives, as questions do
    time.sleep(1.0)
    last = {
        "type": "app_mention",
        "user": MANAGER,
        "channel": "C0ALGEMN1",
        "ts": "1700609999.000100",
        "text": "<@U0KETENBOT> En nu?",
    }
    body = event_body(last, "EvPgLast")
    assert app.dispatch(BoltRequest(body=body, headers=bolt_headers(body))).status == 200
    questions.append(last["ts"])
    keys = [f"msg:C0ALGEMN1:{ts}" for ts in questions]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not set(keys) <= set(_posts_by_key(fake))
        or not outbox.is_empty()
        or _count(engine, "SELECT count(*) FROM answers") < len(questions)
    ):
        time.sleep(0.2)
    runner.stop()
    deadline = time.monotonic() + 10
    while (after := runner.run()) is None and time.monotonic() < deadline:  # None: the loop's run is on
        time.sleep(0.05)
    took = time.monotonic() - began

    first_try = Counter(outcomes[0] for outcomes in acks.values())
    rows = _count(engine, "SELECT count(*) FROM checkin_answers WHERE round_id = :r", r=round_id)
    wrong = [u for u in submitted if store.response_of(round_id, u) != (False, _answer_for(PEOPLE.index(u)))]
    posts = _posts_by_key(fake)
    answers = {
        ts: _count(engine, "SELECT count(*) FROM answers WHERE thread_ts = :t", t=ts) for ts in questions
    }
    claimed = _count(engine, "SELECT count(*) FROM processed_events WHERE event_id LIKE 'msg:C0ALGEMN1:%'")
    print(
        f"\npostgres outage by {mode} ({why}): {outage.ended - outage.started:.1f} s; new connections "
        f"refused for {probe.refused_s:.1f} s ({len(probe.failed)} probes failed)\n"
        f" check-ins: {len(submitted)} submitted -> {first_try['saved']} stored at once, "
        f"{first_try['retry']} told to try again ({len(stored_though_told)} of them stored anyway); after "
        f"retrying: {rows} rows for {len(submitted)} people, {len(wrong)} wrong or missing\n"
        f" questions: {len(questions)} asked -> {sum(1 for k in keys if posts[k] == 1)} answered once in "
        f"Slack, {sum(n == 1 for n in answers.values())} answers stored once, {outbox.kept['answer']} of "
        f"them by way of the outbox (now {outbox.pending()} pending), {claimed} message keys claimed; "
        f"due work after: failed={after.failed if after else '-'}; {took:.1f} s"
    )
    assert first_try["saved"] + first_try["retry"] == len(submitted)
    # the outage hit the traffic: a restart refuses new connections only briefly (about 0.1 s here; the
    # fast shutdown cuts the open ones), cutting the test database off refuses them for OUTAGE_S
    assert first_try["retry"] + outbox.kept["answer"] >= 1
    assert mode == "restart" or (first_try["retry"] >= 5 and outbox.kept["answer"] >= 5)
    assert all(outcomes[-1] == "saved" for outcomes in acks.values())
    assert rows == len(submitted) and wrong == []  # exactly once each, with what was submitted
    assert stored_though_told == [], "told 'nothing was changed', yet stored"
    assert all(posts[k] == 1 for k in keys), {k: posts[k] for k in keys if posts[k] != 1}
    assert answers == dict.fromkeys(questions, 1), {t: n for t, n in answers.items() if n != 1}
    assert outbox.is_empty() and claimed == len(questions)
    assert after is not None and after.failed == 0
    assert not fake.server_errors
