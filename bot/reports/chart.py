"""One PNG per chain: the stage shares per round for each dimension, and the pulse over time.

Rendering uses matplotlib's object API on an explicit Agg canvas (``Figure`` +
``FigureCanvasAgg``): no pyplot, no global figure state and no display, so several threads can
render at once. Nothing here changes matplotlib's global backend or rcParams.

What the chart promises:

- a suppressed round (``stage_shares is None``) is a hatched gap marked "te weinig antwoorden" /
  "not enough answers", never a zero bar (dotted and "ronde loopt nog" / "round still open" when
  it is hidden only because it has not closed yet); a missing pulse mean is a gap in its line,
  and pulse means the privacy rules left in a hidden round are still drawn;
- the stage colours are the colour-blind safe Okabe–Ito set without its green and red, so no
  stage reads as "good" or "bad"; the pulse lines differ in marker and dash as well as colour;
- labels come from the check-in content (Dutch or English), dates are formatted here and never
  depend on the OS locale;
- a caption says the stage model describes, it does not score.
"""

from __future__ import annotations

import io
import math
import os
import textwrap
from datetime import datetime
from typing import IO
from zoneinfo import ZoneInfo

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, PercentFormatter
from PIL import Image

from bot.checkins.content import CheckinContent, default_content, lang
from bot.reports.export import PULSE_LABELS, SUPPRESSED
from bot.reports.model import (
    DIMENSIONS,
    DONT_KNOW,
    HIDDEN_OPEN,
    PULSE,
    STAGES,
    ChainReport,
    RoundFigures,
)

__all__ = ["render_chain_chart", "render_png_bytes", "suppressed_label"]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: Okabe & Ito (2008), minus green and vermillion: orange, blue, reddish purple; grey for
#: "don't know". Distinct for the common colour-vision deficiencies and free of traffic-light
#: meaning.
STAGE_COLOURS: dict[str, str] = {
    "opportunisme": "#E69F00",
    "procedure": "#0072B2",
    "verankering": "#CC79A7",
    DONT_KNOW: "#C8C8C8",
}
#: Pulse lines: Paul Tol's "dark" shades, told apart by marker and dash too.
PULSE_STYLE: dict[str, dict[str, object]] = {
    "trust": {"color": "#222255", "marker": "o", "linestyle": "-"},
    "learning": {"color": "#225555", "marker": "s", "linestyle": "--"},
    "control": {"color": "#663333", "marker": "^", "linestyle": ":"},
}
HATCH_EDGE = "#8C8C8C"
#: "te weinig antwoorden" is hatched; a round still running (hidden until it closes) is dotted.
HATCHES = {"suppressed": "////", "open": ".."}
TEXT_COLOUR = "#333333"

DPI = 150
WIDTH_IN = 10.0  # 1500 px
MONTHS = {
    "nl": ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}

TEXT: dict[str, dict[str, str]] = {
    "suppressed": SUPPRESSED,
    "subtitle": {
        "nl": "Ontwikkelstadia en pulse per check-inronde",
        "en": "Development stages and pulse per check-in round",
    },
    "share": {"nl": "aandeel antwoorden", "en": "share of answers"},
    "pulse": {"nl": "Pulse: gemiddelde per ronde (1–5)", "en": "Pulse: mean per round (1–5)"},
    "rounds": {"nl": "{n} rondes", "en": "{n} rounds"},
    "round": {"nl": "1 ronde", "en": "1 round"},
    "no_rounds": {"nl": "Nog geen check-inrondes.", "en": "No check-in rounds yet."},
    "all_suppressed": {
        "nl": "In geen enkele ronde genoeg antwoorden om iets te tonen.",
        "en": "No round had enough answers to show anything.",
    },
    "all_open": {
        "nl": "De ronde loopt nog: de cijfers verschijnen als ze gesloten is.",
        "en": "The round is still open: figures appear once it has closed.",
    },
    "open": {"nl": "ronde loopt nog", "en": "round still open"},
    "caption": {
        "nl": (
            "Het stadiamodel beschrijft hoe de samenwerking nu verloopt; het is geen score. Een later "
            "stadium is niet vanzelf beter: culturele verankering is niet altijd nodig.\n"
            "Balken: aandeel van de antwoorden per stadium. Gearceerd: te weinig antwoorden om iets te tonen"
            "{min_group}.\n"
            "Pulse: gemiddelde van wie de vraag beantwoordde. Bij 'terugval op controle' is hoog een "
            "waarschuwing, geen doel."
        ),
        "en": (
            "The stage model describes how the collaboration works now; it is not a score. A later stage is "
            "not better as such: cultural embedding is not always needed.\n"
            "Bars: share of answers per stage. Hatched: not enough answers to show anything{min_group}.\n"
            "Pulse: mean of those who answered the item. For 'fallback on control', high is a warning sign, "
            "not a goal."
        ),
    },
    "open_short": {"nl": "open", "en": "open"},
    "min_group": {"nl": " (minder dan {n})", "en": " (fewer than {n})"},
}


def suppressed_label(language: str) -> str:
    """ "te weinig antwoorden" / "not enough answers"."""
    return TEXT["suppressed"][lang(language)]


def render_png_bytes(
    chain: ChainReport,
    language: str,
    *,
    zone: ZoneInfo = AMSTERDAM,
    min_group: int | None = None,
    content: CheckinContent | None = None,
) -> bytes:
    """The chain's chart as PNG bytes (about 1500 px wide)."""
    buffer = io.BytesIO()
    render_chain_chart(chain, language, buffer, zone=zone, min_group=min_group, content=content)
    return buffer.getvalue()


def render_chain_chart(
    chain: ChainReport,
    language: str,
    path_or_buffer: str | os.PathLike[str] | IO[bytes],
    *,
    zone: ZoneInfo = AMSTERDAM,
    min_group: int | None = None,
    content: CheckinContent | None = None,
) -> None:
    """Write the chain's chart as PNG to a path or a binary file object.

    ``language`` is "en" for English, anything else gives Dutch. Round dates are shown in
    ``zone``. ``min_group``, when given, is named in the caption.
    """
    fig = _build(chain, lang(language), zone, min_group, content or default_content())
    canvas = FigureCanvasAgg(fig)  # explicit Agg canvas: no backend switching, no pyplot
    canvas.draw()
    width, height = canvas.get_width_height()
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    # A chart has few colours: a 256-colour palette keeps it sharp at a third of the size.
    image = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    image.save(path_or_buffer, format="PNG")


# ----------------------------------------------------------------------------- building


def _local_day(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return datetime(moment.year, moment.month, moment.day)


def _build(
    chain: ChainReport, language: str, zone: ZoneInfo, min_group: int | None, content: CheckinContent
) -> Figure:
    rounds = sorted(chain.rounds, key=lambda r: r.opened_at)  # oldest first, as the model promises
    panel_heights = [2.0] * len(DIMENSIONS) + [2.3]
    top_in, bottom_in, gap_in = 1.3, 1.2, 0.42
    height_in = top_in + bottom_in + sum(panel_heights) + gap_in * (len(panel_heights) - 1)
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, facecolor="white")
    grid = fig.add_gridspec(
        len(panel_heights),
        1,
        height_ratios=panel_heights,
        left=0.085,
        right=0.975,
        top=1 - top_in / height_in,
        bottom=bottom_in / height_in,
        hspace=gap_in / (sum(panel_heights) / len(panel_heights)),
    )
    axes = [fig.add_subplot(grid[0, 0])]
    axes += [fig.add_subplot(grid[i, 0], sharex=axes[0]) for i in range(1, len(panel_heights))]
    stage_axes, pulse_ax = axes[:-1], axes[-1]

    _titles(fig, chain, rounds, language, height_in, zone)

    xs = [mdates.date2num(_local_day(r.opened_at, zone)) for r in rounds]
    width = _bar_width(xs)
    if xs:
        pad = max(width, 3.0, (35 - (max(xs) - min(xs))) / 2)  # show at least five weeks
        axes[0].set_xlim(min(xs) - pad, max(xs) + pad)
    else:
        today = mdates.date2num(_local_day(datetime.now(zone), zone))
        axes[0].set_xlim(today - 28, today + 3)

    for ax, dimension in zip(stage_axes, DIMENSIONS, strict=True):
        _stage_panel(ax, fig, dimension, rounds, xs, width, language, content)
    _pulse_panel(pulse_ax, rounds, xs, width, language)
    _date_axis(axes, xs, language)

    if not rounds or all(r.suppressed for r in rounds):
        key = "no_rounds"
        if rounds:
            key = "all_open" if all(_kind(r) == "open" for r in rounds) else "all_suppressed"
        stage_axes[0].text(
            0.5,
            0.5,
            TEXT[key][language],
            transform=stage_axes[0].transAxes,
            ha="center",
            va="center",
            fontsize=11,
            color=TEXT_COLOUR,
            bbox={"facecolor": "white", "edgecolor": HATCH_EDGE, "boxstyle": "round,pad=0.4"},
        )

    kinds = [k for k in ("suppressed", "open") if any(r.suppressed and _kind(r) == k for r in rounds)]
    _legends(fig, pulse_ax, language, content, height_in, kinds)
    size = TEXT["min_group"][language].format(n=min_group) if min_group else ""
    caption = "\n".join(
        textwrap.fill(part, 175) for part in TEXT["caption"][language].format(min_group=size).split("\n")
    )
    fig.text(
        0.085,
        0.18 / height_in,
        caption,
        fontsize=7.5,
        color="#555555",
        ha="left",
        va="bottom",
        linespacing=1.5,
        wrap=False,
    )
    return fig


def _titles(
    fig: Figure, chain: ChainReport, rounds: list[RoundFigures], language: str, h: float, zone: ZoneInfo
) -> None:
    name = chain.chain_name
    fig.text(
        0.085,
        1 - 0.2 / h,
        name,
        fontsize=16 if len(name) <= 60 else max(10.0, 16 * 60 / len(name)),  # names run up to 80
        weight="bold",
        color="#111111",
        va="top",
        parse_math=False,  # chain names are user input: '$' is a dollar, not mathtext
    )
    count = TEXT["round"][language] if len(rounds) == 1 else TEXT["rounds"][language].format(n=len(rounds))
    period = ""
    if rounds:
        first, last = rounds[0].opened_at, rounds[-1].opened_at
        period = f" · {_long_date(first, language, zone)} – {_long_date(last, language, zone)}"
    fig.text(
        0.085,
        1 - 0.55 / h,
        f"{TEXT['subtitle'][language]} · {count}{period}",
        fontsize=9.5,
        color="#555555",
        va="top",
    )


def _long_date(moment: datetime, language: str, zone: ZoneInfo) -> str:
    day = _local_day(moment, zone)
    return f"{day.day} {MONTHS[language][day.month - 1]} {day.year}"


def _bar_width(xs: list[float]) -> float:
    """Bars fill 70% of the smallest gap between rounds (5 days for a single weekly round), and
    are at least a day wide even when two rounds opened on consecutive days."""
    gaps = [b - a for a, b in zip(xs, xs[1:], strict=False) if b > a]
    return max(1.0, 0.7 * min(gaps)) if gaps else 5.0


def _kind(r: RoundFigures) -> str:
    """Why a round shows nothing: "open" (still running) or "suppressed" (too few, or hidden)."""
    return "open" if r.hidden_reason == HIDDEN_OPEN else "suppressed"


def _runs(rounds: list[RoundFigures], hidden: list[bool]) -> list[tuple[int, int, str]]:
    """(first, last, kind) of each stretch of consecutive hidden rounds of the same kind."""
    runs: list[tuple[int, int, str]] = []
    for i, (r, gone) in enumerate(zip(rounds, hidden, strict=True)):
        if not gone:
            continue
        kind = _kind(r)
        if runs and runs[-1][1] == i - 1 and runs[-1][2] == kind:
            runs[-1] = (runs[-1][0], i, kind)
        else:
            runs.append((i, i, kind))
    return runs


def _hatch(
    ax: Axes, xs: list[float], width: float, runs: list[tuple[int, int, str]], y0: float, y1: float
) -> None:
    for first, last, kind in runs:
        ax.add_patch(
            Rectangle(
                (xs[first] - width / 2, y0),
                xs[last] - xs[first] + width,
                y1 - y0,
                facecolor="white",
                edgecolor=HATCH_EDGE,
                hatch=HATCHES[kind],
                linewidth=0.6,
                zorder=1,
            )
        )


def _stage_panel(
    ax: Axes,
    fig: Figure,
    dimension: str,
    rounds: list[RoundFigures],
    xs: list[float],
    width: float,
    language: str,
    content: CheckinContent,
) -> None:
    ax.set_title(
        content.dimension_label(dimension, language),
        loc="left",
        fontsize=10.5,
        weight="bold",
        color=TEXT_COLOUR,
        pad=4,
    )
    shown = [(x, r) for x, r in zip(xs, rounds, strict=True) if not r.suppressed]
    bottoms = [0.0] * len(shown)
    for stage in (*STAGES, DONT_KNOW):
        heights = [float((r.stage_shares or {}).get(dimension, {}).get(stage) or 0.0) for _, r in shown]
        # one collection per stage: far cheaper than a bar artist per round
        boxes = [
            ((x - width / 2, b), (x - width / 2, b + h), (x + width / 2, b + h), (x + width / 2, b))
            for (x, _), b, h in zip(shown, bottoms, heights, strict=True)
            if h > 0
        ]
        fills = [
            to_rgba(STAGE_COLOURS[stage], 1.0 if r.closed else 0.5)
            for (_, r), h in zip(shown, heights, strict=True)
            if h > 0
        ]
        if boxes:
            ax.add_collection(
                PolyCollection(
                    boxes, facecolors=fills, edgecolors="white", linewidths=0.4, zorder=2, label=stage
                ),
                autolim=False,
            )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for x, r in shown:
        if not r.closed:
            ax.text(
                x, 1.01, TEXT["open_short"][language], ha="center", va="bottom", fontsize=7, style="italic"
            )

    runs = _runs(rounds, [r.suppressed for r in rounds])
    _hatch(ax, xs, width, runs, 0.0, 1.0)
    _label_runs(ax, fig, xs, width, runs, language)

    ax.set_ylim(0, 1)
    ax.yaxis.set_major_locator(FixedLocator([0, 0.5, 1]))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel(TEXT["share"][language], fontsize=8, color="#555555")
    _style(ax)
    ax.tick_params(labelbottom=False)


def _label_runs(
    ax: Axes, fig: Figure, xs: list[float], width: float, runs: list[tuple[int, int, str]], language: str
) -> None:
    """Write "te weinig antwoorden" (or "loopt nog") in a hatched stretch when it fits."""
    if not runs:
        return
    x0, x1 = ax.get_xlim()
    box = ax.get_position()
    px_per_day = box.width * fig.get_figwidth() * DPI / (x1 - x0)
    panel_px = box.height * fig.get_figheight() * DPI
    size = 7.0
    char_px = size * DPI / 72
    for first, last, kind in runs:
        label = TEXT[kind][language]
        text_px = len(label) * char_px * 0.55
        span_px = (xs[last] - xs[first] + width) * px_per_day
        middle = (xs[first] + xs[last]) / 2
        style = {"ha": "center", "va": "center", "fontsize": size, "color": "#444444", "zorder": 3}
        bbox = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}
        if span_px >= text_px + 12:
            ax.text(middle, 0.5, label, bbox=bbox, **style)
        elif span_px >= char_px * 1.25 and panel_px >= text_px + 12:
            ax.text(middle, 0.5, label, rotation=90, bbox=bbox, **style)


def _pulse_panel(ax: Axes, rounds: list[RoundFigures], xs: list[float], width: float, language: str) -> None:
    ax.set_title(TEXT["pulse"][language], loc="left", fontsize=10.5, weight="bold", color=TEXT_COLOUR, pad=4)
    # a round hidden for its stages may still show pulse means the privacy rules let through
    values = {item: [(r.pulse_means or {}).get(item) for r in rounds] for item in PULSE}
    empty = [r.suppressed and all(values[item][i] is None for item in PULSE) for i, r in enumerate(rounds)]
    _hatch(ax, xs, width, _runs(rounds, empty), 0.6, 5.4)
    for item in PULSE:
        ys = [math.nan if v is None else float(v) for v in values[item]]
        style = PULSE_STYLE[item]
        ax.plot(
            xs,
            ys,
            color=style["color"],
            linestyle=style["linestyle"],
            marker=style["marker"],
            markersize=3.5,
            linewidth=1.6,
            zorder=3,
        )
    ax.set_ylim(0.6, 5.4)
    ax.yaxis.set_major_locator(FixedLocator([1, 2, 3, 4, 5]))
    ax.set_ylabel("1–5", fontsize=8, color="#555555")
    _style(ax)


def _style(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")
    ax.tick_params(labelsize=8, colors="#444444")
    ax.grid(axis="y", color="#E6E6E6", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)


def _date_axis(axes: list[Axes], xs: list[float], language: str) -> None:
    """Month ticks for long spans, round ticks for short ones; month names from MONTHS."""
    x0, x1 = axes[0].get_xlim()
    span = x1 - x0
    months = MONTHS[language]
    if span > 100:
        step = 1 if span <= 430 else (2 if span <= 800 else 3)
        first = mdates.num2date(x0).replace(tzinfo=None)
        ticks = []
        year, month = first.year, first.month
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            at = mdates.date2num(datetime(year, month, 1))
            if at > x1:
                break
            if (month - 1) % step == 0:
                ticks.append(at)

        def fmt(value: float, pos: int | None) -> str:
            day = mdates.num2date(value)
            name = months[day.month - 1]
            return f"{name}\n{day.year}" if pos == 0 or day.month == 1 else name

    else:
        every = max(1, math.ceil(len(xs) / 10))
        ticks = xs[::every]

        def fmt(value: float, pos: int | None) -> str:
            day = mdates.num2date(value)
            text = f"{day.day} {months[day.month - 1]}"
            return f"{text}\n{day.year}" if pos == 0 or (day.month == 1 and day.day <= 7 * every) else text

    axes[-1].xaxis.set_major_locator(FixedLocator(ticks))
    axes[-1].xaxis.set_major_formatter(FuncFormatter(fmt))
    for ax in axes:
        ax.grid(axis="x", color="#EFEFEF", linewidth=0.6, zorder=0)


def _legends(
    fig: Figure, pulse_ax: Axes, language: str, content: CheckinContent, h: float, kinds: list[str]
) -> None:
    handles = [Patch(facecolor=STAGE_COLOURS[s], label=content.stage_name(s, language)) for s in STAGES]
    handles.append(Patch(facecolor=STAGE_COLOURS[DONT_KNOW], label=content.dont_know_label(language)))
    for kind in kinds:
        handles.append(
            Patch(
                facecolor="white",
                edgecolor=HATCH_EDGE,
                hatch=HATCHES[kind],
                linewidth=0.6,
                label=TEXT[kind][language],
            )
        )
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.078, 1 - 0.78 / h),
        ncols=len(handles),
        frameon=False,
        fontsize=8.5,
        handlelength=1.6,
        columnspacing=1.6,
    )
    lines = [
        Line2D(
            [],
            [],
            color=PULSE_STYLE[item]["color"],
            linestyle=PULSE_STYLE[item]["linestyle"],
            marker=PULSE_STYLE[item]["marker"],
            markersize=4,
            linewidth=1.6,
            label=PULSE_LABELS[item][language],
        )
        for item in PULSE
    ]
    pulse_ax.legend(
        handles=lines,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=len(lines),
        frameon=False,
        fontsize=8,
        handlelength=2.6,
        borderaxespad=0.1,
    )
