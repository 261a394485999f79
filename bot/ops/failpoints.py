"""Named points where a test can make this process die on the spot, as ``kill -9`` would.

The fault tests (``tests/integration/test_kill_steps.py``) start workers with
``FAILPOINTS=<name>[,<name>]`` and check that whatever the dead worker was doing is finished
exactly once by another worker, or by the same one after a restart. Unset (always, outside
tests), :func:`hit` does nothing but a set lookup.

The points, in the order work passes them:

- ``question-claimed``: a message is claimed (``pending_questions``), nothing answered yet;
- ``answer-posted``: the answer is in Slack and stored, the claim not yet cleared;
- ``delivery-claimed``: a check-in DM (announcement, invitation, reminder, summary, tip) is
  claimed, not sent;
- ``delivery-posted``: it is in Slack, not yet recorded as sent;
- ``form-saved``: a check-in form's answers are stored, Slack not yet acknowledged.
"""

from __future__ import annotations

import os
import signal

POINTS = frozenset({"question-claimed", "answer-posted", "delivery-claimed", "delivery-posted", "form-saved"})
_armed: frozenset[str] = frozenset()


def arm(names: str | tuple[str, ...] | frozenset[str]) -> None:
    """Arm the named points (from ``settings.failpoints``); unknown names are an error."""
    global _armed
    listed = names.split(",") if isinstance(names, str) else names
    wanted = frozenset(n.strip() for n in listed if n.strip())
    unknown = wanted - POINTS
    if unknown:
        raise ValueError(f"unknown failpoint(s): {', '.join(sorted(unknown))}")
    _armed = wanted


def hit(name: str) -> None:
    if name in _armed:
        os.kill(os.getpid(), signal.SIGKILL)
