"""Posting a message exactly once, even when the connection drops after Slack accepted it.

``chat.postMessage`` is not idempotent. When the connection breaks (or Slack answers 5xx) after
Slack stored the message, a blind retry posts it twice; giving up may lose it. So every message
the bot posts carries a business key in its message metadata. When the outcome of a post is
unknown, the bot looks for that key in the thread (``conversations.replies``) or the channel
(``conversations.history``) before posting again. slack_sdk's connection and server-error retry
handlers are told to leave ``chat.postMessage`` alone: this module owns that decision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

log = logging.getLogger(__name__)

METADATA_EVENT_TYPE = "ketenbot_post"  # Slack: event_type is a short snake_case name
_NOT_IDEMPOTENT = frozenset({"chat.postMessage"})
_LOOKUP_PAGES = 5


def _method(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1]


class SafeConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """Retries dropped connections, except for posts (``post_once`` checks before retrying)."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        if _method(request) in _NOT_IDEMPOTENT:
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


class SafeServerErrorRetryHandler(ServerErrorRetryHandler):
    """Retries 500/503, except for posts: a 5xx may come after Slack stored the message."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        if _method(request) in _NOT_IDEMPOTENT:
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


class PostFailed(RuntimeError):
    """The message could not be delivered after every attempt."""


def _outcome_unknown(exc: Exception) -> bool:
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        return status >= 500
    return isinstance(exc, OSError)  # dropped connection, reset, timeout (URLError is an OSError)


def post_once(
    client: WebClient,
    *,
    key: str,
    channel: str,
    thread_ts: str | None = None,
    attempts: int = 3,
    pause: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    check_first: bool = False,
    state: str = "",
    **kwargs: Any,
) -> str:
    """Post with ``chat.postMessage`` so that at most one message with ``key`` ends up in Slack.

    Returns the message's ``ts``. Errors Slack answered plainly (``channel_not_found`` ...) are
    raised at once; an unknown outcome is checked and retried up to ``attempts`` times, then
    :class:`PostFailed` is raised. ``check_first``: an earlier sender may have posted it and
    crashed before recording that; look for it before the first attempt too.
    """
    payload = {"key": key, "state": state} if state else {"key": key}  # state: "working" placeholders
    metadata = {"event_type": METADATA_EVENT_TYPE, "event_payload": payload}
    last: Exception | None = None
    for attempt in range(attempts):
        if attempt or check_first:
            if attempt:
                sleep(pause * attempt)
            found = _find_posted(client, channel=channel, thread_ts=thread_ts, key=key)
            if found:
                log.info("post already in Slack; not posting again")
                return found
        try:
            response = client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, metadata=metadata, **kwargs
            )
            return str(response.get("ts") or "")
        except (SlackApiError, OSError) as exc:
            if not _outcome_unknown(exc):
                raise
            last = exc
            log.warning("post outcome unknown (%s); checking before posting again", type(exc).__name__)
    raise PostFailed(f"chat.postMessage failed {attempts} times") from last


def find_post(client: WebClient, *, channel: str, thread_ts: str | None, key: str) -> dict | None:
    """The message carrying ``key`` in the thread (or the newest channel history), if any."""
    ts = _find_posted(client, channel=channel, thread_ts=thread_ts, key=key, whole=True)
    return ts if isinstance(ts, dict) else None


def _find_posted(
    client: WebClient, *, channel: str, thread_ts: str | None, key: str, whole: bool = False
) -> Any:
    """The ts of a message carrying ``key`` in the thread (or the newest channel history), if any
    (``whole``: the message itself). A failing look-up counts as "not found": posting twice is
    better than not at all."""
    cursor = None
    try:
        for _ in range(_LOOKUP_PAGES):
            if thread_ts:
                page = client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200, cursor=cursor
                )
            else:
                # newest first; no "oldest" bound, so a skewed local clock cannot hide the post
                page = client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=200, cursor=cursor
                )
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == METADATA_EVENT_TYPE and payload.get("key") == key:
                    return message if whole else str(message.get("ts"))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
    except (SlackApiError, OSError) as exc:
        log.warning("could not check for an earlier post (%s)", type(exc).__name__)
    return None
