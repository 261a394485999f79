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


def test_a_total_over_some_cells_holds_none_or_all_of_the_hidden_ones():
    decision = suppress({"a": 2, "b": 6, "c": 9, "d": 0}, 5)  # a is small, b its complement
    assert decision.hidden == {"a", "b", "d"} and decision.counted == {"a", "b"}
    assert decision.total_shown() and decision.total_shown("abcd") and decision.total_shown("abc")
    assert decision.total_shown("c") and decision.total_shown("cd") and decision.total_shown("")
    assert not decision.total_shown("bc") and not decision.total_shown("a") and not decision.total_shown("b")
    unsafe = suppress({"a": 2, "b": 1, "c": 0}, 5)
    assert not unsafe.total_shown() and not unsafe.total_shown("ab") and unsafe.total_shown("c")


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


def _check_no_small_group(report, truth: dict, floor: int) -> None:
    """No figure in ``report`` from fewer than ``floor`` people, and comments only from rounds shown."""
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
        shown_rounds = [r for r in chain.rounds if r.closed and r.hidden_reason is None]
        if chain.trend_estimate is not None and any(v is not None for v in chain.trend_estimate.values()):
            assert len(shown_rounds) >= TREND_ROUNDS
        if chain.comments is not None:  # never from a round too small or hidden as a complement
            assert shown_rounds
            assert len(chain.comments) == sum(
                1 for r in shown_rounds for a in truth[r.round_id]["answers"] if a.texts[0]
            )


def _check_totals(reports: list, truth: dict, floor: int) -> None:
    """Every total any report shows, minus everything any report shows, is 0 or the hidden chains
    together (at least ``floor`` people from at least 2 chains) -- per figure family, so no
    combination of these reports, added or subtracted, gives one hidden chain: each total holds
    either none of the hidden chains with respondents or all of them."""
    full = reports[0]
    latest = {}  # chain id -> its latest closed round (what the totals count)
    for chain in full.chains:
        closed = [r for r in chain.rounds if r.closed]
        if closed:
            latest[chain.chain_id] = closed[-1].round_id
    shown = [r for report in reports for chain in report.chains for r in chain.rounds]
    families = {"answers": lambda a: True, **{p: (lambda a, i=i: a.pulse[i] is not None)
                                              for i, p in enumerate(ITEMS)}}
    for family, counts in families.items():
        n = {c: sum(map(counts, truth[rid]["answers"])) for c, rid in latest.items()}
        if family == "answers":
            visible = {r.round_id for r in shown if r.stage_shares is not None}
        else:
            visible = {r.round_id for r in shown if (r.pulse_means or {}).get(family) is not None}
        hidden = {c for c, rid in latest.items() if rid not in visible and n[c] > 0}
        for report in reports:
            totals = report.totals
            if totals is None or (family != "answers" and totals.pulse_means[family] is None):
                continue
            total = totals.answered if family == "answers" else totals.pulse_counts[family]
            members = {c.chain_id for c in report.chains} & set(latest)
            assert totals.chains == len(members)
            inside = hidden & members
            residual = total - sum(n[c] for c in members if latest[c] in visible)
            assert residual == sum(n[c] for c in inside)
            assert not inside or inside == hidden, (family, inside, hidden)
            if residual:
                assert residual >= floor and len(inside) >= 2


weeks_ = st.sampled_from([1, 2, 8])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=worlds, min_group=min_groups, weeks=weeks_, subset=st.sets(st.integers(0, 5)))
def test_no_report_or_set_of_reports_shows_a_small_group_or_lets_one_be_subtracted(
    db, data, min_group, weeks, subset
):
    """The all-chains report, every single-chain report and one over a random set of chains (as
    for a manager), over the same window and ``now``: each hides exactly what the all-chains
    report hides for a chain, and nothing they show together reveals a hidden chain."""
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

    def build(ids):
        return build_report(
            db, chain_ids=ids, weeks=weeks, min_group=min_group, now=NOW, comments=True, seed=3
        )

    filters = [[c] for c in chain_ids] + [[c for i, c in enumerate(chain_ids) if i in subset]]
    reports = [build(None), *(build(f) for f in filters)]
    floor = reports[0].min_group
    assert floor == min_group
    for report in reports:
        _check_no_small_group(report, truth, floor)
    by_chain = {c.chain_id: c for c in reports[0].chains}
    for report in reports[1:]:
        for chain in report.chains:  # the same decision in every report
            assert chain.rounds == by_chain[chain.chain_id].rounds
            assert sorted(chain.comments or []) == sorted(by_chain[chain.chain_id].comments or [])
    full = reports[0]
    if full.totals is None:
        event("no total")
    else:
        event("total with hidden chains" if full.totals.hidden_chains else "total, nothing hidden")
        assert full.totals.answered >= floor
        assert full.total_answered == full.totals.answered
    event(f"filtered totals shown: {sum(r.totals is not None for r in reports[1:]) > 0}")
    _check_totals(reports, truth, floor)
