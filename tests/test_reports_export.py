"""The report as CSV: aggregates only, suppressed cells as words, no formulas from chain names."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from bot.reports.export import report_csv, safe_cell
from bot.reports.model import (
    DIMENSIONS,
    DONT_KNOW,
    HIDDEN_OPEN,
    HIDDEN_TOO_FEW,
    ChainReport,
    Report,
    RoundFigures,
)

START = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)


def _shown(week: int) -> RoundFigures:
    return RoundFigures(
        round_id=f"round-{week}",
        opened_at=START + timedelta(weeks=week),
        closed=True,
        invited=10,
        answered=8,
        skipped=1,
        stage_shares={
            d: {"opportunisme": 0.5, "procedure": 0.375, "verankering": 0.0, DONT_KNOW: 0.125}
            for d in DIMENSIONS
        },
        stage_estimate={"strategische_focus": 1.62, "operationeel_model": None, "zichtbaarheid": 1.5},
        pulse_means={"trust": 3.25, "learning": None, "control": 2.0},
        setbacks=2,
        response_rate=0.8,
    )


def _hidden(week: int, reason: str) -> RoundFigures:
    return RoundFigures(
        round_id=f"round-{week}",
        opened_at=START + timedelta(weeks=week),
        closed=reason != HIDDEN_OPEN,
        invited=10,
        answered=3,
        skipped=0,
        stage_shares=None,
        stage_estimate=None,
        pulse_means=None,
        setbacks=None,
        response_rate=None,
        hidden_reason=reason,
    )


def _report(name: str = "Jeugdketen Noord") -> Report:
    chain = ChainReport(
        chain_id="chain-1",
        chain_name=name,
        rounds=[_shown(0), _hidden(1, HIDDEN_TOO_FEW), _hidden(2, HIDDEN_OPEN)],
        trend_estimate=None,
        trend_direction=None,
        comments=["Goed overleg met UMEMBER01 erbij", "Geheime vrije tekst"],
        comments_by_kind={"went_well": ["Goed overleg met UMEMBER01 erbij"]},
    )
    return Report(
        generated_at=START + timedelta(weeks=3),
        weeks=4,
        min_group=5,
        chains=[chain],
        total_answered=None,
        total_invited=None,
    )


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_one_row_per_chain_per_round_with_the_figures():
    rows = _rows(report_csv(_report(), "en"))
    assert len(rows) == 3
    first = rows[0]
    assert first["chain"] == "Jeugdketen Noord" and first["round (date)"] == "2027-01-11"
    assert (first["invited"], first["answered"], first["skipped"]) == ("10", "8", "1")
    assert first["response rate (%)"] == "80.0"
    assert first["Strategic focus: Opportunism (%)"] == "50.0"
    assert first["Strategic focus: Cultural embedding (%)"] == "0.0"  # a real zero: nobody chose it
    assert first["Strategic focus: Don't know (%)"] == "12.5"
    assert first["Strategic focus: stage estimate (1–3)"] == "1.62"
    assert first["Trust: mean (1–5)"] == "3.25" and first["setbacks reported"] == "2"


@pytest.mark.parametrize(
    ("language", "words"), [("nl", "te weinig antwoorden"), ("en", "not enough answers")]
)
def test_suppressed_figures_are_words_never_numbers_or_empty(language, words):
    rows = _rows(report_csv(_report(), language))
    shown, too_few = rows[0], rows[1]
    figures = list(too_few.values())[7:]  # everything after the counts and the response rate
    assert figures and all(cell == words for cell in figures)
    assert list(too_few.values())[6] == words  # response rate None
    # single figures hidden inside a shown round: the estimate nobody could make, an item too few rated
    assert sum(cell == words for cell in shown.values()) == 2
    assert all(cell != "" for row in rows for cell in row.values())


def test_a_round_hidden_because_it_is_open_says_so():
    rows = _rows(report_csv(_report(), "nl"))
    assert rows[2]["status"] == "open"
    assert set(list(rows[2].values())[6:]) == {"ronde loopt nog"}


def test_no_user_ids_and_no_free_text():
    text = report_csv(_report(), "nl")
    assert "UMEMBER01" not in text and "Goed overleg" not in text and "Geheime" not in text
    assert "round-0" not in text and "chain-1" not in text  # no internal ids either


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+31 keten", "-2+3", "@SUM(A1)", "\tTab"])
def test_formula_like_chain_names_are_neutralised(name):
    rows = list(csv.reader(io.StringIO(report_csv(_report(name), "en"))))
    assert all(row[0] == "'" + name for row in rows[1:])
    assert all(not cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row)


def test_safe_cell_leaves_ordinary_text_alone_and_flattens_newlines():
    assert safe_cell("Zorgketen Oost") == "Zorgketen Oost"
    assert safe_cell("Keten\n=1+1") == "Keten =1+1"
    assert safe_cell("=1+1") == "'=1+1"


def test_dutch_headers_use_the_content_labels():
    header = next(csv.reader(io.StringIO(report_csv(_report(), "nl"))))
    assert header[:3] == ["keten", "ronde (datum)", "status"]
    assert "Zichtbaarheid in organisatie: Culturele verankering (%)" in header
    assert "Terugval op controle: gemiddelde (1–5)" in header
