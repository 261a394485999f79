"""Which users prefer English, from their Slack locale (users.info with include_locale)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

TTL_SECONDS = 6 * 3600


class UserLocales:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._seen: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def prefers_english(self, client: WebClient, user: str) -> bool:
        """True when the user's Slack locale is English; Dutch (False) when unknown."""
        with self._lock:
            hit = self._seen.get(user)
        if hit and self._clock() - hit[0] < TTL_SECONDS:
            return hit[1]
        try:
            info = client.users_info(user=user, include_locale=True)
            locale = str((info.get("user") or {}).get("locale") or "")
        except (SlackApiError, OSError):
            return False  # not cached: asked again next time
        return self.remember(user, locale)

    def remember(self, user: str, locale: str) -> bool:
        """Note a locale learnt from another users.info call; True when it is English."""
        english = locale.lower().startswith("en")
        with self._lock:
            self._seen[user] = (self._clock(), english)
        return english
