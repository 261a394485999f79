"""When check-ins happen: parse what people type in Slack, compute the next moment.

Everything here is a pure function: no I/O, no global clock. Functions that need
"now" take it as an argument, and every datetime going in must be timezone-aware.
Returned moments are aware UTC datetimes; local wall-clock rules (a weekly
check-in at 09:00) are applied in the time zone passed in, so daylight saving
changes keep the local time the same.

User input comes from Slack slash commands in Dutch or English. Anything that
cannot be understood raises :class:`WhenError`, which carries a polite,
self-contained message in both languages (``nl`` and ``en``) that says what was
wrong and gives an example of a correct input.
"""

from __future__ import annotations

import calendar
import difflib
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "WEEKDAYS",
    "MAX_EVERY_WEEKS",
    "MIN_HOURS",
    "MAX_HOURS",
    "WhenError",
    "Weekly",
    "parse_weekly",
    "next_weekly",
    "describe_weekly",
    "parse_date",
    "parse_hours",
    "dutch_public_holidays",
    "is_dutch_holiday",
    "next_working_moment",
    "format_moment",
    "format_date",
]

MAX_EVERY_WEEKS = 8
MIN_HOURS = 1
MAX_HOURS = 336  # 14 days
MAX_INPUT_CHARS = 200

# --------------------------------------------------------------------------- errors


class WhenError(ValueError):
    """A user typed something we could not use; ``nl`` and ``en`` say what and how to fix it."""

    def __init__(self, nl: str, en: str) -> None:
        super().__init__(en)
        self.nl = nl
        self.en = en

    def message(self, language: str) -> str:
        """The message in ``language`` ("en..." is English, anything else Dutch)."""
        return self.en if _is_english(language) else self.nl

    def __str__(self) -> str:
        return self.en


def _is_english(language: str) -> bool:
    return str(language or "").strip().lower().startswith("en")


def _quote(text: str, limit: int = 40) -> str:
    """User text made safe to echo back in a Slack message: short, one line, no markup."""
    cleaned = "".join(
        " " if unicodedata.category(ch)[0] in "CZ" else ch for ch in str(text) if ch not in "<>&*_~`|"
    )
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return f"'{cleaned}'"


# --------------------------------------------------------------------------- names

_NL_DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NL_MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

_WEEKDAY_NAMES: dict[str, int] = {}
for _i, _names in enumerate(
    (
        ("maandag", "ma", "maan", "monday", "mon"),
        ("dinsdag", "di", "din", "dins", "tuesday", "tue", "tues"),
        ("woensdag", "wo", "woe", "woens", "wednesday", "wed"),
        ("donderdag", "do", "don", "dond", "thursday", "thu", "thur", "thurs"),
        ("vrijdag", "vr", "vrij", "friday", "fri"),
        ("zaterdag", "za", "zat", "saturday", "sat"),
        ("zondag", "zo", "zon", "sunday", "sun"),
    )
):
    for _name in _names:
        _WEEKDAY_NAMES[_name] = _i

_MONTH_NAMES: dict[str, int] = {}
for _i, _names in enumerate(
    (
        ("januari", "jan", "january"),
        ("februari", "feb", "febr", "february"),
        ("maart", "mrt", "maa", "mar", "march"),
        ("april", "apr"),
        ("mei", "may"),
        ("juni", "jun", "june"),
        ("juli", "jul", "july"),
        ("augustus", "aug", "august"),
        ("september", "sep", "sept"),
        ("oktober", "okt", "october", "oct"),
        ("november", "nov"),
        ("december", "dec"),
    ),
    start=1,
):
    for _name in _names:
        _MONTH_NAMES[_name] = _i

_NUMBER_WORDS: dict[str, int] = {
    "een": 1, "one": 1, "twee": 2, "two": 2, "drie": 3, "three": 3, "vier": 4, "four": 4,
    "vijf": 5, "five": 5, "zes": 6, "six": 6, "zeven": 7, "seven": 7, "acht": 8, "eight": 8,
    "negen": 9, "nine": 9, "tien": 10, "ten": 10,
    "eerste": 1, "first": 1, "tweede": 2, "second": 2, "derde": 3, "third": 3,
    "vierde": 4, "fourth": 4, "vijfde": 5, "fifth": 5, "zesde": 6, "sixth": 6,
    "zevende": 7, "seventh": 7, "achtste": 8, "eighth": 8, "negende": 9, "ninth": 9,
    "tiende": 10, "tenth": 10,
}  # fmt: skip


def _normalize(text: str) -> str:
    """Lower case, accents removed, Slack/markup noise removed, single spaces.

    Trailing dots on words ("ma.", "jan.") are dropped, "a.m."/"p.m." become
    "am"/"pm", and a decimal comma between digits becomes a dot.
    """
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower()
    text = re.sub(r"[\u200b-\u200d\ufeff]", "", text)
    text = re.sub(r"[*_~`\"“”‘’]", " ", text)
    text = re.sub(r"(?<![a-z])([ap])\.\s?m\b\.?", r"\1m", text)
    text = re.sub(r"(?<=\d),(?=\d)", ".", text)
    text = re.sub(r"[,;!?()]", " ", text)
    words = [w.rstrip(".") for w in text.split()]
    return " ".join(w for w in words if w)


def _check_length(text: str, nl_what: str, en_what: str, nl_example: str, en_example: str) -> None:
    if len(text) > MAX_INPUT_CHARS:
        raise WhenError(
            f"Sorry, dat is te lang voor {nl_what}. Houd het kort, bijvoorbeeld: {nl_example}.",
            f"Sorry, that is too long for {en_what}. Keep it short, for example: {en_example}.",
        )


class _WeekdayNames(Mapping[str, int]):
    """Day name -> weekday number (0 = Monday); lookups ignore case, accents and a trailing dot."""

    def __getitem__(self, key: str) -> int:
        if not isinstance(key, str):
            raise KeyError(key)
        return _WEEKDAY_NAMES[_normalize(key)]

    def __iter__(self) -> Iterator[str]:
        return iter(_WEEKDAY_NAMES)

    def __len__(self) -> int:
        return len(_WEEKDAY_NAMES)

    def __repr__(self) -> str:
        return f"WEEKDAYS({_WEEKDAY_NAMES!r})"


#: Dutch and English day names and abbreviations; ``WEEKDAYS["Di."] == 1``.
WEEKDAYS: Mapping[str, int] = _WeekdayNames()


def _suggest(word: str, vocabulary: Mapping[str, int]) -> tuple[str, str]:
    """(nl, en) sentence fragments like " Bedoelde je 'maandag'?" for a near miss, else ("", "")."""
    long_names = [n for n in vocabulary if len(n) >= 5]
    hits = difflib.get_close_matches(word, long_names, n=1, cutoff=0.75)
    if not hits:
        return "", ""
    return f" Bedoelde je {_quote(hits[0])}?", f" Did you mean {_quote(hits[0])}?"


# --------------------------------------------------------------------------- weekly rules


@dataclass(frozen=True)
class Weekly:
    """A repeating check-in: ``weekday`` (0 = Monday) at local time ``at``, every ``every_weeks`` weeks."""

    weekday: int
    at: time
    every_weeks: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.weekday, int) or not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, got {self.weekday!r}")
        if not isinstance(self.at, time) or self.at.tzinfo is not None:
            raise ValueError(f"at must be a naive datetime.time, got {self.at!r}")
        if not isinstance(self.every_weeks, int) or not 1 <= self.every_weeks <= MAX_EVERY_WEEKS:
            raise ValueError(f"every_weeks must be 1..{MAX_EVERY_WEEKS}, got {self.every_weeks!r}")


_WEEKLY_EXAMPLE_NL = "maandag 9:00, of dinsdag 14:30 elke 2 weken"
_WEEKLY_EXAMPLE_EN = "monday 9:00, or tuesday 2:30pm every 2 weeks"

_NUM = r"(?P<n>\d+|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")(?:e|de|ste|st|nd|rd|th)?"
_MULTIPLIER = r"(?P<n>\d+|twee|drie|vier|vijf|zes|zeven|acht|negen|tien)"

# (pattern, fixed number of weeks or None to read group "n"); tried in this order.
_FREQUENCY_PATTERNS: tuple[tuple[re.Pattern[str], int | None], ...] = tuple(
    (re.compile(p, re.ASCII), n)
    for p, n in (
        (rf"\b(?:elke|iedere|om\s+de)\s+{_NUM}\s+(?:weken|week)\b", None),
        (r"\bom\s+de\s+andere\s+week\b", 2),
        (r"\bom\s+de\s+week\b", 2),
        (r"\bom\s+de\s+andere\b", 2),  # "om de andere maandag"
        (r"\b(?:elke|iedere)\s+week\b", 1),
        (rf"\b{_MULTIPLIER}-?wekelijks\b", None),  # tweewekelijks, 3-wekelijks
        (r"\bwekelijks\b", 1),
        (rf"\b(?:every|each)\s+{_NUM}\s+weeks?\b", None),
        (r"\bevery\s+other\s+week\b", 2),
        (r"\bevery\s+other\b", 2),  # "every other monday"
        (r"\b(?:every\s+fortnight|fortnightly|bi-?weekly)\b", 2),  # biweekly = every two weeks
        (r"\b(?:every|each)\s+week\b", 1),
        (r"\bweekly\b", 1),
    )
)

_FILLER = frozenset({"op", "on", "om", "at", "elke", "iedere", "every", "each", "en", "and", "&", "-", "@"})
_PERIOD_WORDS = frozenset(
    {
        "week", "weken", "weeks", "wekelijks", "maand", "maanden", "month", "months", "maandelijks",
        "monthly", "dag", "dagen", "day", "days", "dagelijks", "daily", "jaar", "year", "yearly",
    }
)  # fmt: skip
_TIME_SUFFIXES = frozenset({"am", "pm", "uur", "u", "h"})
_TIME_RE = re.compile(r"^(\d{1,2})(?:[:.hu](\d{2}))?(am|pm|uur|u|h)?$", re.ASCII)
_TIMEISH_RE = re.compile(r"^\d+(?:[:.hu]\d*)*(?:am|pm|uur|u|h)?$", re.ASCII)


def _bad_time(token: str) -> WhenError:
    return WhenError(
        f"Sorry, {_quote(token)} is geen geldige tijd. Gebruik uren van 0 tot 23 en minuten van 00 "
        f"tot 59, bijvoorbeeld 9:00, 09.30 of 16u.",
        f"Sorry, {_quote(token)} is not a valid time. Use hours 0 to 23 and minutes 00 to 59, "
        f"for example 9:00, 09:30 or 2:30pm.",
    )


def _parse_time_token(token: str) -> time:
    m = _TIME_RE.match(token)
    if not m:
        raise _bad_time(token)
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    suffix = m.group(3)
    if suffix in ("am", "pm"):
        if not 1 <= hour <= 12:
            raise _bad_time(token)
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 23 or minute > 59:
        raise _bad_time(token)
    return time(hour, minute)


def _extract_frequency(text: str) -> tuple[str, int | None]:
    found: list[int] = []
    for pattern, fixed in _FREQUENCY_PATTERNS:
        for m in pattern.finditer(text):
            if fixed is not None:
                found.append(fixed)
            else:
                raw = m.group("n")
                found.append(int(raw) if raw.isdigit() else _NUMBER_WORDS[raw])
        text = pattern.sub(" ", text)
    if len(found) > 1:
        raise WhenError(
            f"Sorry, ik zie meer dan één herhaling. Noem er één, bijvoorbeeld: {_WEEKLY_EXAMPLE_NL}.",
            f"Sorry, I see more than one repetition. Give just one, for example: {_WEEKLY_EXAMPLE_EN}.",
        )
    if found and not 1 <= found[0] <= MAX_EVERY_WEEKS:
        raise _bad_frequency(found[0])
    return text, (found[0] if found else None)


def _bad_frequency(weeks: int | None = None) -> WhenError:
    nl_what = f"elke {weeks} weken kan niet: een" if weeks is not None else "een"
    en_what = f"every {weeks} weeks won't work: a" if weeks is not None else "a"
    return WhenError(
        f"Sorry, {nl_what} check-in kan elke week tot elke {MAX_EVERY_WEEKS} weken herhalen. "
        f"Schrijf bijvoorbeeld: dinsdag 14:30 elke 2 weken, of: wo 9:00 om de week.",
        f"Sorry, {en_what} check-in can repeat every week up to every {MAX_EVERY_WEEKS} weeks. "
        f"Write for example: tuesday 2:30pm every 2 weeks, or: wed 9:00 every other week.",
    )


def parse_weekly(text: str) -> Weekly:
    """Parse a repeating check-in such as "maandag 9:00" or "tuesday 2:30pm every 2 weeks".

    Understood: one weekday (Dutch or English, abbreviations, any case, accents
    and trailing dots ignored); one time ("9:00", "09.00", "9", "16u", "9 uur",
    "14h30", "2:30pm", "2 pm"); optionally a repetition: "elke week", "wekelijks",
    "elke N weken", "om de N weken", "om de week" / "om de andere week" (= 2),
    "tweewekelijks", "every week", "weekly", "every N weeks", "every other week",
    "biweekly" / "fortnightly" (= every 2 weeks). N is 1..8, in digits, as a
    word ("twee", "two") or an ordinal ("2e", "2nd", "tweede"). Filler words
    like "op", "om", "on", "at", "elke", "every" are ignored.
    """
    raw = str(text or "")
    _check_length(raw, "een herhaling", "a repeating check-in", _WEEKLY_EXAMPLE_NL, _WEEKLY_EXAMPLE_EN)
    norm = _normalize(raw)
    if not norm:
        raise WhenError(
            f"Geef een dag en een tijd voor de check-in, bijvoorbeeld: {_WEEKLY_EXAMPLE_NL}.",
            f"Please give a day and a time for the check-in, for example: {_WEEKLY_EXAMPLE_EN}.",
        )
    rest, every = _extract_frequency(norm)

    tokens = rest.split()
    merged: list[str] = []
    for tok in tokens:
        if merged and tok in _TIME_SUFFIXES and _TIMEISH_RE.match(merged[-1]) and merged[-1][-1].isdigit():
            merged[-1] += tok
        else:
            merged.append(tok)

    days: list[int] = []
    times: list[str] = []
    unknown: list[str] = []
    period: list[str] = []
    for tok in merged:
        if tok in _WEEKDAY_NAMES:
            days.append(_WEEKDAY_NAMES[tok])
        elif tok in _FILLER:
            continue
        elif _TIMEISH_RE.match(tok):
            times.append(tok)
        elif tok in _PERIOD_WORDS:
            period.append(tok)
        else:
            unknown.append(tok)

    if period:
        raise _bad_frequency()
    if unknown:
        hint_nl, hint_en = _suggest(unknown[0], _WEEKDAY_NAMES)
        raise WhenError(
            f"Sorry, het woord {_quote(unknown[0])} begrijp ik niet.{hint_nl} "
            f"Geef een dag en een tijd, bijvoorbeeld: {_WEEKLY_EXAMPLE_NL}.",
            f"Sorry, I don't understand the word {_quote(unknown[0])}.{hint_en} "
            f"Give a day and a time, for example: {_WEEKLY_EXAMPLE_EN}.",
        )
    if len(set(days)) > 1:
        raise WhenError(
            "Sorry, een herhaling kan op één dag per week. Maak voor een tweede dag een tweede check-in, "
            f"bijvoorbeeld: {_WEEKLY_EXAMPLE_NL}.",
            "Sorry, a repeating check-in can be on one day of the week. For a second day, add a second "
            f"check-in, for example: {_WEEKLY_EXAMPLE_EN}.",
        )
    if not days:
        raise WhenError(
            f"Sorry, ik mis de dag van de week. Schrijf bijvoorbeeld: {_WEEKLY_EXAMPLE_NL}.",
            f"Sorry, the day of the week is missing. Write for example: {_WEEKLY_EXAMPLE_EN}.",
        )
    if len(times) > 1:
        raise WhenError(
            f"Sorry, ik zie meer dan één tijd ({', '.join(_quote(t) for t in times)}). "
            f"Geef één tijd, bijvoorbeeld: {_WEEKLY_EXAMPLE_NL}.",
            f"Sorry, I see more than one time ({', '.join(_quote(t) for t in times)}). "
            f"Give one time, for example: {_WEEKLY_EXAMPLE_EN}.",
        )
    if not times:
        raise WhenError(
            f"Sorry, ik mis de tijd. Schrijf bijvoorbeeld: {_WEEKLY_EXAMPLE_NL}.",
            f"Sorry, the time is missing. Write for example: {_WEEKLY_EXAMPLE_EN}.",
        )
    return Weekly(weekday=days[0], at=_parse_time_token(times[0]), every_weeks=every or 1)


def _localize(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``day`` at wall-clock ``at`` in ``tz``, as an aware UTC datetime.

    Ambiguous times (autumn, the hour that happens twice) take the first
    occurrence. Non-existent times (spring, the skipped hour) are read with the
    offset from before the change, so they move forward by the size of the gap
    (02:30 becomes 03:30 in Europe/Amsterdam), as RFC 5545 (iCalendar) does.
    """
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def next_weekly(rule: Weekly, after: datetime, tz: ZoneInfo, anchor: date | None = None) -> datetime:
    """The first occurrence of ``rule`` strictly after ``after``, as an aware UTC datetime.

    Occurrences are on ``rule.weekday`` at wall-clock ``rule.at`` in ``tz``.
    With ``anchor`` (the date of the first occurrence) only every
    ``rule.every_weeks``-th week counted from the anchor qualifies, and nothing
    before the anchor; an anchor that is not on the rule's weekday is moved
    forward to the first such weekday. Without an anchor the first occurrence
    after ``after`` is returned: store its local date as the anchor to keep
    counting weeks from there.
    """
    _require_aware(after, "after")
    local_after = after.astimezone(tz)
    day = local_after.date() + timedelta(days=(rule.weekday - local_after.weekday()) % 7)
    step = timedelta(weeks=1)
    if anchor is not None:
        if isinstance(anchor, datetime):
            anchor = anchor.date()
        start = anchor + timedelta(days=(rule.weekday - anchor.weekday()) % 7)
        step = timedelta(weeks=rule.every_weeks)
        if day < start:
            day = start
        else:
            behind = ((day - start).days // 7) % rule.every_weeks
            if behind:
                day += timedelta(weeks=rule.every_weeks - behind)
    moment = _localize(day, rule.at, tz)
    while moment <= after:
        day += step
        moment = _localize(day, rule.at, tz)
    return moment


def describe_weekly(rule: Weekly, language: str) -> str:
    """The rule in words: "elke maandag om 09:00" / "every 2 weeks on Tuesday at 14:30"."""
    at = f"{rule.at.hour:02d}:{rule.at.minute:02d}"
    if _is_english(language):
        day = _EN_DAYS[rule.weekday]
        if rule.every_weeks == 1:
            return f"every {day} at {at}"
        return f"every {rule.every_weeks} weeks on {day} at {at}"
    day = _NL_DAYS[rule.weekday]
    if rule.every_weeks == 1:
        return f"elke {day} om {at}"
    return f"om de {rule.every_weeks} weken op {day} om {at}"


# --------------------------------------------------------------------------- dates

_ORD = r"(?:e|de|ste|st|nd|rd|th)?"
_ISO_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$", re.ASCII)
_DMY_RE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})(?:[-/.](\d{4}|\d{2}))?$", re.ASCII)
_D_MONTH_Y_RE = re.compile(rf"^(?:the\s+)?(\d{{1,2}}){_ORD}\s+(?:of\s+)?([a-z]+)(?:\s+(\d{{4}}))?$", re.ASCII)
_MONTH_D_Y_RE = re.compile(rf"^([a-z]+)\s+(?:the\s+)?(\d{{1,2}}){_ORD}(?:\s+(\d{{4}}))?$", re.ASCII)
_RELATIVE = {
    "vandaag": 0, "today": 0,
    "morgen": 1, "tomorrow": 1,
    "overmorgen": 2, "day after tomorrow": 2, "the day after tomorrow": 2,
}  # fmt: skip
_NEXT_WORDS = ("volgende", "aanstaande", "komende", "next", "this", "coming", "op", "on")
_DATE_EXAMPLE_NL = "12-01-2027, 12 januari, morgen of vrijdag"
_DATE_EXAMPLE_EN = "12-01-2027, 12 January, tomorrow or friday"


def format_date(d: date, language: str) -> str:
    """The date in words: "dinsdag 12 januari 2027" / "Tuesday 12 January 2027"."""
    if _is_english(language):
        return f"{_EN_DAYS[d.weekday()]} {d.day} {_EN_MONTHS[d.month - 1]} {d.year}"
    return f"{_NL_DAYS[d.weekday()]} {d.day} {_NL_MONTHS[d.month - 1]} {d.year}"


def _bad_date(text: str) -> WhenError:
    return WhenError(
        f"Sorry, {_quote(text)} kan ik niet lezen als datum. Schrijf dag-maand-jaar of een dag, "
        f"bijvoorbeeld: {_DATE_EXAMPLE_NL}.",
        f"Sorry, I couldn't read {_quote(text)} as a date. Write day-month-year or a day, "
        f"for example: {_DATE_EXAMPLE_EN}.",
    )


def _build_date(year: int, month: int, day: int) -> date:
    if not 1 <= month <= 12:
        raise WhenError(
            f"Sorry, maand {month} bestaat niet. Schrijf de datum als dag-maand-jaar, "
            f"bijvoorbeeld 12-01-2027 voor 12 januari 2027.",
            f"Sorry, there is no month {month}. Write the date as day-month-year, "
            f"for example 12-01-2027 for 12 January 2027.",
        )
    if not 1 <= year <= 9999:
        raise WhenError(
            f"Sorry, het jaar {year} kan ik niet gebruiken. Schrijf bijvoorbeeld 12-01-2027.",
            f"Sorry, I can't use the year {year}. Write for example 12-01-2027.",
        )
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise WhenError(
            f"Sorry, {day} {_NL_MONTHS[month - 1]} {year} bestaat niet: {_NL_MONTHS[month - 1]} {year} "
            f"heeft {last} dagen. Kies een dag van 1 tot en met {last}, "
            f"bijvoorbeeld {last}-{month:02d}-{year}.",
            f"Sorry, {day} {_EN_MONTHS[month - 1]} {year} does not exist: {_EN_MONTHS[month - 1]} {year} "
            f"has {last} days. Pick a day from 1 to {last}, for example {last}-{month:02d}-{year}.",
        )
    return date(year, month, day)


def _without_year(month: int, day: int, today: date) -> date:
    """The next ``day``-``month`` on or after ``today`` (29 February: the next leap year)."""
    if not 1 <= month <= 12:
        _build_date(today.year, month, day)  # raises the "no such month" error
    last = 29 if month == 2 else calendar.monthrange(2001, month)[1]
    if not 1 <= day <= last:
        nl_month, en_month = _NL_MONTHS[month - 1], _EN_MONTHS[month - 1]
        most_nl, most_en = ("hooguit ", "at most ") if month == 2 else ("", "")
        raise WhenError(
            f"Sorry, {day} {nl_month} bestaat niet: {nl_month} heeft {most_nl}{last} dagen. "
            f"Kies een dag van 1 tot en met {last}, bijvoorbeeld {min(last, 28)} {nl_month}.",
            f"Sorry, {day} {en_month} does not exist: {en_month} has {most_en}{last} days. "
            f"Pick a day from 1 to {last}, for example {min(last, 28)} {en_month}.",
        )
    year = today.year
    while True:
        try:
            candidate = date(year, month, day)
        except ValueError:  # 29 February outside a leap year
            year += 1
            continue
        if candidate >= today:
            return candidate
        year += 1


def _month_number(word: str) -> int:
    if word in _MONTH_NAMES:
        return _MONTH_NAMES[word]
    hint_nl, hint_en = _suggest(word, _MONTH_NAMES)
    raise WhenError(
        f"Sorry, de maand {_quote(word)} ken ik niet.{hint_nl} Schrijf bijvoorbeeld: 12 januari 2027 "
        f"of 12-01-2027.",
        f"Sorry, I don't know the month {_quote(word)}.{hint_en} Write for example: 12 January 2027 "
        f"or 12-01-2027.",
    )


def _parse_date_core(text: str, original: str, today: date) -> date:
    if text in _RELATIVE:
        return today + timedelta(days=_RELATIVE[text])

    words = text.split()
    if words and words[0] in _NEXT_WORDS and len(words) == 2 and words[1] in _WEEKDAY_NAMES:
        words = words[1:]
    if len(words) == 1 and words[0] in _WEEKDAY_NAMES:
        ahead = (_WEEKDAY_NAMES[words[0]] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)

    if m := _ISO_RE.match(text):
        return _build_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _DMY_RE.match(text):
        day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
        if year is None:
            return _without_year(month, day, today)
        full_year = int(year) + (2000 if len(year) == 2 else 0)
        return _build_date(full_year, month, day)
    if m := _D_MONTH_Y_RE.match(text):
        month = _month_number(m.group(2))
        if m.group(3) is None:
            return _without_year(month, int(m.group(1)), today)
        return _build_date(int(m.group(3)), month, int(m.group(1)))
    if (m := _MONTH_D_Y_RE.match(text)) and m.group(1) not in _NEXT_WORDS:
        month = _month_number(m.group(1))
        if m.group(3) is None:
            return _without_year(month, int(m.group(2)), today)
        return _build_date(int(m.group(3)), month, int(m.group(2)))
    raise _bad_date(original)


def parse_date(text: str, today: date) -> date:
    """Parse a date typed in Slack; it must be ``today`` or later.

    Understood: "2027-01-12", "12-01-2027", "12/1/2027", "12.01.2027", "12-01-27"
    (day first, as in Dutch), "12 januari 2027", "12 jan", "12 januari" and
    "12-01" (no year: the next such date on or after ``today``), "12 January
    2027", "January 12", "January 12th, 2027", "the 12th of January",
    "vandaag"/"today", "morgen"/"tomorrow", "overmorgen"/"the day after
    tomorrow", and a day name ("vrijdag", "next friday": the next such day
    after ``today``). A day name before a full date ("di 12 januari 2027") is
    checked against the date.
    """
    if isinstance(today, datetime):
        today = today.date()
    raw = str(text or "")
    _check_length(raw, "een datum", "a date", _DATE_EXAMPLE_NL, _DATE_EXAMPLE_EN)
    norm = _normalize(raw)
    if not norm:
        raise WhenError(
            f"Geef een datum, bijvoorbeeld: {_DATE_EXAMPLE_NL}.",
            f"Please give a date, for example: {_DATE_EXAMPLE_EN}.",
        )

    named_day: int | None = None
    words = norm.split()
    if len(words) > 1 and words[0] in _WEEKDAY_NAMES and words[1] not in _WEEKDAY_NAMES:
        named_day = _WEEKDAY_NAMES[words[0]]
        norm = " ".join(words[1:])
    result = _parse_date_core(norm, raw, today)

    if named_day is not None and result.weekday() != named_day:
        raise WhenError(
            f"Sorry, dat klopt niet helemaal: {result.day} {_NL_MONTHS[result.month - 1]} {result.year} "
            f"is een {_NL_DAYS[result.weekday()]}, geen {_NL_DAYS[named_day]}. "
            f"Bedoelde je {format_date(result, 'nl')}?",
            f"Sorry, that doesn't add up: {result.day} {_EN_MONTHS[result.month - 1]} {result.year} "
            f"is a {_EN_DAYS[result.weekday()]}, not a {_EN_DAYS[named_day]}. "
            f"Did you mean {format_date(result, 'en')}?",
        )
    if result < today:
        example = today + timedelta(days=7)
        raise WhenError(
            f"Sorry, {format_date(result, 'nl')} ligt in het verleden. Kies vandaag of een latere datum, "
            f"bijvoorbeeld {example.day:02d}-{example.month:02d}-{example.year}.",
            f"Sorry, {format_date(result, 'en')} is in the past. Pick today or a later date, "
            f"for example {example.day:02d}-{example.month:02d}-{example.year}.",
        )
    return result


# --------------------------------------------------------------------------- hours

_HOUR_UNITS: dict[str, int] = {
    "uren": 1, "uur": 1, "u": 1, "hours": 1, "hour": 1, "hrs": 1, "hr": 1, "h": 1,
    "dagen": 24, "dag": 24, "days": 24, "day": 24, "d": 24,
    "weken": 168, "week": 168, "weeks": 168, "wk": 168, "w": 168,
}  # fmt: skip
_HOUR_NUMBER_WORDS: dict[str, Fraction] = {
    **{w: Fraction(n) for w, n in _NUMBER_WORDS.items() if n <= 10},
    "a": Fraction(1), "an": Fraction(1), "anderhalf": Fraction(3, 2), "anderhalve": Fraction(3, 2),
}  # fmt: skip
_UNITS_ALT = "|".join(sorted(_HOUR_UNITS, key=len, reverse=True))
# "48", "48 uur", "1d12h" (digits, unit optional) or "twee dagen", "a day" (a word, then a unit).
_HOUR_PART_RE = re.compile(
    rf"(?<![0-9.])(?P<num>\d+(?:\.\d+)?)\s*(?:(?P<unit>{_UNITS_ALT})(?![a-z])|(?![a-z0-9.]))"
    rf"|(?<![a-z0-9.])(?P<word>{'|'.join(sorted(_HOUR_NUMBER_WORDS, key=len, reverse=True))})"
    rf"\s+(?P<word_unit>{_UNITS_ALT})(?![a-z])",
    re.ASCII,
)
_HOUR_SEPARATORS = frozenset({"en", "and", "+", "&"})


def _bad_hours(text: str) -> WhenError:
    return WhenError(
        f"Sorry, {_quote(text)} kan ik niet lezen als een aantal uren. "
        f"Schrijf bijvoorbeeld: 48, 48 uur, 36u of 2 dagen.",
        f"Sorry, I couldn't read {_quote(text)} as a number of hours. "
        f"Write for example: 48, 48 hours, 36h or 2 days.",
    )


def parse_hours(text: str) -> int:
    """Parse a duration into whole hours, 1..336 (14 days).

    Understood: "48", "48 uur", "48u", "36h", "48 hours", "2 dagen", "2 days",
    "2d", "1 week", "1,5 dag" (= 36), "anderhalve dag", "een dag", "a day",
    and sums such as "1 dag en 12 uur" or "1d12h". A bare number means hours.
    """
    raw = str(text or "")
    _check_length(raw, "een aantal uren", "a number of hours", "48 uur", "48 hours")
    norm = _normalize(raw)
    if not norm:
        raise WhenError(
            "Geef een aantal uren, bijvoorbeeld: 48, 48 uur of 2 dagen.",
            "Please give a number of hours, for example: 48, 48 hours or 2 days.",
        )
    parts = list(_HOUR_PART_RE.finditer(norm))
    leftover = _HOUR_PART_RE.sub(" ", norm).split()
    if not parts or any(w not in _HOUR_SEPARATORS for w in leftover):
        raise _bad_hours(raw)
    if len(parts) > 1 and any(p.group("num") and not p.group("unit") for p in parts):
        raise _bad_hours(raw)  # "2 3": which is which?
    total = Fraction(0)
    for part in parts:
        if part.group("word"):
            total += _HOUR_NUMBER_WORDS[part.group("word")] * _HOUR_UNITS[part.group("word_unit")]
        else:
            total += Fraction(part.group("num")) * _HOUR_UNITS[part.group("unit") or "uur"]
    if total.denominator != 1:
        raise WhenError(
            f"Sorry, {_quote(raw)} is geen heel aantal uren. Rond af op hele uren, bijvoorbeeld: 36 uur.",
            f"Sorry, {_quote(raw)} is not a whole number of hours. Round to whole hours, for example: "
            f"36 hours.",
        )
    hours = int(total)
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise WhenError(
            f"Sorry, {_quote(raw)} kan niet: kies tussen {MIN_HOURS} uur en {MAX_HOURS // 24} dagen "
            f"({MAX_HOURS} uur), bijvoorbeeld 48 uur of 2 dagen.",
            f"Sorry, {_quote(raw)} won't work: pick between {MIN_HOURS} hour and {MAX_HOURS // 24} days "
            f"({MAX_HOURS} hours), for example 48 hours or 2 days.",
        )
    return hours


# --------------------------------------------------------------------------- holidays


def _easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def _holidays(year: int) -> tuple[tuple[date, str], ...]:
    if not 1583 <= year <= 9999:
        raise ValueError(f"year must be 1583..9999 (Gregorian calendar), got {year}")
    easter = _easter_sunday(year)
    kings_day = date(year, 4, 27)
    if kings_day.weekday() == 6:  # on a Sunday it moves to Saturday the 26th
        kings_day = date(year, 4, 26)
    days: list[tuple[date, str]] = [
        (date(year, 1, 1), "Nieuwjaarsdag"),
        # Goede Vrijdag is not in the Algemene termijnenwet; many (not all) employers give it off.
        (easter - timedelta(days=2), "Goede Vrijdag"),
        (easter, "Eerste Paasdag"),
        (easter + timedelta(days=1), "Tweede Paasdag"),
        # Current rules (since 2014); earlier years had Koninginnedag on 30 April.
        (kings_day, "Koningsdag"),
        # Bevrijdingsdag is a national holiday every year, even though not every employer
        # (or collective agreement) gives the day off, or only once every five years.
        (date(year, 5, 5), "Bevrijdingsdag"),
        (easter + timedelta(days=39), "Hemelvaartsdag"),
        (easter + timedelta(days=49), "Eerste Pinksterdag"),
        (easter + timedelta(days=50), "Tweede Pinksterdag"),
        (date(year, 12, 25), "Eerste Kerstdag"),
        (date(year, 12, 26), "Tweede Kerstdag"),
    ]
    merged: dict[date, str] = {}
    for day, name in days:  # Hemelvaartsdag can fall on 5 May (2005, 2016): keep both names
        merged[day] = f"{merged[day]} en {name}" if day in merged else name
    return tuple(sorted(merged.items()))


def dutch_public_holidays(year: int) -> dict[date, str]:
    """The Dutch national public holidays of ``year``, by date (sorted), with their Dutch names.

    Included: Nieuwjaarsdag, Goede Vrijdag, Eerste en Tweede Paasdag, Koningsdag
    (27 April, or 26 April when the 27th is a Sunday), Bevrijdingsdag (5 May,
    every year), Hemelvaartsdag, Eerste en Tweede Pinksterdag, Eerste en Tweede
    Kerstdag. The current rules are applied to every year.
    """
    return dict(_holidays(year))


@lru_cache(maxsize=64)
def _holiday_dates(year: int) -> frozenset[date]:
    return frozenset(day for day, _ in _holidays(year))


def is_dutch_holiday(d: date) -> bool:
    """True when ``d`` is one of :func:`dutch_public_holidays` (cached per year)."""
    if isinstance(d, datetime):
        d = d.date()
    return d in _holiday_dates(d.year)


def _is_working_day(d: date) -> bool:
    return d.weekday() < 5 and not is_dutch_holiday(d)


def next_working_moment(
    moment: datetime,
    tz: ZoneInfo,
    *,
    quiet_start: time = time(18, 0),
    quiet_end: time = time(8, 0),
) -> datetime:
    """``moment`` itself (in UTC) if it falls within working hours on a working day in ``tz``.

    Otherwise the start of the next working period: ``quiet_end`` (08:00) local
    on the first day from then on that is a weekday (Monday to Friday) and not a
    Dutch public holiday. Working hours run from ``quiet_end`` (inclusive) to
    ``quiet_start`` (exclusive); ``quiet_start`` 00:00 means until midnight.
    Returns an aware UTC datetime.
    """
    _require_aware(moment, "moment")
    if quiet_start != time(0) and not quiet_end < quiet_start:
        raise ValueError("quiet_end must be earlier in the day than quiet_start")
    local = moment.astimezone(tz)
    now = local.time().replace(tzinfo=None, fold=0)
    day = local.date()
    before_end = quiet_start == time(0) or now < quiet_start
    if _is_working_day(day) and quiet_end <= now and before_end:
        return moment.astimezone(UTC)
    if now >= quiet_end:  # today's working period has started (or ended): look from tomorrow
        day += timedelta(days=1)
    while not _is_working_day(day):
        day += timedelta(days=1)
    return _localize(day, quiet_end, tz)


# --------------------------------------------------------------------------- formatting


def format_moment(moment: datetime, tz: ZoneInfo, language: str) -> str:
    """The moment in local time of ``tz``: "maandag 2 december om 09:00" / "Monday 2 December at 09:00".

    ``language`` starting with "en" gives English, anything else Dutch (the
    default in this bot). Names are built in; the OS locale is not used.
    """
    _require_aware(moment, "moment")
    local = moment.astimezone(tz)
    at = f"{local.hour:02d}:{local.minute:02d}"
    if _is_english(language):
        return f"{_EN_DAYS[local.weekday()]} {local.day} {_EN_MONTHS[local.month - 1]} at {at}"
    return f"{_NL_DAYS[local.weekday()]} {local.day} {_NL_MONTHS[local.month - 1]} om {at}"
