"""A person's data: the export holds all of it, the erasure leaves none of it, the retention
period purges what is old (once a day, whatever the number of workers). SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, String, Text, cast, create_engine, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from bot.answering.model import Answer, Source
from bot.checkins.model import CheckinResponse
from bot.checkins.store import COORDINATOR, MANAGER, Checkins
from bot.privacy.erase import erase, preview
from bot.privacy.export import collect, export_json
from bot.privacy.places import ERASED, KEYED, KINDS, PLACES
from bot.privacy.retention import BOOKKEEPING_MIN, purge, run_retention
from bot.records.outbox import Outbox
from bot.records.pending import PendingQuestions
from bot.records.schema import (
    absences,
    answers,
    chain_members,
    chains,
    deliveries,
    metadata,
    nudge_settings,
    nudges_sent,
    preferences,
    processed_events,
    report_views,
    roles,
    rounds,
)
from bot.records.store import Records

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2027, 3, 10, 10, 0, tzinfo=UTC)
USER, OTHER, ADMIN = "U0ERASEME1", "U0KEEPME02", "U0ADMIN003"
DM = "D0ERASE001"  # USER's DM with the bot
TEXT = "ERASEME-TEXT"  # in everything USER wrote
OTHER_TEXT = "KEEPME-TEXT"
RESPONSE = CheckinResponse(
    {"strategische_focus": "procedure", "operationeel_model": "opportunisme", "zichtbaarheid": "weet_niet"},
    {"trust": 4, "learning": 3, "control": 2},
    False,
    None,
    None,
    None,
)


def _answer(question: str, ai: str | None = None) -> Answer:
    source = Source("NORA", "Geduld", "https://example.org#Geduld", "CC BY-ND 3.0", "Een citaat.", 1.0)
    answer = Answer(question, "nl", True, "Dit zegt de handreiking.", [source])
    if ai:
        answer = replace(answer, ai_text=ai, ai_model="test-model", prompt_version="v1")
    return answer


def _response(text: str) -> CheckinResponse:
    return CheckinResponse(
        RESPONSE.stages, RESPONSE.pulse, True, f"goed {text}", f"fout {text}", f"les {text}"
    )


def seed(engine, outbox: Outbox | None = None) -> dict:
    """USER and OTHER in every table (USER also in shared rows: a chain, a role given, a member
    added, a round opened), and USER's and OTHER's entries in the outbox."""
    at = NOW - timedelta(days=3)
    records = Records(engine, clock=lambda: at)
    store = Checkins(engine, clock=lambda: at)
    ids: dict = {}
    # answers and feedback: a DM question (with an AI text), a slash command, OTHER's thread
    ids["dm"] = records.save_answer(
        _answer(f"Vraag in de DM {TEXT}", ai=f"AI-tekst {TEXT}"),
        user_id=USER,
        channel_id=DM,
        thread_ts="1.000100",
    )
    ids["slash"] = records.save_answer(
        _answer(f"Slash {TEXT}"), user_id=USER, channel_id="C0CHAIN0A", thread_ts=None
    )
    ids["thread"] = records.save_answer(
        _answer(f"Kanaal {TEXT}"), user_id=USER, channel_id="C0CHAIN0A", thread_ts="2.000200"
    )
    ids["other"] = records.save_answer(
        _answer(f"Andere {OTHER_TEXT}"), user_id=OTHER, channel_id="C0CHAIN0B", thread_ts="3.000300"
    )
    records.save_feedback(ids["dm"], USER, helpful=False, reason=f"reden {TEXT}")
    records.save_feedback(ids["other"], USER, helpful=True)
    records.save_feedback(ids["slash"], OTHER, helpful=False, reason=f"reden {OTHER_TEXT}")  # on USER's
    records.save_feedback(ids["other"], OTHER, helpful=True)
    for key in (
        f"msg:{DM}:1.000100",
        f"msg:{DM}:1.000199",
        "msg:C0CHAIN0A:2.000200",
        "msg:C0CHAIN0B:3.000300",
    ):
        records.claim_event(key)
    # a question claimed and not answered yet (a worker died): USER's in their DM, OTHER's
    pending = PendingQuestions(engine, clock=lambda: at)
    pending.claim(f"msg:{DM}:6.000600", channel_id=DM, thread_ts="6.000600", user_id=USER,
                  text=f"Nog open {TEXT}")
    pending.claim("msg:C0X:7.7", channel_id="C0X", thread_ts="7.7", user_id=OTHER, text=f"Open {OTHER_TEXT}")
    records.set_language(USER, "en")
    records.set_language(OTHER, "nl")
    # roles, chains, members
    store.grant(USER, MANAGER, by=ADMIN)
    store.grant(OTHER, MANAGER, by=ADMIN)
    store.grant(OTHER, COORDINATOR, by=USER)  # USER gave OTHER a role
    store.grant(USER, COORDINATOR, by=USER)  # and themselves one
    chain_a = store.register_chain("Keten A", "C0CHAIN0A", USER)
    chain_b = store.register_chain("Keten B", "C0CHAIN0B", OTHER)
    store.set_member(chain_a["id"], OTHER, True, by=USER)
    store.set_member(chain_b["id"], USER, True, by=OTHER)
    store.set_member(chain_a["id"], "U0THIRD003", False, by=USER)
    with engine.begin() as conn:
        for chain in (chain_a, chain_b):
            conn.execute(
                insert(nudge_settings).values(
                    chain_id=chain["id"], enabled=True, every_weeks=1, contextual_to="manager", next_at=NOW
                )
            )
        conn.execute(
            insert(nudges_sent).values(
                key=f"nudge-ctx:{chain_a['id']}:2027-W09",
                chain_id=chain_a["id"],
                tip_id="geduld",
                kind="contextual",
                sent_at=at,
            )
        )
    # rounds: one in A opened by USER (answered by both, closed), one in B by the plan (open)
    round_a = store.open_round(chain_a, opened_by=USER, now=at)
    store.fix_participants(round_a["id"], [USER, OTHER], at)
    store.mark(round_a["id"], USER, "invited_at", at)
    store.save_response(round_a["id"], USER, _response(TEXT), at)
    store.save_response(round_a["id"], OTHER, _response(OTHER_TEXT), at)
    store.close_round(round_a["id"], at + timedelta(hours=1))
    round_b = store.open_round(chain_b, opened_by="plan", now=at)
    store.fix_participants(round_b["id"], [USER, OTHER], at)
    for key in (
        f"invite:{round_a['id']}:{USER}",
        f"remind:{round_a['id']}:{USER}",
        f"invite:{round_a['id']}:{OTHER}",
        f"announce:{round_a['id']}",
    ):
        store.claim_delivery(key, at)
        store.delivered(key, "1.1", at)
    store.set_absence(USER, date(2027, 4, 1))
    store.set_absence(OTHER, date(2027, 4, 2))
    with engine.begin() as conn:
        for user in (USER, OTHER, USER):
            conn.execute(
                insert(report_views).values(
                    id=str(uuid.uuid4()), viewed_at=at, user_id=user, surface="slack", scope="all; 12 weeks"
                )
            )
    if outbox is not None:
        row = records.answer_row(
            _answer(f"Wachtend {TEXT}"), user_id=USER, channel_id=DM, thread_ts="4.000400"
        )
        outbox.add("answer", row)
        outbox.add("event", {"event_id": f"msg:{DM}:4.000400"})
        other_row = records.answer_row(
            _answer(f"Wachtend {OTHER_TEXT}"), user_id=OTHER, channel_id="C0X", thread_ts="5.5"
        )
        outbox.add("answer", other_row)
        outbox.add("event", {"event_id": "msg:C0X:5.5"})
    ids.update(chain_a=chain_a["id"], chain_b=chain_b["id"], round_a=round_a["id"], round_b=round_b["id"])
    return ids


def cells_holding(engine, needle: str) -> dict[str, int]:
    """Generic over the schema: every text or JSON cell of every table that contains ``needle``."""
    found: dict[str, int] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, String | Text | JSON):
                    continue
                n = conn.execute(
                    select(func.count()).select_from(table).where(cast(column, Text).like(f"%{needle}%"))
                ).scalar_one()
                if n:
                    found[f"{table.name}.{column.name}"] = n
    return found


def rows_of(engine, user: str) -> dict[str, list[dict]]:
    """Every row naming ``user`` in a user-id place, per kind, sorted."""
    out = {}
    with engine.connect() as conn:
        for place in PLACES:
            rows = conn.execute(select(place.table).where(place.column == user)).mappings().all()
            out[place.kind] = sorted(({k: str(v) for k, v in r.items()} for r in rows), key=json.dumps)
    return out


def after_erasure(kind: str, rows: list[dict], erased_answers: set[str]) -> list[dict]:
    """What others' rows should look like once USER is erased: USER's own rows gone (and others'
    feedback on USER's answers), USER's id replaced by ERASED in the rest."""
    place = next(p for p in PLACES if p.kind == kind)
    own = [p.column_name for p in PLACES if p.table is place.table and p.action == "delete"]
    kept = [
        {k: ERASED if v == USER else v for k, v in row.items()}
        for row in rows
        if not any(row[c] == USER for c in own) and row.get("answer_id") not in erased_answers
    ]
    return sorted(kept, key=json.dumps)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "data" / "outbox.jsonl")


# ----------------------------------------------------------------------------- the places


def test_every_user_id_column_of_the_schema_is_a_known_place():
    named = {
        f"{t.name}.{c.name}"
        for t in metadata.sorted_tables
        for c in t.columns
        if c.name.endswith(("user_id", "_by", "manager_id"))
    }
    assert named == {f"{p.table.name}.{p.column_name}" for p in PLACES}
    assert len(KINDS) == len(set(KINDS))


def test_the_seed_puts_the_user_only_in_known_places(engine, outbox):
    seed(engine, outbox)
    known = {f"{p.table.name}.{p.column_name}" for p in PLACES} | {
        f"{c.table.name}.{c.name}" for _, c in KEYED
    }
    holding = set(cells_holding(engine, USER))
    # every place really holds USER in this seed (so the erasure test below proves something) ...
    assert holding >= {f"{p.table.name}.{p.column_name}" for p in PLACES} | {"deliveries.key"}
    # ... and no column outside the list does
    assert holding <= known


# ----------------------------------------------------------------------------- export (art. 15)


def test_the_export_holds_every_row_of_the_person_and_nothing_of_others(engine, outbox):
    ids = seed(engine, outbox)
    data = collect(engine, USER, outbox=outbox, now=NOW)
    assert list(data)[:2] == ["readme", "about"] and set(data["readme"]) == {"nl", "en"}
    assert all(
        kind in data["readme"]["nl"] and kind in data["readme"]["en"] for kind in data["about"]["counts"]
    )
    expected = {kind: len(rows) for kind, rows in rows_of(engine, USER).items()}
    # invite+remind; DM x2 + thread + the pending DM question; answer+event
    expected.update(deliveries=2, message_receipts=4, outbox=2)
    assert data["about"]["counts"] == expected
    assert all(len(data[kind]) == n for kind, n in expected.items())
    assert {a["id"] for a in data["answers"]} == {ids["dm"], ids["slash"], ids["thread"]}
    assert any(a["ai_text"] == f"AI-tekst {TEXT}" for a in data["answers"])
    # the question shown with their feedback only when it was their own question
    assert {f["question"] for f in data["feedback"]} == {f"Vraag in de DM {TEXT}", None}
    assert any(f["reason"] == f"reden {TEXT}" for f in data["feedback"])
    (mine,) = data["checkin_answers"]
    assert mine["chain_name"] == "Keten A" and mine["went_well"] == f"goed {TEXT}" and mine["round_closed_at"]
    assert data["preferences"][0]["language"] == "en"
    assert {r["role"] for r in data["roles"]} == {MANAGER, COORDINATOR}
    assert [c["name"] for c in data["chains_managed"]] == ["Keten A"]
    assert data["chains_managed"][0]["tips_after_checkins"][0]["tip_id"] == "geduld"
    assert {d["what"] for d in data["deliveries"]} == {"invite", "remind"}
    assert data["deliveries"][0]["chain_name"] == "Keten A"
    assert {e["kind"] for e in data["outbox"]} == {"answer", "event"}
    text = export_json(engine, USER, outbox=outbox, now=NOW)
    assert json.loads(text)["about"]["counts"] == expected
    # nothing OTHER wrote or asked; OTHER's id only where it is part of USER's own record: a role
    # USER gave OTHER, a member USER added, and who added USER to chain B
    assert OTHER_TEXT not in text and "C0CHAIN0B" not in json.dumps(data["answers"])
    assert text.count(OTHER) == 3
    assert {r["given_to"] for r in data["roles_granted"]} == {OTHER, USER}  # USER also made themselves one
    assert {m["participant"] for m in data["member_changes"]} == {OTHER, "U0THIRD003"}
    assert data["chain_members"][0]["changed_by"] == OTHER


def test_an_unknown_person_gets_an_empty_export(engine):
    data = collect(engine, "U0NOBODY01", now=NOW)
    assert not any(data["about"]["counts"].values())


# ----------------------------------------------------------------------------- erasure (art. 17)


def test_erasure_leaves_nothing_of_the_person_anywhere_and_others_untouched(engine, outbox):
    ids = seed(engine, outbox)
    other_before = rows_of(engine, OTHER)
    other_cells = cells_holding(engine, OTHER_TEXT)
    expected = preview(engine, USER, outbox=outbox)

    result = erase(engine, USER, outbox=outbox)

    assert result.counts == expected and result.total > 20
    assert result.counts["answers"] == 3 and result.counts["feedback_on_your_answers"] == 1
    assert result.counts["outbox"] == 2 and result.counts["message_receipts"] == 4
    assert result.chains == ["Keten A"]
    for needle in (USER, DM, TEXT):
        assert cells_holding(engine, needle) == {}, needle
    assert all(USER not in e.line and DM not in e.line and TEXT not in e.line for e in outbox.entries())
    # others: all there, except their 👍/👎 on USER's erased answer; USER's id replaced where shared
    other_after = rows_of(engine, OTHER)
    mine = {ids["dm"], ids["slash"], ids["thread"]}
    assert other_after == {kind: after_erasure(kind, rows, mine) for kind, rows in other_before.items()}
    assert sum(map(len, other_after.values())) == sum(map(len, other_before.values())) - 2
    left = {k: v for k, v in other_cells.items() if k != "feedback.reason"}
    assert cells_holding(engine, OTHER_TEXT) == left and other_cells["feedback.reason"] == 1
    assert [e.row["user_id"] for e in outbox.entries() if e.kind == "answer"] == [OTHER]
    # shared rows keep going without the person
    with engine.connect() as conn:
        chain_a = conn.execute(select(chains).where(chains.c.id == ids["chain_a"])).mappings().one()
        assert chain_a["manager_id"] == ERASED
        to = dict(conn.execute(select(nudge_settings.c.chain_id, nudge_settings.c.contextual_to)).all())
        assert to == {ids["chain_a"]: "channel", ids["chain_b"]: "manager"}
        granted = conn.execute(
            select(roles.c.granted_by).where(roles.c.user_id == OTHER, roles.c.role == COORDINATOR)
        )
        assert granted.scalar_one() == ERASED
        assert (
            conn.execute(select(rounds.c.opened_by).where(rounds.c.id == ids["round_a"])).scalar_one()
            == ERASED
        )
        assert conn.execute(select(func.count()).select_from(nudges_sent)).scalar_one() == 1  # no ids: kept
    # and again: nothing left to erase
    again = erase(engine, USER, outbox=outbox)
    assert again.total == 0 and not again.chains


def test_erasure_with_the_database_down_changes_nothing(engine, outbox):
    seed(engine, outbox)
    before_rows, before_file = rows_of(engine, USER), outbox.path.read_text()
    down = create_engine("postgresql+psycopg://127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    with pytest.raises(SQLAlchemyError):
        erase(down, USER, outbox=outbox)
    assert rows_of(engine, USER) == before_rows and outbox.path.read_text() == before_file


def test_erasure_fails_as_a_whole_when_the_database_fails_half_way(engine, outbox, monkeypatch):
    seed(engine, outbox)
    before_rows, before_file = rows_of(engine, USER), outbox.path.read_text()
    import bot.privacy.erase as erasing

    def broken(conn, user_id):  # noqa: ANN001 - fails after the answers and more were deleted
        raise SQLAlchemyError("connection lost")

    monkeypatch.setattr(erasing, "delivery_keys", broken)
    with pytest.raises(SQLAlchemyError):
        erase(engine, USER, outbox=outbox)
    assert rows_of(engine, USER) == before_rows and outbox.path.read_text() == before_file


def test_a_bad_outbox_file_does_not_stop_the_erasure_and_is_reported(engine, tmp_path):
    seed(engine)
    folder = tmp_path / "not-a-folder"
    folder.write_text("a file where the outbox folder should be")
    result = erase(engine, USER, outbox=Outbox(folder / "outbox.jsonl"))
    assert result.outbox_failed and result.counts["answers"] == 3
    assert cells_holding(engine, USER) == {}


def test_erasure_needs_a_user_id(engine):
    for bad in ("", ERASED):
        with pytest.raises(ValueError):
            erase(engine, bad)


# ----------------------------------------------------------------------------- the outbox file


def test_outbox_removal_is_atomic_and_loses_nothing_added_meanwhile(tmp_path):
    path = tmp_path / "outbox.jsonl"
    writer, eraser = Outbox(path), Outbox(path)  # two handles: like two processes sharing DATA_DIR
    for n in range(50):
        writer.add("answer", {"id": f"mine-{n}", "user_id": USER})
    done = threading.Event()

    def add_others() -> None:
        for n in range(300):
            writer.add("answer", {"id": f"other-{n}", "user_id": OTHER, "created_at": NOW})
        done.set()

    thread = threading.Thread(target=add_others)
    thread.start()
    removed = 0
    while not done.is_set():
        removed += eraser.remove(lambda e: (e.row or {}).get("user_id") == USER)
    thread.join()
    removed += eraser.remove(lambda e: (e.row or {}).get("user_id") == USER)
    entries = Outbox(path).entries()
    assert removed == 50
    assert sorted(e.row["id"] for e in entries) == sorted(f"other-{n}" for n in range(300))
    assert entries[0].row["created_at"] == NOW  # datetimes survive the rewrite
    assert not list(tmp_path.glob("*.tmp"))


def test_outbox_removal_keeps_the_file_when_the_caller_fails(tmp_path):
    box = Outbox(tmp_path / "outbox.jsonl")
    box.add("answer", {"id": "a", "user_id": USER})
    before = box.path.read_text()

    def fail(_entries) -> None:  # noqa: ANN001
        raise SQLAlchemyError("down")

    with pytest.raises(SQLAlchemyError):
        box.remove(lambda e: True, while_locked=fail)
    assert box.path.read_text() == before


def test_a_damaged_outbox_line_with_the_user_id_goes_too(engine, outbox):
    outbox.add("answer", {"id": "x", "user_id": OTHER})
    with open(outbox.path, "a", encoding="utf-8") as f:
        f.write('{"kind": "answer", "row": {"user_id": "' + USER + '", "quest\n')
    assert erase(engine, USER, outbox=outbox).counts["outbox"] == 1
    assert [e.row["user_id"] for e in outbox.entries()] == [OTHER]


# ----------------------------------------------------------------------------- retention


def _age(engine, table, column, value, **where) -> None:
    with engine.begin() as conn:
        stmt = update(table).values({column: value})
        for key, v in where.items():
            stmt = stmt.where(table.c[key] == v)
        conn.execute(stmt)


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_purge_deletes_what_is_older_than_the_retention_period_per_table(engine, outbox):
    ids = seed(engine, outbox)
    old = NOW - timedelta(days=40)
    store = Checkins(engine)
    # old: DM answer (with its feedback), round A (closed 40 days ago), a report view, an event,
    # USER's absence, round A's sent deliveries, the nudge; and one outbox answer
    _age(engine, answers, "created_at", old, id=ids["dm"])
    _age(engine, rounds, "closed_at", old, id=ids["round_a"])
    _age(engine, rounds, "opened_at", old - timedelta(days=30), id=ids["round_b"])  # old but open: kept
    with engine.begin() as conn:
        first_view = conn.execute(select(report_views.c.id).limit(1)).scalar_one()
    _age(engine, report_views, "viewed_at", old, id=first_view)
    _age(engine, processed_events, "received_at", old, event_id=f"msg:{DM}:1.000100")
    _age(engine, absences, "until", date(2027, 1, 2), user_id=USER)
    for key in (f"invite:{ids['round_a']}:{USER}", f"remind:{ids['round_a']}:{USER}"):
        _age(engine, deliveries, "sent_at", old, key=key)
    _age(engine, nudges_sent, "sent_at", old)
    # claims never sent: abandoned 40 days ago (goes); released for the closed old round (goes);
    # released for the open round (kept: its retry must look in Slack first)
    store.claim_delivery("announce:gone-round", old)
    store.claim_delivery(f"summary:{ids['round_a']}", NOW)
    store.release_delivery(f"summary:{ids['round_a']}")
    store.claim_delivery(f"invite:{ids['round_b']}:{OTHER}", NOW)
    store.release_delivery(f"invite:{ids['round_b']}:{OTHER}")
    records = Records(engine, clock=lambda: old)
    outbox.add("answer", records.answer_row(_answer("oud"), user_id=OTHER, channel_id="C0X", thread_ts=None))
    before = {t.name: _count(engine, t) for t in metadata.sorted_tables}

    counts = purge(engine, retention_days=30, now=NOW, outbox=outbox, batch=2)

    assert counts == {
        "answers": 1,
        "feedback": 1,
        "rounds": 1,
        "participants": 2,
        "checkin_answers": 2,
        "report_views": 1,
        "processed_events": 1,
        "absences": 1,
        "pending_questions": 0,  # 3 days old: within the 8 days bookkeeping rows are kept
        "deliveries": 4,
        "nudges_sent": 1,
        "outbox": 1,
    }
    after = {t.name: _count(engine, t) for t in metadata.sorted_tables}
    assert {name: before[name] - after[name] for name in before if before[name] != after[name]} == {
        name: n for name, n in counts.items() if n and name != "outbox"
    }
    assert store.round(ids["round_b"]) is not None and len(store.participants(ids["round_b"])) == 2
    assert store.delivery(f"invite:{ids['round_b']}:{OTHER}") is not None
    assert store.delivery(f"invite:{ids['round_a']}:{OTHER}") is not None  # sent 3 days ago
    assert len(outbox.entries()) == 4
    with engine.connect() as conn:  # in use, never purged by age
        for table in (preferences, roles, chains, chain_members, nudge_settings):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() > 0
    assert purge(engine, retention_days=30, now=NOW, outbox=outbox) == dict.fromkeys(counts, 0)


def test_retention_zero_keeps_everything(engine, outbox):
    seed(engine, outbox)
    before = {t.name: _count(engine, t) for t in metadata.sorted_tables}
    assert not any(purge(engine, retention_days=0, now=NOW + timedelta(days=9999), outbox=outbox).values())
    assert run_retention(Checkins(engine), retention_days=0, now=NOW, zone=AMS) is None
    assert {t.name: _count(engine, t) for t in metadata.sorted_tables} == before


def test_bookkeeping_is_kept_at_least_eight_days_with_a_short_retention(engine):
    store = Checkins(engine)
    for days in (3, 10):
        key = f"nudge-ctx:c1:{days}"
        store.claim_delivery(key, NOW - timedelta(days=days))
        store.delivered(key, "1.1", NOW - timedelta(days=days))
    counts = purge(engine, retention_days=1, now=NOW)
    assert counts["deliveries"] == 1 and store.delivery("nudge-ctx:c1:3") is not None
    assert BOOKKEEPING_MIN == timedelta(days=8)


def test_many_old_answers_go_in_small_batches(engine):
    records = Records(engine, clock=lambda: NOW - timedelta(days=800))
    for n in range(23):
        answer_id = records.save_answer(_answer(f"v{n}"), user_id=USER, channel_id="C1", thread_ts=None)
        records.save_feedback(answer_id, OTHER, helpful=True)
    counts = purge(engine, retention_days=730, now=NOW, batch=5)
    assert counts["answers"] == 23 and counts["feedback"] == 23 and _count(engine, answers) == 0


def test_the_purge_runs_once_a_day_per_database_even_with_many_workers(engine):
    records = Records(engine, clock=lambda: NOW - timedelta(days=800))
    records.save_answer(_answer("oud"), user_id=USER, channel_id="C1", thread_ts=None)
    results: list = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        store = Checkins(engine)  # every worker its own store, one database
        barrier.wait()
        results.append(run_retention(store, retention_days=730, now=NOW, zone=AMS))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [r for r in results if r is not None]
    assert len(done) == 1 and done[0]["answers"] == 1 and len(results) == 6
    later_today = NOW + timedelta(hours=5)
    assert run_retention(Checkins(engine), retention_days=730, now=later_today, zone=AMS) is None
    tomorrow = NOW + timedelta(days=1)
    assert run_retention(Checkins(engine), retention_days=730, now=tomorrow, zone=AMS) is not None


def test_a_purge_that_crashed_is_taken_over_after_its_lease(engine, monkeypatch):
    import bot.privacy.retention as retention

    store = Checkins(engine)

    def crash(*args, **kwargs):  # noqa: ANN002, ANN003
        raise SQLAlchemyError("lost")

    real = retention.purge
    monkeypatch.setattr(retention, "purge", crash)
    with pytest.raises(SQLAlchemyError):
        run_retention(store, retention_days=30, now=NOW, zone=AMS)
    monkeypatch.setattr(retention, "purge", real)
    assert run_retention(store, retention_days=30, now=NOW + timedelta(minutes=10), zone=AMS) is None
    assert run_retention(store, retention_days=30, now=NOW + timedelta(hours=2), zone=AMS) is not None


def test_the_due_runner_purges_and_counts_it(engine, outbox):
    from bot.checkins.runner import DueRunner

    class Quiet:
        def human_members(self, channel_id: str) -> list[str]:
            return []

        def language(self, user_id: str) -> str:
            return "nl"

        def send(self, **message) -> str:  # noqa: ANN003
            return "1.1"

    records = Records(engine, clock=lambda: NOW - timedelta(days=800))
    records.save_answer(_answer("oud"), user_id=USER, channel_id="C1", thread_ts=None)
    outbox.add("answer", records.answer_row(_answer("oud"), user_id=USER, channel_id="C1", thread_ts=None))
    runner = DueRunner(Checkins(engine), Quiet(), zone=AMS, min_group=5, retention_days=730, outbox=outbox)
    report = runner.run(NOW)
    assert report.purged == 2 and report.failed == 0 and _count(engine, answers) == 0
    assert runner.run(NOW + timedelta(minutes=1)).purged == 0  # once a day
    off = DueRunner(Checkins(engine), Quiet(), zone=AMS, min_group=5)  # retention not given: off
    records.save_answer(_answer("oud"), user_id=USER, channel_id="C1", thread_ts=None)
    assert off.run(NOW + timedelta(days=2)).purged == 0 and _count(engine, answers) == 1


def test_a_failing_purge_does_not_stop_due_work(engine, monkeypatch):
    import bot.privacy.retention as retention
    from bot.checkins.due import run_due

    def crash(*args, **kwargs):  # noqa: ANN002, ANN003
        raise SQLAlchemyError("lost")

    monkeypatch.setattr(retention, "purge", crash)
    store = Checkins(engine)
    report = run_due(store, None, now=NOW, zone=AMS, min_group=5, retention_days=30)
    assert report.failed == 1 and report.errors == ["SQLAlchemyError"]
