"""A local fake of Slack's Socket Mode WebSocket endpoint, so Socket Mode apps can be tested end to end.

Slack's flow (docs.slack.dev/apis/events-api/using-socket-mode): the app calls
``apps.connections.open`` with its app-level token (``xapp-…``) and gets a short-lived, single-use
``wss://…/link/?ticket=…`` URL; it connects, Slack sends a ``hello`` message, then pushes envelopes::

    {"envelope_id": "…", "type": "events_api" | "slash_commands" | "interactive",
     "payload": {…}, "accepts_response_payload": bool, "retry_attempt": 0, "retry_reason": ""}

and the app acknowledges each one on the socket with ``{"envelope_id": "…"}`` (optionally with a
``"payload"``, e.g. a slash command's reply), within 3 seconds. Connections are refreshed: Slack sends
``{"type": "disconnect", "reason": "warning" | "refresh_requested" | "link_disabled", ...}`` and the
app opens a new connection. ``retry_attempt``/``retry_reason`` are only on ``events_api`` envelopes.

Use it with :class:`tests.fakes.slack_api.FakeSlack`, whose ``apps.connections.open`` hands out URLs
of this server (plain ``ws://127.0.0.1``; slack_sdk's built-in client uses TLS only on port 443)::

    with FakeSlack() as slack, FakeSocketMode(slack) as sockets:
        ...  # start the app with SLACK_APP_TOKEN=slack.app_token, SLACK_API_URL=slack.base_url
        sockets.wait_for_connections(1)
        sent = sockets.send_event({"type": "app_mention", ...})
        assert sockets.wait_for_ack(sent).delay < 3.0

The server is ``websockets.sync.server`` (websockets comes with chromadb's ``uvicorn[standard]``), a
strict RFC 6455 implementation: it insists on masked client frames, answers pings and pings the client.
Times are ``time.monotonic()`` values.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

if TYPE_CHECKING:
    from tests.fakes.slack_api import FakeSlack

__all__ = ["ACK_DEADLINE", "Ack", "Envelope", "FakeSocketMode", "SocketConnection"]

ACK_DEADLINE = 3.0  # Slack expects every envelope to be acknowledged within 3 seconds
TICKET_TTL = 30.0  # an apps.connections.open URL is short-lived; the fake gives it 30 s


@dataclass
class Envelope:
    """An envelope the fake sent to the app."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    message: dict[str, Any]  # exactly what went over the socket
    connection: int  # SocketConnection.index it was sent on
    sent_at: float


@dataclass
class Ack:
    """An acknowledgement the app sent back: ``{"envelope_id": …, "payload"?: …}``."""

    envelope_id: str
    payload: Any  # None when the ack had no payload
    message: dict[str, Any]
    connection: int
    at: float
    delay: float  # seconds since the envelope was sent


@dataclass
class SocketConnection:
    """One WebSocket connection the app opened."""

    index: int
    ticket: str
    path: str
    opened_at: float
    hello: dict[str, Any]
    received: list[Any] = field(default_factory=list)  # every message the app sent, parsed when JSON
    closed_at: float | None = None
    close_code: int | None = None
    closed_by_server: bool = False
    _ws: ServerConnection | None = field(default=None, repr=False)
    _send_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class FakeSocketMode:
    """Slack's Socket Mode endpoint on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        slack: FakeSlack | None = None,
        *,
        app_id: str | None = None,
        ping_interval: float | None = 5.0,
        ticket_ttl: float = TICKET_TTL,
    ) -> None:
        """
        Args:
            slack: the FakeSlack whose ``apps.connections.open`` should hand out this server's URLs
                (attached on ``start``, detached on ``stop``).
            app_id: sent in ``hello``'s ``connection_info``; defaults to the FakeSlack's app ID.
            ping_interval: the server pings the app this often (seconds) and drops it when no pong
                comes within as long; None turns pings off.
            ticket_ttl: seconds a URL from ``issue_url`` stays usable.
        """
        self.slack = slack
        self.app_id = app_id or (slack.bot["app_id"] if slack is not None else "A0KETENBOT")
        self.ping_interval = ping_interval
        self.ticket_ttl = ticket_ttl
        self._lock = threading.RLock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._tickets: dict[str, float] = {}  # ticket -> monotonic time issued; removed when used
        self._connections: list[SocketConnection] = []
        self._envelopes: dict[str, Envelope] = {}
        self._acks: list[Ack] = []
        #: Handshakes refused: (path, reason), e.g. a reused or unknown ticket.
        self.rejected: list[tuple[str, str]] = []
        #: Protocol mistakes by the app: acks for unknown or already acked envelopes, non-JSON text,
        #: binary frames, messages that are not acks. A correct app leaves this empty.
        self.problems: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSocketMode:
        if self._server is not None:
            return self
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            compression=None,  # Slack's built-in Python client does not negotiate permessage-deflate
            server_header="FakeSlackSocketMode/1.0",
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_interval,
            close_timeout=2,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="FakeSocketMode", daemon=True)
        self._thread.start()
        if self.slack is not None:
            self.slack.socket_mode_url = self.issue_url
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if self.slack is not None and getattr(self.slack, "socket_mode_url", None) == self.issue_url:
            self.slack.socket_mode_url = None
        if server is None:
            return
        server.shutdown()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSocketMode is not started")
        return self._server.socket.getsockname()[1]

    def issue_url(self) -> str:
        """A fresh single-use WebSocket URL, as ``apps.connections.open`` returns it."""
        ticket = str(uuid.uuid4())
        with self._lock:
            self._tickets[ticket] = time.monotonic()
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # ------------------------------------------------------------------ records

    @property
    def connections(self) -> list[SocketConnection]:
        """Every connection opened, in order (closed ones too)."""
        with self._lock:
            return list(self._connections)

    def live(self) -> list[SocketConnection]:
        with self._lock:
            return [c for c in self._connections if c.is_open]

    def wait_for_connections(self, count: int = 1, timeout: float = 5.0) -> list[SocketConnection]:
        """Wait until ``count`` connections were opened in total (each got its ``hello``)."""
        self._wait(lambda: len(self.connections) >= count, timeout)
        return self.connections

    def wait_closed(self, connection: SocketConnection, timeout: float = 5.0) -> bool:
        return bool(self._wait(lambda: not connection.is_open or None, timeout))

    def acks(self, envelope_id: str | None = None) -> list[Ack]:
        with self._lock:
            return [a for a in self._acks if envelope_id is None or a.envelope_id == envelope_id]

    def wait_for_ack(self, envelope: Envelope | str, timeout: float = 5.0) -> Ack | None:
        """The ack for ``envelope``, or None if none came within ``timeout``."""
        envelope_id = envelope if isinstance(envelope, str) else envelope.envelope_id
        found = self._wait(lambda: next(iter(self.acks(envelope_id)), None), timeout)
        return found or None

    def unacked(self, deadline: float = ACK_DEADLINE) -> list[Envelope]:
        """Envelopes sent more than ``deadline`` seconds ago, or acked later than that."""
        now = time.monotonic()
        with self._lock:
            acked = {a.envelope_id: a for a in self._acks}
            return [
                e for e in self._envelopes.values()
                if (e.envelope_id in acked and acked[e.envelope_id].delay > deadline)
                or (e.envelope_id not in acked and now - e.sent_at > deadline)
            ]

    # ------------------------------------------------------------------ sending

    def send(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        envelope_id: str | None = None,
        to: SocketConnection | None = None,
    ) -> Envelope:
        """Push an envelope to the app, on ``to`` or the newest open connection.

        ``accepts_response_payload`` defaults as Slack sends it: false for ``events_api``, true for
        ``slash_commands`` and ``interactive``. ``events_api`` envelopes carry ``retry_attempt`` and
        ``retry_reason`` (0 and "" on a first delivery).
        """
        connection = to or self._newest()
        envelope_id = envelope_id or str(uuid.uuid4())
        message: dict[str, Any] = {"envelope_id": envelope_id, "payload": payload, "type": type}
        message["accepts_response_payload"] = (
            type != "events_api" if accepts_response_payload is None else accepts_response_payload
        )
        if type == "events_api" or retry_attempt is not None or retry_reason is not None:
            message["retry_attempt"] = retry_attempt or 0
            message["retry_reason"] = retry_reason or ""
        with self._lock:
            if envelope_id in self._envelopes:
                raise ValueError(f"envelope_id {envelope_id} was already used; Slack never reuses one")
            envelope = Envelope(envelope_id, type, payload, message, connection.index, time.monotonic())
            self._envelopes[envelope_id] = envelope
        self._send_json(connection, message)
        return envelope

    def send_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        to: SocketConnection | None = None,
    ) -> Envelope:
        """An ``events_api`` envelope around an Events API ``event_callback`` for ``event``."""
        team_id = self.slack.team["id"] if self.slack is not None else "T0KETEN001"
        bot_user = self.slack.bot["user_id"] if self.slack is not None else "U0KETENBOT"
        payload = {
            "token": "unused-in-socket-mode",
            "team_id": team_id,
            "context_team_id": team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {"enterprise_id": None, "team_id": team_id, "user_id": bot_user, "is_bot": True,
                 "is_enterprise_install": False}
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }
        return self.send("events_api", payload, retry_attempt=retry_attempt, retry_reason=retry_reason, to=to)

    def send_command(
        self, command: str, text: str, *, user_id: str, channel_id: str, response_url: str, trigger_id: str,
        to: SocketConnection | None = None,
    ) -> Envelope:
        """A ``slash_commands`` envelope, shaped like the example in Slack's Socket Mode docs."""
        team = self.slack.team if self.slack is not None else {"id": "T0KETEN001", "domain": "ketenbot-test"}
        payload = {
            "token": "unused-in-socket-mode",
            "team_id": team["id"],
            "team_domain": team["domain"],
            "channel_id": channel_id,
            "channel_name": "directmessage" if channel_id.startswith("D") else "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        return self.send("slash_commands", payload, to=to)

    def send_interactive(self, payload: dict[str, Any], *, to: SocketConnection | None = None) -> Envelope:
        """An ``interactive`` envelope (block_actions, view_submission, …) around ``payload``."""
        return self.send("interactive", payload, to=to)

    def disconnect(
        self, reason: str = "refresh_requested", *, to: SocketConnection | None = None,
        close_after: float | None = None,
    ) -> SocketConnection:
        """Send a ``disconnect`` message (``warning``, ``refresh_requested``, ``link_disabled``).

        With ``close_after`` the server also closes that connection after so many seconds, as Slack
        does, unless the app closed it first.
        """
        connection = to or self._newest()
        debug_info = {"host": f"applink-fake-{connection.index}"}
        self._send_json(connection, {"type": "disconnect", "reason": reason, "debug_info": debug_info})
        if close_after is not None:
            timer = threading.Timer(close_after, self.close, args=(connection,))
            timer.daemon = True
            timer.start()
        return connection

    def close(self, connection: SocketConnection, code: int = 1001, reason: str = "") -> None:
        """Close ``connection`` from the server side (a WebSocket close frame)."""
        ws = connection._ws
        if ws is not None and connection.is_open:
            connection.closed_by_server = True
            ws.close(code, reason)

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _wait(probe, timeout: float):  # noqa: ANN001, ANN205 - a small polling helper
        deadline = time.monotonic() + timeout
        while True:
            found = probe()
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.01)

    def _newest(self) -> SocketConnection:
        live = self.live()
        if not live:
            raise RuntimeError("no open Socket Mode connection to send on")
        return live[-1]

    def _send_json(self, connection: SocketConnection, message: dict[str, Any]) -> None:
        if connection._ws is None:
            raise RuntimeError("connection is not open")
        with connection._send_lock:
            connection._ws.send(json.dumps(message, ensure_ascii=False))

    def _check_ticket(self, ws: ServerConnection, request: Any) -> Any:
        """Refuse the handshake unless the URL carries a ticket issued here, unused and unexpired."""
        url = urlsplit(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._lock:
            issued = self._tickets.pop(ticket, None)
            if url.path != "/link/":
                reason = "unknown path"
            elif issued is None:
                reason = "unknown or already used ticket"
            elif time.monotonic() - issued > self.ticket_ttl:
                reason = "expired ticket"
            else:
                return None
            self.rejected.append((request.path, reason))
        return ws.respond(HTTPStatus.UNAUTHORIZED, reason + "\n")

    def _handle(self, ws: ServerConnection) -> None:
        ticket = (parse_qs(urlsplit(ws.request.path).query).get("ticket") or [""])[0]
        with self._lock:
            index = len(self._connections)
            hello = {
                "type": "hello",
                "num_connections": len(self.live()) + 1,
                "debug_info": {
                    "host": f"applink-fake-{index}", "build_number": 1, "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
            connection = SocketConnection(index, ticket, ws.request.path, time.monotonic(), hello, _ws=ws)
            try:  # hello goes first; only then can tests see the connection and send on it
                self._send_json(connection, hello)
            except ConnectionClosed:
                connection.closed_at = time.monotonic()
            self._connections.append(connection)
        try:
            for raw in ws:
                self._on_message(connection, raw)
        except ConnectionClosed:
            pass
        finally:
            connection.closed_at = connection.closed_at or time.monotonic()
            connection.close_code = ws.close_code

    def _on_message(self, connection: SocketConnection, raw: str | bytes) -> None:
        now = time.monotonic()
        if isinstance(raw, bytes):
            connection.received.append(raw)
            self.problems.append(f"binary frame on connection {connection.index}")
            return
        try:
            message = json.loads(raw)
        except ValueError:
            connection.received.append(raw)
            self.problems.append(f"non-JSON text on connection {connection.index}: {raw[:80]!r}")
            return
        connection.received.append(message)
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        with self._lock:
            envelope = self._envelopes.get(envelope_id) if isinstance(envelope_id, str) else None
            if envelope is None:
                self.problems.append(f"not an ack for a sent envelope: {str(message)[:120]}")
                return
            if any(a.envelope_id == envelope_id for a in self._acks):
                self.problems.append(f"envelope {envelope_id} acked twice")
                return
            delay = now - envelope.sent_at
            self._acks.append(Ack(envelope_id, message.get("payload"), message, connection.index, now, delay))
