"""Due work's way into Slack: channel members, languages, and messages posted exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.locales import UserLocales
from bot.slack.posting import post_once

PEOPLE_TTL_SECONDS = 6 * 3600


class SlackMessenger:
    def __init__(
        self,
        client: WebClient,
        locales: UserLocales | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.locales = locales or UserLocales()
        self._clock = clock
        self._humans: dict[str, tuple[float, bool]] = {}
        self._dms: dict[str, str] = {}
        self._lock = threading.Lock()

    def human_members(self, channel_id: str) -> list[str]:
        """The channel's members that are people: no bots, apps, Slackbot or deactivated accounts."""
        members: list[str] = []
        cursor = None
        while True:
            page = self.client.conversations_members(channel=channel_id, limit=200, cursor=cursor)
            members += page.get("members") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return [m for m in dict.fromkeys(members) if self._is_human(m)]

    def _is_human(self, user_id: str) -> bool:
        if user_id == "USLACKBOT":
            return False
        with self._lock:
            hit = self._humans.get(user_id)
        if hit and self._clock() - hit[0] < PEOPLE_TTL_SECONDS:
            return hit[1]
        user = self.client.users_info(user=user_id).get("user") or {}
        human = not (user.get("is_bot") or user.get("deleted") or user.get("is_app_user"))
        with self._lock:
            self._humans[user_id] = (self._clock(), human)
        return human

    def is_person(self, user_id: str) -> bool | None:
        """A person (not a bot, app or unknown id)? None when Slack cannot be asked now."""
        try:
            return self._is_human(user_id)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else ""
            return False if error in ("user_not_found", "user_not_visible") else None
        except OSError:
            return None

    def bot_in_channel(self, channel_id: str) -> bool | None:
        try:
            return bool(
                (self.client.conversations_info(channel=channel_id).get("channel") or {}).get("is_member")
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else ""
            return False if error in ("channel_not_found", "not_in_channel") else None
        except OSError:
            return None

    def language(self, user_id: str) -> str:
        return "en" if self.locales.prefers_english(self.client, user_id) else "nl"

    def _dm_channel(self, user_id: str) -> str:
        with self._lock:
            known = self._dms.get(user_id)
        if known:
            return known
        channel = self.client.conversations_open(users=user_id)["channel"]["id"]
        with self._lock:
            self._dms[user_id] = channel
        return channel

    def send(
        self,
        *,
        key: str,
        text: str,
        blocks: list,
        user_id: str | None = None,
        channel_id: str | None = None,
        thread_ts: str | None = None,
        check_first: bool = False,
    ) -> str:
        channel = self._dm_channel(user_id) if user_id else channel_id
        if not channel:
            raise ValueError("send needs a user_id or a channel_id")
        kwargs = {"blocks": blocks} if blocks else {}
        return post_once(
            self.client,
            key=key,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            check_first=check_first,
            unfurl_links=False,
            unfurl_media=False,
            **kwargs,
        )


__all__ = ["SlackMessenger", "SlackApiError"]
