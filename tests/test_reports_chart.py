"""The chain chart: a PNG within size limits, suppressed rounds as gaps, thread-safe rendering."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from bot.checkins.content import default_content
from bot.reports import chart
from bot.reports.chart import render_chain_chart, render_png_bytes
from bot.reports.model import (
    DIMENSIONS,
    DONT_KNOW,
    HIDDEN_OPEN,
    HIDDEN_TOO_FEW,
    PULSE,
    ChainReport,
    RoundFigures,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = datetime(2026, 9, 7, 7, 0, tzinfo=UTC)  # a Monday, 09:00 in Amsterdam


def _round(week: int, *, hidden: str | None = None, learning_missing: bool = False) -> RoundFigures:
    opened = START + timedelta(weeks=week)
    closed = hidden != HIDDEN_OPEN
    if hidden is not None:
        return RoundFigures(
            round_id=f"r{week}",
            opened_at=opened,
            closed=closed,
            invited=12,
            answered=3,
            skipped=1,
            stage_shares=None,
            stage_estimate=None,
            pulse_means=None,
            setbacks=None,
            response_rate=0.25,
            hidden_reason=hidden,
        )
    t = week / 52
    shares = {
        d: {
            "opportunisme": 0.6 - 0.4 * t,
            "procedure": 0.25 + 0.3 * t,
            "verankering": 0.05 + 0.1 * t,
            DONT_KNOW: 0.1,
        }
        for d in DIMENSIONS
    }
    pulse = {"trust": 3.0 + t, "learning": None if learning_missing else 2.8 + t / 2, "control": 2.6 - t / 2}
    return RoundFigures(
        round_id=f"r{week}",
        opened_at=opened,
        closed=closed,
        invited=12,
        answered=9,
        skipped=1,
        stage_shares=shares,
        stage_estimate={d: 1.5 + t for d in DIMENSIONS},
        pulse_means=pulse,
        setbacks=1,
        response_rate=0.75,
    )


def _chain(weeks: int = 26, name: str = "Jeugdketen Noord", too_few=(3, 8, 9, 10, 11), open_last=True):
    rounds = []
    for week in range(weeks):
        hidden = HIDDEN_TOO_FEW if week in too_few else None
        if open_last and week == weeks - 1:
            hidden = HIDDEN_OPEN
        rounds.append(_round(week, hidden=hidden, learning_missing=week == 5))
    return ChainReport(
        chain_id="c1", chain_name=name, rounds=rounds, trend_estimate=None, trend_direction=None
    )


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("weeks", [1, 26, 52])
def test_a_png_within_the_size_limits(language, weeks):
    data = render_png_bytes(_chain(weeks), language, min_group=5)
    width, height = _png_size(data)
    assert 1000 <= width <= 1600 and height <= 2000
    assert len(data) < 300_000
    with Image.open(io.BytesIO(data)) as image:
        image.verify()


def test_rendering_to_a_path_gives_the_same_png(tmp_path):
    chain_ = _chain()
    render_chain_chart(chain_, "nl", tmp_path / "chart.png")
    render_chain_chart(chain_, "nl", str(tmp_path / "chart2.png"))
    data = render_png_bytes(chain_, "nl")
    assert (tmp_path / "chart.png").read_bytes() == data == (tmp_path / "chart2.png").read_bytes()


def test_two_threads_render_at_once_and_get_what_one_thread_gets():
    jobs = [(_chain(52), "nl"), (_chain(26, name="Zorgketen Oost"), "en")] * 2
    expected = [render_png_bytes(c, lang) for c, lang in jobs]
    results: list[bytes | None] = [None] * len(jobs)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(jobs))

    def work(i: int) -> None:
        try:
            barrier.wait()
            results[i] = render_png_bytes(*jobs[i])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert results == expected


def _figure(chain_: ChainReport, language: str):
    fig = chart._build(chain_, language, chart.AMSTERDAM, 5, default_content())
    FigureCanvasAgg(fig).draw()
    return fig


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]


def test_suppressed_rounds_are_hatched_gaps_never_zero_bars():
    chain_ = _chain(26, too_few=(3, 8, 9, 10, 11), open_last=True)
    fig = _figure(chain_, "nl")
    xs = [chart.mdates.date2num(chart._local_day(r.opened_at, chart.AMSTERDAM)) for r in chain_.rounds]
    for ax in fig.axes[: len(DIMENSIONS)]:
        assert not [p for p in ax.patches if not p.get_hatch()]  # bars are collections, one per stage
        hatched = [p for p in ax.patches if p.get_hatch()]
        bar_centres = {
            round(float(path.vertices[:4, 0].mean()), 3) for c in ax.collections for path in c.get_paths()
        }
        for x, r in zip(xs, chain_.rounds, strict=True):
            covered = any(p.get_x() <= x <= p.get_x() + p.get_width() for p in hatched)
            assert covered == r.suppressed
            assert (round(x, 3) in bar_centres) == (not r.suppressed)
        assert {p.get_hatch() for p in hatched} == {"////", ".."}  # too few, and still open
        assert all(p.get_y() == 0 and p.get_height() == 1 for p in hatched)  # a full gap, not zero
    texts = _texts(fig)
    assert "te weinig antwoorden" in texts and "ronde loopt nog" in texts


def test_labels_follow_the_language_and_dates_do_not_need_the_os_locale():
    content = default_content()
    dutch, english = _texts(_figure(_chain(26), "nl")), _texts(_figure(_chain(26), "en"))
    for d in DIMENSIONS:
        assert content.dimension_label(d, "nl") in dutch and content.dimension_label(d, "en") in english
    assert "Procedure-georiënteerd" in dutch and "Procedure-oriented" in english
    assert "not enough answers" in english and "te weinig antwoorden" not in english
    assert "Vertrouwen" in dutch and "Trust" in english
    # September 2026 to March 2027: "okt" and "mrt" are Dutch whatever the locale says
    assert {"okt", "mrt"} <= {t.split("\n")[0] for t in dutch}
    assert {"Oct", "Mar"} <= {t.split("\n")[0] for t in english}
    assert any("geen score" in t for t in dutch) and any("not a score" in t for t in english)


def test_the_chain_name_is_shown_as_typed_even_with_dollar_signs():
    name = "Keten $x$ = 100% \\ test"
    fig = _figure(_chain(4, name=name, too_few=()), "nl")
    assert name in _texts(fig)
    assert _png_size(render_png_bytes(_chain(4, name=name, too_few=()), "nl"))[0] <= 1600


def test_stage_colours_are_neutral_no_green_or_red():
    def hue_family(hex_colour: str) -> str:
        r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        if g > r + 40 and g > b + 40:
            return "green"
        if r > g + 80 and r > b + 80:
            return "red"
        return "other"

    assert {hue_family(c) for c in chart.STAGE_COLOURS.values()} == {"other"}
    assert len(set(chart.STAGE_COLOURS.values())) == len(chart.STAGE_COLOURS)


def test_a_missing_pulse_mean_is_a_gap_not_a_zero():
    fig = _figure(_chain(8, too_few=()), "en")
    pulse_ax = fig.axes[-1]
    learning = pulse_ax.lines[PULSE.index("learning")]
    ys = list(learning.get_ydata())
    assert ys[5] != ys[5]  # NaN: matplotlib leaves a gap
    assert all(1 <= y <= 5 for i, y in enumerate(ys) if i not in (5, 7))


def test_empty_and_all_suppressed_chains_still_render():
    empty = ChainReport("c0", "Lege keten", [], None, None)
    assert _png_size(render_png_bytes(empty, "en"))[0] <= 1600
    hidden = _chain(5, too_few=range(5), open_last=False)
    assert "In geen enkele ronde genoeg antwoorden om iets te tonen." in _texts(_figure(hidden, "nl"))


def test_rendering_never_imports_pyplot():
    code = (
        "import sys\n"
        "from tests.test_reports_chart import _chain\n"
        "from bot.reports.chart import render_png_bytes\n"
        "render_png_bytes(_chain(6), 'nl')\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"
