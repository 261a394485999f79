"""Check-ins on SQLite and PostgreSQL: roles, chains, rounds, answers, and the due-work runner."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.checkins.due import run_due
from bot.checkins.model import CheckinResponse
from bot.checkins.service import CheckinService
from bot.checkins.store import CheckinError, Checkins
from bot.records.schema import checkin_answers

AMS = ZoneInfo("Europe/Amsterdam")
ADMIN, MANAGER, CHANNEL = "UADMIN1", "UMANAGER1", "CKETEN001"
PEOPLE = [f"UMEMBER{i:02d}" for i in range(1, 8)]
MONDAY = datetime(2027, 1, 11, 10, 0, tzinfo=AMS).astimezone(UTC)  # an ordinary working Monday


class ListMessenger:
    """Records what due work sends; the channel's members are given."""

    def __init__(self, members: list[str]):
        self.members = list(members)
        self.sent: list[dict] = []
        self._lock = threading.Lock()

    def human_members(self, channel_id: str) -> list[str]:
        return list(self.members)

    def language(self, user_id: str) -> str:
        return "en" if user_id.endswith("07") else "nl"

    def send(self, **message) -> str:
        with self._lock:
            self.sent.append(message)
            return f"1800000000.{len(self.sent):06d}"

    def keys(self, prefix: str) -> list[str]:
        return [m["key"] for m in self.sent if m["key"].startswith(prefix)]


def _response(stage: str = "procedure", trust: int | None = 4) -> CheckinResponse:
    stages = {"strategische_focus": stage, "operationeel_model": stage, "zichtbaarheid": "weet_niet"}
    return CheckinResponse(
        stages, {"trust": trust, "learning": 3, "control": 2}, False, "Goed overleg", None, None
    )


@pytest.fixture
def world(engine):
    store = Checkins(engine)
    service = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=5)
    assert (
        "ketenmanager"
        in service.handle(ADMIN, CHANNEL, f"rol ketenmanager <@{MANAGER}|mgr>", "nl", MONDAY).text
    )
    reply = service.handle(MANAGER, CHANNEL, "keten registreer Jeugdketen Noord", "nl", MONDAY)
    assert "Jeugdketen Noord" in reply.text
    return store, service, ListMessenger(PEOPLE)


def _due(store, messenger, now):
    return run_due(store, messenger, now=now, zone=AMS, min_group=5)


def test_a_round_invites_every_member_once_and_announces_in_the_channel(world):
    store, service, messenger = world
    reply = service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    assert reply.run_due and "geopend" in reply.text and "nu" in reply.text
    report = _due(store, messenger, MONDAY)
    assert (report.announced, report.invited, report.failed) == (1, len(PEOPLE), 0)
    assert sorted(m["user_id"] for m in messenger.sent if m.get("user_id")) == PEOPLE
    assert [m["channel_id"] for m in messenger.sent if m.get("channel_id")] == [CHANNEL]
    again = _due(store, messenger, MONDAY + timedelta(minutes=1))
    assert (again.announced, again.invited) == (0, 0)
    assert len(messenger.sent) == len(PEOPLE) + 1
    english = next(m for m in messenger.sent if m.get("user_id") == "UMEMBER07")
    assert "check-in" in english["text"].lower()


def test_a_second_start_while_a_round_is_open_is_refused_politely(world):
    store, service, _ = world
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    reply = service.handle(MANAGER, CHANNEL, "checkin start", "en", MONDAY)
    assert "already open" in reply.text and not reply.run_due


def test_answers_are_one_row_per_person_changeable_until_closing(world, engine):
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    _due(store, messenger, MONDAY)
    round_ = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])
    store.save_response(round_["id"], PEOPLE[0], _response("opportunisme"), MONDAY)
    store.save_response(round_["id"], PEOPLE[0], _response("verankering"), MONDAY + timedelta(hours=1))
    skipped, given = store.response_of(round_["id"], PEOPLE[0])
    assert not skipped and given.stages["strategische_focus"] == "verankering"
    store.save_response(round_["id"], PEOPLE[1], None, MONDAY)  # "sla deze week over"
    assert store.response_of(round_["id"], PEOPLE[1]) == (True, None)
    with pytest.raises(CheckinError) as outsider:
        store.save_response(round_["id"], "UOUTSIDER", _response(), MONDAY)
    assert outsider.value.code == "not_participant"
    status = store.status(round_["id"])
    assert (status.invited, status.answered, status.skipped, status.pending) == (7, 1, 1, 5)

    reply = service.handle(MANAGER, CHANNEL, "checkin sluit", "nl", MONDAY + timedelta(hours=2))
    assert reply.run_due
    _due(store, messenger, MONDAY + timedelta(hours=2))
    with pytest.raises(CheckinError) as late:
        store.save_response(round_["id"], PEOPLE[2], _response(), MONDAY + timedelta(hours=3))
    assert late.value.code == "closed"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(checkin_answers)).scalar_one() == 2


def test_one_reminder_for_those_who_did_not_answer_and_none_for_the_absent(world):
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin herinnering 24", "nl", MONDAY)
    assert "24" in service.handle(MANAGER, CHANNEL, "checkin duur 72", "nl", MONDAY).text
    service.handle(PEOPLE[3], CHANNEL, "afwezig tot 20 januari 2027", "nl", MONDAY)
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    _due(store, messenger, MONDAY)
    assert PEOPLE[3] not in [m.get("user_id") for m in messenger.sent]  # absent: no invitation
    round_ = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])
    store.save_response(round_["id"], PEOPLE[0], _response(), MONDAY)
    store.save_response(round_["id"], PEOPLE[1], None, MONDAY)
    assert _due(store, messenger, MONDAY + timedelta(hours=23)).reminded == 0
    report = _due(store, messenger, MONDAY + timedelta(hours=24))
    reminded = sorted(k.rsplit(":", 1)[1] for k in messenger.keys("remind:"))
    assert reminded == sorted(set(PEOPLE) - {PEOPLE[0], PEOPLE[1], PEOPLE[3]}) and report.reminded == 4
    assert _due(store, messenger, MONDAY + timedelta(hours=30)).reminded == 0


def test_no_dms_on_a_dutch_public_holiday_they_wait_for_the_next_working_morning(world):
    store, service, messenger = world
    kingsday = datetime(2027, 4, 27, 10, 0, tzinfo=AMS).astimezone(UTC)
    reply = service.handle(MANAGER, CHANNEL, "checkin start", "nl", kingsday)
    assert "woensdag 28 april" in reply.text  # the manager is told when the DMs go out
    report = _due(store, messenger, kingsday)
    assert report.invited == 0 and report.deferred == len(PEOPLE) and report.announced == 0
    assert messenger.sent == []  # not even the channel announcement on a holiday
    next_morning = datetime(2027, 4, 28, 8, 0, tzinfo=AMS).astimezone(UTC)
    morning = _due(store, messenger, next_morning)
    assert (morning.invited, morning.announced) == (len(PEOPLE), 1)


def test_closing_posts_a_summary_in_the_announcement_thread_hiding_small_groups(world):
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    _due(store, messenger, MONDAY)
    round_ = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])
    for person in PEOPLE[:4]:
        store.save_response(round_["id"], person, _response(), MONDAY)
    service.handle(MANAGER, CHANNEL, "checkin sluit", "nl", MONDAY + timedelta(hours=1))
    report = _due(store, messenger, MONDAY + timedelta(hours=1))
    assert (report.closed, report.summaries) == (1, 1)
    summary = messenger.sent[-1]
    assert (
        summary["channel_id"] == CHANNEL and summary["thread_ts"] == store.round(round_["id"])["announce_ts"]
    )
    shown = str(summary["blocks"])
    assert "te weinig antwoorden" in shown and "%" not in shown
    assert not any(p in shown for p in PEOPLE)
    assert _due(store, messenger, MONDAY + timedelta(hours=2)).summaries == 0


def test_the_distribution_is_shown_from_the_minimum_group_size(world):
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    _due(store, messenger, MONDAY)
    round_ = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])
    for person, stage in zip(PEOPLE[:5], ["procedure"] * 3 + ["opportunisme", "verankering"], strict=True):
        store.save_response(round_["id"], person, _response(stage), MONDAY)
    store.save_response(round_["id"], PEOPLE[5], None, MONDAY)
    summary = store.summary(round_["id"], min_group=5)
    assert (summary.invited, summary.answered, summary.skipped) == (7, 5, 1)
    assert summary.distribution["strategische_focus"] == {
        "opportunisme": 1,
        "procedure": 3,
        "verankering": 1,
        "weet_niet": 0,
    }
    assert summary.distribution["zichtbaarheid"]["weet_niet"] == 5
    assert store.summary(round_["id"], min_group=6).distribution is None


def test_a_plan_opens_rounds_on_time_once_and_the_next_one_ends_the_last(world):
    store, service, messenger = world
    reply = service.handle(MANAGER, CHANNEL, "checkin plan maandag 9:00", "nl", MONDAY)
    assert "maandag 18 januari" in reply.text
    next_monday = datetime(2027, 1, 18, 9, 0, tzinfo=AMS).astimezone(UTC)
    assert _due(store, messenger, next_monday - timedelta(minutes=1)).opened == 0
    assert _due(store, messenger, next_monday).opened == 1
    assert _due(store, messenger, next_monday + timedelta(minutes=1)).opened == 0
    chain = store.chain_by_channel(CHANNEL)
    first = store.open_round_of(chain["id"])
    store.set_timing(chain["id"], open_hours=24 * 10)  # long enough to still be open a week later
    week_later = next_monday + timedelta(days=7)
    report = _due(store, messenger, week_later)
    assert report.opened == 1 and report.closed == 1
    assert store.round(first["id"])["closed_at"] is not None
    assert store.open_round_of(chain["id"])["id"] != first["id"]


def test_a_scheduler_down_for_weeks_opens_only_the_latest_planned_round(world):
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin plan maandag 9:00", "nl", MONDAY)
    much_later = datetime(2027, 3, 1, 9, 30, tzinfo=AMS).astimezone(UTC)
    assert _due(store, messenger, much_later).opened == 1
    assert _due(store, messenger, much_later + timedelta(minutes=1)).opened == 0


def test_two_runners_at_once_send_everything_exactly_once(world):
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def runner():
        try:
            barrier.wait()
            _due(store, messenger, MONDAY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    keys = [m["key"] for m in messenger.sent]
    assert len(keys) == len(set(keys)) == len(PEOPLE) + 1


def test_a_runner_that_crashed_after_claiming_is_taken_over_after_its_lease(world):
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    _due(store, messenger, MONDAY)  # everyone invited; now pretend the reminder sender crashed
    round_ = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])
    remind_at = round_["remind_at"]
    key = f"remind:{round_['id']}:{PEOPLE[0]}"
    assert store.claim_delivery(key, remind_at) == "new"  # claimed, never sent, never marked
    first = _due(store, messenger, remind_at)
    assert key not in messenger.keys("remind:") and first.reminded == len(PEOPLE) - 1
    later = _due(store, messenger, remind_at + timedelta(minutes=6))
    taken = [m for m in messenger.sent if m["key"] == key]
    assert later.reminded == 1 and len(taken) == 1 and taken[0]["check_first"] is True


@pytest.mark.parametrize("times", [4])
def test_the_same_answer_submitted_concurrently_is_stored_once(world, engine, times):
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    _due(store, messenger, MONDAY)
    round_ = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])
    for person in PEOPLE:
        barrier = threading.Barrier(times)
        failures: list[BaseException] = []

        def submit(person=person, barrier=barrier, failures=failures):
            try:
                barrier.wait()
                store.save_response(round_["id"], person, _response(), MONDAY)
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        threads = [threading.Thread(target=submit) for _ in range(times)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(checkin_answers)).scalar_one() == len(PEOPLE)


@pytest.mark.parametrize(
    ("who", "command", "expected"),
    [
        (MANAGER, "rol coordinator <@UX1|x>", "Alleen beheerders"),
        (ADMIN, "rol koning <@UX1|x>", "Gebruik: `/keten rol"),
        (PEOPLE[0], "keten registreer Andere keten", "Dit kan alleen een ketenmanager"),
        (PEOPLE[0], "checkin start", "Dit kan alleen de ketenmanager van *Jeugdketen Noord*"),
        (MANAGER, "checkin plan maandag 25:00", "25:00"),
        (MANAGER, "checkin plan", "maandag 9:00"),
        (MANAGER, "checkin herinnering veel", "uur"),
        (MANAGER, "checkin vliegen", "Dat commando ken ik niet"),
        (PEOPLE[0], "afwezig tot 31 februari", "31"),
        (PEOPLE[0], "afwezig", "Gebruik: `/keten afwezig tot"),
    ],
)
def test_bad_commands_get_a_clear_polite_answer_and_change_nothing(world, who, command, expected):
    store, service, _ = world
    reply = service.handle(who, CHANNEL, command, "nl", MONDAY)
    assert expected in reply.text and not reply.run_due
    assert store.open_round_of(store.chain_by_channel(CHANNEL)["id"]) is None


def test_check_ins_in_an_unregistered_channel_say_how_to_register(world):
    _, service, _ = world
    reply = service.handle(MANAGER, "COTHER001", "checkin start", "en", MONDAY)
    assert "/keten chain register" in reply.text


def test_a_registered_channel_cannot_be_registered_twice_and_dms_cannot_be_chains(world):
    _, service, _ = world
    assert "al het kanaal" in service.handle(MANAGER, CHANNEL, "keten registreer Nog een", "nl", MONDAY).text
    assert "niet in een DM" in service.handle(MANAGER, "D0123", "keten registreer X", "nl", MONDAY).text


def test_members_follow_the_channel_unless_the_manager_adds_or_removes_people(world):
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, f"keten haal-weg <@{PEOPLE[0]}|a>", "nl", MONDAY)
    service.handle(MANAGER, CHANNEL, "keten voeg-toe <@UGUEST01|g>", "nl", MONDAY)
    assert "<@UGUEST01>" in service.handle(MANAGER, CHANNEL, "keten deelnemers", "nl", MONDAY).text
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    _due(store, messenger, MONDAY)
    invited = {m["user_id"] for m in messenger.sent if m.get("user_id")}
    assert invited == (set(PEOPLE) - {PEOPLE[0]}) | {"UGUEST01"}


def test_a_runner_never_closes_the_planned_round_another_runner_just_opened(world):
    """Found by bench/due_race.py: runner A opened the planned round but had not yet moved the
    plan on when runner B looked; B took A's new round for last week's and closed it."""
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin plan maandag 9:00", "nl", MONDAY)
    chain = store.chain_by_channel(CHANNEL)
    slot = chain["next_open_at"]
    opened = store.open_round(chain, opened_by="plan", now=slot, slot=f"plan:{slot.isoformat()}")
    assert opened is not None  # A's first step; A's advance_plan has not happened yet
    report = _due(store, messenger, slot)  # B, at the same moment
    assert report.closed == 0 and report.summaries == 0
    assert store.round(opened["id"])["closed_at"] is None
    assert report.invited == len(PEOPLE)  # B simply carries on with A's round


def test_an_answer_cannot_slip_in_after_the_round_closed(world, engine):
    """Found by bench/due_race.py's author: on SQLite the round was read as open, a close
    committed, and the answer was inserted after it. A close started between the read and the
    write must now wait for the answer's transaction (or the answer sees the close)."""
    store, service, messenger = world
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    _due(store, messenger, MONDAY)
    round_ = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])
    from sqlalchemy import event

    done: dict[str, float] = {}
    closer: list[threading.Thread] = []

    def close() -> None:
        store.close_round(round_["id"], MONDAY)
        done["close"] = time.monotonic()

    def close_in_between(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO CHECKIN_ANSWERS") and not closer:
            closer.append(threading.Thread(target=close))
            closer[0].start()
            time.sleep(0.5)  # time enough for the close to commit, if nothing holds it back

    event.listen(engine, "before_cursor_execute", close_in_between)
    try:
        store.save_response(round_["id"], PEOPLE[0], _response(), MONDAY)
        done["answer"] = time.monotonic()
    except CheckinError as exc:
        assert exc.code == "closed"
    finally:
        event.remove(engine, "before_cursor_execute", close_in_between)
    closer[0].join(timeout=30)
    assert store.round(round_["id"])["closed_at"] is not None
    if store.response_of(round_["id"], PEOPLE[0]) is not None:  # stored: it must precede the close
        assert done["answer"] <= done["close"]


def test_a_manager_whose_role_was_taken_can_no_longer_run_the_chain(world):
    store, service, _ = world
    service.handle(ADMIN, CHANNEL, f"rol weg ketenmanager <@{MANAGER}|m>", "nl", MONDAY)
    reply = service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    assert "Dit kan alleen de ketenmanager" in reply.text and not reply.run_due
    assert (
        "Dit kan alleen"
        in service.handle(MANAGER, CHANNEL, f"keten voeg-toe <@{PEOPLE[0]}|x>", "nl", MONDAY).text
    )
    # an administrator hands the chain to someone else, who gets the role with it
    assert "UNEWMGR01" in service.handle(ADMIN, CHANNEL, "keten beheerder <@UNEWMGR01|n>", "nl", MONDAY).text
    assert service.handle("UNEWMGR01", CHANNEL, "checkin start", "nl", MONDAY).run_due


def test_an_invitation_held_back_is_not_followed_by_the_reminder_at_once(world):
    store, service, messenger = world
    friday_evening = datetime(2027, 1, 15, 18, 30, tzinfo=AMS).astimezone(UTC)
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", friday_evening)  # reminder due Sunday 18:30
    monday = datetime(2027, 1, 18, 8, 0, tzinfo=AMS).astimezone(UTC)
    report = _due(store, messenger, monday)
    assert report.invited == len(PEOPLE) and report.reminded == 0
    assert _due(store, messenger, monday + timedelta(hours=47)).reminded == 0
    assert _due(store, messenger, monday + timedelta(hours=48)).reminded == len(PEOPLE)


def test_a_round_closed_before_anyone_was_invited_posts_no_summary(world):
    store, service, messenger = world
    friday_evening = datetime(2027, 1, 15, 18, 30, tzinfo=AMS).astimezone(UTC)
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", friday_evening)
    service.handle(MANAGER, CHANNEL, "checkin sluit", "nl", friday_evening + timedelta(hours=20))
    report = _due(store, messenger, friday_evening + timedelta(hours=20))
    assert report.closed == 1 and report.summaries == 0 and messenger.sent == []
    assert _due(store, messenger, friday_evening + timedelta(hours=21)).summaries == 0


def test_a_send_that_failed_is_retried_next_run_looking_for_it_first(world):
    """A failed send may still have reached Slack: the retry checks before posting again."""
    store, service, messenger = world

    class FlakyOnce(ListMessenger):
        failed = False

        def send(self, **message):
            if message["key"].startswith("invite:") and not self.failed:
                self.failed = True
                raise OSError("connection reset")
            return super().send(**message)

    flaky = FlakyOnce(PEOPLE)
    service.handle(MANAGER, CHANNEL, "checkin start", "nl", MONDAY)
    first = _due(store, flaky, MONDAY)
    assert first.failed == 1 and first.invited == len(PEOPLE) - 1
    second = _due(store, flaky, MONDAY + timedelta(minutes=1))
    retried = [m for m in flaky.sent if m["key"].startswith("invite:") and m["check_first"]]
    assert second.invited == 1 and len(retried) == 1
