"""The demo history: the expected chains and rounds, plausible and deterministic, filled once."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.checkins.due import run_due
from bot.checkins.store import Checkins
from bot.records.db import make_engine, migrate
from bot.records.schema import chains, checkin_answers, participants, rounds
from bot.reports.demo import fill_demo

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)  # a Wednesday
MIN_GROUP = 5


def _sqlite(path):
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


@pytest.fixture
def filled(engine):
    return engine, fill_demo(engine, now=NOW)


def _dump(engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for table in (chains, rounds, participants, checkin_answers):
            rows = conn.execute(select(table)).all()
            out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def _answers_per_round(engine) -> dict[str, tuple[int, int, int]]:
    """round id -> (participants, answered, skipped)."""
    with engine.connect() as conn:
        invited = dict(
            conn.execute(
                select(participants.c.round_id, func.count()).group_by(participants.c.round_id)
            ).all()
        )
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for round_id, skipped, n in conn.execute(
            select(checkin_answers.c.round_id, checkin_answers.c.skipped, func.count()).group_by(
                checkin_answers.c.round_id, checkin_answers.c.skipped
            )
        ):
            counts[round_id][1 if skipped else 0] = n
    return {r: (n, counts[r][0], counts[r][1]) for r, n in invited.items()}


def test_fills_six_chains_of_26_weekly_closed_rounds(filled):
    engine, ids = filled
    store = Checkins(engine)
    assert len(ids) == len(set(ids)) == 6
    names = {store.chain(i)["name"] for i in ids}
    assert {"Jeugdketen Noord", "Keten Werk en Inkomen", "Zorgketen Oost", "Veiligheidsketen West"} <= names
    with engine.connect() as conn:
        for chain_id in ids:
            opened = [
                store.round(r)["opened_at"]
                for (r,) in conn.execute(
                    select(rounds.c.id).where(rounds.c.chain_id == chain_id).order_by(rounds.c.opened_at)
                )
            ]
            assert len(opened) == 26
            days = [o.astimezone(AMS).date() for o in opened]  # weekly in local time, across DST
            assert all(b - a == timedelta(weeks=1) for a, b in zip(days, days[1:], strict=False))
            assert all(o.astimezone(AMS).weekday() == 0 and o.astimezone(AMS).hour == 9 for o in opened)
    assert store.rounds_open(NOW) == [] and store.rounds_to_close(NOW) == []
    assert store.rounds_without_summary() == []
    assert all(store.round(r["id"])["closed_at"] <= NOW for r in _rounds(engine))


def _rounds(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(rounds)).mappings()]


def test_answers_never_exceed_participants_and_response_stays_plausible(filled):
    engine, ids = filled
    per_round = _answers_per_round(engine)
    assert len(per_round) == 6 * 26
    for invited, answered, skipped in per_round.values():
        assert answered + skipped <= invited
        assert 0.40 <= answered / invited <= 0.95
    assert sum(s for _, _, s in per_round.values()) > 0  # a few skips


def test_members_per_chain_and_the_small_chain_stays_below_the_minimum(filled):
    engine, ids = filled
    with engine.connect() as conn:
        members = dict(
            conn.execute(
                select(rounds.c.chain_id, func.count(func.distinct(participants.c.user_id)))
                .join(participants, participants.c.round_id == rounds.c.id)
                .group_by(rounds.c.chain_id)
            ).all()
        )
        names = dict(conn.execute(select(chains.c.id, chains.c.name)).all())
    small = [c for c, n in members.items() if n < MIN_GROUP]
    assert len(small) == 1
    assert all(8 <= n <= 25 for c, n in members.items() if c not in small)
    store = Checkins(engine)
    with engine.connect() as conn:
        small_rounds = [r for (r,) in conn.execute(select(rounds.c.id).where(rounds.c.chain_id == small[0]))]
    assert all(store.status(r).answered < MIN_GROUP for r in small_rounds)
    assert all(store.summary(r, MIN_GROUP).distribution is None for r in small_rounds)
    assert names[small[0]] == "Schuldhulpketen Zuid"


def test_the_same_seed_gives_the_same_history_and_another_seed_another(tmp_path):
    one, two, three = (_sqlite(tmp_path / f"{n}.sqlite3") for n in ("one", "two", "three"))
    assert fill_demo(one, now=NOW, seed=11) == fill_demo(two, now=NOW, seed=11)
    assert _dump(one) == _dump(two)
    fill_demo(three, now=NOW, seed=12)
    assert _dump(three)["checkin_answers"] != _dump(one)["checkin_answers"]


def test_filling_twice_does_not_double_anything(filled):
    engine, ids = filled
    before = _dump(engine)
    assert fill_demo(engine, now=NOW + timedelta(weeks=5), seed=99, chains=3) == ids
    assert _dump(engine) == before


def test_two_fills_at_once_write_one_history(tmp_path):
    engine = _sqlite(tmp_path / "race.sqlite3")
    results: list[list[str]] = []
    barrier = threading.Barrier(2)

    def fill() -> None:
        barrier.wait()
        results.append(fill_demo(engine, now=NOW))

    threads = [threading.Thread(target=fill) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 2 and results[0] == results[1]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(chains)).scalar_one() == 6


def test_the_history_tells_the_stories(filled):
    engine, ids = filled
    store = Checkins(engine)
    by_name = {store.chain(i)["name"]: i for i in ids}

    def weekly(chain_id: str, column) -> list[list]:  # noqa: ANN001 - a table column
        with engine.connect() as conn:
            rows = conn.execute(
                select(rounds.c.opened_at, column)
                .join(checkin_answers, checkin_answers.c.round_id == rounds.c.id)
                .where(rounds.c.chain_id == chain_id, checkin_answers.c.skipped.is_(False))
                .order_by(rounds.c.opened_at)
            ).all()
        weeks: dict = defaultdict(list)
        for opened, value in rows:
            weeks[opened].append(value)
        return list(weeks.values())

    def share(values: list[list], stage: str) -> float:
        flat = [v for week in values for v in week]
        return sum(v == stage for v in flat) / len(flat)

    def mean(values: list[list]) -> float:
        flat = [v for week in values for v in week if v is not None]
        return sum(flat) / len(flat)

    # Jeugdketen Noord moves from opportunisme towards procedure
    noord = weekly(by_name["Jeugdketen Noord"], checkin_answers.c.operationeel_model)
    assert share(noord[:6], "opportunisme") > share(noord[-6:], "opportunisme") + 0.2
    assert share(noord[-6:], "procedure") > share(noord[:6], "procedure") + 0.2
    # Keten Werk en Inkomen stays put
    werk = weekly(by_name["Keten Werk en Inkomen"], checkin_answers.c.operationeel_model)
    assert abs(share(werk[:8], "procedure") - share(werk[-8:], "procedure")) < 0.2
    # Zorgketen Oost: a setback most report, trust dips and the control reflex rises after it
    oost = by_name["Zorgketen Oost"]
    setbacks = [sum(bool(v) for v in week) / len(week) for week in weekly(oost, checkin_answers.c.setback)]
    hit = max(range(len(setbacks)), key=setbacks.__getitem__)
    assert setbacks[hit] > 0.5 and 8 < hit < 20
    trust, control = weekly(oost, checkin_answers.c.trust), weekly(oost, checkin_answers.c.control)
    assert mean(trust[hit : hit + 3]) < mean(trust[hit - 4 : hit]) - 0.5
    assert mean(control[hit : hit + 3]) > mean(control[hit - 4 : hit]) + 0.6


def test_answers_read_back_through_the_store_with_dutch_free_text_and_no_names(filled):
    engine, _ = filled
    store = Checkins(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(checkin_answers.c.round_id, checkin_answers.c.user_id, checkin_answers.c.went_well).where(
                checkin_answers.c.went_well.is_not(None)
            )
        ).all()
        texts = conn.execute(
            select(checkin_answers.c.went_well, checkin_answers.c.went_wrong, checkin_answers.c.learned)
        ).all()
    assert rows
    skipped, response = store.response_of(rows[0].round_id, rows[0].user_id)
    assert not skipped and response.went_well == rows[0].went_well
    free = {t for row in texts for t in row if t}
    assert len(free) >= 10 and not any("UDEMO" in t or "@" in t for t in free)


def test_due_work_leaves_the_demo_alone(filled):
    engine, _ = filled

    class Silent:
        sent: list = []

        def human_members(self, channel_id: str) -> list[str]:
            return []

        def language(self, user_id: str) -> str:
            return "nl"

        def send(self, **message) -> str:
            self.sent.append(message)
            return "1.0"

    messenger = Silent()
    report = run_due(Checkins(engine), messenger, now=NOW, zone=AMS, min_group=MIN_GROUP)
    assert messenger.sent == []
    assert (report.opened, report.invited, report.reminded, report.summaries) == (0, 0, 0, 0)


def test_refuses_a_naive_now(tmp_path):
    with pytest.raises(ValueError):
        fill_demo(_sqlite(tmp_path / "x.sqlite3"), now=datetime(2027, 3, 10))
