"""What a report holds: per chain and per round, aggregated figures only — never a person.

A figure computed from fewer respondents than the minimum group size is not a number here at
all: it is ``None`` and the surfaces show "te weinig antwoorden" / "not enough answers".
``bot.reports.privacy`` decides that, including complementary suppression across chains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.checkins.model import DIMENSIONS, DONT_KNOW, PULSE, STAGES

__all__ = [
    "DIMENSIONS",
    "DONT_KNOW",
    "PULSE",
    "STAGES",
    "ChainReport",
    "Report",
    "RoundFigures",
    "TotalFigures",
]

#: Why a round's figures are not shown (``RoundFigures.hidden_reason``).
HIDDEN_OPEN = "open"  # the round is still open: answers can change, so differences would leak
HIDDEN_TOO_FEW = "too_few"  # fewer than min_group answered: "te weinig antwoorden"
HIDDEN_COMPLEMENTARY = "complementary"  # hidden so the total does not reveal a smaller chain


@dataclass(frozen=True)
class RoundFigures:
    """One closed (or still open) round of one chain."""

    round_id: str
    opened_at: datetime
    closed: bool
    invited: int
    answered: int  # submitted check-ins; skips are not answers
    skipped: int
    # dimension -> stage key or DONT_KNOW -> share 0..1 of ``answered``; None when suppressed
    stage_shares: dict[str, dict[str, float]] | None
    # dimension -> robust stage estimate on 1..3 (opportunisme=1, procedure=2, verankering=3) from
    # the known answers of this round only; None when suppressed or fewer than min_group knew
    # (the interpolated median: see bot.reports.aggregate.stage_estimate)
    stage_estimate: dict[str, float | None] | None
    pulse_means: dict[str, float | None] | None  # item -> mean 1..5 over those who answered it
    setbacks: int | None  # how many reported that something went wrong
    response_rate: float | None  # answered / invited
    # added with issue 5 (defaults keep older constructors working):
    hidden_reason: str | None = None  # HIDDEN_OPEN | HIDDEN_TOO_FEW | HIDDEN_COMPLEMENTARY
    pulse_counts: dict[str, int] | None = None  # item -> how many gave a score; None when suppressed

    @property
    def suppressed(self) -> bool:
        return self.stage_shares is None


@dataclass(frozen=True)
class ChainReport:
    chain_id: str
    chain_name: str
    rounds: list[RoundFigures]  # oldest first
    # dimension -> smoothed stage estimate over the latest rounds (does not swing on one week)
    trend_estimate: dict[str, float | None] | None
    # dimension -> "up" | "down" | "steady" | None (too little to tell)
    trend_direction: dict[str, str | None] | None
    comments: list[str] | None = None  # free text, shuffled, no names; None when too few answered
    notes: list[str] = field(default_factory=list)  # e.g. "te weinig antwoorden" reasons, in keys
    # the same comments by kind (went_well / went_wrong / learned), each shuffled; None as above
    comments_by_kind: dict[str, list[str]] | None = None


@dataclass(frozen=True)
class TotalFigures:
    """Over the latest closed round of every chain in the report, including chains whose own
    figures are hidden (which is why complementary suppression hides more, or this)."""

    chains: int  # chains whose latest closed round is counted
    invited: int
    answered: int
    skipped: int
    stage_shares: dict[str, dict[str, float]]  # as in RoundFigures
    stage_estimate: dict[str, float | None]  # from the pooled answers; None below min_group known
    pulse_means: dict[str, float | None]  # None when that item's total is suppressed
    pulse_counts: dict[str, int | None]
    setbacks: int
    response_rate: float | None
    hidden_chains: tuple[str, ...]  # chains whose latest-round figures this report hides


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    weeks: int
    min_group: int
    chains: list[ChainReport]
    # totals over all chains in the report for the latest round window; None when a total would
    # let someone work out a hidden chain (complementary suppression)
    total_answered: int | None
    total_invited: int | None
    # added with issue 5: the figures behind those totals; None when they must be hidden
    totals: TotalFigures | None = None
