"""Who may be counted where: the suppression rules of the reports, as pure functions.

The rules (survey practice, see ``shared/design/reliability.md``):

1. **Minimum group size.** A figure is shown only when it comes from at least ``min_group``
   respondents; otherwise the surfaces say "te weinig antwoorden" / "not enough answers", never
   a number and never a zero. ``min_group`` defaults to 5 and is never taken below 3
   (:func:`effective_min_group`), whatever the caller or the configuration asks.

2. **Complementary suppression.** A total over several groups (chains) minus the groups shown
   next to it equals the hidden groups taken together. So when anything with respondents is
   hidden, the hidden groups together must again be a group that could have been shown: at
   least two groups with respondents, and at least ``min_group`` respondents in all. If the
   groups hidden by rule 1 do not add up to that, more groups are hidden, smallest first (the
   least information is lost; one more group always suffices, since a shown group alone has
   ``min_group`` respondents). If even hiding every group cannot make that true, the total
   itself is hidden (:data:`TOTAL` in the answer of :func:`complementary`).

   A group with 0 respondents is hidden ("not enough answers") but reveals nothing, so it
   needs no partner: hiding only empty groups leaves the total equal to the shown groups.

3. **One decision for every report.** Rule 2 is decided once over *all* groups, whatever a
   report is filtered to, and every report applies that decision to the groups it shows: a group
   hidden next to the all-groups total is hidden in a report of that group alone too, so no
   report shows what another hid. A report over a subset ``S`` of the groups shows its own total
   only when that total adds nothing to subtract from: when ``S`` holds none of the hidden groups
   with respondents (its total is the sum of what it shows), or all of them and the all-groups
   total may be shown (its total minus what it shows is that same safe sum)
   (:meth:`Suppression.total_shown`). So every total any report shows, minus everything any report
   shows, is 0 or the hidden groups together.

What these rules do not cover: reports decided over different data -- a 52-week window against a
1-week one (the latest round of a chain that stopped is in one decision and not the other), or a
report before and after a newer round closed (the older round is no longer the latest, so no
longer hidden as a complement) -- can still be subtracted from one another. ``bot.reports.aggregate``
decides over the same window and ``now`` as the report it builds.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

DEFAULT_MIN_GROUP = 5
#: Below three, an answer can be traced back to a person by anyone who knows one other answer.
FLOOR = 3


class _Total:
    """The key that stands for "the total over all cells" in :func:`complementary`'s answer."""

    _instance: _Total | None = None

    def __new__(cls) -> _Total:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "TOTAL"


#: Present in :func:`complementary`'s answer when the total over the cells must be hidden too.
TOTAL = _Total()


def effective_min_group(value: int | None) -> int:
    """The minimum group size actually applied: ``value``, or 5 when unset, never below 3."""
    if value is None:
        return DEFAULT_MIN_GROUP
    return max(FLOOR, int(value))


def visible(n: int, min_group: int) -> bool:
    """May a figure computed from ``n`` respondents be shown?"""
    return n >= effective_min_group(min_group)


def complementary(cells: Mapping[Hashable, int], min_group: int) -> set:
    """The keys of ``cells`` (key -> respondents) to hide next to a total over all of them.

    (a) every cell with fewer than ``min_group`` respondents is hidden; (b) if a hidden cell has
    respondents, the hidden cells together have respondents in at least two cells and at least
    ``min_group`` respondents, else more cells are hidden, smallest first (ties by key); (c) if
    even hiding every cell cannot satisfy (b), the answer also holds :data:`TOTAL`: the total
    must not be shown either.
    """
    floor = effective_min_group(min_group)
    hidden = {key for key, n in cells.items() if not visible(n, floor)}
    if not any(cells[key] > 0 for key in hidden):
        return hidden  # nothing with respondents is hidden: total - shown cells = 0
    shown = sorted((key for key in cells if key not in hidden), key=lambda k: (cells[k], repr(k)))
    while not _safe(cells, hidden, floor) and shown:
        hidden.add(shown.pop(0))
    if not _safe(cells, hidden, floor):
        hidden.add(TOTAL)
    return hidden


@dataclass(frozen=True)
class Suppression:
    """:func:`complementary`'s answer in two parts, and which hidden cells had respondents."""

    hidden: frozenset
    total_hidden: bool
    #: the hidden cells with respondents (a hidden empty cell reveals nothing)
    counted: frozenset = frozenset()

    def shows(self, key: Hashable) -> bool:
        return key not in self.hidden

    def total_shown(self, keys: Iterable[Hashable] | None = None) -> bool:
        """May a total over ``keys`` (None: every cell) be shown next to the cells this decision
        shows? Only when it holds none of the hidden cells with respondents, or all of them and
        the total over every cell may be shown: then it minus the shown cells is 0 or the hidden
        cells together, which the decision made safe (rule 3)."""
        if keys is None:
            return not self.total_hidden
        inside = self.counted.intersection(keys)
        return not inside or (inside == self.counted and not self.total_hidden)


def suppress(cells: Mapping[Hashable, int], min_group: int) -> Suppression:
    keys = complementary(cells, min_group)
    hidden = frozenset(keys - {TOTAL})
    return Suppression(hidden, TOTAL in keys, frozenset(k for k in hidden if cells[k] > 0))


def _safe(cells: Mapping[Hashable, int], hidden: set, floor: int) -> bool:
    """The hidden cells together: no respondents at all, or ≥ 2 cells with respondents and ≥ floor."""
    counts = [cells[key] for key in hidden if cells[key] > 0]
    return not counts or (len(counts) >= 2 and sum(counts) >= floor)


__all__ = [
    "DEFAULT_MIN_GROUP",
    "FLOOR",
    "TOTAL",
    "Suppression",
    "complementary",
    "effective_min_group",
    "suppress",
    "visible",
]
