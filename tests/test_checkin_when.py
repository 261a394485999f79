"""bot.checkins.when: parsing what people type for check-ins, and computing the next moment."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.checkins.when import (
    MAX_HOURS,
    WEEKDAYS,
    Weekly,
    WhenError,
    describe_weekly,
    dutch_public_holidays,
    format_date,
    format_moment,
    is_dutch_holiday,
    next_weekly,
    next_working_moment,
    parse_date,
    parse_hours,
    parse_weekly,
)

AMS = ZoneInfo("Europe/Amsterdam")
FRIDAY = date(2026, 11, 27)  # "today" for date parsing: a Friday


def ams(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=AMS, fold=fold)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def assert_polite_error(err: WhenError) -> None:
    """Both languages present, different, plain sentences, with an example or a concrete fix."""
    assert isinstance(err, ValueError)
    assert err.nl and err.en and err.nl != err.en
    for text in (err.nl, err.en):
        assert text.endswith((".", "?")), text
        assert "Traceback" not in text and "\n" not in text
    assert str(err) == err.en
    assert err.message("nl") == err.nl and err.message("nl-NL") == err.nl
    assert err.message("en") == err.en and err.message("en-GB") == err.en


# --------------------------------------------------------------------------- WEEKDAYS


@pytest.mark.parametrize(
    ("name", "weekday"),
    [
        ("maandag", 0), ("ma", 0), ("Monday", 0), ("MON", 0), ("ma.", 0), ("Mon.", 0),
        ("dinsdag", 1), ("di", 1), ("tuesday", 1), ("Tue", 1), ("dínsdag", 1), ("Di.", 1),
        ("woensdag", 2), ("wo", 2), ("wednesday", 2), ("wed", 2), ("WOENSDAG", 2),
        ("donderdag", 3), ("do", 3), ("thursday", 3), ("thu", 3), ("Dönderdag", 3),
        ("vrijdag", 4), ("vr", 4), ("friday", 4), ("fri.", 4),
        ("zaterdag", 5), ("za", 5), ("saturday", 5), ("sat", 5),
        ("zondag", 6), ("zo", 6), ("sunday", 6), ("Sun", 6), (" zo. ", 6),
    ],
)  # fmt: skip
def test_weekdays_accepts_dutch_and_english_names(name: str, weekday: int) -> None:
    assert WEEKDAYS[name] == weekday
    assert name in WEEKDAYS


def test_weekdays_mapping_shape() -> None:
    assert set(WEEKDAYS.values()) == set(range(7))
    assert "maandag" in list(WEEKDAYS) and "sunday" in list(WEEKDAYS)
    assert len(WEEKDAYS) == len(list(WEEKDAYS))
    assert "maandg" not in WEEKDAYS
    assert 3 not in WEEKDAYS
    with pytest.raises(KeyError):
        WEEKDAYS["someday"]


# --------------------------------------------------------------------------- parse_weekly


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("maandag 9:00", Weekly(0, time(9, 0), 1)),
        ("ma 09.00", Weekly(0, time(9, 0), 1)),
        ("Maandag 09:00", Weekly(0, time(9, 0), 1)),
        ("dinsdag 14:30 elke 2 weken", Weekly(1, time(14, 30), 2)),
        ("tuesday 2:30pm every 2 weeks", Weekly(1, time(14, 30), 2)),
        ("tuesday 2:30 pm every 2 weeks", Weekly(1, time(14, 30), 2)),
        ("tue 2.30 p.m. every two weeks", Weekly(1, time(14, 30), 2)),
        ("vrijdag 16u", Weekly(4, time(16, 0), 1)),
        ("vr 16 uur", Weekly(4, time(16, 0), 1)),
        ("wo 9 uur om de week", Weekly(2, time(9, 0), 2)),
        ("wo 9 uur om de andere week", Weekly(2, time(9, 0), 2)),
        ("om de 3 weken op donderdag om 10:15", Weekly(3, time(10, 15), 3)),
        ("donderdag 10:15 iedere drie weken", Weekly(3, time(10, 15), 3)),
        ("elke maandag om 9:00", Weekly(0, time(9, 0), 1)),
        ("elke week op vrijdag 12:00", Weekly(4, time(12, 0), 1)),
        ("wekelijks vr 12:00", Weekly(4, time(12, 0), 1)),
        ("tweewekelijks do 10:00", Weekly(3, time(10, 0), 2)),
        ("elke 2e week op do 10:00", Weekly(3, time(10, 0), 2)),
        ("elke tweede week op do 10:00", Weekly(3, time(10, 0), 2)),
        ("ma 9:00 elke 8 weken", Weekly(0, time(9, 0), 8)),
        ("ma 9:00 elke 1 week", Weekly(0, time(9, 0), 1)),
        ("every monday at 9am", Weekly(0, time(9, 0), 1)),
        ("every other tuesday at 2 pm", Weekly(1, time(14, 0), 2)),
        ("biweekly mon 9", Weekly(0, time(9, 0), 2)),
        ("fortnightly fri 15:45", Weekly(4, time(15, 45), 2)),
        ("every 2nd week on fri at 12am", Weekly(4, time(0, 0), 2)),
        ("weekly on wed at 12pm", Weekly(2, time(12, 0), 1)),
        ("sunday 23:59 every 4 weeks", Weekly(6, time(23, 59), 4)),
        ("zo 14h30", Weekly(6, time(14, 30), 1)),
        ("di 9u30", Weekly(1, time(9, 30), 1)),
        ("za 0:00", Weekly(5, time(0, 0), 1)),
        ("  *Dí.*   8:05  ", Weekly(1, time(8, 5), 1)),
        ("9:00 maandag", Weekly(0, time(9, 0), 1)),
    ],
)
def test_parse_weekly_forms(text: str, expected: Weekly) -> None:
    assert parse_weekly(text) == expected


@pytest.mark.parametrize(
    ("text", "nl_part", "en_part"),
    [
        ("maandag 25:00", "'25:00' is geen geldige tijd", "'25:00' is not a valid time"),
        ("ma 9:61", "'9:61' is geen geldige tijd", "'9:61' is not a valid time"),
        ("ma 24:00", "geen geldige tijd", "not a valid time"),
        ("ma 13pm", "'13pm' is geen geldige tijd", "'13pm' is not a valid time"),
        ("ma 9:5", "geen geldige tijd", "not a valid time"),
        ("9:00", "ik mis de dag", "day of the week is missing"),
        ("elke 2 weken 9:00", "ik mis de dag", "day of the week is missing"),
        ("maandag", "ik mis de tijd", "time is missing"),
        ("", "Geef een dag en een tijd", "give a day and a time"),
        ("   ", "Geef een dag en een tijd", "give a day and a time"),
        ("ma 9:00 elke 9 weken", "elke 9 weken kan niet", "every 9 weeks won't work"),
        ("ma 9:00 elke 0 weken", "elke 0 weken kan niet", "every 0 weeks won't work"),
        ("ma 9:00 every 12 weeks", "elke 12 weken kan niet", "every 12 weeks won't work"),
        ("ma 9:00 elke tien weken", "elke 10 weken kan niet", "every 10 weeks won't work"),
        ("elke dag 9:00", "elke week tot elke 8 weken", "every week up to every 8 weeks"),
        ("ma 9:00 elke maand", "elke week tot elke 8 weken", "every week up to every 8 weeks"),
        ("maandg 9:00", "Bedoelde je 'maandag'?", "Did you mean 'maandag'?"),
        ("wednsday 9:00", "Bedoelde je 'wednesday'?", "Did you mean 'wednesday'?"),
        ("ma half tien", "het woord 'half'", "the word 'half'"),
        ("ma 9:00 graag", "het woord 'graag'", "the word 'graag'"),
        ("ma en do 9:00", "één dag per week", "one day of the week"),
        ("ma 9:00 10:00", "meer dan één tijd", "more than one time"),
        ("ma 9:00 elke week om de 2 weken", "meer dan één herhaling", "more than one repetition"),
        ("ma 9:00 " + "x" * 300, "te lang", "too long"),
    ],
)
def test_parse_weekly_errors(text: str, nl_part: str, en_part: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_weekly(text)
    err = caught.value
    assert_polite_error(err)
    assert nl_part in err.nl
    assert en_part in err.en
    assert "bijvoorbeeld" in err.nl and "for example" in err.en


def test_weekly_is_frozen_and_validated() -> None:
    rule = Weekly(0, time(9, 0))
    assert rule.every_weeks == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.weekday = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        Weekly(7, time(9, 0))
    with pytest.raises(ValueError):
        Weekly(0, time(9, 0), 9)
    with pytest.raises(ValueError):
        Weekly(0, time(9, 0), 0)
    with pytest.raises(ValueError):
        Weekly(0, time(9, 0, tzinfo=UTC))


def test_describe_weekly() -> None:
    assert describe_weekly(Weekly(0, time(9, 0)), "nl") == "elke maandag om 09:00"
    assert describe_weekly(Weekly(0, time(9, 0)), "en") == "every Monday at 09:00"
    assert describe_weekly(Weekly(1, time(14, 30), 2), "nl") == "om de 2 weken op dinsdag om 14:30"
    assert describe_weekly(Weekly(1, time(14, 30), 2), "en-US") == "every 2 weeks on Tuesday at 14:30"


# --------------------------------------------------------------------------- next_weekly

MONDAY_9 = Weekly(0, time(9, 0))


def test_next_weekly_basic_and_strictly_after() -> None:
    # Tuesday -> the Monday after
    assert next_weekly(MONDAY_9, ams(2026, 11, 24, 12, 0), AMS) == utc(2026, 11, 30, 8, 0)
    # Monday before 09:00 -> the same day
    assert next_weekly(MONDAY_9, ams(2026, 11, 30, 8, 59), AMS) == utc(2026, 11, 30, 8, 0)
    # exactly at 09:00 is not "after": next week
    assert next_weekly(MONDAY_9, ams(2026, 11, 30, 9, 0), AMS) == utc(2026, 12, 7, 8, 0)
    # a second later as well
    assert next_weekly(MONDAY_9, ams(2026, 11, 30, 9, 0, 1), AMS) == utc(2026, 12, 7, 8, 0)
    result = next_weekly(MONDAY_9, utc(2026, 11, 24, 12, 0), AMS)
    assert result.tzinfo is UTC


def test_next_weekly_uses_local_date_not_utc_date() -> None:
    # Sunday 23:30 UTC is already Monday 00:30 in Amsterdam: Monday 09:00 is the same (local) day
    assert next_weekly(MONDAY_9, utc(2026, 11, 29, 23, 30), AMS) == utc(2026, 11, 30, 8, 0)
    # Monday 23:30 local is Monday 22:30 UTC: next Monday
    assert next_weekly(MONDAY_9, ams(2026, 11, 30, 23, 30), AMS) == utc(2026, 12, 7, 8, 0)


def test_next_weekly_keeps_local_time_across_spring_forward_2026() -> None:
    # Clocks go from 02:00 CET to 03:00 CEST on Sunday 2026-03-29.
    before = next_weekly(MONDAY_9, ams(2026, 3, 20, 12, 0), AMS)
    after = next_weekly(MONDAY_9, before, AMS)
    assert before == utc(2026, 3, 23, 8, 0)  # CET, UTC+1
    assert after == utc(2026, 3, 30, 7, 0)  # CEST, UTC+2
    assert after.astimezone(AMS).time() == time(9, 0)
    assert after - before == timedelta(days=7, hours=-1)

    sunday_10 = Weekly(6, time(10, 0))
    assert next_weekly(sunday_10, ams(2026, 3, 28, 12, 0), AMS) == utc(2026, 3, 29, 8, 0)


def test_next_weekly_nonexistent_time_moves_forward() -> None:
    # 02:30 does not exist on 2026-03-29 in Amsterdam; it is read with the old offset: 03:30 CEST.
    sunday_0230 = Weekly(6, time(2, 30))
    result = next_weekly(sunday_0230, ams(2026, 3, 28, 12, 0), AMS)
    assert result == utc(2026, 3, 29, 1, 30)
    assert result.astimezone(AMS).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)
    # the week after, 02:30 exists again (CEST)
    assert next_weekly(sunday_0230, result, AMS) == utc(2026, 4, 5, 0, 30)


def test_next_weekly_keeps_local_time_across_fall_back_2026() -> None:
    # Clocks go from 03:00 CEST back to 02:00 CET on Sunday 2026-10-25.
    before = next_weekly(MONDAY_9, ams(2026, 10, 16, 12, 0), AMS)
    after = next_weekly(MONDAY_9, before, AMS)
    assert before == utc(2026, 10, 19, 7, 0)  # CEST
    assert after == utc(2026, 10, 26, 8, 0)  # CET
    assert after.astimezone(AMS).time() == time(9, 0)

    sunday_10 = Weekly(6, time(10, 0))
    assert next_weekly(sunday_10, ams(2026, 10, 24, 12, 0), AMS) == utc(2026, 10, 25, 9, 0)


def test_next_weekly_ambiguous_time_takes_first_and_fires_once() -> None:
    sunday_0230 = Weekly(6, time(2, 30))
    first = next_weekly(sunday_0230, ams(2026, 10, 24, 12, 0), AMS)
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first of the two
    assert first.astimezone(AMS).utcoffset() == timedelta(hours=2)
    # from that moment (or from the second 02:30, fold=1) the next one is a week later
    assert next_weekly(sunday_0230, first, AMS) == utc(2026, 11, 1, 1, 30)
    assert next_weekly(sunday_0230, ams(2026, 10, 25, 2, 30, fold=1), AMS) == utc(2026, 11, 1, 1, 30)


def test_next_weekly_chain_over_a_whole_year_stays_at_local_time() -> None:
    rule = Weekly(2, time(8, 45))
    moment = utc(2026, 1, 1)
    offsets = set()
    for _ in range(60):
        moment = next_weekly(rule, moment, AMS)
        local = moment.astimezone(AMS)
        assert (local.weekday(), local.time()) == (2, time(8, 45))
        offsets.add(local.utcoffset())
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}


TUESDAY_1430_BIWEEKLY = Weekly(1, time(14, 30), 2)
ANCHOR = date(2026, 1, 6)  # a Tuesday


@pytest.mark.parametrize(
    ("after", "expected_local"),
    [
        (ams(2025, 12, 1, 0, 0), datetime(2026, 1, 6, 14, 30)),  # before the anchor: the anchor itself
        (ams(2026, 1, 6, 14, 0), datetime(2026, 1, 6, 14, 30)),
        (ams(2026, 1, 6, 14, 30), datetime(2026, 1, 20, 14, 30)),  # on the anchor moment: skip a week
        (ams(2026, 1, 7, 9, 0), datetime(2026, 1, 20, 14, 30)),
        (ams(2026, 1, 13, 9, 0), datetime(2026, 1, 20, 14, 30)),  # the odd week is skipped
        (ams(2026, 1, 20, 15, 0), datetime(2026, 2, 3, 14, 30)),
        (ams(2026, 3, 25, 9, 0), datetime(2026, 3, 31, 14, 30)),  # across the spring change
        (ams(2026, 10, 21, 9, 0), datetime(2026, 10, 27, 14, 30)),  # across the autumn change
    ],
)
def test_next_weekly_every_two_weeks_from_anchor(after: datetime, expected_local: datetime) -> None:
    result = next_weekly(TUESDAY_1430_BIWEEKLY, after, AMS, anchor=ANCHOR)
    assert result.astimezone(AMS).replace(tzinfo=None) == expected_local
    assert (result.astimezone(AMS).date() - ANCHOR).days % 14 == 0


def test_next_weekly_every_three_weeks_from_an_old_anchor() -> None:
    rule = Weekly(4, time(16, 0), 3)
    anchor = date(2020, 1, 3)  # a Friday, years back
    result = next_weekly(rule, ams(2026, 11, 24, 12, 0), AMS, anchor=anchor)
    local = result.astimezone(AMS)
    assert (local.date() - anchor).days % 21 == 0
    assert local.weekday() == 4 and local.time() == time(16, 0)
    assert ams(2026, 11, 24, 12, 0) < result <= ams(2026, 11, 24, 12, 0) + timedelta(weeks=3)
    assert local.date() == date(2026, 11, 27)  # 2520 days = 120 periods of 3 weeks after the anchor


def test_next_weekly_anchor_off_weekday_is_moved_to_the_rules_weekday() -> None:
    # Anchor Thursday 2026-01-08 for a Tuesday rule: counting starts Tuesday 2026-01-13
    result = next_weekly(TUESDAY_1430_BIWEEKLY, ams(2026, 1, 1), AMS, anchor=date(2026, 1, 8))
    assert result.astimezone(AMS).date() == date(2026, 1, 13)
    result = next_weekly(TUESDAY_1430_BIWEEKLY, result, AMS, anchor=date(2026, 1, 8))
    assert result.astimezone(AMS).date() == date(2026, 1, 27)


def test_next_weekly_without_anchor_is_the_first_occurrence() -> None:
    # every_weeks counts from this first occurrence, so it is simply the next Tuesday 14:30
    result = next_weekly(TUESDAY_1430_BIWEEKLY, ams(2026, 1, 7, 9, 0), AMS)
    assert result.astimezone(AMS).replace(tzinfo=None) == datetime(2026, 1, 13, 14, 30)
    # and with that date as anchor the series continues two weeks later
    anchor = result.astimezone(AMS).date()
    again = next_weekly(TUESDAY_1430_BIWEEKLY, result, AMS, anchor=anchor)
    assert again.astimezone(AMS).date() == date(2026, 1, 27)


def test_next_weekly_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_weekly(MONDAY_9, datetime(2026, 1, 1, 12, 0), AMS)


@settings(max_examples=300, deadline=None)
@given(
    after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31)),
    weekday=st.integers(0, 6),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    every=st.integers(1, 8),
    anchor_offset=st.integers(-3000, 400),
)
def test_next_weekly_properties(
    after: datetime, weekday: int, hour: int, minute: int, every: int, anchor_offset: int
) -> None:
    after = after.replace(tzinfo=UTC)
    rule = Weekly(weekday, time(hour, minute), every)
    anchor = after.date() + timedelta(days=anchor_offset)
    result = next_weekly(rule, after, AMS, anchor=anchor)
    local = result.astimezone(AMS)
    assert result.tzinfo is UTC
    assert result > after
    assert local.weekday() == weekday
    if local.replace(tzinfo=None).time() != rule.at:  # only in the spring-forward gap
        assert local.utcoffset() == timedelta(hours=2)
        assert local.replace(tzinfo=None) - datetime.combine(local.date(), rule.at) == timedelta(hours=1)
    aligned = anchor + timedelta(days=(weekday - anchor.weekday()) % 7)
    assert local.date() >= aligned
    assert (local.date() - aligned).days % (7 * every) == 0
    # nothing earlier qualifies: the previous date in the series is before the anchor or not after `after`
    previous_day = local.date() - timedelta(weeks=every)
    if previous_day >= aligned:
        previous = datetime.combine(previous_day, rule.at).replace(tzinfo=AMS).astimezone(UTC)
        assert previous <= after
    no_anchor = next_weekly(rule, after, AMS)
    assert after < no_anchor <= after + timedelta(days=7, hours=1)


# --------------------------------------------------------------------------- parse_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-01-12", date(2027, 1, 12)),
        ("2027/1/12", date(2027, 1, 12)),
        ("12-01-2027", date(2027, 1, 12)),
        ("12/1/2027", date(2027, 1, 12)),
        ("12.01.2027", date(2027, 1, 12)),
        ("12-01-27", date(2027, 1, 12)),
        ("12 januari 2027", date(2027, 1, 12)),
        ("12 jan 2027", date(2027, 1, 12)),
        ("12 jan. 2027", date(2027, 1, 12)),
        ("12e januari 2027", date(2027, 1, 12)),
        ("12 jan", date(2027, 1, 12)),  # no year: the next 12 January
        ("12 januari", date(2027, 1, 12)),
        ("12-01", date(2027, 1, 12)),
        ("12 January 2027", date(2027, 1, 12)),
        ("January 12", date(2027, 1, 12)),
        ("January 12th, 2027", date(2027, 1, 12)),
        ("the 12th of January", date(2027, 1, 12)),
        ("Jan 12", date(2027, 1, 12)),
        ("1 december", date(2026, 12, 1)),  # still this year
        ("27 november", date(2026, 11, 27)),  # today counts
        ("5 mei", date(2027, 5, 5)),
        ("May 5", date(2027, 5, 5)),
        ("3 mrt", date(2027, 3, 3)),
        ("3 maart 2027", date(2027, 3, 3)),
        ("1 okt", date(2027, 10, 1)),
        ("1 Oct", date(2027, 10, 1)),
        ("29 feb", date(2028, 2, 29)),  # the next leap year
        ("vandaag", FRIDAY),
        ("today", FRIDAY),
        ("morgen", date(2026, 11, 28)),
        ("Morgen", date(2026, 11, 28)),
        ("tomorrow", date(2026, 11, 28)),
        ("overmorgen", date(2026, 11, 29)),
        ("the day after tomorrow", date(2026, 11, 29)),
        ("maandag", date(2026, 11, 30)),
        ("ma", date(2026, 11, 30)),
        ("zaterdag", date(2026, 11, 28)),
        ("vrijdag", date(2026, 12, 4)),  # today is Friday: the next one
        ("friday", date(2026, 12, 4)),
        ("next friday", date(2026, 12, 4)),
        ("volgende dinsdag", date(2026, 12, 1)),
        ("op woensdag", date(2026, 12, 2)),
        ("dinsdag 12 januari 2027", date(2027, 1, 12)),  # day name checked against the date
        ("di 12-01-2027", date(2027, 1, 12)),
        ("Tuesday January 12", date(2027, 1, 12)),
    ],
)
def test_parse_date_forms(text: str, expected: date) -> None:
    assert parse_date(text, FRIDAY) == expected


def test_parse_date_without_year_rolls_over_around_today() -> None:
    assert parse_date("12 januari", date(2027, 1, 12)) == date(2027, 1, 12)
    assert parse_date("12 januari", date(2027, 1, 13)) == date(2028, 1, 12)
    assert parse_date("31 dec", date(2026, 12, 31)) == date(2026, 12, 31)
    assert parse_date("1 jan", date(2026, 12, 31)) == date(2027, 1, 1)
    assert parse_date("29 februari", date(2028, 2, 29)) == date(2028, 2, 29)
    assert parse_date("29 februari", date(2028, 3, 1)) == date(2032, 2, 29)
    assert parse_date("morgen", date(2026, 12, 31)) == date(2027, 1, 1)


def test_parse_date_accepts_a_datetime_as_today() -> None:
    assert parse_date("morgen", datetime(2026, 11, 27, 23, 0)) == date(2026, 11, 28)


@pytest.mark.parametrize(
    ("text", "nl_part", "en_part"),
    [
        ("31-02-2027", "31 februari 2027 bestaat niet", "31 February 2027 does not exist"),
        ("29-02-2027", "februari 2027 heeft 28 dagen", "February 2027 has 28 days"),
        ("31 april 2027", "april 2027 heeft 30 dagen", "April 2027 has 30 days"),
        ("31 april", "april heeft 30 dagen", "April has 30 days"),
        ("30 feb", "februari heeft hooguit 29 dagen", "February has at most 29 days"),
        ("0-1-2027", "0 januari 2027 bestaat niet", "0 January 2027 does not exist"),
        ("2027-13-01", "maand 13 bestaat niet", "there is no month 13"),
        ("1/13/2027", "dag-maand-jaar", "day-month-year"),  # US order
        ("12-01-2020", "ligt in het verleden", "is in the past"),
        ("26 november 2026", "donderdag 26 november 2026 ligt in het verleden", "is in the past"),
        ("2026-11-26", "ligt in het verleden", "Thursday 26 November 2026 is in the past"),
        ("12 janury 2027", "Bedoelde je 'january'?", "Did you mean 'january'?"),
        ("12 decembr", "Bedoelde je 'december'?", "Did you mean 'december'?"),
        ("12 foo", "de maand 'foo' ken ik niet", "I don't know the month 'foo'"),
        ("ma 12 januari 2027", "is een dinsdag, geen maandag", "is a Tuesday, not a Monday"),
        ("volgende week", "kan ik niet lezen als datum", "couldn't read 'volgende week' as a date"),
        ("gisteren", "kan ik niet lezen als datum", "couldn't read 'gisteren' as a date"),
        ("", "Geef een datum", "give a date"),
    ],
)
def test_parse_date_errors(text: str, nl_part: str, en_part: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_date(text, FRIDAY)
    err = caught.value
    assert_polite_error(err)
    assert nl_part in err.nl
    assert en_part in err.en


def test_parse_date_past_error_suggests_a_future_example() -> None:
    with pytest.raises(WhenError) as caught:
        parse_date("1-1-2026", FRIDAY)
    assert "bijvoorbeeld 04-12-2026" in caught.value.nl
    assert "for example 04-12-2026" in caught.value.en
    assert parse_date("04-12-2026", FRIDAY) == date(2026, 12, 4)


def test_errors_do_not_echo_slack_markup() -> None:
    with pytest.raises(WhenError) as caught:
        parse_date("<!channel> *bold* `code`", FRIDAY)
    for text in (caught.value.nl, caught.value.en):
        assert "<" not in text and ">" not in text and "`" not in text and "*" not in text
    with pytest.raises(WhenError) as caught:
        parse_weekly("ma 9:00 <@U123>")
    assert "<" not in caught.value.nl and "<" not in caught.value.en


# --------------------------------------------------------------------------- parse_hours


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("48", 48),
        ("48 uur", 48),
        ("48uur", 48),
        ("48u", 48),
        ("36h", 36),
        ("36 hours", 36),
        ("1 hour", 1),
        ("1", 1),
        ("2 dagen", 48),
        ("1 dag", 24),
        ("2 days", 48),
        ("2d", 48),
        ("1,5 dag", 36),
        ("1.5 days", 36),
        ("anderhalve dag", 36),
        ("een dag", 24),
        ("a day", 24),
        ("twee dagen", 48),
        ("1 dag en 12 uur", 36),
        ("1 day and 12 hours", 36),
        ("1d12h", 36),
        ("1 week", 168),
        ("2 weken", 336),
        ("336", 336),
        (" 72 UUR ", 72),
    ],
)
def test_parse_hours_forms(text: str, hours: int) -> None:
    assert parse_hours(text) == hours


@pytest.mark.parametrize(
    ("text", "nl_part", "en_part"),
    [
        ("0", "kies tussen 1 uur en 14 dagen", "pick between 1 hour and 14 days"),
        ("337", "kies tussen 1 uur en 14 dagen (336 uur)", "(336 hours)"),
        ("15 dagen", "'15 dagen' kan niet", "'15 dagen' won't work"),
        ("3 weken", "kan niet", "won't work"),
        ("1.5", "geen heel aantal uren", "not a whole number of hours"),
        ("0,5 uur", "geen heel aantal uren", "not a whole number of hours"),
        ("90 minuten", "kan ik niet lezen als een aantal uren", "couldn't read '90 minuten'"),
        ("abc", "kan ik niet lezen", "couldn't read 'abc'"),
        ("2 3", "kan ik niet lezen", "couldn't read"),
        ("-5", "kan ik niet lezen", "couldn't read"),
        ("", "Geef een aantal uren", "give a number of hours"),
    ],
)
def test_parse_hours_errors(text: str, nl_part: str, en_part: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_hours(text)
    err = caught.value
    assert_polite_error(err)
    assert nl_part in err.nl
    assert en_part in err.en
    assert "bijvoorbeeld" in err.nl and "for example" in err.en


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parsers_only_raise_when_error(text: str) -> None:
    for parse in (parse_weekly, parse_hours, lambda t: parse_date(t, FRIDAY)):
        try:
            parse(text)
        except WhenError as err:
            assert err.nl and err.en


@settings(max_examples=200, deadline=None)
@given(st.integers(1, MAX_HOURS))
def test_parse_hours_round_trips(hours: int) -> None:
    assert parse_hours(str(hours)) == hours
    assert parse_hours(f"{hours} uur") == hours
    if hours % 24 == 0:
        assert parse_hours(f"{hours // 24} dagen") == hours


# --------------------------------------------------------------------------- holidays


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2000, date(2000, 4, 23)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2028, date(2028, 4, 16)),
        (2038, date(2038, 4, 25)),  # the latest possible
        (2285, date(2285, 3, 22)),  # the earliest possible
    ],
)
def test_easter_based_holidays(year: int, easter: date) -> None:
    days = dutch_public_holidays(year)
    assert days[easter] == "Eerste Paasdag"
    assert days[easter - timedelta(days=2)] == "Goede Vrijdag"
    assert days[easter + timedelta(days=1)] == "Tweede Paasdag"
    assert "Hemelvaartsdag" in days[easter + timedelta(days=39)]
    assert days[easter + timedelta(days=49)] == "Eerste Pinksterdag"
    assert days[easter + timedelta(days=50)] == "Tweede Pinksterdag"


def test_holidays_2025_complete() -> None:
    assert dutch_public_holidays(2025) == {
        date(2025, 1, 1): "Nieuwjaarsdag",
        date(2025, 4, 18): "Goede Vrijdag",
        date(2025, 4, 20): "Eerste Paasdag",
        date(2025, 4, 21): "Tweede Paasdag",
        date(2025, 4, 26): "Koningsdag",  # the 27th is a Sunday
        date(2025, 5, 5): "Bevrijdingsdag",
        date(2025, 5, 29): "Hemelvaartsdag",
        date(2025, 6, 8): "Eerste Pinksterdag",
        date(2025, 6, 9): "Tweede Pinksterdag",
        date(2025, 12, 25): "Eerste Kerstdag",
        date(2025, 12, 26): "Tweede Kerstdag",
    }


def test_holidays_2026_and_2027_complete() -> None:
    assert dutch_public_holidays(2026) == {
        date(2026, 1, 1): "Nieuwjaarsdag",
        date(2026, 4, 3): "Goede Vrijdag",
        date(2026, 4, 5): "Eerste Paasdag",
        date(2026, 4, 6): "Tweede Paasdag",
        date(2026, 4, 27): "Koningsdag",
        date(2026, 5, 5): "Bevrijdingsdag",
        date(2026, 5, 14): "Hemelvaartsdag",
        date(2026, 5, 24): "Eerste Pinksterdag",
        date(2026, 5, 25): "Tweede Pinksterdag",
        date(2026, 12, 25): "Eerste Kerstdag",
        date(2026, 12, 26): "Tweede Kerstdag",
    }
    assert dutch_public_holidays(2027) == {
        date(2027, 1, 1): "Nieuwjaarsdag",
        date(2027, 3, 26): "Goede Vrijdag",
        date(2027, 3, 28): "Eerste Paasdag",
        date(2027, 3, 29): "Tweede Paasdag",
        date(2027, 4, 27): "Koningsdag",
        date(2027, 5, 5): "Bevrijdingsdag",
        date(2027, 5, 6): "Hemelvaartsdag",
        date(2027, 5, 16): "Eerste Pinksterdag",
        date(2027, 5, 17): "Tweede Pinksterdag",
        date(2027, 12, 25): "Eerste Kerstdag",
        date(2027, 12, 26): "Tweede Kerstdag",
    }


@pytest.mark.parametrize(
    ("year", "kings_day"),
    [
        (2024, date(2024, 4, 27)),
        (2025, date(2025, 4, 26)),
        (2026, date(2026, 4, 27)),
        (2030, date(2030, 4, 27)),
        (2031, date(2031, 4, 26)),
        (2036, date(2036, 4, 26)),
    ],
)
def test_kings_day_moves_to_saturday_when_the_27th_is_a_sunday(year: int, kings_day: date) -> None:
    days = dutch_public_holidays(year)
    assert days[kings_day] == "Koningsdag"
    assert [d for d, name in days.items() if name == "Koningsdag"] == [kings_day]


@pytest.mark.parametrize("year", range(2024, 2036))
def test_every_year_has_liberation_day_and_is_sorted(year: int) -> None:
    days = dutch_public_holidays(year)
    assert "Bevrijdingsdag" in days[date(year, 5, 5)]
    assert list(days) == sorted(days)
    assert days[date(year, 1, 1)] == "Nieuwjaarsdag"
    assert days[date(year, 12, 25)] == "Eerste Kerstdag"
    assert days[date(year, 12, 26)] == "Tweede Kerstdag"
    assert len(days) == 11


def test_ascension_on_liberation_day_keeps_both_names() -> None:
    days = dutch_public_holidays(2016)
    assert days[date(2016, 5, 5)] == "Bevrijdingsdag en Hemelvaartsdag"
    assert len(days) == 10


def test_dutch_public_holidays_returns_a_copy() -> None:
    days = dutch_public_holidays(2026)
    days.clear()
    assert len(dutch_public_holidays(2026)) == 11
    assert is_dutch_holiday(date(2026, 12, 25))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 12, 25), True),
        (date(2026, 12, 26), True),
        (date(2026, 12, 24), False),
        (date(2026, 12, 31), False),
        (date(2027, 1, 1), True),
        (date(2025, 4, 26), True),
        (date(2025, 4, 27), False),  # Sunday, but not the holiday: it moved to the 26th
        (date(2026, 5, 5), True),
        (date(2026, 5, 14), True),
        (date(2026, 5, 15), False),
        (datetime(2026, 4, 6, 12, 0), True),
    ],
)
def test_is_dutch_holiday(day: date, expected: bool) -> None:
    assert is_dutch_holiday(day) is expected


# --------------------------------------------------------------------------- next_working_moment


@pytest.mark.parametrize(
    ("moment", "expected_local"),
    [
        (ams(2026, 12, 1, 10, 15, 30), datetime(2026, 12, 1, 10, 15, 30)),  # Tuesday, working hours
        (ams(2026, 12, 1, 8, 0), datetime(2026, 12, 1, 8, 0)),  # the start is working time
        (ams(2026, 12, 1, 17, 59, 59), datetime(2026, 12, 1, 17, 59, 59)),
        (ams(2026, 12, 1, 18, 0), datetime(2026, 12, 2, 8, 0)),  # quiet from 18:00
        (ams(2026, 12, 1, 23, 30), datetime(2026, 12, 2, 8, 0)),
        (ams(2026, 12, 2, 0, 30), datetime(2026, 12, 2, 8, 0)),  # after midnight: same morning
        (ams(2026, 12, 2, 7, 59), datetime(2026, 12, 2, 8, 0)),
        (ams(2026, 12, 4, 18, 30), datetime(2026, 12, 7, 8, 0)),  # Friday evening -> Monday
        (ams(2026, 12, 5, 11, 0), datetime(2026, 12, 7, 8, 0)),  # Saturday
        (ams(2026, 12, 6, 23, 59), datetime(2026, 12, 7, 8, 0)),  # Sunday night
        (ams(2026, 12, 7, 6, 0), datetime(2026, 12, 7, 8, 0)),  # Monday early
        # Christmas 2026: Thu 24 evening, Fri 25 + Sat 26 holidays, weekend -> Monday 28
        (ams(2026, 12, 24, 18, 30), datetime(2026, 12, 28, 8, 0)),
        (ams(2026, 12, 25, 10, 0), datetime(2026, 12, 28, 8, 0)),
        # New Year: Thu 31 Dec evening, Fri 1 Jan holiday, weekend -> Monday 4 January 2027
        (ams(2026, 12, 31, 18, 0), datetime(2027, 1, 4, 8, 0)),
        (ams(2026, 12, 31, 17, 0), datetime(2026, 12, 31, 17, 0)),
        # Christmas 2025: Wed 24 evening, Thu 25 + Fri 26 holidays -> Monday 29
        (ams(2025, 12, 24, 20, 0), datetime(2025, 12, 29, 8, 0)),
        # Easter 2026: Good Friday and Easter Monday -> Tuesday 7 April
        (ams(2026, 4, 2, 19, 0), datetime(2026, 4, 7, 8, 0)),
        # Koningsdag 2026 is a Monday -> Tuesday 28 April
        (ams(2026, 4, 24, 18, 0), datetime(2026, 4, 28, 8, 0)),
        # Bevrijdingsdag 2026 is a Tuesday
        (ams(2026, 5, 5, 10, 0), datetime(2026, 5, 6, 8, 0)),
        # the weekend of the spring change: Monday 08:00 is CEST
        (ams(2026, 3, 28, 12, 0), datetime(2026, 3, 30, 8, 0)),
    ],
)
def test_next_working_moment(moment: datetime, expected_local: datetime) -> None:
    result = next_working_moment(moment, AMS)
    assert result.tzinfo is UTC
    assert result.astimezone(AMS).replace(tzinfo=None) == expected_local


def test_next_working_moment_utc_values_around_dst() -> None:
    assert next_working_moment(ams(2026, 3, 28, 12, 0), AMS) == utc(2026, 3, 30, 6, 0)
    assert next_working_moment(ams(2026, 10, 24, 12, 0), AMS) == utc(2026, 10, 26, 7, 0)
    # a UTC input that is already evening in Amsterdam
    assert next_working_moment(utc(2026, 12, 1, 17, 30), AMS) == utc(2026, 12, 2, 7, 0)


def test_next_working_moment_custom_quiet_hours() -> None:
    kwargs = {"quiet_start": time(17, 0), "quiet_end": time(9, 0)}
    assert next_working_moment(ams(2026, 12, 1, 17, 0), AMS, **kwargs) == ams(2026, 12, 2, 9, 0)
    assert next_working_moment(ams(2026, 12, 1, 8, 30), AMS, **kwargs) == ams(2026, 12, 1, 9, 0)
    assert next_working_moment(ams(2026, 12, 1, 16, 0), AMS, **kwargs) == ams(2026, 12, 1, 16, 0)
    # quiet_start at midnight: working until the end of the day
    late = {"quiet_start": time(0, 0), "quiet_end": time(7, 0)}
    assert next_working_moment(ams(2026, 12, 1, 23, 30), AMS, **late) == ams(2026, 12, 1, 23, 30)
    assert next_working_moment(ams(2026, 12, 2, 6, 0), AMS, **late) == ams(2026, 12, 2, 7, 0)
    with pytest.raises(ValueError):
        next_working_moment(ams(2026, 12, 1, 12, 0), AMS, quiet_start=time(8, 0), quiet_end=time(18, 0))


def test_next_working_moment_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_working_moment(datetime(2026, 12, 1, 12, 0), AMS)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31)))
def test_next_working_moment_properties(moment: datetime) -> None:
    moment = moment.replace(tzinfo=UTC)
    result = next_working_moment(moment, AMS)
    local = result.astimezone(AMS)
    assert result >= moment
    assert local.weekday() < 5 and not is_dutch_holiday(local.date())
    assert time(8, 0) <= local.time() < time(18, 0)
    assert next_working_moment(result, AMS) == result
    # it never skips a working morning: at most 5 days ahead (e.g. Christmas + weekend + New Year cases)
    assert result - moment < timedelta(days=5)


# --------------------------------------------------------------------------- formatting


def test_format_moment_dutch_and_english() -> None:
    moment = utc(2024, 12, 2, 8, 0)  # Monday 2 December 2024, 09:00 in Amsterdam
    assert format_moment(moment, AMS, "nl") == "maandag 2 december om 09:00"
    assert format_moment(moment, AMS, "en") == "Monday 2 December at 09:00"
    assert format_moment(moment, AMS, "en-GB") == "Monday 2 December at 09:00"
    assert format_moment(moment, AMS, "nl-NL") == "maandag 2 december om 09:00"
    assert format_moment(moment, AMS, "") == "maandag 2 december om 09:00"  # Dutch by default
    assert format_moment(moment, ZoneInfo("UTC"), "en") == "Monday 2 December at 08:00"


def test_format_moment_uses_local_date_and_summer_time() -> None:
    # 22:30 UTC on Saturday 27 June is already Sunday 00:30 in Amsterdam (CEST)
    assert format_moment(utc(2026, 6, 27, 22, 30), AMS, "nl") == "zondag 28 juni om 00:30"
    assert format_moment(utc(2026, 6, 27, 22, 30), AMS, "en") == "Sunday 28 June at 00:30"


@pytest.mark.parametrize(
    ("month", "nl", "en"),
    [
        (1, "januari", "January"), (2, "februari", "February"), (3, "maart", "March"),
        (4, "april", "April"), (5, "mei", "May"), (6, "juni", "June"), (7, "juli", "July"),
        (8, "augustus", "August"), (9, "september", "September"), (10, "oktober", "October"),
        (11, "november", "November"), (12, "december", "December"),
    ],
)  # fmt: skip
def test_format_moment_month_names(month: int, nl: str, en: str) -> None:
    moment = ams(2027, month, 15, 14, 5)
    assert format_moment(moment, AMS, "nl").endswith(f" 15 {nl} om 14:05")
    assert format_moment(moment, AMS, "en").endswith(f" 15 {en} at 14:05")


def test_format_moment_day_names() -> None:
    nl = [format_moment(ams(2026, 12, 7 + i, 9, 0), AMS, "nl").split()[0] for i in range(7)]
    assert nl == [
        "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag",
    ]  # fmt: skip
    en = [format_moment(ams(2026, 12, 7 + i, 9, 0), AMS, "en").split()[0] for i in range(7)]
    assert en == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def test_format_moment_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError):
        format_moment(datetime(2026, 12, 1, 9, 0), AMS, "nl")


def test_format_date() -> None:
    assert format_date(date(2027, 1, 12), "nl") == "dinsdag 12 januari 2027"
    assert format_date(date(2027, 1, 12), "en") == "Tuesday 12 January 2027"
