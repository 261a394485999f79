"""Which language the bot's own words take for a person: Dutch, unless they chose English.

Slack's interface has no Dutch, so nearly every Dutch civil servant has an English Slack locale;
reading it as "prefers English" would turn the bot English for its whole audience. So the
locale is not used: a person chooses with ``/keten taal en`` (``/keten language nl`` back), and
answers to questions follow the language the question is written in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


class UserLocales:
    def __init__(self, lookup: Callable[[str], str | None] | None = None):
        self._lookup = lookup

    def prefers_english(self, client: object, user: str) -> bool:  # noqa: ARG002 - kept for callers
        """True only when this person chose English; Dutch when unknown or storage is down."""
        if self._lookup is None or not user:
            return False
        try:
            return self._lookup(user) == "en"
        except SQLAlchemyError as exc:
            log.info("language preference unavailable (%s)", type(exc).__name__)
            return False

    def language(self, user: str) -> str:
        return "en" if self.prefers_english(None, user) else "nl"
