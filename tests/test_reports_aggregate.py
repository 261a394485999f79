"""Reports on SQLite and PostgreSQL: figures per round checked by hand, suppression, trend, comments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from bot.checkins.model import CheckinResponse
from bot.checkins.store import Checkins
from bot.records.schema import chains, checkin_answers, participants, roles, rounds
from bot.reports import query
from bot.reports.aggregate import DOWN, STEADY, UP, build_report, chains_visible_to, stage_estimate, trend
from bot.reports.demo import fill_demo
from bot.reports.model import HIDDEN_COMPLEMENTARY, HIDDEN_OPEN, HIDDEN_TOO_FEW
from bot.reports.query import redact

NOW = datetime(2027, 6, 7, 12, 0, tzinfo=UTC)  # a Monday
SF, OM, ZI = "strategische_focus", "operationeel_model", "zichtbaarheid"
OP, P, V, W = "opportunisme", "procedure", "verankering", "weet_niet"


# ----------------------------------------------------------------------------- building data


@dataclass
class A:
    """One participant's row in a round: ``None`` stages for a skip."""

    stages: tuple[str, str, str] | None = (P, P, P)
    pulse: tuple[int | None, int | None, int | None] = (3, 3, 3)
    setback: bool | None = False
    texts: tuple[str | None, str | None, str | None] = (None, None, None)

    @property
    def skipped(self) -> bool:
        return self.stages is None


SKIP = A(stages=None)


@dataclass
class World:
    """Rows written straight into the tables (the store's own writes are tested elsewhere)."""

    engine: object
    users: list[str] = field(default_factory=list)
    _n: int = 0

    def chain(self, name: str, manager: str = "UMANAGER01") -> str:
        chain_id = str(uuid.uuid4())
        self._n += 1
        with self.engine.begin() as conn:
            conn.execute(
                insert(chains).values(
                    id=chain_id,
                    name=name,
                    channel_id=f"C{self._n:09d}",
                    manager_id=manager,
                    created_at=NOW - timedelta(days=400),
                    remind_after_hours=48,
                    open_hours=96,
                )
            )
        return chain_id

    def round(
        self,
        chain_id: str,
        opened_at: datetime,
        answers: list[A],
        *,
        pending: int = 0,
        closed: bool = True,
    ) -> str:
        """A round with ``len(answers) + pending`` participants; ``answers`` in participant order."""
        round_id = str(uuid.uuid4())
        people = [f"U{uuid.uuid4().hex[:10].upper()}" for _ in range(len(answers) + pending)]
        self.users.extend(people)
        closes_at = opened_at + timedelta(hours=96)
        with self.engine.begin() as conn:
            conn.execute(
                insert(rounds).values(
                    id=round_id,
                    chain_id=chain_id,
                    slot=f"now:{round_id}",
                    opened_by="plan",
                    opened_at=opened_at,
                    remind_at=opened_at + timedelta(hours=48),
                    closes_at=closes_at if closed or closes_at > NOW else NOW + timedelta(hours=1),
                    closed_at=closes_at if closed else None,
                )
            )
            if people:
                conn.execute(insert(participants), [{"round_id": round_id, "user_id": u} for u in people])
            rows = [_row(round_id, user, a, opened_at) for user, a in zip(people, answers, strict=False)]
            if rows:
                conn.execute(insert(checkin_answers), rows)
        return round_id


def _row(round_id: str, user: str, a: A, when: datetime) -> dict:
    stages = a.stages or (None, None, None)
    pulse = a.pulse if not a.skipped else (None, None, None)
    texts = a.texts if not a.skipped else (None, None, None)
    return {
        "round_id": round_id,
        "user_id": user,
        "skipped": a.skipped,
        SF: stages[0],
        OM: stages[1],
        ZI: stages[2],
        "trust": pulse[0],
        "learning": pulse[1],
        "control": pulse[2],
        "setback": None if a.skipped else a.setback,
        "went_well": texts[0],
        "went_wrong": texts[1],
        "learned": texts[2],
        "submitted_at": when + timedelta(hours=1),
        "updated_at": when + timedelta(hours=1),
    }


def weeks_ago(n: int) -> datetime:
    return NOW - timedelta(weeks=n, hours=-1)


@pytest.fixture
def world(engine) -> World:
    return World(engine)


# The round worked out by hand in test_one_round_by_hand.
HAND = [
    A((OP, P, W), (4, 3, 1), True),
    A((P, P, OP), (4, 3, 2), False),
    A((P, V, W), (5, 3, None), True),
    A((V, V, OP), (3, 3, None), None),
    A((P, V, W), (4, 3, 5), False),
    A((W, V, OP), (None, 3, 2), False),
    SKIP,
]


# ----------------------------------------------------------------------------- pure rules


def test_the_stage_estimate_is_the_interpolated_median():
    assert stage_estimate({OP: 5}) == 1.0 and stage_estimate({V: 7, W: 3}) == 3.0
    assert stage_estimate({OP: 1, P: 1}) == 1.5  # the plain median of 1 and 2
    assert stage_estimate({OP: 1, P: 3, V: 1, W: 9}) == 2.0  # weet_niet is left out
    assert stage_estimate({P: 2, V: 4}) == pytest.approx(2.75)
    # an evenly split group moves a little, not a whole stage, when one person changes
    assert stage_estimate({P: 13, V: 12}) == pytest.approx(1.5 + 12.5 / 13)
    assert stage_estimate({P: 12, V: 13}) == pytest.approx(2.5 + 0.5 / 13)
    assert stage_estimate({W: 4}) is None and stage_estimate({}) is None


def test_the_trend_is_the_median_of_three_and_one_odd_week_cannot_flip_it():
    assert trend([2.0, 2.0]) == (None, None)  # too little to tell
    assert trend([2.0, 2.2, 1.9]) == (2.0, None)
    assert trend([2.0] * 5 + [3.0]) == (2.0, STEADY)  # the latest week is an outlier
    assert trend([2.0] * 4 + [1.0, 2.0]) == (2.0, STEADY)
    assert trend([2.0, 3.0, 2.0, 2.0, 2.0, 2.0]) == (2.0, STEADY)  # an outlier in the earlier window
    assert trend([2.0] * 3 + [2.5, 2.6, 2.4]) == (2.5, UP)
    assert trend([2.6] * 3 + [2.4, 2.3, 2.4]) == (2.4, STEADY)  # within the dead band
    assert trend([3.0] * 3 + [2.0, 1.0, 2.0]) == (2.0, DOWN)


# ----------------------------------------------------------------------------- the database


def test_one_round_by_hand(world):
    noord = world.chain("Noord")
    world.round(noord, weeks_ago(1), HAND, pending=1)
    report = build_report(world.engine, chain_ids=[noord], weeks=4, min_group=5, now=NOW)
    assert report.min_group == 5 and report.weeks == 4 and report.generated_at == NOW
    (chain,) = report.chains
    assert chain.chain_name == "Noord"
    (r,) = chain.rounds
    assert (r.invited, r.answered, r.skipped, r.closed) == (8, 6, 1, True)
    assert r.response_rate == pytest.approx(6 / 8)
    assert not r.suppressed and r.hidden_reason is None
    assert r.stage_shares[SF] == pytest.approx({OP: 1 / 6, P: 3 / 6, V: 1 / 6, W: 1 / 6})
    assert r.stage_shares[OM] == pytest.approx({OP: 0, P: 2 / 6, V: 4 / 6, W: 0})
    assert r.stage_shares[ZI] == pytest.approx({OP: 3 / 6, P: 0, V: 0, W: 3 / 6})
    # 5 known answers 1,2,2,2,3 -> 2.0; 2,2,3,3,3,3 -> 2.75; only 3 knew in zichtbaarheid: hidden
    assert r.stage_estimate == pytest.approx({SF: 2.0, OM: 2.75, ZI: None})
    # trust 4,4,5,3,4 (5 scores) = 4.0; learning 3 x6; control has 4 scores < 5: hidden
    assert r.pulse_means == pytest.approx({"trust": 4.0, "learning": 3.0, "control": None})
    assert r.pulse_counts == {"trust": 5, "learning": 6, "control": 4}
    assert r.setbacks == 2
    # one chain: the total is that chain's latest round, nothing hidden
    assert (report.total_answered, report.total_invited) == (6, 8)
    assert report.totals.hidden_chains == () and report.totals.setbacks == 2
    assert report.totals.stage_estimate == pytest.approx({SF: 2.0, OM: 2.75, ZI: None})


def test_below_the_minimum_group_no_figure_is_shown_and_the_floor_is_three(world):
    noord = world.chain("Noord")
    world.round(noord, weeks_ago(1), HAND)
    strict = build_report(world.engine, chain_ids=None, weeks=4, min_group=7, now=NOW)
    (r,) = strict.chains[0].rounds
    assert (r.answered, r.invited) == (6, 7)  # counts of participation stay
    assert r.suppressed and r.hidden_reason == HIDDEN_TOO_FEW
    assert (r.stage_estimate, r.pulse_means, r.pulse_counts, r.setbacks) == (None, None, None, None)
    assert strict.totals is None and strict.total_answered is None
    assert strict.chains[0].trend_estimate is None

    lax = build_report(world.engine, chain_ids=None, weeks=4, min_group=1, now=NOW)
    assert lax.min_group == 3
    (r,) = lax.chains[0].rounds
    assert r.stage_estimate[ZI] == pytest.approx(stage_estimate({OP: 3}))  # 3 knew: enough at 3
    assert r.pulse_means["control"] == pytest.approx(10 / 4)


def test_an_open_round_shows_counts_but_no_figures(world):
    noord = world.chain("Noord")
    world.round(noord, NOW - timedelta(hours=5), [A()] * 8, closed=False)
    report = build_report(world.engine, chain_ids=[noord], weeks=1, min_group=5, now=NOW)
    (r,) = report.chains[0].rounds
    assert (r.closed, r.answered, r.hidden_reason, r.stage_shares) == (False, 8, HIDDEN_OPEN, None)
    assert report.totals is None and report.total_answered is None
    assert "no_closed_round" in report.chains[0].notes


def test_rounds_outside_the_window_are_left_out(world):
    noord = world.chain("Noord")
    world.round(noord, weeks_ago(10), [A()] * 5)
    recent = world.round(noord, weeks_ago(2), [A()] * 5)
    world.round(noord, NOW + timedelta(days=1), [A()] * 5)  # after ``now``
    report = build_report(world.engine, chain_ids=[noord], weeks=4, min_group=5, now=NOW)
    assert [r.round_id for r in report.chains[0].rounds] == [recent]


def test_a_chain_without_rounds_is_listed_and_unknown_ids_are_ignored(world):
    noord, zuid = world.chain("Noord"), world.chain("Zuid")
    world.round(noord, weeks_ago(1), [A()] * 5)
    report = build_report(world.engine, chain_ids=[zuid, "no-such-chain"], weeks=4, min_group=5, now=NOW)
    assert [(c.chain_name, c.rounds, c.notes) for c in report.chains] == [("Zuid", [], ["no_rounds",
                                                                                     "trend_too_few_rounds"])]
    assert build_report(world.engine, chain_ids=[], weeks=4, min_group=5, now=NOW).chains == []
    with pytest.raises(ValueError):
        build_report(world.engine, chain_ids=None, weeks=0, min_group=5, now=NOW)


def test_one_outlier_week_does_not_flip_the_trend(world):
    steady, rising = world.chain("Steady"), world.chain("Rising")
    for week in range(8, 0, -1):
        answers = [A((P, P, OP))] * 6
        if week == 1:  # the latest week: everyone at verankering, and a low one for the other dimension
            answers = [A((V, P, OP))] * 6 + [A((V, OP, OP))] * 4
        world.round(steady, weeks_ago(week), answers)
        world.round(rising, weeks_ago(week), [A((P if week > 3 else V, P, OP))] * 5)
    report = build_report(world.engine, chain_ids=None, weeks=10, min_group=5, now=NOW)
    by_name = {c.chain_name: c for c in report.chains}
    s = by_name["Steady"]
    assert s.rounds[-1].stage_estimate[SF] == 3.0  # the odd week itself is shown as it is
    assert s.trend_estimate == pytest.approx({SF: 2.0, OM: 2.0, ZI: 1.0})
    assert s.trend_direction == {SF: STEADY, OM: STEADY, ZI: STEADY}
    r = by_name["Rising"]
    assert r.trend_estimate[SF] == 3.0 and r.trend_direction[SF] == UP
    assert r.trend_direction[OM] == STEADY


def test_the_trend_needs_three_shown_rounds_and_skips_small_ones(world):
    noord = world.chain("Noord")
    world.round(noord, weeks_ago(3), [A((V, V, V))] * 5)
    world.round(noord, weeks_ago(2), [A((OP, OP, OP))] * 2, pending=5)  # too few: not in the trend
    world.round(noord, weeks_ago(1), [A((V, V, V))] * 5)
    report = build_report(world.engine, chain_ids=[noord], weeks=4, min_group=5, now=NOW)
    chain = report.chains[0]
    assert chain.trend_estimate == {SF: None, OM: None, ZI: None}
    assert "trend_too_few_rounds" in chain.notes
    world.round(noord, NOW - timedelta(days=5), [A((V, V, V))] * 5)
    chain = build_report(world.engine, chain_ids=[noord], weeks=4, min_group=5, now=NOW).chains[0]
    assert chain.trend_estimate == {SF: 3.0, OM: 3.0, ZI: 3.0}
    assert chain.trend_direction == {SF: None, OM: None, ZI: None}


def test_complementary_suppression_of_the_latest_rounds(world):
    a, b, c = world.chain("A klein"), world.chain("B"), world.chain("C")
    world.round(b, weeks_ago(2), [A()] * 6)
    world.round(a, weeks_ago(1), [A((OP, OP, OP), (1, 1, 1), True)] * 2, pending=3)
    latest_b = world.round(b, weeks_ago(1), [A((V, V, V), (5, 5, 5))] * 6)
    world.round(c, weeks_ago(1), [A()] * 9)
    report = build_report(world.engine, chain_ids=None, weeks=4, min_group=5, now=NOW)
    by_name = {ch.chain_name: ch for ch in report.chains}
    # A has 2 answers: hidden; then B (the smallest shown chain) is hidden too, in its latest round
    assert by_name["A klein"].rounds[0].hidden_reason == HIDDEN_TOO_FEW
    older_b, newer_b = by_name["B"].rounds
    assert newer_b.round_id == latest_b and newer_b.hidden_reason == HIDDEN_COMPLEMENTARY
    assert newer_b.stage_shares is None and newer_b.setbacks is None
    assert not older_b.suppressed and not by_name["C"].rounds[0].suppressed
    totals = report.totals
    assert totals.hidden_chains == tuple(sorted([a, b])) and totals.chains == 3
    assert (report.total_answered, report.total_invited) == (17, 20)
    assert totals.setbacks == 2 and totals.stage_shares[SF] == pytest.approx({OP: 2 / 17, P: 9 / 17,
                                                                              V: 6 / 17, W: 0})
    # what subtraction gives: the total minus C is A and B together (8 answers), never A alone
    shown = [ch.rounds[-1] for ch in report.chains if not ch.rounds[-1].suppressed]
    assert report.total_answered - sum(r.answered for r in shown) == 8
    # pulse items have their own cells: the same two chains are hidden there
    assert newer_b.pulse_means == {"trust": None, "learning": None, "control": None}
    assert totals.pulse_means["trust"] == pytest.approx((2 * 1 + 6 * 5 + 9 * 3) / 17)


def _latest(chain):
    return [r for r in chain.rounds if r.closed][-1]


def test_a_chain_hidden_as_a_complement_is_hidden_in_every_report(world):
    """The review's reproduction: the all-chains report hid B as the complement of small A, and
    B's own report showed it, so the total minus C, D and B alone gave A. Suppression is now
    decided over every chain, whatever the report is filtered to."""
    a, b, c, d = world.chain("A klein"), world.chain("B"), world.chain("C"), world.chain("D")
    for chain, n in ((a, 6), (b, 7), (c, 9), (d, 14)):
        world.round(chain, weeks_ago(2), [A(texts=("vorige week", None, None))] * n)
    world.round(a, weeks_ago(1), [A((OP, OP, OP), (1, 1, 1), True, ("A zegt", None, None))] * 3, pending=3)
    world.round(b, weeks_ago(1), [A((V, V, V), (5, 5, 5), True, ("B zegt", None, None))] * 5, pending=2)
    world.round(c, weeks_ago(1), [A(texts=("C zegt", None, None))] * 9)
    world.round(d, weeks_ago(1), [A((P, V, V), (4, 4, 4))] * 14)

    def report(ids):
        return build_report(world.engine, chain_ids=ids, weeks=4, min_group=5, now=NOW, comments=True, seed=2)

    full = report(None)
    by_id = {ch.chain_id: ch for ch in full.chains}
    assert _latest(by_id[a]).hidden_reason == HIDDEN_TOO_FEW
    assert _latest(by_id[b]).hidden_reason == HIDDEN_COMPLEMENTARY
    assert _latest(by_id[b]).pulse_means == {"trust": None, "learning": None, "control": None}
    assert full.totals.hidden_chains == tuple(sorted([a, b]))
    # no comments from a round hidden as a complement; the older, shown round keeps its own
    assert sorted(by_id[b].comments) == ["vorige week"] * 7
    for chain in (a, b, c, d):  # each chain's own report hides exactly what the full one hides
        alone = report([chain])
        assert alone.chains[0].rounds == by_id[chain].rounds
        assert sorted(alone.chains[0].comments) == sorted(by_id[chain].comments)
    # the subtraction of the review: the full total minus what any report shows of C and D
    shown = {id_: _latest(ch) for id_, ch in by_id.items() if not _latest(ch).suppressed}
    assert set(shown) == {c, d}
    assert full.totals.setbacks - sum(r.setbacks for r in shown.values()) == 3 + 5  # A and B together
    assert full.totals.answered - sum(r.answered for r in shown.values()) == 8
    # a report over some chains shows its own total only when that gives nothing away
    assert report([b]).totals is None and report([b]).total_answered is None
    assert report([c]).totals.answered == 9 and report([c, d]).totals.setbacks == 0
    assert report([b, c]).totals is None  # (B and C) minus C would be B alone
    assert report([a, c]).totals is None
    both = report([a, b, c]).totals  # all hidden chains inside: minus C, A and B together again
    assert both.answered == 17 and both.setbacks == 8 and both.hidden_chains == tuple(sorted([a, b]))


def test_the_demo_every_chain_alone_hides_what_the_all_chains_report_hides(engine):
    """The reproduction on the demo history: there Onderwijsketen Midden (5 answers) is hidden
    as the complement of Schuldhulpketen Zuid (3) in the all-chains report."""
    fill_demo(engine, now=NOW)
    for weeks in (2, 12):
        full = build_report(engine, chain_ids=None, weeks=weeks, min_group=5, now=NOW, comments=True, seed=1)
        complements = [ch for ch in full.chains if _latest(ch).hidden_reason == HIDDEN_COMPLEMENTARY]
        assert complements  # what the demo is there to show
        for chain in full.chains:
            alone = build_report(
                engine, chain_ids=[chain.chain_id], weeks=weeks, min_group=5, now=NOW, comments=True, seed=1
            )
            assert alone.chains[0].rounds == chain.rounds
            assert sorted(alone.chains[0].comments or []) == sorted(chain.comments or [])
            hidden = _latest(chain).suppressed
            assert (alone.totals is None) == hidden and (alone.total_answered is None) == hidden


def test_a_round_that_closed_after_the_decision_was_read_is_hidden(world, monkeypatch):
    noord, zuid = world.chain("Noord"), world.chain("Zuid")
    older = world.round(noord, weeks_ago(2), [A()] * 6)
    newer = world.round(noord, weeks_ago(1), [A()] * 6)
    world.round(zuid, weeks_ago(1), [A()] * 9)
    read = query.latest_closed_counts

    def before_newer_closed(engine, **kw):  # as if ``newer`` closed between the two reads
        return [c if c.round_id != newer else replace(c, round_id=older) for c in read(engine, **kw)]

    monkeypatch.setattr(query, "latest_closed_counts", before_newer_closed)
    (chain,) = build_report(world.engine, chain_ids=[noord], weeks=4, min_group=5, now=NOW).chains
    assert [(r.round_id, r.hidden_reason) for r in chain.rounds] == [
        (older, None),
        (newer, HIDDEN_COMPLEMENTARY),
    ]
    assert chain.rounds[1].pulse_means is None


def test_the_total_is_hidden_when_only_small_chains_answered(world):
    a, b = world.chain("A"), world.chain("B")
    world.round(a, weeks_ago(1), [A()] * 2)
    world.round(b, weeks_ago(1), [A()] * 1, pending=6)
    report = build_report(world.engine, chain_ids=None, weeks=4, min_group=5, now=NOW)
    assert report.totals is None and report.total_answered is None and report.total_invited is None


def test_comments_only_from_rounds_with_enough_answers_and_without_user_ids(world):
    noord, zuid = world.chain("Noord"), world.chain("Zuid")
    texts = [("Goed overleg", None, "Eerder bellen"), (None, "Ruzie met <@U0PIET1234|piet>", None),
             ("Snel geregeld", None, None), (None, None, None), ("Data gedeeld", "Te laat", None)]
    world.round(noord, weeks_ago(1), [A(texts=t) for t in texts])
    world.round(noord, weeks_ago(2), [A(texts=("Vorige week klein", None, None))] * 4)  # too few
    world.round(zuid, weeks_ago(1), [A(texts=("Zuid klein", None, None))] * 3)
    # hidden with Zuid, so that Noord need not be hidden as its complement
    world.round(world.chain("Oost"), weeks_ago(1), [A(texts=("Oost klein", None, None))] * 4)
    report = build_report(world.engine, chain_ids=None, weeks=4, min_group=5, now=NOW, comments=True, seed=7)
    by_name = {c.chain_name: c for c in report.chains}
    noord_c = by_name["Noord"]
    expected = ["Goed overleg", "Eerder bellen", "Ruzie met @…", "Snel geregeld", "Data gedeeld", "Te laat"]
    assert sorted(noord_c.comments) == sorted(expected)
    assert noord_c.comments_by_kind["learned"] == ["Eerder bellen"]
    assert sorted(noord_c.comments_by_kind["went_well"]) == ["Data gedeeld", "Goed overleg", "Snel geregeld"]
    assert sorted(noord_c.comments_by_kind["went_wrong"]) == ["Ruzie met @…", "Te laat"]
    assert by_name["Zuid"].comments is None and "comments_too_few" in by_name["Zuid"].notes
    blob = repr(report)
    assert not any(user in blob for user in world.users) and "PIET" not in blob
    # the same seed gives the same order; without comments=True there are none
    again = build_report(world.engine, chain_ids=[noord], weeks=4, min_group=5, now=NOW, comments=True,
                         seed=7)
    assert again.chains[0].comments == noord_c.comments
    plain = build_report(world.engine, chain_ids=None, weeks=4, min_group=5, now=NOW)
    assert plain.chains[0].comments is None
    assert by_name["Oost"].comments is None


def test_mentions_and_member_ids_are_redacted_from_comments():
    assert redact("dank <@U0123ABCD> en <@W0123ABCD|jan>") == "dank @… en @…"
    assert redact("vraag U0123ABCD9 even") == "vraag @… even"
    assert redact("UWV en UNIVERSITEIT blijven") == "UWV en UNIVERSITEIT blijven"


def test_a_round_written_through_the_store_is_reported(engine):
    store = Checkins(engine, clock=lambda: NOW - timedelta(weeks=1))
    chain = store.register_chain("Jeugdketen Noord", "CKETEN001", "UMANAGER1")
    opened = NOW - timedelta(weeks=1)
    round_ = store.open_round(chain, opened_by="UMANAGER1", now=opened)
    people = [f"UMEMBER{i:02d}" for i in range(1, 8)]
    store.fix_participants(round_["id"], people, opened)
    for i, user in enumerate(people[:5]):
        stage = (OP, P, P, V, W)[i]
        response = CheckinResponse(
            {SF: stage, OM: P, ZI: W}, {"trust": 4, "learning": i + 1, "control": None}, i == 0,
            "Goed" if i < 2 else None, None, None,
        )
        store.save_response(round_["id"], user, response, opened + timedelta(hours=1))
    # an answer changed into a skip: the store clears every answer column, which the SQL relies on
    store.save_response(round_["id"], people[5], response, opened + timedelta(hours=1))
    store.save_response(round_["id"], people[5], None, opened + timedelta(hours=2))
    store.close_round(round_["id"], opened + timedelta(hours=96))
    report = build_report(engine, chain_ids=None, weeks=2, min_group=5, now=NOW, comments=True, seed=1)
    (r,) = report.chains[0].rounds
    assert (r.invited, r.answered, r.skipped, r.setbacks) == (7, 5, 1, 1)
    assert r.stage_shares[SF] == pytest.approx({OP: 0.2, P: 0.4, V: 0.2, W: 0.2})
    assert r.stage_estimate[SF] is None  # 4 knew
    assert r.stage_estimate[OM] == 2.0 and r.stage_estimate[ZI] is None
    assert r.pulse_means == {"trust": 4.0, "learning": 3.0, "control": None}
    assert report.chains[0].comments == ["Goed", "Goed"]
    summary = store.summary(round_["id"], 5)  # the channel summary counts the same
    assert summary.distribution[SF] == {k: round(v * 5) for k, v in r.stage_shares[SF].items()}


def test_who_sees_which_chains(world):
    mine, other = world.chain("Mine", manager="UMGR1"), world.chain("Other", manager="UMGR2")
    with world.engine.begin() as conn:
        conn.execute(insert(roles).values(user_id="UCOORD", role="coordinator", granted_by="UADMIN",
                                          granted_at=NOW))
    assert chains_visible_to(world.engine, "UCOORD") is None
    assert chains_visible_to(world.engine, "UMGR1") == [mine]
    assert chains_visible_to(world.engine, "UMGR2") == [other]
    assert chains_visible_to(world.engine, "USOMEONE") == []
