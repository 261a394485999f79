"""Rendering one chain's report chart over 52 weekly rounds: median time of 10 and PNG size.

    .venv/bin/python bench/report_chart.py [--weeks 52] [--repeat 10] [--language nl] [--out /tmp/x.png]
    .venv/bin/python bench/report_chart.py --demo   # the chain from the demo history instead

By default the chain is built by hand (``bench``-local, no database): a drift from opportunisme
towards procedure, five rounds with too few answers (one run of three), the last round still
open. ``--demo`` fills a temporary SQLite database with ``bot.reports.demo.fill_demo`` and takes
the "Zorgketen Oost" chain from ``bot.reports.aggregate.build_report``. The first render (fonts
loaded, caches warm) is reported separately and not counted in the median.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from machine import OtherLoad, rss_peak_mib  # noqa: E402

from bot.reports.chart import render_png_bytes  # noqa: E402
from bot.reports.model import (  # noqa: E402
    DIMENSIONS,
    DONT_KNOW,
    HIDDEN_OPEN,
    HIDDEN_TOO_FEW,
    ChainReport,
    RoundFigures,
)

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


def synthetic_chain(weeks: int) -> ChainReport:
    start = NOW - timedelta(weeks=weeks)
    too_few = {4, 17, 18, 19, 33}
    rounds = []
    for week in range(weeks):
        t = week / max(1, weeks - 1)
        opened = start + timedelta(weeks=week)
        hidden = HIDDEN_OPEN if week == weeks - 1 else HIDDEN_TOO_FEW if week in too_few else None
        if hidden:
            rounds.append(
                RoundFigures(
                    f"r{week}", opened, hidden != HIDDEN_OPEN, 14, 3, 1, None, None, None, None, None, hidden
                )
            )
            continue
        wobble = ((week * 7) % 5 - 2) / 40
        shares = {
            d: {
                "opportunisme": 0.6 - 0.4 * t + wobble,
                "procedure": 0.25 + 0.3 * t - wobble,
                "verankering": 0.05 + 0.1 * t,
                DONT_KNOW: 0.1,
            }
            for d in DIMENSIONS
        }
        pulse = {"trust": 3.0 + t + wobble, "learning": 2.8 + t / 2, "control": 2.6 - t / 2 - wobble}
        rounds.append(RoundFigures(f"r{week}", opened, True, 14, 10, 1, shares, None, pulse, 1, 10 / 14))
    return ChainReport("bench", "Jeugdketen Noord", rounds, None, None)


def demo_chain(weeks: int) -> ChainReport:
    from bot.records.db import make_engine, migrate
    from bot.reports.aggregate import build_report
    from bot.reports.demo import fill_demo

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/demo.sqlite3")
        migrate(engine)
        fill_demo(engine, weeks=weeks, now=NOW)
        report = build_report(engine, chain_ids=None, weeks=weeks + 1, min_group=5, now=NOW)
        engine.dispose()
    return next(c for c in report.chains if c.chain_name == "Zorgketen Oost")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--language", default="nl")
    parser.add_argument("--demo", action="store_true", help="use the demo history's Zorgketen Oost")
    parser.add_argument("--out", type=Path, help="also write the PNG here")
    args = parser.parse_args()

    chain = demo_chain(args.weeks) if args.demo else synthetic_chain(args.weeks)
    load = OtherLoad()
    started = time.perf_counter()
    data = render_png_bytes(chain, args.language, min_group=5)
    first = time.perf_counter() - started
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        again = render_png_bytes(chain, args.language, min_group=5)
        times.append(time.perf_counter() - started)
        assert again == data, "rendering is not deterministic"
    width, height = struct.unpack(">II", data[16:24])
    if args.out:
        args.out.write_bytes(data)
    hidden = sum(r.suppressed for r in chain.rounds)
    print(f"chain: {chain.chain_name}, {len(chain.rounds)} rounds ({hidden} hidden)")
    print(f"first render (cold): {first * 1000:.0f} ms")
    print(
        f"render, median of {args.repeat}: {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})"
    )
    print(f"PNG: {width}x{height} px, {len(data) / 1024:.0f} KiB")
    print(f"peak RSS: {rss_peak_mib():.0f} MiB; other processes' CPU meanwhile: {load.cores()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
