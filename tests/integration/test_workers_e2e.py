"""Scale-out: two ``ketenbot run --http`` workers on one PostgreSQL database and one Chroma server.

Nothing one worker keeps in memory may be needed by the other: every Slack request goes to
either worker, Slack's retries of an event go to the *other* one (as a load balancer may send
them), check-in forms are submitted to either and sometimes to both, and both workers' due-work
runners (every 2 s) race for the same invitations, reminders, summaries and tips. Counted at the
fake Slack and in the database: every question is answered once, every message goes out once,
every check-in answer is one row.

The workers are real processes (``tests/fakes/workers.py``) started together against an empty
Chroma collection, so they also race to build the index. Their clock is pinned to a Tuesday
10:00 in Amsterdam and moved on by the test (check-ins only send DMs in working hours).

Needs PostgreSQL and the ``chroma`` CLI: skipped without them locally, a failure under CI=true.
The counts are printed in the "integration figures" section at the end of the run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import chromadb
import httpx
import pytest
from chromadb.config import Settings as ChromaSettings
from sqlalchemy import Engine, create_engine, func, select

from bot.checkins import forms
from bot.checkins.model import DIMENSIONS, STAGES, CheckinResponse
from bot.index.indexer import file_hash, knowledge_files
from bot.index.store import COLLECTION
from bot.ingest.chunks import (
    SCOPE_FILE,
    chunk_document,
    read_probes,
    read_scope,
    read_sidecar,
    resolve_provenance,
    scope_chunks,
)
from bot.ingest.loaders import load_document
from bot.records.schema import (
    answers,
    chains,
    checkin_answers,
    deliveries,
    nudges_sent,
    participants,
    processed_events,
    rounds,
)
from bot.slack.posting import METADATA_EVENT_TYPE
from tests.fakes.slack_api import RESPONSE, Call, FakeSlack
from tests.fakes.slack_requests import event_body, mention, signature_headers
from tests.fakes.workers import KNOWLEDGE, WorkerClock, Workers, WorkerStartError, working_moment_ahead
from tests.test_checkin_forms import state_values

pytestmark = [pytest.mark.postgres, pytest.mark.chroma_server]

WORKERS = 2
DUE_INTERVAL_S = 2
QUESTIONS = 60  # each delivered twice: to one worker, and as Slack's retry to the other
SAME_ON_BOTH = 8  # questions asked of each worker separately, to compare their answers
ADMIN = "U0ADMIN001"
QUESTION_CHANNEL = "C0VRAGEN01"
CHAIN_NAMES = ("Keten Noord", "Keten Oost", "Keten Zuid")
MEMBERS = 11  # per chain, besides its manager: 12 participants per round
ANSWERING = 10  # per chain: answer the form (one skips, one stays silent and gets the reminder)
WAIT_S = 90.0
EVAL = Path(__file__).resolve().parents[2] / "bench" / "eval" / "dev.jsonl"
#: A log line at level ERROR or worse, in LOG_FORMAT=json or text, or a bare traceback.
LOGGED_ERROR = re.compile(r'"level":\s*"(ERROR|CRITICAL)"|\s(ERROR|CRITICAL)\s|^Traceback')


# ----------------------------------------------------------------------------- the world


def _manager(k: int) -> str:
    return f"U0MGR{k}0001"


def _members(k: int) -> list[str]:
    return [f"U0K{k}M{j:04d}" for j in range(MEMBERS)]


def _channel(k: int) -> str:
    return f"C0KETEN{k}01"


def _people(slack: FakeSlack) -> None:
    slack.add_user(ADMIN, name="beheer")
    slack.add_channel(QUESTION_CHANNEL, name="vragen", members=[ADMIN])
    for k, name in enumerate(CHAIN_NAMES):
        for user in (_manager(k), *_members(k)):
            slack.add_user(user)
        slack.add_user(f"U0ROBOT{k}01", is_bot=True)  # a bot in the channel takes no part
        slack.add_channel(
            _channel(k), name=name.lower().replace(" ", "-"),
            members=[_manager(k), *_members(k), f"U0ROBOT{k}01"],
        )


def _questions() -> list[str]:
    lines = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [q["question"] for q in lines]


def _expected_chunk_ids() -> set[str]:
    """The ids a complete index of KNOWLEDGE holds (chunked here, nothing embedded)."""
    ids: set[str] = set()
    for path in knowledge_files(KNOWLEDGE):
        rel = path.relative_to(KNOWLEDGE).as_posix()
        doc = load_document(path, rel)
        chunks = chunk_document(doc, resolve_provenance(doc, read_sidecar(path)), file_hash(path),
                                read_probes(path))
        ids |= {c.id for c in chunks}
    scope = KNOWLEDGE / SCOPE_FILE
    if scope.is_file():
        ids |= {c.id for c in scope_chunks(read_scope(scope), file_hash(scope))}
    return ids


def _chroma(url: str) -> chromadb.ClientAPI:
    parsed = urlparse(url)
    # the product's client settings: Chroma refuses a second client per host:port with others
    return chromadb.HttpClient(
        host=parsed.hostname, port=parsed.port,
        settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
    )


# ----------------------------------------------------------------------------- talking to workers


@dataclass
class Cluster:
    workers: Workers
    slack: FakeSlack
    engine: Engine
    clock: WorkerClock
    chroma_url: str
    http: httpx.Client
    started_in: float
    acks: list[float] = field(default_factory=list)  # seconds, every request the test sent
    statuses: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, worker: int, body: str, content_type: str, headers: dict[str, str] | None = None):
        signed = {"Content-Type": content_type, **signature_headers(body), **(headers or {})}
        started = time.perf_counter()
        response = self.http.post(self.workers.events_url(worker), content=body.encode(), headers=signed)
        took = time.perf_counter() - started
        with self._lock:
            self.acks.append(took)
            self.statuses[response.status_code] += 1
        return response

    def event(self, worker: int, event: dict, event_id: str, retry: int = 0) -> int:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return self.send(worker, event_body(event, event_id), "application/json", headers).status_code

    def command(self, worker: int, user: str, text: str, channel: str) -> str:
        """Send ``/keten text``; returns the response_url key its reply will come to."""
        key = f"cmd-{worker}-{time.monotonic_ns()}"
        body = urlencode({
            "token": "unused", "team_id": "T0KETEN001", "team_domain": "keten", "channel_id": channel,
            "channel_name": "keten", "user_id": user, "user_name": user.lower(), "command": "/keten",
            "text": text, "api_app_id": "A0KETENBOT", "response_url": self.slack.response_url(key),
            "trigger_id": self.slack.issue_trigger_id(),
        })
        status = self.send(worker, body, "application/x-www-form-urlencoded").status_code
        assert status == 200, (worker, text, status)
        return key

    def reply(self, key: str, timeout: float = 30.0) -> str:
        found = wait_for(lambda: [c for c in self.slack.calls(RESPONSE) if c.args.get("key") == key], timeout)
        return found[0].args.get("text") or ""

    def interaction(self, worker: int, payload: dict) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return self.send(worker, body, "application/x-www-form-urlencoded")

    def rows(self, query) -> list:  # noqa: ANN001 - a select
        with self.engine.connect() as conn:
            return list(conn.execute(query).mappings())

    def scalar(self, query) -> Any:  # noqa: ANN001, ANN401 - a select of one value
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()


def wait_for(check: Callable[[], Any], timeout: float = WAIT_S, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() >= deadline:
            if not found:
                raise AssertionError(f"timed out after {timeout:.0f} s")
            return found
        time.sleep(every)


def post_key(call: Call) -> str | None:
    meta = call.args.get("metadata") or {}
    if isinstance(meta, str):
        meta = json.loads(meta)
    if meta.get("event_type") != METADATA_EVENT_TYPE:
        return None
    return (meta.get("event_payload") or {}).get("key")


def posts(slack: FakeSlack) -> list[Call]:
    """chat.postMessage calls Slack accepted (a message exists for each)."""
    return [c for c in slack.calls("chat.postMessage") if c.ok]


def posted_keys(slack: FakeSlack, prefix: str = "") -> Counter:
    return Counter(k for c in posts(slack) if (k := post_key(c)) is not None and k.startswith(prefix))


def texts_of(blocks: Any) -> list[str]:
    """Every "text" string in Block Kit JSON (buttons' values, which hold answer ids, left out)."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                elif key not in ("value", "action_id", "block_id"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return found


def _ts(n: int, base: int = 1_700_200_000) -> str:
    return f"{base + n}.000100"


# ----------------------------------------------------------------------------- the cluster


@pytest.fixture(scope="module")
def cluster(chroma_server: str, new_database, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("workers")
    client = _chroma(chroma_server)
    if COLLECTION in {c.name for c in client.list_collections()}:
        client.delete_collection(COLLECTION)  # empty: the workers build the index, together
    database_url = new_database()
    clock = WorkerClock(root / "clock")
    clock.pin(working_moment_ahead())
    with FakeSlack() as slack, httpx.Client(timeout=20.0) as http:
        _people(slack)
        workers = Workers(
            WORKERS, root=root, slack=slack, database_url=database_url, chroma_url=chroma_server,
            admins=(ADMIN,), due_interval_s=DUE_INTERVAL_S, clock=clock,
        )
        with workers:
            started = time.monotonic()
            try:
                workers.start()  # every worker at the same moment
            except WorkerStartError as exc:
                pytest.fail(f"workers did not start: {exc}", pytrace=False)
            engine = create_engine(database_url)
            try:
                yield Cluster(workers, slack, engine, clock, chroma_server, http, time.monotonic() - started)
            finally:
                engine.dispose()
            # any error a worker logged fails the run (pytest.fail: an xfail of the last test does
            # not swallow it, as it would an AssertionError)
            errors = [f"worker {i}: {line[:1500]}" for i in range(WORKERS)
                      for line in workers.logs(i).splitlines() if LOGGED_ERROR.search(line)]
            if errors:
                pytest.fail("errors in the workers' logs:\n" + "\n".join(errors[:10]), pytrace=False)


# ----------------------------------------------------------------------------- 1. the index


def test_workers_started_together_build_one_complete_index(cluster: Cluster, figures) -> None:
    workers = cluster.workers
    assert all(workers.alive(i) for i in range(WORKERS))  # none crashed in the migration race
    held = _chroma(cluster.chroma_url).get_collection(COLLECTION)
    ids = held.get(include=[])["ids"]
    expected = _expected_chunk_ids()
    assert len(ids) == len(set(ids)) == held.count()
    assert set(ids) == expected, f"missing {len(expected - set(ids))}, extra {len(set(ids) - expected)}"
    embedders = [i for i in range(WORKERS) if "[1/" in workers.logs(i)]

    # both workers answer a question alike: neither holds a different (partial) view of the index
    questions = _questions()[:SAME_ON_BOTH]
    for n, question in enumerate(questions):
        for w in range(WORKERS):
            event = mention(question, _ts(n * WORKERS + w, 1_700_100_000), user="U0VRAGER01",
                            channel=QUESTION_CHANNEL)
            assert cluster.event(w, event, f"EvSame{n}w{w}") == 200
    keys = {(n, w): f"msg:{QUESTION_CHANNEL}:{_ts(n * WORKERS + w, 1_700_100_000)}"
            for n in range(len(questions)) for w in range(WORKERS)}
    wait_for(lambda: all(posted_keys(cluster.slack, "msg:")[k] for k in keys.values()))
    by_key = {post_key(c): c for c in posts(cluster.slack)}
    different = [
        questions[n] for n in range(len(questions))
        if len({json.dumps(texts_of(by_key[keys[(n, w)]].args.get("blocks")), ensure_ascii=False)
                for w in range(WORKERS)}) != 1
    ]
    figures(
        f"{WORKERS} workers started together: ready in {cluster.started_in:.1f} s "
        f"({', '.join(f'{w.ready_after:.1f}' for w in workers.workers)} s); index {len(ids)} chunks = "
        f"{len(expected)} expected, 0 duplicates; workers that parsed and embedded the guidance: "
        f"{len(embedders)} of {WORKERS}; same {len(questions)} questions to each: "
        f"{len(questions) - len(different)} answered identically"
    )
    assert not different, different


# ----------------------------------------------------------------------------- 2. questions


def test_each_question_is_answered_once_when_slack_retries_to_the_other_worker(
    cluster: Cluster, figures
) -> None:
    questions = (_questions() * 2)[:QUESTIONS]
    before = len(posts(cluster.slack))
    sent_at: dict[str, float] = {}

    def deliver(n: int) -> list[int]:
        first, other = n % WORKERS, (n + 1) % WORKERS
        event = mention(questions[n], _ts(n), user=f"U0VRAGER{n % 7:02d}", channel=QUESTION_CHANNEL)
        sent_at[f"msg:{QUESTION_CHANNEL}:{_ts(n)}"] = time.monotonic()
        codes = [cluster.event(first, event, f"EvQ{n}")]
        # Slack retries the same event_id; a third of the retries come while the first is in
        # flight, the rest after the first was acknowledged (Slack's own retries wait >= 1 s)
        if n % 3:
            time.sleep(1.0)
        codes.append(cluster.event(other, event, f"EvQ{n}", retry=1))
        return codes

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        codes = [c for pair in pool.map(deliver, range(QUESTIONS)) for c in pair]
    sent_in = time.monotonic() - started
    assert codes == [200] * (2 * QUESTIONS)
    keys = set(sent_at)
    wait_for(lambda: keys <= set(posted_keys(cluster.slack, "msg:")), timeout=120)
    time.sleep(2 * DUE_INTERVAL_S)  # room for a late second answer, if any worker were to post one
    counts = posted_keys(cluster.slack, "msg:")
    answers_at = {post_key(c): c.at for c in posts(cluster.slack) if post_key(c) in keys}
    latency = [answers_at[k] - sent_at[k] for k in keys]
    duplicates = {k: n for k, n in counts.items() if k in keys and n > 1}
    by_worker = Counter(
        cluster.workers.worker_of(c) for c in posts(cluster.slack)[before:] if post_key(c) in keys
    )
    claimed = cluster.scalar(select(func.count()).select_from(processed_events)
                             .where(processed_events.c.event_id.in_(keys)))
    stored = cluster.rows(
        select(answers.c.thread_ts, func.count().label("n")).where(answers.c.channel_id == QUESTION_CHANNEL)
        .group_by(answers.c.thread_ts)
    )
    stored_for = {r["thread_ts"]: r["n"] for r in stored}
    figures(
        f"{WORKERS} workers: {QUESTIONS} questions, each delivered to both ({2 * QUESTIONS} events in "
        f"{sent_in:.1f} s) -> {sum(1 for k in keys if counts[k])} answers, {len(duplicates)} duplicates; "
        f"answered by worker {dict(sorted(by_worker.items()))}; answer after send p50 "
        f"{statistics.median(latency):.2f} s, max {max(latency):.2f} s; ack p50 "
        f"{statistics.median(cluster.acks) * 1000:.0f} ms, max {max(cluster.acks) * 1000:.0f} ms"
    )
    assert not duplicates, duplicates
    assert all(counts[k] == 1 for k in keys)
    assert claimed == QUESTIONS  # one claim per question in the database
    assert all(stored_for.get(_ts(n)) == 1 for n in range(QUESTIONS)), stored_for


# ----------------------------------------------------------------------------- 3. check-ins


def _answer(k: int, j: int, changed: bool = False) -> CheckinResponse:
    stage = STAGES[(j + k) % len(STAGES)]
    return CheckinResponse(
        {d: stage if d != DIMENSIONS[-1] else "weet_niet" for d in DIMENSIONS},
        {"trust": 1 + (j + (1 if changed else 0)) % 5, "learning": None if j % 4 == 0 else 3,
         "control": 2},
        j % 2 == 0,  # setbacks reported: the summary leads to a tip for the manager
        None,
        f"Levering {k}-{j} liep vast" if j % 2 == 0 else None,
        "Eerder bellen" if changed else None,
    )


def _click(cluster: Cluster, user: str, action: str, round_id: str, dm: dict) -> dict:
    return {
        "type": "block_actions",
        "team": {"id": "T0KETEN001", "domain": "keten"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0KETEN001"},
        "api_app_id": "A0KETENBOT", "token": "unused",
        "trigger_id": cluster.slack.issue_trigger_id(),
        "container": {"type": "message", "message_ts": dm["ts"], "channel_id": dm["channel"],
                      "is_ephemeral": False},
        "channel": {"id": dm["channel"], "name": "directmessage"},
        "message": dm["message"],
        "response_url": cluster.slack.response_url(f"click-{user}-{time.monotonic_ns()}"),
        "actions": [{"action_id": action, "block_id": forms.ACTIONS_BLOCK, "value": round_id,
                     "type": "button", "action_ts": f"{time.time():.6f}"}],
        "state": {"values": {}},
    }


def _submission(user: str, view: dict, response: CheckinResponse) -> dict:
    return {
        "type": "view_submission",
        "team": {"id": "T0KETEN001", "domain": "keten"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0KETEN001"},
        "api_app_id": "A0KETENBOT", "token": "unused", "trigger_id": "1.2.3",
        "view": {**view, "state": {"values": state_values(response)}},
        "response_urls": [],
    }


def _stored(row: dict) -> CheckinResponse:
    return CheckinResponse(
        {d: row[d] for d in DIMENSIONS}, {p: row[p] for p in ("trust", "learning", "control")},
        row["setback"], row["went_well"], row["went_wrong"], row["learned"],
    )


def test_a_check_in_round_across_workers_sends_and_stores_everything_once(
    cluster: Cluster, figures
) -> None:
    workers, slack = cluster.workers, cluster.slack

    # a worker dies hard and comes back: whatever it held in memory, nobody needs it
    workers.kill(0, signal.SIGKILL)
    workers.restart(0)
    assert "[1/" not in workers.logs(0).rsplit("--- start 2", 1)[-1]  # the index was kept, not rebuilt

    # roles and chains, each command to either worker; registering and starting sent to both at once
    managers = " ".join(f"<@{_manager(k)}>" for k in range(len(CHAIN_NAMES)))
    reply = cluster.reply(cluster.command(0, ADMIN, f"rol ketenmanager {managers}", QUESTION_CHANNEL))
    assert reply.count("ketenmanager") == len(CHAIN_NAMES), reply

    def on_both(user: str, text: str, channel: str) -> list[str]:
        with ThreadPoolExecutor(WORKERS) as pool:
            keys = list(pool.map(lambda w: cluster.command(w, user, text, channel), range(WORKERS)))
        return sorted(cluster.reply(k) for k in keys)

    registered = [on_both(_manager(k), f"keten registreer {name}", _channel(k))
                  for k, name in enumerate(CHAIN_NAMES)]
    for k_replies in registered:  # one worker registered the chain, the other found it registered
        assert sum("is al het kanaal" in r for r in k_replies) == WORKERS - 1, k_replies
        assert sum("is nu het kanaal" in r for r in k_replies) == 1, k_replies
    assert len(cluster.rows(select(chains.c.id))) == len(CHAIN_NAMES)
    for k in range(len(CHAIN_NAMES)):  # the reminder after 2 hours, closing after 4
        assert "2" in cluster.reply(cluster.command(k % WORKERS, _manager(k), "checkin herinnering 2",
                                                    _channel(k)))
        assert "4" in cluster.reply(cluster.command((k + 1) % WORKERS, _manager(k), "checkin duur 4",
                                                    _channel(k)))
    started = [on_both(_manager(k), "checkin start", _channel(k)) for k in range(len(CHAIN_NAMES))]
    for k_replies in started:
        assert sum("is geopend" in r for r in k_replies) == 1, k_replies
        assert sum("loopt al een check-in" in r for r in k_replies) == WORKERS - 1, k_replies
    round_rows = cluster.rows(select(rounds))
    assert len(round_rows) == len(CHAIN_NAMES), started
    round_of = {r["chain_id"]: r["id"] for r in round_rows}
    chain_rows = {r["channel_id"]: r for r in cluster.rows(select(chains))}
    round_ids = [round_of[chain_rows[_channel(k)]["id"]] for k in range(len(CHAIN_NAMES))]

    # both due runners: one announcement per round, one invitation per person
    people = {k: sorted([_manager(k), *_members(k)]) for k in range(len(CHAIN_NAMES))}
    invited = len(CHAIN_NAMES) * (MEMBERS + 1)
    wait_for(lambda: len(posted_keys(slack, "invite:")) == invited
             and len(posted_keys(slack, "announce:")) == len(CHAIN_NAMES))
    time.sleep(2 * DUE_INTERVAL_S)
    dms = {}
    for c in posts(slack):
        if (key := post_key(c) or "").startswith("invite:"):
            dms[key] = {k: c.response[k] for k in ("channel", "ts", "message")}

    # the forms: opened on one worker, submitted on the other, a third also submitted to both at
    # once; one person per chain changes their answers later, one skips, one stays silent
    expected: dict[tuple[str, str], CheckinResponse | None] = {}
    lock = threading.Lock()
    submissions = Counter()

    def fill_in(k: int, j: int) -> None:
        user, round_id = people[k][j], round_ids[k]
        dm = dms[f"invite:{round_id}:{user}"]
        if j == ANSWERING:  # skips this week (stored after the ack: wait for the reply that follows)
            click = _click(cluster, user, forms.SKIP_ACTION, round_id, dm)
            assert cluster.interaction(j % WORKERS, click).status_code == 200
            key = urlparse(click["response_url"]).path.rsplit("/", 1)[-1]
            assert forms.skipped_text("nl") in cluster.reply(key)
            with lock:
                expected[(round_id, user)] = None
            return
        click = _click(cluster, user, forms.OPEN_ACTION, round_id, dm)
        assert cluster.interaction(j % WORKERS, click).status_code == 200
        opened = wait_for(lambda: [c for c in slack.calls("views.open")
                                   if c.args.get("trigger_id") == click["trigger_id"] and c.response], 30)
        view = opened[0].response["view"]
        answer = _answer(k, j)
        targets = list(range(WORKERS)) if j % 3 == 0 else [(j + 1) % WORKERS]
        with ThreadPoolExecutor(len(targets)) as pool:
            acks = list(pool.map(lambda w: cluster.interaction(w, _submission(user, view, answer)), targets))
        assert [(a.status_code, a.text) for a in acks] == [(200, "")] * len(targets), [a.text for a in acks]
        if j == 1:  # changes their mind, on the other worker
            answer = _answer(k, j, changed=True)
            again = cluster.interaction(j % WORKERS, _submission(user, view, answer))
            assert (again.status_code, again.text) == (200, "")
            targets.append(j % WORKERS)
        with lock:
            expected[(round_id, user)] = answer
            submissions[len(targets)] += 1

    jobs = [(k, j) for k in range(len(CHAIN_NAMES)) for j in range(ANSWERING + 1)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kj: fill_in(*kj), jobs))
    rows = cluster.rows(select(checkin_answers))
    got = {(r["round_id"], r["user_id"]): (None if r["skipped"] else _stored(r)) for r in rows}
    assert got == expected  # one row per person and round, holding what they sent last
    sent_forms = sum(n * c for n, c in submissions.items())

    # two hours on: the one reminder, to the silent ones only
    silent = {(round_ids[k], people[k][ANSWERING + 1]) for k in range(len(CHAIN_NAMES))}
    cluster.clock.advance(timedelta(hours=2, minutes=1))
    wait_for(lambda: len(posted_keys(slack, "remind:")) == len(silent))
    assert {tuple(k.split(":")[1:]) for k in posted_keys(slack, "remind:")} == silent

    # four hours on: closed, one summary per round in its thread, one tip per chain to its manager
    cluster.clock.advance(timedelta(hours=2))
    wait_for(lambda: len(posted_keys(slack, "summary:")) == len(CHAIN_NAMES)
             and len(posted_keys(slack, "nudge-ctx:")) == len(CHAIN_NAMES))
    summary_posts = [c for c in posts(slack) if (post_key(c) or "").startswith("summary:")]
    announce_ts = {r["id"]: r["announce_ts"] for r in cluster.rows(select(rounds))}
    assert all(c.args.get("thread_ts") == announce_ts[post_key(c).split(":")[1]] for c in summary_posts)

    # a week on: the scheduled tip in each chain's channel
    cluster.clock.advance(timedelta(days=7))
    wait_for(lambda: len(posted_keys(slack, "nudge:")) == len(CHAIN_NAMES))
    time.sleep(3 * DUE_INTERVAL_S)  # both runners go round a few more times: nothing more is sent

    # --- nothing twice, at the fake Slack and in the database
    keyed = posted_keys(slack)
    unkeyed = [c for c in posts(slack) if post_key(c) is None]
    same_text = Counter((c.args.get("channel"), c.args.get("thread_ts"), c.args.get("text")) for c in unkeyed)
    kinds = Counter(k.split(":", 1)[0] for k in keyed)
    twice = {k: n for k, n in keyed.items() if n > 1}
    by_worker = {
        kind: dict(sorted(Counter(workers.worker_of(c) for c in posts(slack)
                                  if (post_key(c) or "").split(":", 1)[0] == kind).items()))
        for kind in ("announce", "invite", "remind", "summary", "nudge-ctx", "nudge")
    }
    failed_posts = [c.error for c in slack.calls("chat.postMessage") if c.response and not c.ok]
    delivered = cluster.rows(select(deliveries))
    unsent = [d["key"] for d in delivered if d["sent_at"] is None and d["key"].split(":", 1)[0] in kinds]
    part = cluster.rows(select(participants))
    sent_nudges = Counter(r["kind"] for r in cluster.rows(select(nudges_sent)))
    figures(
        f"{WORKERS} workers, check-ins: {len(CHAIN_NAMES)} chains x {MEMBERS + 1} people; "
        f"{sum(v is not None for v in expected.values())} answers and "
        f"{sum(v is None for v in expected.values())} skips ({sent_forms} form submissions, "
        f"{submissions[2]} of them sent to both workers, {len(CHAIN_NAMES)} changed later) -> "
        f"{len(rows)} rows; messages {dict(sorted(kinds.items()))}, {len(twice)} duplicates; "
        f"sent by worker {by_worker}"
    )
    assert not twice, twice
    assert not [t for t, n in same_text.items() if n > 1]
    assert not failed_posts, failed_posts
    assert kinds == {
        "msg": QUESTIONS + SAME_ON_BOTH * WORKERS, "announce": len(CHAIN_NAMES), "invite": invited,
        "remind": len(silent), "summary": len(CHAIN_NAMES), "nudge-ctx": len(CHAIN_NAMES),
        "nudge": len(CHAIN_NAMES),
    }
    assert not unsent, unsent
    kept = Counter(d["key"].split(":", 1)[0] for d in delivered)  # other claims, e.g. the daily purge, aside
    assert {k: n for k, n in kept.items() if k in kinds} == dict(kinds - Counter(msg=kinds["msg"]))
    assert sum(r["invited_at"] is not None for r in part) == invited == len(part)
    assert sum(r["reminded_at"] is not None for r in part) == len(silent)
    assert all(r["closed_at"] is not None and r["summary_ts"] for r in cluster.rows(select(rounds)))
    assert sent_nudges == {"contextual": len(CHAIN_NAMES), "scheduled": len(CHAIN_NAMES)}
    assert cluster.statuses.keys() == {200}, cluster.statuses


# ----------------------------------------------------------------------------- 4. a crash mid-answer


def test_a_question_whose_worker_died_before_answering_is_answered_once_by_another(
    cluster: Cluster, figures
) -> None:
    """Slack got its ack, so it sends the event again only on its own retries, and those find the
    question claimed. The claim is kept with the question until the answer is posted
    (``bot.records.pending``); a worker's sweep takes over a claim older than any answer takes."""
    workers, slack = cluster.workers, cluster.slack
    ts, key = _ts(900), f"msg:{QUESTION_CHANNEL}:{_ts(900)}"
    event = mention("Wat doet een ketenregisseur?", ts, user="U0VRAGER99", channel=QUESTION_CHANNEL)
    # worker 1 claims the question, then hangs on its first Slack call ("is typing…") and is killed
    slack.delay("assistant.threads.setStatus", 10.0, times=1)
    assert cluster.event(1, event, "EvDied") == 200
    wait_for(lambda: [c for c in slack.calls("assistant.threads.setStatus") if c.args.get("thread_ts") == ts],
             timeout=30)
    workers.kill(1, signal.SIGKILL)
    # Slack's retries (after 1, 5 and 30 minutes; here at once) to the worker still up, and to the
    # killed one once it is back
    assert cluster.event(0, event, "EvDied", retry=1) == 200
    workers.restart(1)
    assert cluster.event(1, event, "EvDied", retry=2) == 200
    time.sleep(2 * DUE_INTERVAL_S)
    on_retries = posted_keys(slack, "msg:")[key]
    cluster.clock.advance(timedelta(minutes=2))  # the claim is now older than any answer takes
    try:
        wait_for(lambda: posted_keys(slack, "msg:")[key], timeout=30)
    except AssertionError:
        pytest.fail("the question a killed worker had claimed was never answered")
    time.sleep(2 * DUE_INTERVAL_S)  # both workers' sweeps go round again: no second answer
    answered = [c for c in posts(slack) if post_key(c) == key]
    stored = cluster.scalar(select(func.count()).select_from(answers).where(answers.c.thread_ts == ts))
    figures(
        f"worker killed (SIGKILL) after claiming a question: answered by Slack's retries: {on_retries}; "
        f"after the claim went stale: {len(answered)} answer (by worker "
        f"{workers.worker_of(answered[0])}), {stored} stored"
    )
    assert on_retries == 0  # the retries found the claim: no second worker answered at once
    assert len(answered) == 1 and stored == 1


# ----------------------------------------------------------------------------- 5. a fresh database


def test_workers_started_together_on_a_fresh_database_all_come_up(
    cluster: Cluster, new_database, tmp_path: Path, figures
) -> None:
    """With the index already built, workers reach the database migration at nearly the same
    moment; on an empty database only one may create the schema, the others must wait for it
    (before that was serialised, all but one crashed with a UniqueViolation on alembic_version)."""
    database_url = new_database()
    more = Workers(3, root=tmp_path, slack=cluster.slack, database_url=database_url,
                   chroma_url=cluster.chroma_url, due_interval_s=DUE_INTERVAL_S)
    with more:
        try:
            more.start()
        except WorkerStartError as exc:
            pytest.fail(f"workers did not all start on a fresh database: {exc}", pytrace=False)
        assert all(more.alive(i) for i in range(3))
        assert all("[1/" not in more.logs(i) for i in range(3))  # the shared index was found complete
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        finally:
            engine.dispose()
        figures(f"3 workers started together on an empty database: all up, schema at {version[0][0]}")
        assert len(version) == 1
        pids = [more.pid(i) for i in range(3)]
    for pid in pids:  # the harness left nothing running
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# ----------------------------------------------------------------------------- 6. a crash while indexing


@pytest.fixture
def empty_chroma_server(chroma_server: str, tmp_path: Path):
    """A second Chroma server of this test's own (the session's holds the cluster's index)."""
    from .conftest import ServerStartError, chroma_executable, in_ci, start_server, stop

    try:
        proc, url = start_server(chroma_executable(), tmp_path / "chroma", tmp_path / "chroma.log")
    except ServerStartError as exc:
        (pytest.fail if in_ci() else pytest.skip)(f"second chroma server: {exc}")
    try:
        yield url
    finally:
        stop(proc)


def test_a_worker_killed_while_indexing_leaves_the_next_one_a_complete_index(
    empty_chroma_server: str, new_database, tmp_path: Path, figures
) -> None:
    expected = _expected_chunk_ids()
    client = _chroma(empty_chroma_server)

    def count() -> int:
        try:
            return client.get_collection(COLLECTION).count()
        except Exception:  # not created yet
            return 0

    with FakeSlack() as slack, Workers(2, root=tmp_path, slack=slack, database_url=new_database(),
                                       chroma_url=empty_chroma_server) as pair:
        pair.start([0], wait=False)
        wait_for(lambda: count() > 0 or not pair.alive(0), timeout=120, every=0.02)
        pair.kill(0, signal.SIGKILL)  # mid-way: after its first batch of chunks
        at_kill = count()
        try:
            pair.start([1])
        except WorkerStartError as exc:
            pytest.fail(f"the second worker did not start: {exc}", pytrace=False)
        held = set(client.get_collection(COLLECTION).get(include=[])["ids"])
        figures(
            f"worker killed while indexing ({at_kill} of {len(expected)} chunks written): the next "
            f"worker {'parsed' if '[1/' in pair.logs(1) else 'did not parse'} the guidance and left "
            f"{len(held)} of {len(expected)} chunks"
        )
        assert 0 < at_kill < len(expected)
        assert held == expected, f"{len(expected - held)} chunks missing"
