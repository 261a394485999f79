"""The report as CSV: aggregates only, one row per chain per round.

No user id and no free text ever reaches a cell: the rows are built from ``RoundFigures`` alone
(counts, shares, means), never from ``ChainReport.comments``. A figure the privacy rules hid
(``None``) is written as the words "te weinig antwoorden" / "not enough answers", never as a
number or an empty cell, so a spreadsheet cannot sum it as zero ("ronde loopt nog" / "round
still open" when a round is hidden only because it has not closed yet).

Cells are comma separated, numbers use a decimal point (shares and the response rate as
percentages with one decimal, means with two), dates are ISO (YYYY-MM-DD) in Amsterdam time.
Chain names are user input: any cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading apostrophe so spreadsheets do not run it as a formula.
"""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from bot.checkins.content import CheckinContent, default_content, lang
from bot.reports.model import DIMENSIONS, DONT_KNOW, HIDDEN_OPEN, PULSE, STAGES, Report, RoundFigures

__all__ = ["PULSE_LABELS", "STILL_OPEN", "SUPPRESSED", "report_csv", "safe_cell"]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SUPPRESSED = {"nl": "te weinig antwoorden", "en": "not enough answers"}
#: For a round hidden only because it is still open (its figures could still change).
STILL_OPEN = {"nl": "ronde loopt nog", "en": "round still open"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_HEADERS = {
    "chain": {"nl": "keten", "en": "chain"},
    "date": {"nl": "ronde (datum)", "en": "round (date)"},
    "status": {"nl": "status", "en": "status"},
    "invited": {"nl": "uitgenodigd", "en": "invited"},
    "answered": {"nl": "beantwoord", "en": "answered"},
    "skipped": {"nl": "overgeslagen", "en": "skipped"},
    "response": {"nl": "respons (%)", "en": "response rate (%)"},
    "share": {"nl": "{dimension}: {stage} (%)", "en": "{dimension}: {stage} (%)"},
    "estimate": {"nl": "{dimension}: stadium-schatting (1–3)", "en": "{dimension}: stage estimate (1–3)"},
    "pulse": {"nl": "{item}: gemiddelde (1–5)", "en": "{item}: mean (1–5)"},
    "setbacks": {"nl": "meldingen tegenslag", "en": "setbacks reported"},
}
_STATUS = {True: {"nl": "gesloten", "en": "closed"}, False: {"nl": "open", "en": "open"}}
#: Short names for the pulse items (the content only has the full questions); shared with the chart.
PULSE_LABELS = {
    "trust": {"nl": "Vertrouwen", "en": "Trust"},
    "learning": {"nl": "Ruimte om te leren", "en": "Room to learn"},
    "control": {"nl": "Terugval op controle", "en": "Fallback on control"},
}


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas: a cell starting with = + - @ tab or CR gets a leading '."""
    value = value.replace("\r\n", " ").replace("\n", " ")
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def report_csv(
    report: Report, language: str, *, zone: ZoneInfo = AMSTERDAM, content: CheckinContent | None = None
) -> str:
    """The report's aggregates as CSV text (header row first; "en" gives English)."""
    language = lang(language)
    content = content or default_content()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in _header(language, content)])
    for chain in report.chains:
        for figures in chain.rounds:
            row = [chain.chain_name, *_round_cells(figures, language, zone)]
            writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def _header(language: str, content: CheckinContent) -> list[str]:
    h = {key: texts[language] for key, texts in _HEADERS.items()}
    cells = [h["chain"], h["date"], h["status"], h["invited"], h["answered"], h["skipped"], h["response"]]
    for dimension in DIMENSIONS:
        label = content.dimension_label(dimension, language)
        for stage in STAGES:
            cells.append(h["share"].format(dimension=label, stage=content.stage_name(stage, language)))
        cells.append(h["share"].format(dimension=label, stage=content.dont_know_label(language)))
        cells.append(h["estimate"].format(dimension=label))
    cells += [h["pulse"].format(item=PULSE_LABELS[item][language]) for item in PULSE]
    cells.append(h["setbacks"])
    return cells


def _round_cells(r: RoundFigures, language: str, zone: ZoneInfo) -> list[str]:
    hidden = (STILL_OPEN if r.hidden_reason == HIDDEN_OPEN else SUPPRESSED)[language]

    def number(value: float | int | None, fmt: str) -> str:
        return hidden if value is None else format(value, fmt)

    opened = r.opened_at.astimezone(zone) if r.opened_at.tzinfo else r.opened_at
    cells = [
        opened.date().isoformat(),
        _STATUS[bool(r.closed)][language],
        str(r.invited),
        str(r.answered),
        str(r.skipped),
        number(None if r.response_rate is None else 100 * r.response_rate, ".1f"),
    ]
    for dimension in DIMENSIONS:
        shares = None if r.stage_shares is None else r.stage_shares.get(dimension)
        for stage in (*STAGES, DONT_KNOW):
            share = None if shares is None else shares.get(stage, 0.0)
            cells.append(number(None if share is None else 100 * share, ".1f"))
        estimate = None if r.stage_estimate is None else r.stage_estimate.get(dimension)
        cells.append(number(estimate, ".2f"))
    for item in PULSE:
        cells.append(number(None if r.pulse_means is None else r.pulse_means.get(item), ".2f"))
    cells.append(number(r.setbacks, "d"))
    return cells
