"""A local fake of the Slack Web API, so tests never reach slack.com.

Point the real SDK at it::

    with FakeSlack() as slack:
        client = WebClient(token=slack.token, base_url=slack.base_url)
        client.chat_postMessage(channel="C1", text="hoi")
        assert slack.calls("chat.postMessage")[0].args["text"] == "hoi"

Response shapes follow the method pages of the Slack docs (docs.slack.dev/reference/methods/...):
success bodies carry ``"ok": true`` plus the documented fields, failures are HTTP 200 with
``{"ok": false, "error": "<code>"}`` (sometimes with ``response_metadata.messages``), rate limits
are HTTP 429 with a ``retry-after`` header (whole seconds) and ``{"ok": false, "error": "ratelimited"}``.

The fake keeps a small, thread-safe world (team, users, channels, messages, views, files) so that
calls can be checked against each other: ``chat.update`` needs a message that exists,
``reactions.add`` twice gives ``already_reacted``, ``files.completeUploadExternal`` needs bytes
that were really POSTed to the upload URL it handed out, and so on.

Faults are scripted per method (or for every method with ``method=None``): ``fail_next``,
``fail_rate``, ``delay`` and ``drop_next``. For every 429 it answers, the fake records a
:class:`RateLimit` that notes when the next call to that method arrived, so a test can assert the
client waited at least ``Retry-After`` seconds. While a method's Retry-After window is open, further
calls to it get another 429 (as Slack does), unless ``enforce_retry_after=False``.

Times (``Call.at``, ``RateLimit.at`` ...) are ``time.monotonic()`` values.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import re
import secrets
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["APP_TOKEN", "Call", "FakeSlack", "RateLimit", "RESPONSE", "UPLOAD"]

#: Pseudo method name under which POSTs to an upload URL (files.upload_v2 step 2) are recorded.
#: Faults can target it too: ``fake.drop_next(UPLOAD)``.
UPLOAD = "upload"

MAX_TEXT_CHARS = 40_000  # chat.postMessage: "Provide no more than 40,000 characters"
MAX_MARKDOWN_TEXT_CHARS = 12_000  # markdown_text: "Limit this field to 12,000 characters"
MAX_MESSAGE_BLOCKS = 50  # Block Kit: up to 50 blocks per message
MAX_VIEW_BLOCKS = 100  # ... and 100 in modals / Home tabs
MAX_ATTACHMENTS = 100  # too_many_attachments: "A maximum of 100 attachments"
MAX_VIEW_BYTES = 250_000  # view_too_large: "greater than 250kb"
MAX_MPIM_USERS = 8  # conversations.open too_many_users: "Needs at most 8 users"
TRIGGER_TTL = 3.0  # trigger_id values expire after 3 seconds

_ALNUM = string.ascii_uppercase + string.digits
_ID = re.compile(r"^[A-Z][A-Z0-9]+$")
_TS = re.compile(r"^\d{10}\.\d{6}$")
_METHOD = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
_UPLOAD_PREFIX = "/upload/v1/"
_RESPONSE_PREFIX = "/response/"
#: Calls to a response_url are recorded under this method name, with the JSON body as args.
RESPONSE = "response_url"
_TRUE = {"1", "true", "True", "TRUE", "yes", "on"}

#: The scope a method needs; any one of the listed scopes is enough (Slack names the first as "needed").
_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "conversations.open": ("im:write", "mpim:write"),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.members": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.replies": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "conversations.history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "users.info": ("users:read",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "files.info": ("files:read",),
}
DEFAULT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "channels:read",
    "chat:write",
    "commands",
    "files:read",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "mpim:history",
    "mpim:read",
    "mpim:write",
    "reactions:write",
    "users:read",
)
_NO_AUTH = {"api.test"}
#: Methods called with an app-level token (xapp-...) instead of the bot token, and the scope they need.
_APP_LEVEL: dict[str, tuple[str, ...]] = {"apps.connections.open": ("connections:write",)}
#: The app-level token the fake accepts by default (what SLACK_APP_TOKEN holds for Socket Mode).
APP_TOKEN = "xapp-1-A0KETENBOT-1700000000000-fakeketenbotapptoken"
_SERVER_ERRORS = {
    500: "internal_error",
    502: "service_unavailable",
    503: "service_unavailable",
    504: "request_timeout",
}


# ---------------------------------------------------------------------------------------------
# records


@dataclass
class Call:
    """One request the fake received (recorded on arrival, completed when answered).

    ``args`` holds the arguments as sent: strings for query/form bodies (so JSON arguments such as
    ``blocks`` are JSON text there), JSON values for JSON bodies; ``files`` parts are bytes.
    """

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int | None = None  # HTTP status answered; None while in flight or when dropped
    response: Any = None  # the JSON body answered (a dict), text for the upload URL
    fault: str | None = None  # "ratelimited", "http_500", "dropped", "dropped_after", ... or None
    answered_at: float | None = None

    @property
    def ok(self) -> bool:
        return isinstance(self.response, dict) and self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        return self.response.get("error") if isinstance(self.response, dict) else None

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header, looked up case-insensitively."""
        low = name.lower()
        for key, value in self.headers.items():
            if key.lower() == low:
                return value
        return default


@dataclass
class RateLimit:
    """A 429 the fake answered, and when the next call to the same method came in."""

    method: str
    at: float  # when the 429 was sent
    retry_after: int
    retried_at: float | None = None

    @property
    def waited(self) -> float | None:
        return None if self.retried_at is None else self.retried_at - self.at

    @property
    def respected(self) -> bool | None:
        """True when the next call came no earlier than Retry-After (None: no next call yet)."""
        return None if self.waited is None else self.waited >= self.retry_after


@dataclass
class _Fault:
    kind: str  # "status" or "drop"
    status: int = 429
    retry_after: int | None = None
    error: str | None = None
    after: bool = False  # drop: run the method first, then lose the answer


@dataclass
class _RateRule:
    method: str | None
    share: float
    status: int
    retry_after: int | None
    error: str | None
    rng: random.Random


@dataclass
class _Delay:
    seconds: float
    remaining: int | None


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    text: bool = False  # body is plain text, not JSON


class _ApiError(Exception):
    def __init__(self, error: str, messages: Iterable[str] = (), **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


# ---------------------------------------------------------------------------------------------
# helpers


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value.strip() in _TRUE


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _json_arg(value: Any) -> Any:
    """Arguments such as ``blocks`` arrive as JSON text (form bodies) or as JSON values (JSON bodies)."""
    if isinstance(value, str):
        return json.loads(value)
    return value


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text.encode(), validate=True).decode()


def _int_arg(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValueError(value)
    return int(value)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeSlack/1.0"
    server: _Server

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default backlog of 5 drops SYNs under parallel clients (1 s stalls)
    fake: FakeSlack


# ---------------------------------------------------------------------------------------------
# the fake


class FakeSlack:
    """A Slack Web API double served over HTTP on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        tokens: Iterable[str] = ("xoxb-fake-ketenbot-token",),
        *,
        team_id: str = "T0KETEN001",
        team_name: str = "Ketenbot Test",
        team_domain: str = "ketenbot-test",
        bot_user_id: str = "U0KETENBOT",
        bot_name: str = "ketenbot",
        bot_id: str = "B0KETENBOT",
        app_id: str = "A0KETENBOT",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        strict: bool = False,
        enforce_retry_after: bool = True,
        start_ts: int = 1_700_000_000,
        seed: int = 0,
        app_tokens: Iterable[str] = (APP_TOKEN,),
    ) -> None:
        """
        Args:
            tokens: accepted tokens; any other token gets ``invalid_auth``.
            scopes: granted scopes, echoed in ``x-oauth-scopes``; methods needing another scope
                get ``missing_scope`` (with ``needed``/``provided``, as Slack answers).
            strict: if False, unknown but well-formed channel IDs (C.../G.../D...) and user IDs
                (U.../W...) are created on first use; if True they give ``channel_not_found`` /
                ``user_not_found`` and unknown trigger IDs are refused.
            enforce_retry_after: answer 429 again to calls that come inside an open Retry-After window.
            start_ts: the seconds part of the first message ``ts``; ts values then go up by 100 µs.
            seed: seeds ID generation, so IDs are the same from run to run.
            app_tokens: accepted app-level tokens (scope ``connections:write``). Only they may call
                ``apps.connections.open``, which hands out a URL of the attached Socket Mode fake
                (``tests.fakes.socket_mode``); bot methods refuse them with ``not_allowed_token_type``.
        """
        self._tokens: dict[str, None] = dict.fromkeys(tokens)  # an ordered set
        self._app_tokens: dict[str, tuple[str, ...]] = {t: ("connections:write",) for t in app_tokens}
        #: Issues a Socket Mode WebSocket URL for apps.connections.open; FakeSocketMode sets it.
        self.socket_mode_url: Callable[[], str] | None = None
        self._scopes = list(scopes)
        self.strict = strict
        self.enforce_retry_after = enforce_retry_after
        self.team = {"id": team_id, "name": team_name, "domain": team_domain}
        self.bot = {"user_id": bot_user_id, "name": bot_name, "bot_id": bot_id, "app_id": app_id}
        self._start_ts = start_ts
        self._seed = seed

        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._calls: list[Call] = []
        self._rate_limits: list[RateLimit] = []
        self._windows: dict[str, float] = {}  # method -> monotonic time its Retry-After window ends
        self._next_faults: dict[str | None, deque[_Fault]] = {}
        self._rate_rules: list[_RateRule] = []
        self._delays: dict[str | None, _Delay] = {}
        self.server_errors: list[BaseException] = []

        self._methods: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.update": self._views_update,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
            "apps.connections.open": self._apps_connections_open,
        }
        self._reset_state()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeSlack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as ``WebClient(base_url=...)``."""
        return f"{self.root_url}/api/"

    @property
    def token(self) -> str:
        """An accepted token (the first one given)."""
        return next(iter(self._tokens), "")

    def add_token(self, token: str) -> None:
        with self._lock:
            self._tokens[token] = None

    @property
    def app_token(self) -> str:
        """An accepted app-level token (the first one given)."""
        return next(iter(self._app_tokens), "")

    def add_app_token(self, token: str, scopes: Iterable[str] = ("connections:write",)) -> None:
        with self._lock:
            self._app_tokens[token] = tuple(scopes)

    def client(self, **kwargs: Any) -> Any:
        """A real ``slack_sdk.WebClient`` pointed at this fake (kwargs go to WebClient)."""
        from slack_sdk import WebClient

        kwargs.setdefault("token", self.token)
        kwargs.setdefault("timeout", 5)
        return WebClient(base_url=self.base_url, **kwargs)

    # ------------------------------------------------------------------ records

    def calls(self, method: str | None = None) -> list[Call]:
        """Calls received, in order of arrival (optionally only those to ``method``)."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def rate_limits(self, method: str | None = None) -> list[RateLimit]:
        """Every 429 answered, with the arrival time of the next call to the same method."""
        with self._lock:
            return [r for r in self._rate_limits if method is None or r.method == method]

    def wait_for_calls(self, method: str | None = None, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until at least ``count`` calls (to ``method``) were answered or dropped."""
        deadline = time.monotonic() + timeout
        while True:
            done = [c for c in self.calls(method) if c.answered_at is not None]
            if len(done) >= count or time.monotonic() >= deadline:
                return done
            time.sleep(0.01)

    def reset(self, state: bool = False) -> None:
        """Forget recorded calls, rate limits and scripted faults; with ``state=True`` also the world."""
        with self._lock:
            self._calls.clear()
            self._rate_limits.clear()
            self._windows.clear()
            self.server_errors.clear()
            self.clear_faults()
            if state:
                self._reset_state()

    # ------------------------------------------------------------------ fault scripting

    def fail_next(
        self,
        method: str | None,
        status: int = 429,
        retry_after: int = 1,
        *,
        error: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (None: any method) with an HTTP error.

        429 comes with ``retry-after: <retry_after>`` and error ``ratelimited``; 5xx with a JSON
        error body (``internal_error`` / ``service_unavailable``); status 200 with ``error`` set gives
        a plain Slack API error (``{"ok": false, "error": error}``). Faults queue up in order.
        """
        fault = _Fault("status", status=status, retry_after=self._check_retry_after(retry_after), error=error)
        with self._lock:
            queue = self._next_faults.setdefault(method, deque())
            queue.extend(_Fault(**vars(fault)) for _ in range(times))

    def drop_next(self, method: str | None, *, after: bool = False, times: int = 1) -> None:
        """Close the connection of the next call to ``method`` without any answer.

        With ``after=True`` the method runs first (a message really gets posted) and only the answer
        is lost, which is what makes blind retries of non-idempotent calls post twice.
        """
        with self._lock:
            queue = self._next_faults.setdefault(method, deque())
            queue.extend(_Fault("drop", after=after) for _ in range(times))

    def fail_rate(
        self,
        method: str | None = None,
        share: float = 0.1,
        status: int = 429,
        retry_after: int = 1,
        *,
        seed: int | None = None,
        error: str | None = None,
    ) -> None:
        """Fail a random ``share`` (0..1) of the calls to ``method`` (None: all methods)."""
        if not 0.0 <= share <= 1.0:
            raise ValueError("share must be between 0 and 1")
        rule = _RateRule(
            method, share, status, self._check_retry_after(retry_after), error, random.Random(seed)
        )
        with self._lock:
            self._rate_rules.append(rule)

    def delay(self, method: str | None, seconds: float, *, times: int | None = None) -> None:
        """Wait ``seconds`` before answering calls to ``method`` (None: all); 0 removes the delay."""
        with self._lock:
            if seconds <= 0:
                self._delays.pop(method, None)
            else:
                self._delays[method] = _Delay(seconds, times)

    def clear_faults(self) -> None:
        with self._lock:
            self._next_faults.clear()
            self._rate_rules.clear()
            self._delays.clear()

    @staticmethod
    def _check_retry_after(value: int) -> int:
        # The header is whole seconds (RFC 9110 delay-seconds); slack_sdk parses it with int().
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("retry_after must be a whole number of seconds >= 0")
        return value

    # ------------------------------------------------------------------ world state

    def _reset_state(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)
            self._ids: set[str] = set()
            self._ts_us = self._start_ts * 1_000_000
            self._users: dict[str, dict[str, Any]] = {}
            self._channels: dict[str, dict[str, Any]] = {}
            self._members: dict[str, list[str]] = {}
            self._messages: dict[str, dict[str, dict[str, Any]]] = {}
            self._ims: dict[str, str] = {}  # user id -> D... id
            self._mpims: dict[tuple[str, ...], str] = {}
            self._ephemeral: list[dict[str, Any]] = []
            self._views: dict[str, dict[str, Any]] = {}
            self._external_ids: dict[str, str] = {}
            self._home_views: dict[str, str] = {}
            self._triggers: dict[str, float] = {}
            self._files: dict[str, dict[str, Any]] = {}
            self._upload_keys: dict[str, str] = {}
            for known in (self.team["id"], self.bot["user_id"], self.bot["bot_id"], self.bot["app_id"]):
                self._ids.add(known)
            self.add_user(
                self.bot["user_id"],
                name=self.bot["name"],
                real_name=self.bot["name"].capitalize(),
                is_bot=True,
                locale="en-US",
            )

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-style ID such as ``C04AB12CDEF`` (deterministic per seed)."""
        with self._lock:
            while True:
                candidate = prefix + "".join(self._rng.choice(_ALNUM) for _ in range(10))
                if candidate not in self._ids:
                    self._ids.add(candidate)
                    return candidate

    def next_ts(self) -> str:
        """The next message timestamp: ``"1700000000.000100"``, ``"1700000000.000200"``, ..."""
        with self._lock:
            self._ts_us += 100
            return f"{self._ts_us // 1_000_000}.{self._ts_us % 1_000_000:06d}"

    def issue_trigger_id(self) -> str:
        """A trigger ID as an interaction payload would carry; it expires after 3 seconds."""
        with self._lock:
            trigger = f"{self._rng.randint(10**12, 10**13 - 1)}.{self._rng.randint(10**9, 10**10 - 1)}."
            trigger += secrets.token_hex(16)
            self._triggers[trigger] = time.monotonic()
            return trigger

    def add_user(
        self,
        user_id: str | None = None,
        *,
        name: str | None = None,
        real_name: str | None = None,
        locale: str = "nl-NL",
        tz: str = "Europe/Amsterdam",
        tz_label: str = "Central European Time",
        tz_offset: int = 3600,
        is_bot: bool = False,
        email: str | None = None,
        deleted: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add (or replace) a workspace member; returns the stored user object."""
        with self._lock:
            user_id = user_id or self.new_id("U")
            self._ids.add(user_id)
            name = name or f"user-{user_id.lower()}"
            real_name = real_name or name.replace(".", " ").title()
            profile: dict[str, Any] = {
                "avatar_hash": secrets.token_hex(6),
                "status_text": "",
                "status_emoji": "",
                "real_name": real_name,
                "display_name": name,
                "real_name_normalized": real_name,
                "display_name_normalized": name,
                "image_24": f"https://avatars.example.invalid/{user_id}_24.png",
                "image_48": f"https://avatars.example.invalid/{user_id}_48.png",
                "image_72": f"https://avatars.example.invalid/{user_id}_72.png",
                "team": self.team["id"],
            }
            if is_bot:
                profile.update(
                    {
                        "bot_id": self.bot["bot_id"] if user_id == self.bot["user_id"] else self.new_id("B"),
                        "api_app_id": self.bot["app_id"],
                        "always_active": True,
                    }
                )
            else:
                profile["email"] = email or f"{name}@example.org"
            user: dict[str, Any] = {
                "id": user_id,
                "team_id": self.team["id"],
                "name": name,
                "deleted": deleted,
                "color": "9f69e7",
                "real_name": real_name,
                "tz": tz,
                "tz_label": tz_label,
                "tz_offset": tz_offset,
                "profile": profile,
                "is_admin": False,
                "is_owner": False,
                "is_primary_owner": False,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "is_bot": is_bot,
                "is_app_user": False,
                "updated": self._start_ts - 86_400,
                "is_email_confirmed": not is_bot,
                "who_can_share_contact_card": "EVERYONE",
                "locale": locale,
                **extra,
            }
            self._users[user_id] = user
            return user

    def add_channel(
        self,
        channel_id: str | None = None,
        *,
        name: str | None = None,
        members: Iterable[str] = (),
        is_private: bool = False,
        is_archived: bool = False,
        include_bot: bool = True,
        locale: str = "nl-NL",
        **extra: Any,
    ) -> dict[str, Any]:
        """Add (or replace) a public/private channel; unknown members are added as users."""
        with self._lock:
            channel_id = channel_id or self.new_id("G" if is_private else "C")
            self._ids.add(channel_id)
            name = name or f"channel-{channel_id.lower()}"
            member_ids = list(dict.fromkeys(([self.bot["user_id"]] if include_bot else []) + list(members)))
            for member in member_ids:
                if member not in self._users:
                    self.add_user(member)
            creator = member_ids[0] if member_ids else self.bot["user_id"]
            channel: dict[str, Any] = {
                "id": channel_id,
                "name": name,
                "is_channel": not is_private,
                "is_group": False,
                "is_im": False,
                "is_mpim": False,
                "is_private": is_private,
                "created": self._start_ts - 86_400,
                "is_archived": is_archived,
                "is_general": False,
                "unlinked": 0,
                "name_normalized": name,
                "is_shared": False,
                "is_org_shared": False,
                "is_ext_shared": False,
                "is_pending_ext_shared": False,
                "pending_shared": [],
                "parent_conversation": None,
                "creator": creator,
                "is_member": self.bot["user_id"] in member_ids,
                "last_read": "0000000000.000000",
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
                "previous_names": [],
                "locale": locale,
                **extra,
            }
            self._channels[channel_id] = channel
            self._members[channel_id] = member_ids
            self._messages.setdefault(channel_id, {})
            return channel

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Seed a message (e.g. one a user wrote) so it can be replied to, reacted to, ..."""
        with self._lock:
            channel_id = self._resolve_channel(channel)
            message: dict[str, Any] = {
                "type": "message",
                "user": user or self._first_human(),
                "text": text,
                "ts": ts or self.next_ts(),
                "team": self.team["id"],
                **extra,
            }
            self._store_message(channel_id, message, thread_ts)
            return message

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages currently in a channel (or in all channels), oldest first, threads included."""
        with self._lock:
            channels = [channel] if channel is not None else list(self._messages)
            out: list[dict[str, Any]] = []
            for cid in channels:
                out.extend(dict(m) for m in self._messages.get(cid, {}).values())
            return out

    def ephemeral_messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._ephemeral]

    def views(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._views.items()}

    def uploaded(self, file_id: str) -> bytes | None:
        """The bytes POSTed to the upload URL of ``file_id`` (None if nothing arrived)."""
        with self._lock:
            entry = self._files.get(file_id)
            return None if entry is None else entry["data"]

    def dm_channel(self, user_id: str) -> str | None:
        with self._lock:
            return self._ims.get(user_id)

    def response_url(self, key: str = "r1") -> str:
        """A response_url on this fake, as Slack puts in slash-command and interaction payloads."""
        return f"{self.root_url}{_RESPONSE_PREFIX}{key}"

    def _serve_response_url(self, h: _Handler, key: str, raw: bytes, headers: dict[str, str]) -> None:
        try:
            args = json.loads(raw.decode("utf-8") or "{}")
        except ValueError:
            self._send(h, None, _Reply(400, "invalid_payload", text=True))
            return
        call = Call(method=RESPONSE, args={"key": key, **args}, headers=headers, at=time.monotonic())
        with self._lock:
            self._calls.append(call)
        self._send(h, call, _Reply(200, "ok", text=True))

    # ------------------------------------------------------------------ HTTP plumbing

    def _serve(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        try:
            raw = self._read_body(h)
        except (OSError, ValueError):
            h.close_connection = True
            return
        headers = dict(h.headers.items())
        if url.path.startswith(_RESPONSE_PREFIX):  # a command's or action's response_url
            self._serve_response_url(h, url.path[len(_RESPONSE_PREFIX) :], raw, headers)
            return
        if url.path.startswith(_UPLOAD_PREFIX):
            method = UPLOAD
        elif url.path.startswith("/api/"):
            method = url.path[len("/api/") :]
        else:
            self._send(h, None, _Reply(404, "Not Found", text=True))
            return

        parse_error: _ApiError | None = None
        is_json = False
        args: dict[str, Any] = {}
        warnings: list[str] = []
        if method == UPLOAD:
            args = {"key": url.path[len(_UPLOAD_PREFIX) :], "length": len(raw)}
        else:
            try:
                args, is_json, warnings = self._parse_args(h, url.query, raw)
            except _ApiError as exc:
                parse_error = exc

        call = Call(method=method, args=args, headers=headers, at=time.monotonic())
        with self._lock:
            self._calls.append(call)
            for pending in self._rate_limits:
                if pending.method == method and pending.retried_at is None:
                    pending.retried_at = call.at
            fault = self._pick_fault(method, call.at)
            pause = self._pick_delay(method)
        if pause:
            time.sleep(pause)

        try:
            if fault is not None and fault.kind == "drop" and not fault.after:
                self._drop(h, call, "dropped")
                return
            if fault is not None and fault.kind == "status":
                reply = self._fault_reply(fault)
                call.fault = "ratelimited" if fault.status == 429 else f"http_{fault.status}"
            elif parse_error is not None:
                reply = _Reply(200, parse_error.body())
            elif method == UPLOAD:
                reply = self._receive_upload(args["key"], raw, h)
            else:
                reply = self._dispatch(method, args, h, is_json)
                if warnings and isinstance(reply.body, dict) and reply.body.get("ok"):
                    reply.body["warning"] = ",".join(warnings)
                    reply.body.setdefault("response_metadata", {})["warnings"] = warnings
            if fault is not None and fault.kind == "drop":
                self._drop(h, call, "dropped_after")
                return
        except Exception as exc:  # a bug in the fake: answer loudly, keep it for the test to see
            with self._lock:
                self.server_errors.append(exc)
            reply = _Reply(500, {"ok": False, "error": "fake_slack_internal_error", "detail": repr(exc)})
        self._send(h, call, reply)

    @staticmethod
    def _read_body(h: _Handler) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(h.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(h.rfile.read(size))
                h.rfile.readline()
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length > 0 else b""

    def _parse_args(self, h: _Handler, query: str, raw: bytes) -> tuple[dict[str, Any], bool, list[str]]:
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        if not raw:
            return args, False, []
        content_type = h.headers.get("Content-Type")
        if not content_type:
            raise _ApiError("missing_post_type")
        ctype = h.headers.get_content_type()
        charset = h.headers.get_param("charset")
        if isinstance(charset, str) and charset.lower() not in ("utf-8", "utf8", "iso-8859-1"):
            raise _ApiError("invalid_charset")
        encoding = charset if isinstance(charset, str) else "utf-8"
        if ctype == "application/json":
            try:
                body = json.loads(raw.decode(encoding))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise _ApiError("invalid_json") from exc
            if not isinstance(body, dict):
                raise _ApiError("json_not_object")
            args.update(body)
            return args, True, ([] if charset else ["missing_charset"])
        if ctype in ("application/x-www-form-urlencoded", "text/plain"):
            try:
                args.update(parse_qsl(raw.decode(encoding), keep_blank_values=True))
            except (UnicodeDecodeError, ValueError) as exc:
                raise _ApiError("invalid_form_data") from exc
            return args, False, []
        if ctype == "multipart/form-data":
            message = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
            )
            if not message.is_multipart():
                raise _ApiError("invalid_form_data")
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not isinstance(name, str):
                    continue
                payload = part.get_payload(decode=True) or b""
                args[name] = payload if part.get_filename() else payload.decode("utf-8", "replace")
            return args, False, []
        raise _ApiError("invalid_post_type")

    def _pick_fault(self, method: str, now: float) -> _Fault | None:
        for key in (method, None):
            queue = self._next_faults.get(key)
            if queue:
                return queue.popleft()
        for rule in self._rate_rules:
            if rule.method in (None, method) and rule.rng.random() < rule.share:
                return _Fault("status", status=rule.status, retry_after=rule.retry_after, error=rule.error)
        window_end = self._windows.get(method)
        if self.enforce_retry_after and window_end is not None and now < window_end:
            return _Fault("status", status=429, retry_after=max(1, math.ceil(window_end - now)))
        return None

    def _pick_delay(self, method: str) -> float:
        for key in (method, None):
            entry = self._delays.get(key)
            if entry is None:
                continue
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    del self._delays[key]
            return entry.seconds
        return 0.0

    @staticmethod
    def _fault_reply(fault: _Fault) -> _Reply:
        if fault.status == 429:
            retry_after = 1 if fault.retry_after is None else fault.retry_after
            return _Reply(
                429, {"ok": False, "error": fault.error or "ratelimited"}, {"retry-after": str(retry_after)}
            )
        error = fault.error or _SERVER_ERRORS.get(fault.status, "fatal_error" if fault.status >= 500 else "")
        return _Reply(fault.status, {"ok": False, "error": error or f"http_{fault.status}"})

    def _drop(self, h: _Handler, call: Call, label: str) -> None:
        with self._lock:
            call.fault = label
            call.answered_at = time.monotonic()
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, h: _Handler, call: Call | None, reply: _Reply) -> None:
        if reply.text:
            payload = str(reply.body).encode()
            content_type = "text/plain; charset=utf-8"
        else:
            payload = json.dumps(reply.body, ensure_ascii=False).encode()
            content_type = "application/json; charset=utf-8"
        headers = {
            "content-type": content_type,
            "content-length": str(len(payload)),
            "x-slack-req-id": secrets.token_hex(16),
            "connection": "close",
            **reply.headers,
        }
        now = time.monotonic()
        if call is not None:
            with self._lock:
                call.status, call.response, call.answered_at = reply.status, reply.body, now
                if reply.status == 429:
                    retry_after = int(reply.headers.get("retry-after", "1"))
                    self._rate_limits.append(RateLimit(call.method, now, retry_after))
                    self._windows[call.method] = max(self._windows.get(call.method, 0.0), now + retry_after)
        h.close_connection = True
        try:
            h.send_response(reply.status)
            for key, value in headers.items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
            pass

    def _dispatch(self, method: str, args: dict[str, Any], h: _Handler, is_json: bool) -> _Reply:
        handler = self._methods.get(method) if _METHOD.match(method) else None
        if handler is None:
            return _Reply(200, {"ok": False, "error": "unknown_method"})
        if method in _APP_LEVEL:
            return self._dispatch_app_level(method, handler, args, h)
        headers = self._scope_headers(method)
        if method not in _NO_AUTH:
            token = self._bearer(h)
            if token is None and not is_json:  # a token form field is accepted, not in JSON bodies
                token = _text(args.get("token")) or None
            if not token:
                return _Reply(200, {"ok": False, "error": "not_authed"})
            with self._lock:
                known = token in self._tokens
                if token in self._app_tokens:  # an app-level token cannot call bot methods
                    return _Reply(200, {"ok": False, "error": "not_allowed_token_type"})
            if not known:
                return _Reply(200, {"ok": False, "error": "invalid_auth"})
            needed = _SCOPES.get(method)
            if needed and not any(s in self._scopes for s in needed):
                body = {
                    "ok": False,
                    "error": "missing_scope",
                    "needed": needed[0],
                    "provided": ",".join(self._scopes),
                }
                return _Reply(200, body, headers)
        else:
            token = ""
        try:
            with self._lock:
                body = handler(args, token)
        except _ApiError as exc:
            return _Reply(200, exc.body(), headers)
        return _Reply(200, {"ok": True, **body}, headers)

    def _dispatch_app_level(
        self, method: str, handler: Callable[[dict[str, Any], str], dict[str, Any]], args: dict[str, Any],
        h: _Handler,
    ) -> _Reply:
        """An app-level method: the xapp token must come in the Authorization header ("passing it as
        a POST parameter will result in an error"); a bot token gets ``not_allowed_token_type``."""
        token = self._bearer(h)
        if not token:
            return _Reply(200, {"ok": False, "error": "not_authed"})
        with self._lock:
            scopes = self._app_tokens.get(token)
            is_bot_token = token in self._tokens
        if scopes is None:
            error = "not_allowed_token_type" if is_bot_token else "invalid_auth"
            return _Reply(200, {"ok": False, "error": error})
        needed = _APP_LEVEL[method]
        headers = {"x-oauth-scopes": ",".join(scopes), "x-accepted-oauth-scopes": ",".join(needed)}
        if not any(s in scopes for s in needed):
            body = {"ok": False, "error": "missing_scope", "needed": needed[0], "provided": ",".join(scopes)}
            return _Reply(200, body, headers)
        try:
            with self._lock:
                body = handler(args, token)
        except _ApiError as exc:
            return _Reply(200, exc.body(), headers)
        return _Reply(200, {"ok": True, **body}, headers)

    def _scope_headers(self, method: str) -> dict[str, str]:
        return {
            "x-oauth-scopes": ",".join(self._scopes),
            "x-accepted-oauth-scopes": ",".join(_SCOPES.get(method, ())),
        }

    @staticmethod
    def _bearer(h: _Handler) -> str | None:
        value = h.headers.get("Authorization")
        if not value:
            return None
        scheme, _, credentials = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return credentials.strip() or None

    # ------------------------------------------------------------------ lookups

    def _first_human(self) -> str:
        for user_id, user in self._users.items():
            if not user["is_bot"]:
                return user_id
        return self.add_user(name="alex.jansen")["id"]

    def _resolve_user(self, user_id: Any) -> dict[str, Any]:
        uid = _text(user_id)
        if not uid:
            raise _ApiError("user_not_found")
        user = self._users.get(uid)
        if user is None:
            if self.strict or not _ID.match(uid) or uid[0] not in "UW":
                raise _ApiError("user_not_found")
            user = self.add_user(uid)
        return user

    def _resolve_channel(self, channel: Any, error: str = "channel_not_found") -> str:
        """Channel ID for an ID, ``#name``/``name``, or a user ID (the app's DM with that user)."""
        ref = _text(channel)
        if not ref:
            raise _ApiError(error)
        if ref in self._channels:
            return ref
        name = ref.lstrip("#")
        for cid, info in self._channels.items():
            if info.get("name") == name:
                return cid
        if _ID.match(ref) and ref[0] in "UW" and (ref in self._users or not self.strict):
            return self._open_im(self._resolve_user(ref)["id"])[0]
        if not self.strict and _ID.match(ref) and ref[0] in "CG":
            return self.add_channel(ref, is_private=ref[0] == "G")["id"]
        if not self.strict and _ID.match(ref) and ref[0] == "D":
            self._channels[ref] = self._im_object(ref, self._first_human())
            self._members[ref] = [self.bot["user_id"], self._channels[ref]["user"]]
            self._messages.setdefault(ref, {})
            return ref
        raise _ApiError(error)

    def _im_object(self, channel_id: str, user_id: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "created": self._start_ts - 3600,
            "is_im": True,
            "is_org_shared": False,
            "user": user_id,
            "is_user_deleted": False,
            "last_read": "0000000000.000000",
            "latest": None,
            "unread_count": 0,
            "unread_count_display": 0,
            "is_open": True,
            "priority": 0,
            "locale": self._users.get(user_id, {}).get("locale", "en-US"),
        }

    def _open_im(self, user_id: str) -> tuple[str, bool]:
        existing = self._ims.get(user_id)
        if existing is not None:
            return existing, True
        channel_id = self.new_id("D")
        self._ims[user_id] = channel_id
        self._channels[channel_id] = self._im_object(channel_id, user_id)
        self._members[channel_id] = [self.bot["user_id"], user_id]
        self._messages[channel_id] = {}
        return channel_id, False

    def _find_message(self, channel_id: str, ts: Any) -> dict[str, Any]:
        ts_text = _text(ts)
        message = self._messages.get(channel_id, {}).get(ts_text or "")
        if message is None:
            raise _ApiError("message_not_found")
        return message

    def _store_message(self, channel_id: str, message: dict[str, Any], thread_ts: str | None) -> None:
        history = self._messages.setdefault(channel_id, {})
        if thread_ts:
            message["thread_ts"] = thread_ts
            parent = history.get(thread_ts)
            if parent is not None:
                message["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["reply_users"] = list(dict.fromkeys([*parent.get("reply_users", []), message["user"]]))
                parent["reply_users_count"] = len(parent["reply_users"])
                parent["latest_reply"] = message["ts"]
        history[message["ts"]] = message

    def _bot_message(self, text: str, ts: str) -> dict[str, Any]:
        return {
            "user": self.bot["user_id"],
            "type": "message",
            "ts": ts,
            "bot_id": self.bot["bot_id"],
            "app_id": self.bot["app_id"],
            "text": text,
            "team": self.team["id"],
            "bot_profile": {
                "id": self.bot["bot_id"],
                "app_id": self.bot["app_id"],
                "name": self.bot["name"],
                "deleted": False,
                "team_id": self.team["id"],
                "updated": self._start_ts - 86_400,
                "icons": {"image_48": "https://avatars.example.invalid/bot_48.png"},
            },
        }

    def _content(self, args: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
        """Validate text / blocks / attachments / markdown_text the way chat.* methods do."""
        text = _text(args.get("text"))
        markdown_text = _text(args.get("markdown_text"))
        raw_blocks = args.get("blocks")
        raw_attachments = args.get("attachments")
        blocks = attachments = None
        if raw_blocks not in (None, ""):
            try:
                blocks = _json_arg(raw_blocks)
            except json.JSONDecodeError as exc:
                raise _ApiError("invalid_blocks", ["[ERROR] blocks must be a JSON array"]) from exc
            if not isinstance(blocks, list):
                raise _ApiError(
                    "invalid_blocks", ["[ERROR] blocks must be a JSON array [json-pointer:/blocks]"]
                )
            for i, block in enumerate(blocks):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise _ApiError(
                        "invalid_blocks", [f"[ERROR] missing required field: type [json-pointer:/blocks/{i}]"]
                    )
            if len(blocks) > MAX_MESSAGE_BLOCKS:
                raise _ApiError(
                    "invalid_blocks",
                    [f"[ERROR] no more than {MAX_MESSAGE_BLOCKS} items allowed [json-pointer:/blocks]"],
                )
        if raw_attachments not in (None, ""):
            try:
                attachments = _json_arg(raw_attachments)
            except json.JSONDecodeError as exc:
                raise _ApiError("invalid_attachments") from exc
            if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
                raise _ApiError("invalid_attachments")
            if len(attachments) > MAX_ATTACHMENTS:
                raise _ApiError("too_many_attachments")
        if markdown_text and (text or blocks):
            raise _ApiError("markdown_text_conflict")
        if required and not (text or blocks or attachments or markdown_text):
            raise _ApiError("no_text")
        if text is not None and len(text) > MAX_TEXT_CHARS:
            raise _ApiError("msg_too_long")
        if markdown_text is not None and len(markdown_text) > MAX_MARKDOWN_TEXT_CHARS:
            raise _ApiError("msg_too_long")
        return {
            "text": text if text is not None else (markdown_text or ""),
            "blocks": blocks,
            "attachments": attachments,
        }

    @staticmethod
    def _page(
        items: list[Any],
        args: dict[str, Any],
        *,
        key: Callable[[Any], str],
        label: str,
        default_limit: int,
        max_limit: int,
    ) -> tuple[list[Any], str]:
        """Cursor pagination: returns (page, next_cursor) with next_cursor "" on the last page."""
        try:
            limit = _int_arg(args.get("limit"), default_limit)
        except (TypeError, ValueError) as exc:
            raise _ApiError("invalid_limit") from exc
        if limit < 1:
            raise _ApiError("invalid_limit")
        limit = min(limit, max_limit)
        start = 0
        cursor = _text(args.get("cursor"))
        if cursor:
            try:
                kind, _, value = _unb64(cursor).partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise _ApiError("invalid_cursor") from exc
            keys = [key(item) for item in items]
            if kind != label or value not in keys:
                raise _ApiError("invalid_cursor")
            start = keys.index(value)
        page = items[start : start + limit]
        rest = items[start + limit :]
        return page, (_b64(f"{label}:{key(rest[0])}") if rest else "")

    # ------------------------------------------------------------------ methods

    def _api_test(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        if args.get("error"):
            raise _ApiError(str(args["error"]), args={k: v for k, v in args.items() if k != "token"})
        return {"args": {k: v for k, v in args.items() if k != "token"}}

    def _auth_test(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "url": f"https://{self.team['domain']}.slack.com/",
            "team": self.team["name"],
            "user": self.bot["name"],
            "team_id": self.team["id"],
            "user_id": self.bot["user_id"],
        }
        if token.startswith("xoxb-"):
            body["bot_id"] = self.bot["bot_id"]
        body["is_enterprise_install"] = False
        return body

    def _chat_post_message(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        if self._channels[channel_id].get("is_archived"):
            raise _ApiError("is_archived")
        content = self._content(args)
        message = self._bot_message(content["text"], self.next_ts())
        if content["blocks"] is not None:
            message["blocks"] = content["blocks"]
        if content["attachments"] is not None:
            message["attachments"] = [{"id": i + 1, **a} for i, a in enumerate(content["attachments"])]
        if args.get("metadata"):
            try:
                message["metadata"] = _json_arg(args["metadata"])
            except json.JSONDecodeError as exc:
                raise _ApiError("invalid_metadata_format") from exc
        thread_ts = _text(args.get("thread_ts")) or None
        if thread_ts and not _TS.match(thread_ts):
            raise _ApiError("invalid_thread_ts")
        self._store_message(channel_id, message, thread_ts)
        return {"channel": channel_id, "ts": message["ts"], "message": dict(message)}

    def _chat_post_ephemeral(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        user_id = _text(args.get("user"))
        if not user_id:
            raise _ApiError("user_not_in_channel", ["[ERROR] missing required field: user"])
        user = self._resolve_user(user_id)
        members = self._members.get(channel_id, [])
        if self.strict and user["id"] not in members:
            raise _ApiError("user_not_in_channel")
        content = self._content(args)
        ts = self.next_ts()
        self._ephemeral.append(
            {
                "channel": channel_id,
                "user": user["id"],
                "ts": ts,
                **content,
                "thread_ts": _text(args.get("thread_ts")),
            }
        )
        return {"message_ts": ts}

    def _chat_update(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        message = self._find_message(channel_id, args.get("ts"))
        if message.get("user") != self.bot["user_id"]:
            raise _ApiError("cant_update_message")
        content = self._content(args)
        message["text"] = content["text"]
        for key in ("blocks", "attachments"):
            if content[key] is not None:
                message[key] = content[key]
        message["edited"] = {"user": self.bot["user_id"], "ts": self.next_ts()}
        return {"channel": channel_id, "ts": message["ts"], "text": message["text"], "message": dict(message)}

    def _chat_delete(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        message = self._find_message(channel_id, args.get("ts"))
        if message.get("user") != self.bot["user_id"]:
            raise _ApiError("cant_delete_message")
        del self._messages[channel_id][message["ts"]]
        return {"channel": channel_id, "ts": message["ts"]}

    def _conversations_open(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        raw_users = args.get("users")
        if isinstance(raw_users, list):
            user_ids = [str(u).strip() for u in raw_users if str(u).strip()]
        else:
            user_ids = [u.strip() for u in (_text(raw_users) or "").split(",") if u.strip()]
        if user_ids:
            if len(user_ids) > MAX_MPIM_USERS:
                raise _ApiError("too_many_users")
            users = [self._resolve_user(u)["id"] for u in user_ids]
            if len(users) == 1:
                channel_id, already = self._open_im(users[0])
            else:
                members = tuple(dict.fromkeys([self.bot["user_id"], *users]))
                channel_id = self._mpims.get(members, "")
                already = bool(channel_id)
                if not already:
                    channel_id = self.new_id("G")
                    self._mpims[members] = channel_id
                    names = "--".join(self._users[u]["name"] for u in members)
                    self.add_channel(
                        channel_id,
                        name=f"mpdm-{names}-1",
                        members=members,
                        is_private=True,
                        is_mpim=True,
                        is_channel=False,
                        is_group=True,
                    )
        elif args.get("channel"):
            channel_id = _text(args["channel"]) or ""
            info = self._channels.get(channel_id)
            if info is None or not (info.get("is_im") or info.get("is_mpim")):
                raise _ApiError("channel_not_found")
            already = True
        else:
            raise _ApiError("users_list_not_supplied")
        body: dict[str, Any] = {}
        if already:
            body.update({"no_op": True, "already_open": True})
        body["channel"] = (
            dict(self._channels[channel_id]) if _flag(args.get("return_im")) else {"id": channel_id}
        )
        return body

    def _conversations_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        channel = dict(self._channels[channel_id])
        locale = channel.pop("locale", "en-US")
        if _flag(args.get("include_locale")):
            channel["locale"] = locale
        if _flag(args.get("include_num_members")):
            channel["num_members"] = len(self._members.get(channel_id, []))
        return {"channel": channel}

    def _conversations_members(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        members = list(self._members.get(channel_id, []))
        page, next_cursor = self._page(
            members, args, key=str, label="user", default_limit=100, max_limit=1000
        )
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_replies(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        ts = _text(args.get("ts"))
        history = self._messages.get(channel_id, {})
        parent = history.get(ts or "")
        replies = sorted(
            (m for m in history.values() if m.get("thread_ts") == ts and m["ts"] != ts), key=lambda m: m["ts"]
        )
        # The fake only knows messages posted through it; a person's message that started a thread
        # (sent in a test as an event) is missing, so its replies stand alone.
        if parent is None and not replies:
            raise _ApiError("thread_not_found")
        thread = ([parent] if parent is not None else []) + replies
        page, next_cursor = self._page(
            thread,
            args,
            key=lambda m: m["ts"].replace(".", ""),
            label="next_ts",
            default_limit=1000,
            max_limit=1000,
        )
        return {
            "messages": [self._visible(m, args) for m in page],
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_history(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        """Top-level messages (and thread broadcasts), newest first, within ``oldest``/``latest``."""
        channel_id = self._resolve_channel(args.get("channel"))
        try:
            oldest = float(_text(args.get("oldest")) or 0)
            latest = float(_text(args.get("latest")) or 0) or math.inf
        except ValueError as exc:
            raise _ApiError("invalid_ts_oldest") from exc
        inclusive = _flag(args.get("inclusive"))
        messages = [
            m for m in self._messages.get(channel_id, {}).values()
            if (not m.get("thread_ts") or m["thread_ts"] == m["ts"] or m.get("subtype") == "thread_broadcast")
            and (oldest < float(m["ts"]) < latest or (inclusive and float(m["ts"]) in (oldest, latest)))
        ]
        messages.sort(key=lambda m: m["ts"], reverse=True)
        page, next_cursor = self._page(
            messages, args, key=lambda m: m["ts"].replace(".", ""), label="next_ts",
            default_limit=100, max_limit=999,
        )
        return {
            "messages": [self._visible(m, args) for m in page],
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    @staticmethod
    def _visible(message: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        """Message metadata is returned only when asked for with ``include_all_metadata``."""
        shown = dict(message)
        if not _flag(args.get("include_all_metadata")):
            shown.pop("metadata", None)
        return shown

    def _users_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        user = dict(self._resolve_user(args.get("user")))
        locale = user.pop("locale", "en-US")
        if _flag(args.get("include_locale")):
            user["locale"] = locale
        return {"user": user}

    def _parse_view(self, args: dict[str, Any], allowed_types: tuple[str, ...]) -> dict[str, Any]:
        raw = args.get("view")
        if raw in (None, ""):
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: view"])
        if isinstance(raw, str) and len(raw.encode()) > MAX_VIEW_BYTES:
            raise _ApiError("view_too_large")
        try:
            view = _json_arg(raw)
        except json.JSONDecodeError as exc:
            raise _ApiError(
                "invalid_arguments", ["[ERROR] failed to parse view [json-pointer:/view]"]
            ) from exc
        if not isinstance(view, dict):
            raise _ApiError("invalid_arguments", ["[ERROR] view must be an object [json-pointer:/view]"])
        if len(json.dumps(view).encode()) > MAX_VIEW_BYTES:
            raise _ApiError("view_too_large")
        if view.get("type") not in allowed_types:
            raise _ApiError(
                "invalid_arguments",
                [f"[ERROR] must be one of {', '.join(allowed_types)} [json-pointer:/view/type]"],
            )
        blocks = view.get("blocks")
        if not isinstance(blocks, list):
            raise _ApiError(
                "invalid_arguments", ["[ERROR] missing required field: blocks [json-pointer:/view]"]
            )
        if len(blocks) > MAX_VIEW_BLOCKS:
            raise _ApiError(
                "invalid_arguments",
                [f"[ERROR] no more than {MAX_VIEW_BLOCKS} items allowed [json-pointer:/view/blocks]"],
            )
        if view["type"] == "modal" and not isinstance(view.get("title"), dict):
            raise _ApiError(
                "invalid_arguments", ["[ERROR] missing required field: title [json-pointer:/view]"]
            )
        return view

    def _view_object(
        self, view: dict[str, Any], view_id: str, root_id: str | None = None, previous_id: str | None = None
    ) -> dict[str, Any]:
        obj = {
            "id": view_id,
            "team_id": self.team["id"],
            "type": view["type"],
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root_id or view_id,
            "previous_view_id": previous_id,
            "app_id": self.bot["app_id"],
            "app_installed_team_id": self.team["id"],
            "bot_id": self.bot["bot_id"],
        }
        external_id = obj["external_id"]
        if external_id:
            owner = self._external_ids.get(external_id)
            if owner is not None and owner != view_id:
                raise _ApiError("duplicate_external_id")
            self._external_ids[external_id] = view_id
        self._views[view_id] = obj
        return obj

    def _views_open(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        trigger = _text(args.get("trigger_id"))
        if not trigger:
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        issued = self._triggers.get(trigger)
        if issued is None and self.strict:
            raise _ApiError("invalid_arguments", ["invalid `trigger_id`"])
        if issued is not None and time.monotonic() - issued > TRIGGER_TTL:
            raise _ApiError("expired_trigger_id")
        view = self._parse_view(args, ("modal",))
        return {"view": dict(self._view_object(view, self.new_id("V")))}

    def _views_publish(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        user_id = _text(args.get("user_id"))
        if not user_id:
            raise _ApiError("invalid_arguments", ["invalid `user_id`"])
        try:
            user = self._resolve_user(user_id)
        except _ApiError as exc:
            raise _ApiError("invalid_arguments", ["invalid `user_id`"]) from exc
        view = self._parse_view(args, ("home",))
        view_id = self._home_views.get(user["id"])
        expected = _text(args.get("hash"))
        if view_id is not None and expected and self._views[view_id]["hash"] != expected:
            raise _ApiError("hash_conflict")
        if view_id is None:
            view_id = self._home_views[user["id"]] = self.new_id("V")
        return {"view": dict(self._view_object(view, view_id))}

    def _views_update(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        view_id = _text(args.get("view_id"))
        external_id = _text(args.get("external_id"))
        if not view_id and not external_id:
            raise _ApiError("invalid_arguments", ["[ERROR] either view_id or external_id is required"])
        if not view_id:
            view_id = self._external_ids.get(external_id or "")
        current = self._views.get(view_id or "")
        if current is None or view_id is None:
            raise _ApiError("not_found")
        expected = _text(args.get("hash"))
        if expected and current["hash"] != expected:
            raise _ApiError("hash_conflict")
        view = self._parse_view(args, (current["type"],))
        updated = self._view_object(
            view, view_id, root_id=current["root_view_id"], previous_id=current.get("previous_view_id")
        )
        return {"view": dict(updated)}

    def _reaction_target(self, args: dict[str, Any]) -> dict[str, Any]:
        name = _text(args.get("name"))
        if not name:
            raise _ApiError("invalid_name")
        if not args.get("channel") or not args.get("timestamp"):
            raise _ApiError("no_item_specified")
        channel_id = self._resolve_channel(args.get("channel"))
        ts = _text(args.get("timestamp")) or ""
        if not _TS.match(ts):
            raise _ApiError("bad_timestamp")
        return self._find_message(channel_id, ts)

    def _reactions_add(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        message = self._reaction_target(args)
        name = _text(args["name"]) or ""
        reactions = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            reactions.append({"name": name, "users": [self.bot["user_id"]], "count": 1})
        elif self.bot["user_id"] in entry["users"]:
            raise _ApiError("already_reacted")
        else:
            entry["users"].append(self.bot["user_id"])
            entry["count"] += 1
        return {}

    def _reactions_remove(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        message = self._reaction_target(args)
        name = _text(args["name"]) or ""
        reactions = message.get("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None or self.bot["user_id"] not in entry["users"]:
            raise _ApiError("no_reaction")
        entry["users"].remove(self.bot["user_id"])
        entry["count"] -= 1
        if not entry["users"]:
            reactions.remove(entry)
        if not reactions:
            message.pop("reactions", None)
        return {}

    def _files_get_upload_url_external(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        filename = _text(args.get("filename"))
        if not filename:
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: filename"])
        try:
            length = _int_arg(args.get("length"), -1)
        except (TypeError, ValueError) as exc:
            raise _ApiError("invalid_arguments", ["[ERROR] length must be an integer"]) from exc
        if length < 0:
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: length"])
        if length == 0:
            raise _ApiError("missing_argument")
        alt_txt = _text(args.get("alt_txt"))
        if alt_txt and len(alt_txt) > 1000:
            raise _ApiError("alt_txt_too_large")
        file_id = self.new_id("F")
        key = secrets.token_urlsafe(24)
        self._upload_keys[key] = file_id
        self._files[file_id] = {
            "filename": filename,
            "length": length,
            "alt_txt": alt_txt,
            "snippet_type": _text(args.get("snippet_type")),
            "data": None,
            "meta": None,
            "shares": [],
        }
        return {"upload_url": f"{self.root_url}{_UPLOAD_PREFIX}{key}", "file_id": file_id}

    def _receive_upload(self, key: str, raw: bytes, h: _Handler) -> _Reply:
        ctype = h.headers.get_content_type() if h.headers.get("Content-Type") else ""
        data = raw
        if ctype == "multipart/form-data":  # "files can be sent as raw bytes or multipart form encoded"
            message = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + h.headers["Content-Type"].encode("latin-1") + b"\r\n\r\n" + raw
            )
            parts = [p for p in message.iter_parts() if p.get_filename()] if message.is_multipart() else []
            data = (parts[0].get_payload(decode=True) or b"") if parts else b""
        with self._lock:
            file_id = self._upload_keys.get(key)
            if file_id is None:
                return _Reply(404, "Not Found", text=True)
            self._files[file_id]["data"] = data
        return _Reply(200, f"OK - {len(data)}", text=True)

    def _file_object(self, file_id: str, title: str | None) -> dict[str, Any]:
        entry = self._files[file_id]
        name = entry["filename"]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        mimetype = {
            "png": "image/png",
            "jpg": "image/jpeg",
            "jpeg": "image/jpeg",
            "gif": "image/gif",
            "txt": "text/plain",
            "pdf": "application/pdf",
            "csv": "text/csv",
            "json": "application/json",
        }.get(ext, "application/octet-stream")
        created = int(self._ts_us // 1_000_000)
        base = f"https://files.slack.com/files-pri/{self.team['id']}-{file_id}/{name}"
        obj = {
            "id": file_id,
            "created": created,
            "timestamp": created,
            "name": name,
            "title": title or name,
            "mimetype": mimetype,
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": self.bot["user_id"],
            "user_team": self.team["id"],
            "editable": False,
            "size": len(entry["data"] or b""),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": base,
            "url_private_download": base.replace("/files-pri/", "/files-pri/download/"),
            "permalink": f"https://{self.team['domain']}.slack.com/files/{self.bot['user_id']}/{file_id}/{name}",
            "permalink_public": f"https://slack-files.com/{self.team['id']}-{file_id}-{secrets.token_hex(5)}",
            "comments_count": 0,
            "is_starred": False,
            "shares": {},
            "channels": [],
            "groups": [],
            "ims": [],
            "has_more_shares": False,
        }
        if entry["alt_txt"]:
            obj["alt_txt"] = entry["alt_txt"]
        return obj

    def _files_complete_upload_external(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        raw = args.get("files")
        try:
            items = _json_arg(raw) if raw not in (None, "") else None
        except json.JSONDecodeError as exc:
            raise _ApiError("invalid_arguments", ["[ERROR] files must be a JSON array"]) from exc
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(i, dict) and i.get("id") for i in items)
        ):
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: files"])
        targets: list[str] = []
        channel_arg = _text(args.get("channel_id"))
        channels_arg = _text(args.get("channels"))
        for ref in ([channel_arg] if channel_arg else []) + [c for c in (channels_arg or "").split(",") if c]:
            targets.append(self._resolve_channel(ref.strip(), error="invalid_channel"))
        thread_ts = _text(args.get("thread_ts")) or None
        if thread_ts and len(targets) != 1:
            raise _ApiError("invalid_arguments", ["[ERROR] thread_ts needs exactly one channel"])
        files = []
        for item in items:
            entry = self._files.get(str(item["id"]))
            if entry is None or entry["data"] is None:
                raise _ApiError("file_not_found")
            files.append(self._file_object(str(item["id"]), _text(item.get("title"))))
        for channel_id in targets:  # the share itself; Slack finishes it asynchronously
            message = self._bot_message(_text(args.get("initial_comment")) or "", self.next_ts())
            message.update({"files": [dict(f) for f in files], "upload": True, "display_as_bot": False})
            self._store_message(channel_id, message, thread_ts)
            for f in files:
                self._files[f["id"]]["shares"].append((channel_id, message["ts"]))
        for f in files:
            self._files[f["id"]]["meta"] = f
        # Like Slack, answer before the shares are done: "shares"/"channels" stay empty here
        # (files.info shows them).
        return {"files": files}

    def _files_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        file_id = _text(args.get("file")) or ""
        entry = self._files.get(file_id)
        if entry is None or entry["meta"] is None:
            raise _ApiError("file_not_found")
        obj = dict(entry["meta"])
        shares: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for channel_id, ts in entry["shares"]:
            info = self._channels.get(channel_id, {})
            kind = "public" if info.get("is_channel") else "private"
            share = {
                "ts": ts,
                "channel_name": info.get("name", ""),
                "team_id": self.team["id"],
                "share_user_id": self.bot["user_id"],
            }
            shares.setdefault(kind, {}).setdefault(channel_id, []).append(share)
            target = "channels" if kind == "public" else ("ims" if info.get("is_im") else "groups")
            if channel_id not in obj[target]:
                obj[target] = [*obj[target], channel_id]
        obj["shares"] = shares
        return {"file": obj, "comments": [], "response_metadata": {"next_cursor": ""}}

    def _apps_connections_open(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        """Socket Mode: a fresh single-use WebSocket URL, ``{"ok": true, "url": "wss://…/link/?ticket=…"}``
        (here ``ws://127.0.0.1:…``, served by ``tests.fakes.socket_mode.FakeSocketMode``)."""
        if self.socket_mode_url is None:  # a fake-only error: no FakeSocketMode is attached
            raise _ApiError("fake_socket_mode_not_started")
        return {"url": self.socket_mode_url()}
