"""Coaching nudges through the due-work runner: scheduled, contextual, capped, exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.checkins.due import run_due
from bot.checkins.service import CheckinService
from bot.checkins.store import Checkins
from bot.checkins.when import is_dutch_holiday, next_working_moment
from bot.nudges.advice import library
from bot.nudges.schedule import Nudges
from tests.test_checkins import ADMIN, AMS, CHANNEL, MANAGER, MONDAY, PEOPLE, ListMessenger, _response


@pytest.fixture
def world(engine):
    store = Checkins(engine)
    nudges = Nudges(engine)
    service = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=5, nudges=nudges)
    service.handle(ADMIN, CHANNEL, f"rol ketenmanager <@{MANAGER}|m>", "nl", MONDAY)
    service.handle(MANAGER, CHANNEL, "keten registreer Jeugdketen", "nl", MONDAY)
    reports = SimpleNamespace(engine=engine, min_group=5)
    return store, nudges, service, reports, ListMessenger(PEOPLE)


def _due(world, now, messenger=None):
    store, nudges, _, reports, default = world
    return run_due(
        store, messenger or default, now=now, zone=AMS, min_group=5, nudges=nudges, reports=reports
    )


def _tips_sent(messenger) -> list[str]:
    quotes = {t.quote: t.id for t in library()}
    found = []
    for message in messenger.sent:
        if message["key"].startswith("nudge:"):
            found += [tip_id for quote, tip_id in quotes.items() if quote in str(message["blocks"])]
    return found


def test_a_weekly_tip_in_the_channel_once_and_without_repeats_until_the_library_is_used(world):
    store, nudges, service, _, messenger = world
    _due(world, MONDAY)  # settings made: the first tip a week later
    assert _tips_sent(messenger) == []
    moment = MONDAY + timedelta(days=7)
    weeks = len(library())
    for week in range(weeks + 3):
        at = next_working_moment(moment + timedelta(weeks=week), AMS)
        _due(world, at)
        _due(world, at + timedelta(minutes=1))  # a second run in the same minute sends nothing
    sent = _tips_sent(messenger)
    assert len(sent) == weeks + 3
    assert len(set(sent[:weeks])) == weeks  # no repeats before the whole library was used
    assert all(m["channel_id"] == CHANNEL for m in messenger.sent if m["key"].startswith("nudge:"))


def test_no_tips_on_holidays_or_at_night_and_none_when_switched_off(world):
    store, nudges, service, _, messenger = world
    _due(world, MONDAY)
    chain = store.chain_by_channel(CHANNEL)
    kingsday = datetime(2027, 4, 27, 10, 0, tzinfo=AMS).astimezone(UTC)
    nudges.update(chain["id"], MONDAY, next_at=kingsday)
    assert is_dutch_holiday(kingsday.astimezone(AMS).date())
    _due(world, kingsday)
    _due(world, kingsday.replace(hour=21))
    assert _tips_sent(messenger) == []
    _due(world, datetime(2027, 4, 28, 8, 0, tzinfo=AMS).astimezone(UTC))
    assert len(_tips_sent(messenger)) == 1
    reply = service.handle(MANAGER, CHANNEL, "tips uit", "nl", MONDAY)
    assert "Geen geplande tips" in reply.text
    _due(world, datetime(2027, 5, 12, 10, 0, tzinfo=AMS).astimezone(UTC))
    assert len(_tips_sent(messenger)) == 1
    assert "elke 2 week" in service.handle(MANAGER, CHANNEL, "tips elke 2 weken", "nl", MONDAY).text
    assert "Gebruik" in service.handle(MANAGER, CHANNEL, "tips elke 99 weken", "nl", MONDAY).text
    assert "Dit kan alleen" in service.handle(PEOPLE[0], CHANNEL, "tips uit", "nl", MONDAY).text


def test_after_a_setback_the_manager_gets_one_patience_tip_by_dm_at_most_once_a_week(world):
    store, nudges, service, _, messenger = world
    for attempt in range(2):  # two rounds in one week: still one contextual nudge
        start = MONDAY + timedelta(hours=attempt)
        service.handle(MANAGER, CHANNEL, "checkin start", "nl", start)
        _due(world, start)
        round_ = store.open_round_of(store.chain_by_channel(CHANNEL)["id"])
        setback = _response()
        setback = type(setback)(setback.stages, setback.pulse, True, None, "Een overdracht liep mis", None)
        for person in PEOPLE[:6]:
            store.save_response(round_["id"], person, setback, start)
        service.handle(MANAGER, CHANNEL, "checkin sluit", "nl", start + timedelta(minutes=30))
        _due(world, start + timedelta(minutes=30))
        _due(world, start + timedelta(minutes=31))
    contextual = [m for m in messenger.sent if m["key"].startswith("nudge-ctx:")]
    assert len(contextual) == 1 and contextual[0]["user_id"] == MANAGER
    setback_quotes = [t.quote for t in library() if "setback" in t.signals]
    assert any(q in str(contextual[0]["blocks"]) for q in setback_quotes)
    assert not any(p in str(contextual[0]["blocks"]) for p in PEOPLE)


def test_two_schedulers_at_once_send_each_tip_once(world):
    store, nudges, service, reports, messenger = world
    _due(world, MONDAY)
    at = MONDAY + timedelta(days=7)
    barrier = threading.Barrier(2)

    def runner():
        barrier.wait()
        _due(world, at)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [m["key"] for m in messenger.sent if m["key"].startswith("nudge")]
    assert len(keys) == len(set(keys)) == 1
