"""Plain data for the weekly check-in: one participant's answers and a round's summary.

Nothing here knows about Slack or storage. Keys are stable identifiers that are stored; the
wording shown to people lives in ``prompts/checkin.yaml`` (see ``bot.checkins.content``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The dimensions of the guidance's table 'Ontwikkelstadia van ketens', in table order.
DIMENSIONS: tuple[str, ...] = ("strategische_focus", "operationeel_model", "zichtbaarheid")
#: The three development stages, in table order. Later is not "better": the guidance says
#: cultural embedding is not always needed.
STAGES: tuple[str, ...] = ("opportunisme", "procedure", "verankering")
#: The answer for "weet ik niet" / "don't know" to a stage question.
DONT_KNOW = "weet_niet"
#: Pulse items, each 1 (not at all) to 5 (completely). For ``control`` a high score is a
#: warning sign, not a goal.
PULSE: tuple[str, ...] = ("trust", "learning", "control")
PULSE_MIN = 1
PULSE_MAX = 5
#: Optional free-text answers, in the order they are asked.
FREE_TEXT: tuple[str, ...] = ("went_well", "went_wrong", "learned")
#: Characters kept per free-text answer (the form does not accept more either).
MAX_FREE_TEXT = 1500


@dataclass(frozen=True)
class CheckinResponse:
    """One participant's answers for one round; never carries who gave them.

    ``stages`` maps every key of DIMENSIONS to a key of STAGES or DONT_KNOW. ``pulse`` maps
    every key of PULSE to 1–5, or None when the item was left open. ``setback`` is None only
    for answers that predate the question. Free text is stripped, capped at MAX_FREE_TEXT and
    None when empty.
    """

    stages: dict[str, str]
    pulse: dict[str, int | None]
    setback: bool | None
    went_well: str | None = None
    went_wrong: str | None = None
    learned: str | None = None

    def free_text(self, key: str) -> str | None:
        if key not in FREE_TEXT:
            raise KeyError(key)
        return getattr(self, key)


@dataclass(frozen=True)
class RoundSummary:
    """What may be shown about a round in the chain channel: counts only, no people.

    ``answered`` counts submitted check-ins; ``skipped`` counts "skip this week" (not an
    answer). ``distribution`` maps each dimension to counts per stage key and DONT_KNOW; it
    is None when fewer than ``min_group`` answered, so small groups cannot be read back to a
    person.
    """

    chain_name: str
    invited: int
    answered: int
    skipped: int
    min_group: int
    distribution: dict[str, dict[str, int]] | None
