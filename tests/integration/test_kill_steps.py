"""A worker killed (``kill -9``) at each step of a check-in and of answering a question: nothing
lost, nothing duplicated.

Two ``ketenbot run --http`` workers on one PostgreSQL database (fresh for each test), the
session's Chroma server and the fake Slack. Worker 0 is started with ``FAILPOINTS=<step>``
(``bot.ops.failpoints``), so it SIGKILLs itself at that step; worker 1 is not. Whatever worker 0
was doing must be finished exactly once, by worker 1 once the dead worker's claim is stale, or by
Slack's retry:

- ``question-claimed``: the question is claimed (``pending_questions``), nothing posted yet;
  worker 1's sweep answers it once the claim is older than an answer can take;
- ``answer-posted``: the answer is in Slack and stored, the claim not cleared; the sweep finds
  the answer in the thread and posts nothing;
- ``delivery-claimed`` / ``delivery-posted``: worker 0 runs the check-in alone and dies at its
  first message (the announcement), restarted still armed at its next (an invitation, a DM), and
  again at the closing (the summary, in the announcement's thread); worker 1 sends the rest, and
  those three once their lease (``DELIVERY_LEASE``) has run out, looking in Slack first;
- ``form-saved``: the answers are stored, Slack gets no ack and shows the person an error; they
  submit again (to worker 1), and later change their answers.

Time is the workers' shifted clock (``tests.fakes.workers.WorkerClock``): pinned to a Tuesday
10:00 in Amsterdam (DMs go out in working hours) and moved past the claim's staleness or the
lease instead of waiting for it. After each kill worker 0 is started again without the failpoint:
it comes up (``/healthz``) and sends nothing.

Needs PostgreSQL and the ``chroma`` CLI: skipped without them locally, a failure under CI=true.
The counts are printed in the "integration figures" section at the end of the run.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from bot.checkins import forms
from bot.checkins.messages import say
from bot.checkins.model import DIMENSIONS, STAGES, CheckinResponse
from bot.checkins.store import DELIVERY_LEASE
from bot.records.schema import answers, checkin_answers, deliveries, participants, pending_questions, rounds
from bot.settings import load_settings
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import mention
from tests.fakes.workers import WorkerClock, Workers, WorkerStartError, working_moment_ahead
from tests.integration.test_workers_e2e import (
    LOGGED_ERROR,
    Cluster,
    _click,
    _stored,
    _submission,
    post_key,
    posted_keys,
    posts,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.chroma_server]

DUE_INTERVAL_S = 2
ADMIN = "U0ADMIN001"
QUESTION_CHANNEL = "C0VRAGEN01"
CHAIN_NAME = "Keten West"
CHAIN_CHANNEL = "C0KETENW01"
MANAGER = "U0MGRW0001"
MEMBERS = [f"U0KWM{j:04d}" for j in range(11)]
PEOPLE = sorted([MANAGER, *MEMBERS])  # 12 participants
ASKER = "U0VRAGER42"
#: how long a claimed question waits before another worker's sweep takes it over (bot/cli.py)
STALE_AFTER = timedelta(seconds=max(60.0, load_settings({}, env_file=None).llm_timeout_s + 45))
WAIT_S = 60.0
KINDS = ("announce", "invite", "remind", "summary")  # the check-in's own messages


# ----------------------------------------------------------------------------- the world


def _people(slack: FakeSlack) -> None:
    slack.add_user(ADMIN, name="beheer")
    slack.add_user(ASKER, name="vrager")
    slack.add_channel(QUESTION_CHANNEL, name="vragen", members=[ADMIN, ASKER])
    for user in PEOPLE:
        slack.add_user(user)
    slack.add_user("U0ROBOTW01", is_bot=True)  # a bot in the channel takes no part
    slack.add_channel(CHAIN_CHANNEL, name="keten-west", members=[*PEOPLE, "U0ROBOTW01"])


@contextmanager
def armed_pair(point: str, *, chroma_url: str, database_url: str, root: Path) -> Iterator[Cluster]:
    """Two workers (not started yet): worker 0 with ``FAILPOINTS=point``, worker 1 without.
    Any error either worker logged fails the test."""
    clock = WorkerClock(root / "clock")
    clock.pin(working_moment_ahead())
    with FakeSlack() as slack, httpx.Client(timeout=20.0) as http:
        _people(slack)
        workers = Workers(
            2, root=root, slack=slack, database_url=database_url, chroma_url=chroma_url, admins=(ADMIN,),
            due_interval_s=DUE_INTERVAL_S, clock=clock, worker_env={0: {"FAILPOINTS": point}},
        )
        with workers:
            engine = create_engine(database_url)
            try:
                yield Cluster(workers, slack, engine, clock, chroma_url, http, 0.0)
            finally:
                engine.dispose()
            errors = [f"worker {i}: {line[:1500]}" for i in range(2)
                      for line in workers.logs(i).splitlines() if LOGGED_ERROR.search(line)]
            if errors:
                pytest.fail("errors in the workers' logs:\n" + "\n".join(errors[:10]), pytrace=False)


def _start(cluster: Cluster, indices: list[int]) -> None:
    try:
        cluster.workers.start(indices)
    except WorkerStartError as exc:
        pytest.fail(f"workers {indices} did not start: {exc}", pytrace=False)


def _died_at_failpoint(cluster: Cluster, i: int, timeout: float = WAIT_S) -> None:
    """Worker ``i`` is gone, killed by SIGKILL (its failpoint: nobody else signalled it)."""
    try:
        wait_for(lambda: not cluster.workers.alive(i), timeout=timeout, every=0.05)
    except AssertionError:
        pytest.fail(f"worker {i} never reached its failpoint", pytrace=False)
    code = cluster.workers.workers[i].proc.returncode
    assert code == -signal.SIGKILL, f"worker {i} exited with {code}, not by SIGKILL"
    assert "FAILPOINTS armed" in cluster.workers.logs(i)


def _restart_clean(cluster: Cluster, i: int) -> tuple[float, int]:
    """Start worker ``i`` again without its failpoint; (seconds to /healthz, posts made by any
    worker during 3 due-work rounds after it came up: should be none, all work being done)."""
    before = len(cluster.slack.calls("chat.postMessage"))
    try:
        cluster.workers.restart(i, env={})
    except WorkerStartError as exc:
        pytest.fail(f"worker {i} did not start again without its failpoint: {exc}", pytrace=False)
    assert cluster.workers.alive(i)
    assert "FAILPOINTS armed" not in cluster.workers.logs(i).rsplit("--- start ", 1)[-1]
    time.sleep(3 * DUE_INTERVAL_S + 1)  # its due runner and its sweep go round
    after = len(cluster.slack.calls("chat.postMessage"))
    return cluster.workers.workers[i].ready_after or 0.0, after - before


def _pending(cluster: Cluster) -> int:
    return cluster.scalar(select(func.count()).select_from(pending_questions))


def _open_round(cluster: Cluster, worker: int, hours: int | None = None) -> str:
    """Roles, chain (open for ``hours``) and ``/keten checkin start``, all sent to ``worker``; the
    round's id. The worker may die right after opening the round (at its first DM), before its reply."""
    reply = cluster.reply(cluster.command(worker, ADMIN, f"rol ketenmanager <@{MANAGER}>", QUESTION_CHANNEL))
    assert "ketenmanager" in reply, reply
    reply = cluster.reply(cluster.command(worker, MANAGER, f"keten registreer {CHAIN_NAME}", CHAIN_CHANNEL))
    assert "is nu het kanaal" in reply, reply
    if hours is not None:  # the reminder first: it has to come before the closing
        cluster.reply(cluster.command(worker, MANAGER, f"checkin herinnering {hours // 2}", CHAIN_CHANNEL))
        reply = cluster.reply(cluster.command(worker, MANAGER, f"checkin duur {hours}", CHAIN_CHANNEL))
        assert reply == say("timing_set", "nl", remind=hours // 2, open=hours), reply
    cluster.command(worker, MANAGER, "checkin start", CHAIN_CHANNEL)
    round_rows = wait_for(lambda: cluster.rows(select(rounds)), timeout=30)
    assert len(round_rows) == 1
    return round_rows[0]["id"]


# ----------------------------------------------------------------------------- questions


def _ask(cluster: Cluster, ts: str, event_id: str) -> str:
    """Send a question to worker 0 (armed); if its ack never came, Slack's retry to worker 1.
    Says what Slack saw."""
    event = mention("Wat doet een ketenregisseur?", ts, user=ASKER, channel=QUESTION_CHANNEL)
    try:
        status = cluster.event(0, event, event_id)
    except httpx.TransportError as exc:  # the worker died before its HTTP answer went out
        acked = f"no ack ({type(exc).__name__}): retried to worker 1"
        assert cluster.event(1, event, event_id, retry=1) == 200  # finds the claim: does nothing
        return acked
    assert status == 200
    return "acked (200)"


@pytest.mark.parametrize("point", ["question-claimed", "answer-posted"])
def test_a_question_is_answered_once_when_its_worker_is_killed(
    point: str, chroma_server: str, new_database, tmp_path: Path, figures
) -> None:
    started = time.monotonic()
    ts = "1700300000.000100"
    key = f"msg:{QUESTION_CHANNEL}:{ts}"
    with armed_pair(point, chroma_url=chroma_server, database_url=new_database(), root=tmp_path) as cluster:
        slack, workers = cluster.slack, cluster.workers
        _start(cluster, [0, 1])
        slack_saw = _ask(cluster, ts, "EvKilled1")
        _died_at_failpoint(cluster, 0)

        # until the claim is stale, nobody touches the question: it is kept, not lost
        time.sleep(2 * DUE_INTERVAL_S)
        posted_at_kill = posted_keys(slack, "msg:")[key]
        pending_at_kill = _pending(cluster)
        assert pending_at_kill == 1
        assert posted_at_kill == (0 if point == "question-claimed" else 1)

        cluster.clock.advance(STALE_AFTER + timedelta(seconds=10))
        try:
            wait_for(lambda: posted_keys(slack, "msg:")[key] and not _pending(cluster), timeout=30)
        except AssertionError:
            pytest.fail(f"the question worker 0 left at {point} was not finished by worker 1", pytrace=False)
        time.sleep(2 * DUE_INTERVAL_S)  # the sweep goes round again: no second answer
        answered = [c for c in posts(slack) if post_key(c) == key]
        looked = [c for c in slack.calls("conversations.replies")
                  if c.args.get("ts") == ts and workers.worker_of(c) == 1]
        typing = [c for c in slack.calls("assistant.threads.setStatus")
                  if c.args.get("thread_ts") == ts and workers.worker_of(c) == 1]
        stored = cluster.scalar(select(func.count()).select_from(answers).where(answers.c.thread_ts == ts))
        pending_after = _pending(cluster)

        ready_s, posts_on_restart = _restart_clean(cluster, 0)
        answered_after = len([c for c in posts(slack) if post_key(c) == key])
    figures(
        f"killed at {point}: Slack's request {slack_saw}; 1 question -> {len(answered)} answer "
        f"(posted by worker {'/'.join(str(workers.worker_of(c)) for c in answered)}; "
        f"{posted_at_kill} before the kill), {stored} stored, {pending_after} pending, "
        f"{max(len(answered) - 1, 0)} duplicates; worker 1 took over after the claim went stale "
        f"({STALE_AFTER.total_seconds():.0f} s), showed 'is typing…' ({len(typing)}x) and looked in the "
        f"thread first ({len(looked)}x); restarted worker 0: up in {ready_s:.1f} s, {posts_on_restart} "
        f"posts; {time.monotonic() - started:.0f} s"
    )
    assert len(answered) == 1 == answered_after
    if point == "question-claimed":
        assert workers.worker_of(answered[0]) == 1  # the sweep answered what the dead worker claimed
    else:
        assert workers.worker_of(answered[0]) == 0  # the dead worker's post stays the only one
    assert looked, "worker 1 did not check the thread before answering a question taken over"
    assert stored == 1
    assert pending_after == 0
    assert posts_on_restart == 0


# ----------------------------------------------------------------------------- check-in DMs


@pytest.mark.parametrize("point", ["delivery-claimed", "delivery-posted"])
def test_every_check_in_message_goes_out_once_when_the_sending_worker_is_killed(
    point: str, chroma_server: str, new_database, tmp_path: Path, figures
) -> None:
    """Worker 0 is killed three times at ``point``: at the announcement, at an invitation (a DM)
    and at the summary (a reply in the announcement's thread); each time it alone was running."""
    started = time.monotonic()
    with armed_pair(point, chroma_url=chroma_server, database_url=new_database(), root=tmp_path) as cluster:
        slack, workers = cluster.slack, cluster.workers

        def unsent() -> list[str]:
            return sorted(d["key"] for d in cluster.rows(select(deliveries)) if d["sent_at"] is None
                          and d["key"].split(":", 1)[0] in KINDS)

        # worker 0 alone runs the check-in: it dies at its first message, the announcement ...
        _start(cluster, [0])
        round_id = _open_round(cluster, 0, hours=4)
        _died_at_failpoint(cluster, 0)
        victims = unsent()
        assert victims == [f"announce:{round_id}"], victims
        # ... and, started again with the failpoint, at its next one, an invitation (the
        # announcement is still claimed: its lease holds it for the dead worker)
        workers.restart(0, wait=False)
        _died_at_failpoint(cluster, 0)
        victims = unsent()
        assert len(victims) == 2 and victims[1].startswith(f"invite:{round_id}:"), victims
        in_slack_at_kill = sorted(k for k in posted_keys(slack) if k in victims)

        # worker 1 sends the other invitations at once; the dead worker's two wait for their lease
        _start(cluster, [1])
        others = {f"invite:{round_id}:{u}" for u in PEOPLE} - set(victims)
        wait_for(lambda: others <= set(posted_keys(slack, "invite:")), timeout=WAIT_S)
        time.sleep(2 * DUE_INTERVAL_S)
        held = [unsent()]
        cluster.clock.advance(DELIVERY_LEASE + timedelta(minutes=1))
        try:
            wait_for(lambda: not unsent() and cluster.rows(select(rounds))[0]["announce_ts"]
                     and all(r["invited_at"] for r in cluster.rows(select(participants))), timeout=30)
        except AssertionError:
            pytest.fail(f"messages worker 0 claimed at {point} never went out: {unsent()}", pytrace=False)

        # the closing, with worker 0 alone again (armed): it dies at the summary
        workers.kill(1)
        cluster.clock.advance(timedelta(hours=4))
        workers.restart(0, wait=False)
        _died_at_failpoint(cluster, 0)
        summary_key = f"summary:{round_id}"
        assert unsent() == [summary_key], unsent()
        victims.append(summary_key)
        in_slack_at_kill += [k for k in posted_keys(slack) if k == summary_key]
        workers.restart(1)
        time.sleep(2 * DUE_INTERVAL_S)
        held.append(unsent())
        cluster.clock.advance(DELIVERY_LEASE + timedelta(minutes=1))
        try:
            wait_for(lambda: cluster.rows(select(rounds))[0]["summary_ts"] and not unsent(), timeout=30)
        except AssertionError:
            pytest.fail(f"the summary worker 0 claimed at {point} never went out: {unsent()}", pytrace=False)
        time.sleep(2 * DUE_INTERVAL_S)  # worker 1's runner goes round again: nothing more is sent

        ready_s, posts_on_restart = _restart_clean(cluster, 0)
        keyed = posted_keys(slack)
        part = cluster.rows(select(participants))
        round_ = cluster.rows(select(rounds))[0]
        recorded = {d["key"]: d["ts"] for d in cluster.rows(select(deliveries))}
        post_of = {post_key(c): c for c in posts(slack) if post_key(c) in victims}
        poster = {k: workers.worker_of(c) for k, c in post_of.items()}
        looked = Counter(c.method for c in slack.calls() if workers.worker_of(c) == 1
                         and c.method in ("conversations.history", "conversations.replies"))
    expected = {f"invite:{round_id}:{u}" for u in PEOPLE}
    invites = {k: n for k, n in keyed.items() if k.startswith("invite:")}
    duplicates = {k: n for k, n in keyed.items() if n > 1}
    missing = expected - set(invites)
    figures(
        f"killed at {point} (at the announcement, an invitation and the summary): {len(PEOPLE)} "
        f"participants -> {len(invites)} invitations, {len(duplicates)} duplicates, {len(missing)} "
        f"missing; {keyed[f'announce:{round_id}']} announcement, {keyed[summary_key]} summary; the "
        f"{len(victims)} messages the dead worker held ({len(in_slack_at_kill)} already in Slack) waited "
        f"for the lease ({DELIVERY_LEASE}), then worker 1 looked in Slack "
        f"({', '.join(f'{m} {n}x' for m, n in sorted(looked.items()))}) and "
        f"{'found and recorded them' if in_slack_at_kill else 'posted them'} (posted by worker "
        f"{sorted(set(poster.values()))}); restarted worker 0: up in {ready_s:.1f} s, {posts_on_restart} "
        f"posts; {time.monotonic() - started:.0f} s"
    )
    assert not duplicates, duplicates
    assert not missing, missing
    assert set(invites) == expected
    assert {k for k in keyed if not k.startswith("invite:")} <= {f"announce:{round_id}", summary_key,
                                                                 *(k for k in keyed if k.startswith("nudge"))}
    assert keyed[f"announce:{round_id}"] == 1 and keyed[summary_key] == 1
    assert in_slack_at_kill == (victims if point == "delivery-posted" else [])
    assert held == [victims[:2], [summary_key]]  # the lease held them for the dead worker
    assert poster == {k: (0 if point == "delivery-posted" else 1) for k in victims}
    # the bookkeeping names the one message in Slack: the summary is in the announcement's thread
    assert all(recorded[k] == post_of[k].response["ts"] for k in victims), (recorded, post_of)
    assert round_["announce_ts"] == recorded[f"announce:{round_id}"]
    assert round_["summary_ts"] == recorded[summary_key]
    assert post_of[summary_key].args.get("thread_ts") == round_["announce_ts"]
    assert len(part) == len(PEOPLE) and all(r["invited_at"] is not None for r in part)
    assert looked["conversations.history"] >= 2 and looked["conversations.replies"] >= 1
    assert posts_on_restart == 0


# ----------------------------------------------------------------------------- the check-in form


def _answer(trust: int, learned: str | None) -> CheckinResponse:
    return CheckinResponse(
        {d: STAGES[1] if d != DIMENSIONS[-1] else "weet_niet" for d in DIMENSIONS},
        {"trust": trust, "learning": 3, "control": 2},
        True,
        None,
        "De levering liep vast",
        learned,
    )


def test_a_form_whose_worker_died_before_the_ack_is_stored_once(
    chroma_server: str, new_database, tmp_path: Path, figures
) -> None:
    started = time.monotonic()
    point = "form-saved"
    with armed_pair(point, chroma_url=chroma_server, database_url=new_database(), root=tmp_path) as cluster:
        slack = cluster.slack
        _start(cluster, [0, 1])
        round_id = _open_round(cluster, 1)
        user = MEMBERS[3]
        wait_for(lambda: len(posted_keys(slack, "invite:")) == len(PEOPLE)
                 and posted_keys(slack, "announce:"))
        invite = [c for c in posts(slack) if post_key(c) == f"invite:{round_id}:{user}"][0]
        dm = {k: invite.response[k] for k in ("channel", "ts", "message")}
        click = _click(cluster, user, forms.OPEN_ACTION, round_id, dm)
        assert cluster.interaction(0, click).status_code == 200
        opened = wait_for(lambda: [c for c in slack.calls("views.open")
                                   if c.args.get("trigger_id") == click["trigger_id"] and c.response], 30)
        view = opened[0].response["view"]

        def stored() -> list[CheckinResponse]:
            return [_stored(r) for r in cluster.rows(select(checkin_answers)
                                                      .where(checkin_answers.c.round_id == round_id))]

        # submitted to worker 0: stored, then the worker dies before Slack gets its ack
        first = _answer(4, None)
        try:
            response = cluster.interaction(0, _submission(user, view, first))
        except httpx.TransportError as exc:
            slack_saw = f"no answer ({type(exc).__name__})"
        else:
            slack_saw = f"HTTP {response.status_code}"
        _died_at_failpoint(cluster, 0)
        assert slack_saw.startswith("no answer"), f"{slack_saw} from a worker that died before ack()"
        at_kill = stored()

        # Slack shows the person an error; they submit the same again, to the other worker
        again = cluster.interaction(1, _submission(user, view, first))
        assert (again.status_code, again.text) == (200, "")
        after_resubmit = stored()

        ready_s, posts_on_restart = _restart_clean(cluster, 0)
        # and change their answers later, on the worker that died (now without its failpoint)
        changed = _answer(2, "Eerder bellen")
        later = cluster.interaction(0, _submission(user, view, changed))
        assert (later.status_code, later.text) == (200, "")
        after_change = stored()
        total = cluster.scalar(select(func.count()).select_from(checkin_answers))
    figures(
        f"killed at {point}: Slack got {slack_saw}, {len(at_kill)} row stored; resubmitted as is to "
        f"worker 1 -> {len(after_resubmit)} row ({'same values' if after_resubmit == [first] else 'WRONG'}); "
        f"changed on the restarted worker -> {len(after_change)} row "
        f"({'new values' if after_change == [changed] else 'WRONG'}); {total} rows in all; restarted "
        f"worker 0: up in {ready_s:.1f} s, {posts_on_restart} posts; {time.monotonic() - started:.0f} s"
    )
    assert at_kill == [first]  # stored before the kill: the failpoint sits after the save
    assert after_resubmit == [first]
    assert after_change == [changed]
    assert total == 1
    assert posts_on_restart == 0
