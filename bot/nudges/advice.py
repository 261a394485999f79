"""Which tip fits a chain now, read from its latest check-in figures, and how a tip is shown.

Signals come only from figures a report may show (closed rounds, ``MIN_GROUP_SIZE`` respondents,
complementary suppression applied): a tip never hints at what a small group or one person said.
"""

from __future__ import annotations

import random
from functools import lru_cache

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.nudges.tips import Tip, load_tips, pick
from bot.reports.model import ChainReport
from bot.reports.service import dominant_stage, latest_closed
from bot.slack.text import escape, link

LOW_TRUST = 2.5  # pulse mean (1–5) at or below which trust counts as low
CONTROL_REFLEX = 3.5  # pulse mean at or above which falling back on control is a signal
CONTROL_RISE = 0.5  # ... or a rise of the mean by this much since the previous shown round
LABEL = {"nl": "Tip van Ketenbot", "en": "Tip from Ketenbot"}
QUOTED = {"nl": "Uit de handreiking:", "en": "From the guidance (Dutch, quoted as written):"}


@lru_cache(maxsize=1)
def library() -> tuple[Tip, ...]:
    return load_tips()


def signals_of(chain: ChainReport | None) -> tuple[list[str], str | None]:
    """(signals, stage) from the chain's latest shown round and trend; ([], None) without data."""
    if chain is None:
        return [], None
    last = latest_closed(chain)
    signals: list[str] = []
    if last is not None and last.setbacks:
        signals.append("setback")
    means = (last.pulse_means or {}) if last is not None else {}
    if means.get("trust") is not None and means["trust"] <= LOW_TRUST:
        signals.append("low_trust")
    shown = [
        r for r in chain.rounds if r.closed and r.pulse_means and r.pulse_means.get("control") is not None
    ]
    rising = (
        len(shown) >= 2
        and shown[-1].pulse_means["control"] - shown[-2].pulse_means["control"] >= CONTROL_RISE
    )
    if (means.get("control") is not None and means["control"] >= CONTROL_REFLEX) or rising:
        signals.append("control_reflex")
    if any(d == "down" for d in (chain.trend_direction or {}).values()):
        signals.append("stage_drop")
    return signals, dominant_stage(chain)


def for_chain(reports, chain_id: str | None, now) -> ChainReport | None:  # noqa: ANN001 - ReportService
    """The chain's report as any report would show it (same suppression), or None."""
    if reports is None or chain_id is None:
        return None
    from bot.reports.aggregate import build_report

    report = build_report(
        reports.engine, chain_ids=[chain_id], weeks=12, min_group=reports.min_group, now=now
    )
    return report.chains[0] if report.chains else None


def choose(chain: ChainReport | None, rng: random.Random | None = None, used: tuple[str, ...] = ()) -> Tip:
    signals, stage = signals_of(chain)
    tips = library()
    return (
        pick(tips, signals=signals, stage=stage, used=used, rng=rng)
        or pick(tips, stage=stage, used=used, rng=rng)
        or pick(tips, rng=rng)
    )


def tip_blocks(tip: Tip, language: str) -> list[Block]:
    lang = "en" if language == "en" else "nl"
    credit = f"{link(tip.url, tip.place)} · {escape(tip.attribution)} · {escape(tip.licence)}"
    return [
        SectionBlock(text=MarkdownTextObject(text=f"*{LABEL[lang]}:* {escape(tip.text(lang))}")),
        SectionBlock(text=MarkdownTextObject(text=f"_{QUOTED[lang]}_\n> „{escape(tip.quote)}”")),
        ContextBlock(elements=[MarkdownTextObject(text=credit)]),
    ]


def tip_text(tip: Tip, language: str) -> str:
    lang = "en" if language == "en" else "nl"
    return "\n".join(
        [
            f"Ketenbot — tip: {tip.text(lang)}",
            f"„{tip.quote}”",
            f"    {tip.place}",
            f"    {tip.url}",
            f"    {tip.attribution}, {tip.licence}",
        ]
    )
