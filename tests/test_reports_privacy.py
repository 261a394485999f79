"""Anonymity, proved on random data: no figure from a small group, and no hidden chain worked out
by subtracting the chains shown from a total. First the rules alone, then whole reports built
from random chains and answers in a database (SQLite; the SQL is the same on PostgreSQL, which
tests/test_reports_aggregate.py covers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from bot.records.db import make_engine, migrate
from bot.records.schema import chains, checkin_answers, participants, rounds
from bot.reports.aggregate import TREND_ROUNDS, build_report
from bot.reports.privacy import (
    TOTAL,
    complementary,
    effective_min_group,
    suppress,
    visible,
)
from tests.test_reports_aggregate import NOW, A, World, weeks_ago

DIMS = ("strategische_focus", "operationeel_model", "zichtbaarheid")
ITEMS = ("trust", "learning", "control")
STAGES = ("opportunisme", "procedure", "verankering")

min_groups = st.integers(min_value=3, max_value=8)
cells = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.integers(0, 12), max_size=12)


# ----------------------------------------------------------------------------- the rules alone


def test_the_minimum_group_is_never_below_three():
    assert [effective_min_group(v) for v in (None, -4, 0, 1, 2, 3, 5, 9)] == [5, 3, 3, 3, 3, 3, 5, 9]
    assert not visible(2, 1) and visible(3, 1) and not visible(4, 5) and visible(5, 5)
    assert not visible(0, 0)


def test_complementary_by_example():
    assert complementary({"a": 6, "b": 9}, 5) == set()
    assert complementary({"a": 6, "b": 0}, 5) == {"b"}  # an empty chain needs no partner
    assert complementary({"a": 2, "b": 9, "c": 6}, 5) == {"a", "c"}  # smallest shown one joins
    assert complementary({"a": 2, "b": 3, "c": 6}, 5) == {"a", "b"}  # 2 + 3: safe together
    assert complementary({"a": 2, "b": 1}, 5) == {"a", "b", TOTAL}
    assert complementary({"a": 4}, 5) == {"a", TOTAL}
    assert suppress({"a": 4, "b": 0}, 5).total_hidden


@settings(max_examples=400, deadline=None)
@given(cells=cells, min_group=st.integers(-2, 12))
def test_complementary_leaves_no_small_group_to_subtract(cells, min_group):
    floor = effective_min_group(min_group)
    keys = complementary(cells, min_group)
    hidden = keys - {TOTAL}
    assert hidden <= set(cells)
    assert {k for k, n in cells.items() if n < floor} <= hidden  # (a)
    with_answers = [cells[k] for k in hidden if cells[k] > 0]
    residual = sum(with_answers)  # what "total - shown cells" gives
    if TOTAL in keys:  # (c): nothing would have made it safe, and then nothing shown was hidden
        assert hidden == set(cells) and all(n < floor for n in cells.values())
        assert residual < floor or len(with_answers) < 2
    else:  # (b)
        assert residual == 0 or (residual >= floor and len(with_answers) >= 2)
    # at most one cell that could have been shown is hidden, and it is a smallest one
    extra = [k for k in hidden if cells[k] >= floor]
    assert len(extra) <= 1
    if extra:
        assert cells[extra[0]] == min(n for n in cells.values() if n >= floor)


# ----------------------------------------------------------------------------- whole reports


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('privacy') / 'records.sqlite3'}")
    migrate(engine)
    yield engine
    engine.dispose()


answers = st.builds(
    A,
    stages=st.tuples(*[st.sampled_from([*STAGES, "weet_niet"])] * 3),
    pulse=st.tuples(*[st.one_of(st.none(), st.integers(1, 5))] * 3),
    setback=st.one_of(st.none(), st.booleans()),
    texts=st.tuples(st.one_of(st.none(), st.just("x")), st.none(), st.none()),
)
a_round = st.fixed_dictionaries(
    {
        "answers": st.lists(answers, max_size=10),
        "skipped": st.integers(0, 2),
        "pending": st.integers(0, 2),
        "closed": st.sampled_from([True, True, True, False]),
    }
)
worlds = st.lists(st.lists(a_round, min_size=0, max_size=4), min_size=1, max_size=6)


def _reset(engine) -> None:
    with engine.begin() as conn:
        for table in (checkin_answers, participants, rounds, chains):
            conn.execute(delete(table))


def _check_residual(total_n: int, shown_n: list[int], hidden_n: list[int], floor: int) -> None:
    residual = total_n - sum(shown_n)
    assert residual == sum(hidden_n)
    if residual:
        assert residual >= floor and sum(1 for n in hidden_n if n > 0) >= 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=worlds, min_group=min_groups, subset=st.one_of(st.none(), st.sets(st.integers(0, 5))))
def test_no_report_shows_a_small_group_or_lets_one_be_subtracted(db, data, min_group, subset):
    _reset(db)
    world = World(db)
    truth = {}  # round id -> the answers given in it (the test knows what the report must not tell)
    chain_ids = []
    for i, chain_rounds in enumerate(data):
        chain_id = world.chain(f"K{i}")
        chain_ids.append(chain_id)
        for week, r in enumerate(chain_rounds):
            given_ = [*r["answers"], *[A(stages=None)] * r["skipped"]]
            opened = weeks_ago(len(chain_rounds) - week) if r["closed"] else NOW - timedelta(hours=2)
            truth[world.round(chain_id, opened, given_, pending=r["pending"], closed=r["closed"])] = r
    asked = None if subset is None else [c for i, c in enumerate(chain_ids) if i in subset]
    report = build_report(db, chain_ids=asked, weeks=8, min_group=min_group, now=NOW, comments=True, seed=3)
    floor = report.min_group
    assert floor == min_group

    latest = {}
    for chain in report.chains:
        for r in chain.rounds:
            given_ = truth[r.round_id]["answers"]
            assert r.answered == len(given_)
            if r.stage_shares is not None or r.setbacks is not None or r.stage_estimate is not None:
                assert r.closed and r.answered >= floor
            for d_i, d in enumerate(DIMS):
                if r.stage_estimate is not None and r.stage_estimate[d] is not None:
                    assert sum(1 for a in given_ if a.stages[d_i] in STAGES) >= floor
            for p_i, p in enumerate(ITEMS):
                if r.pulse_means is not None and r.pulse_means[p] is not None:
                    assert r.closed and sum(1 for a in given_ if a.pulse[p_i] is not None) >= floor
        shown_rounds = [r for r in chain.rounds if r.closed and r.answered >= floor]
        if chain.trend_estimate is not None and any(v is not None for v in chain.trend_estimate.values()):
            assert len(shown_rounds) >= TREND_ROUNDS
        if chain.comments is not None:
            assert shown_rounds
            assert len(chain.comments) == sum(
                1 for r in shown_rounds for a in truth[r.round_id]["answers"] if a.texts[0]
            )
        closed = [r for r in chain.rounds if r.closed]
        if closed:
            latest[chain.chain_id] = closed[-1]

    totals = report.totals
    if totals is None:
        event("no total")
        return
    event("total with hidden chains" if totals.hidden_chains else "total, nothing hidden")
    assert totals.answered >= floor and totals.chains == len(latest)
    assert report.total_answered == totals.answered
    shown = [r for r in latest.values() if r.stage_shares is not None]
    hidden = [r for r in latest.values() if r.stage_shares is None]
    _check_residual(totals.answered, [r.answered for r in shown], [r.answered for r in hidden], floor)
    for p_i, p in enumerate(ITEMS):
        if totals.pulse_means[p] is None:
            continue
        assert totals.pulse_counts[p] >= floor
        n = {rid: sum(1 for a in truth[r.round_id]["answers"] if a.pulse[p_i] is not None)
             for rid, r in latest.items()}
        shown_p = [rid for rid, r in latest.items() if r.pulse_means and r.pulse_means[p] is not None]
        _check_residual(
            totals.pulse_counts[p],
            [n[rid] for rid in shown_p],
            [n[rid] for rid in latest if rid not in shown_p],
            floor,
        )
