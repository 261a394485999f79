"""A local stand-in for the OpenAI Chat Completions and Anthropic Messages HTTP APIs.

Point the real clients at it, so tests never reach a model provider::

    with FakeLLMServer(lambda messages, request: "Hallo daar") as server:
        llm = ChatOpenAI(base_url=server.openai_base_url, api_key="k", model="stub", max_retries=0)
        assert llm.invoke("hoi").content == "Hallo daar"
        assert server.requests[0]["headers"]["authorization"] == "Bearer k"

``openai_base_url`` ends in ``/v1`` (the openai SDK appends ``/chat/completions``);
``anthropic_base_url`` is the bare origin (the anthropic SDK appends ``/v1/messages`` itself).

The responder gets the conversation normalised for both APIs as ``[{"role", "content"}]`` with
roles ``system`` / ``user`` / ``assistant`` (Anthropic's top-level ``system`` becomes a leading
system message, OpenAI's ``developer`` role counts as ``system``, lists of text parts are joined
with newlines; other roles such as ``tool`` pass through unchanged), plus the parsed request body.

Faults (``fail_next``, ``fail_rate``, ``garbage_next``, ``drop_next``, ``slow_next``, ``delay``)
can be set from the test thread at any time. Each request takes at most one of drop / fail /
garbage, in that order, and independently one pending ``slow_next`` pause (else ``delay``).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["FakeLLMServer", "Responder", "normalise_messages", "split_reply"]

Responder = Callable[[list[dict[str, str]], dict[str, Any]], str]

_ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                     403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                     429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error"}
_OPENAI_ERRORS = {401: ("invalid_request_error", "invalid_api_key"), 429: ("requests", "rate_limit_exceeded")}
GARBAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def _text(content: Any) -> str:
    """Flatten a message content (a string or a list of content parts) to plain text."""
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") for p in content or [] if isinstance(p, dict) and "text" in p]
    return "\n".join(parts)


def normalise_messages(api: str, body: dict[str, Any]) -> list[dict[str, str]]:
    """The request's conversation as ``[{"role", "content"}]``, the same shape for both APIs."""
    messages = []
    if api == "anthropic" and body.get("system"):
        messages.append({"role": "system", "content": _text(body["system"])})
    for message in body.get("messages") or []:
        role = message.get("role", "user")
        messages.append({"role": "system" if role == "developer" else role,
                         "content": _text(message.get("content"))})
    return messages


def split_reply(text: str, words: int = 3) -> list[str]:
    """Cut ``text`` into pieces of about ``words`` words that join back to exactly ``text``."""
    tokens = re.findall(r"\s*\S+", text)
    pieces = ["".join(tokens[i:i + words]) for i in range(0, len(tokens), words)]
    tail = text[len("".join(tokens)):]
    if tail:
        pieces = [*pieces[:-1], pieces[-1] + tail] if pieces else [tail]
    return pieces


def _usage(messages: list[dict[str, str]], text: str) -> tuple[int, int]:
    """Rough (input, output) token counts: one token per word."""
    return sum(len(m["content"].split()) for m in messages), max(1, len(text.split()))


def _openai_usage(tokens: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "total_tokens": sum(tokens)}


def _openai_completion(cid: str, model: str, text: str, tokens: tuple[int, int]) -> dict[str, Any]:
    message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
    return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": _openai_usage(tokens), "system_fingerprint": "fp_fake"}


def _openai_chunks(cid: str, model: str, pieces: list[str], tokens: tuple[int, int],
                   include_usage: bool) -> Iterator[str]:
    """SSE ``data:`` lines of a streamed chat completion, ending with ``[DONE]``."""
    def chunk(delta: dict[str, Any], finish: str | None = None, choices: bool = True) -> str:
        data = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
                if choices else []}
        if include_usage:
            data["usage"] = None if choices else _openai_usage(tokens)  # on a last, choice-less chunk
        return f"data: {json.dumps(data)}\n\n"

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in pieces:
        yield chunk({"content": piece})
    yield chunk({}, finish="stop")
    if include_usage:
        yield chunk({}, choices=False)
    yield "data: [DONE]\n\n"


def _anthropic_message(mid: str, model: str, text: str, tokens: tuple[int, int]) -> dict[str, Any]:
    return {"id": mid, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1]}}


def _anthropic_events(mid: str, model: str, pieces: list[str], tokens: tuple[int, int]) -> Iterator[str]:
    """The SSE events of a streamed Messages response, each as ``event: NAME`` + ``data: JSON``."""
    def event(name: str, **data: Any) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    start = {**_anthropic_message(mid, model, "", (tokens[0], 1)), "content": [], "stop_reason": None}
    yield event("message_start", message=start)
    yield event("content_block_start", index=0, content_block={"type": "text", "text": ""})
    yield event("ping")
    for piece in pieces:
        yield event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
    yield event("content_block_stop", index=0)
    yield event("message_delta", delta={"stop_reason": "end_turn", "stop_sequence": None},
                usage={"output_tokens": tokens[1]})
    yield event("message_stop")


def _error_body(api: str, status: int, message: str) -> dict[str, Any]:
    """An error body shaped like the provider's own."""
    if api == "anthropic":
        error = {"type": _ANTHROPIC_ERRORS.get(status, "api_error"), "message": message}
        return {"type": "error", "error": error, "request_id": f"req_{uuid.uuid4().hex[:24]}"}
    default = ("server_error" if status >= 500 else "invalid_request_error", None)
    kind, code = _OPENAI_ERRORS.get(status, default)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to the owning :class:`FakeLLMServer`."""

    protocol_version = "HTTP/1.1"  # keep-alive, chunked streaming

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, open_=True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track(self.connection, open_=False)  # type: ignore[attr-defined]

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self.server.fake._serve(self)  # type: ignore[attr-defined]

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the access log
        pass

    def send(self, status: int, body: bytes, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"content-type": content_type, "content-length": str(len(body)),
                            **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_stream(self, events: Iterator[str], pause: Callable[[], bool], headers: dict[str, str]) -> None:
        """Send ``events`` as a chunked ``text/event-stream``; ``pause()`` true means stop early."""
        self.send_response(200)
        for name, value in {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
                            "transfer-encoding": "chunked", **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        for i, event in enumerate(events):
            if i and pause():
                raise ConnectionAbortedError("server stopping")
            data = event.encode()
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")

    def drop(self) -> None:
        """Close the connection without a single byte of response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class FakeLLMServer:
    """A loopback HTTP server speaking the OpenAI Chat Completions and Anthropic Messages APIs."""

    def __init__(self, responder: Responder | None = None, *, chunk_delay: float = 0.0,
                 delay: float = 0.0, words_per_chunk: int = 3) -> None:
        self.responder: Responder = responder or (lambda messages, request: "ok")
        self.chunk_delay = chunk_delay  # seconds between streamed events
        self.delay = delay  # seconds to wait before every answer (unless a slow_next pause applies)
        self.words_per_chunk = words_per_chunk
        self.errors: list[BaseException] = []  # exceptions raised by the responder
        self._cond = threading.Condition()
        self._requests: list[dict[str, Any]] = []
        self._counts: Counter[str] = Counter()
        self._fail: deque[int] = deque()
        self._slow: deque[float] = deque()
        self._garbage = self._drop = 0
        self._rate, self._rate_status, self._rng = 0.0, 500, random.Random()
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeLLMServer:
        """Bind 127.0.0.1 on a free port and serve from a background thread."""
        self._stopping.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake sleeping handlers, cut open connections, close the socket."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        with self._cond:
            conns = list(self._conns)
        for conn in conns:  # idle keep-alive connections and streams still being written
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def openai_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults ------------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Answer the next ``n`` requests with ``status`` and a provider-shaped error body."""
        with self._cond:
            self._fail.extend([status] * n)

    def fail_rate(self, share: float, status: int = 500, seed: int | None = None) -> None:
        """Fail a random ``share`` (0..1) of the requests from now on; ``fail_rate(0)`` turns it off."""
        with self._cond:
            self._rate, self._rate_status, self._rng = share, status, random.Random(seed)

    def slow_next(self, n: int, seconds: float) -> None:
        """Wait ``seconds`` before answering each of the next ``n`` requests.

        The wait ends early (dropping the connection) when the server stops. A client that gave up
        meanwhile may still see its request counted ``ok``: writing to its closed socket can succeed.
        """
        with self._cond:
            self._slow.extend([seconds] * n)

    def garbage_next(self, n: int = 1) -> None:
        """Answer the next ``n`` requests with HTTP 200, ``application/json`` and a non-JSON body."""
        with self._cond:
            self._garbage += n

    def drop_next(self, n: int = 1) -> None:
        """Close the connection of the next ``n`` requests without answering."""
        with self._cond:
            self._drop += n

    # -- recording ---------------------------------------------------------------------------------
    @property
    def requests(self) -> list[dict[str, Any]]:
        """Requests so far: method, path, headers (lower-case names), body (JSON or None), time, outcome."""
        with self._cond:
            return [dict(r) for r in self._requests]

    @property
    def counts(self) -> dict[str, int]:
        """Requests per outcome: ok, failed, garbage, dropped, aborted, not_found, bad_request, ..."""
        with self._cond:
            return dict(+self._counts)  # unary + drops outcomes re-counted down to zero

    @property
    def api_keys(self) -> list[str | None]:
        """The key each request carried (``Authorization: Bearer`` or ``x-api-key``), in order."""
        def key(headers: dict[str, str]) -> str | None:
            auth = headers.get("authorization", "")
            return auth[7:] if auth.lower().startswith("bearer ") else headers.get("x-api-key")
        return [key(r["headers"]) for r in self.requests]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``n`` requests have arrived; raise TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"expected {n} requests, got {len(self._requests)}")
        return self.requests

    # -- serving (handler threads) -----------------------------------------------------------------
    def _track(self, conn: socket.socket, open_: bool) -> None:
        with self._cond:
            (self._conns.add if open_ else self._conns.discard)(conn)

    def _take_faults(self) -> tuple[str | None, int, float]:
        """Consume the faults for one request: (drop|fail|garbage|None, status, pause seconds)."""
        with self._cond:
            pause = self._slow.popleft() if self._slow else self.delay
            if self._drop:
                self._drop -= 1
                return "drop", 0, pause
            if self._fail:
                return "fail", self._fail.popleft(), pause
            if self._rate and self._rng.random() < self._rate:
                return "fail", self._rate_status, pause
            if self._garbage:
                self._garbage -= 1
                return "garbage", 200, pause
            return None, 200, pause

    def _serve(self, h: _Handler) -> None:
        """Record one request, apply its faults, answer it (runs in a handler thread).

        The outcome is counted just *before* the answer goes out, so a client that has seen its
        answer (or error) can rely on ``counts``; a failed write re-counts it as ``aborted``.
        """
        record, api = self._record(h)
        outcome, action = self._plan(h, api, record)
        self._note(record, outcome)
        try:
            action()
        except OSError:  # the client gave up (e.g. its timeout) or the server is stopping
            h.close_connection = True
            self._note(record, "aborted")

    def _record(self, h: _Handler) -> tuple[dict[str, Any], str]:
        """Read and record the request; returns it with the API it addresses (by path, else headers)."""
        raw = h.rfile.read(int(h.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = urlsplit(h.path).path
        headers = {k.lower(): v for k, v in h.headers.items()}
        api = "anthropic" if path.startswith("/v1/messages") or "anthropic-version" in headers else "openai"
        record = {"method": h.command, "path": path, "headers": headers, "body": body,
                  "time": time.monotonic(), "outcome": None}
        with self._cond:
            self._requests.append(record)
            self._cond.notify_all()
        return record, api

    def _plan(self, h: _Handler, api: str, record: dict[str, Any]) -> tuple[str, Callable[[], None]]:
        """Wait out any pause, then pick the answer: (outcome, a callable that sends it)."""
        fault, status, pause = self._take_faults()
        if pause and self._stopping.wait(pause):
            return "aborted", h.drop
        if fault == "drop":
            return "dropped", h.drop
        if fault == "fail":
            return "failed", self._error(h, api, status, f"Injected failure (HTTP {status})")
        if fault == "garbage":
            return "garbage", lambda: h.send(200, GARBAGE)
        return self._answer(h, api, record["path"], record["body"])

    def _note(self, record: dict[str, Any], outcome: str) -> None:
        with self._cond:
            if record["outcome"]:
                self._counts[record["outcome"]] -= 1
            record["outcome"] = outcome
            self._counts[outcome] += 1

    @staticmethod
    def _error(h: _Handler, api: str, status: int, message: str) -> Callable[[], None]:
        return lambda: h.send(status, json.dumps(_error_body(api, status, message)).encode())

    def _answer(self, h: _Handler, api: str, path: str, body: Any) -> tuple[str, Callable[[], None]]:
        """Route a healthy request: (outcome, a callable that sends the answer)."""
        route = (h.command, path)
        if route == ("GET", "/v1/models"):
            return "ok", lambda: h.send(200, json.dumps(self._models(api)).encode())
        if route not in {("POST", "/v1/chat/completions"), ("POST", "/v1/messages")}:
            return "not_found", self._error(h, api, 404, f"Invalid URL ({h.command} {path})")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return "bad_request", self._error(h, api, 400, "body must be a JSON object with 'messages'")
        messages = normalise_messages(api, body)
        try:
            text = str(self.responder(messages, body))
        except Exception as exc:  # a broken responder is a test bug: keep it, answer 500
            self.errors.append(exc)
            return "responder_error", self._error(h, api, 500, f"responder raised {exc!r}")
        return "ok", lambda: self._reply(h, api, body, messages, text)

    def _reply(self, h: _Handler, api: str, body: dict[str, Any], messages: list[dict[str, str]],
               text: str) -> None:
        """Send the assistant's ``text`` in the API's format, streamed if the request asked for it."""
        model, tokens = str(body.get("model", "stub")), _usage(messages, text)
        rid = f"req_{uuid.uuid4().hex[:24]}"
        if api == "anthropic":
            mid, headers = f"msg_{uuid.uuid4().hex[:24]}", {"request-id": rid}
        else:
            mid, headers = f"chatcmpl-{uuid.uuid4().hex[:24]}", {"x-request-id": rid}
        if not body.get("stream"):
            build = _anthropic_message if api == "anthropic" else _openai_completion
            h.send(200, json.dumps(build(mid, model, text, tokens)).encode(), headers=headers)
            return
        pieces = split_reply(text, self.words_per_chunk)
        if api == "anthropic":
            events = _anthropic_events(mid, model, pieces, tokens)
        else:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _openai_chunks(mid, model, pieces, tokens, include_usage)
        h.send_stream(events, self._chunk_pause, headers)

    def _chunk_pause(self) -> bool:
        """Wait ``chunk_delay`` between streamed events; true if the server is stopping meanwhile."""
        return self._stopping.wait(self.chunk_delay) if self.chunk_delay else self._stopping.is_set()

    @staticmethod
    def _models(api: str) -> dict[str, Any]:
        if api == "anthropic":
            model = {"type": "model", "id": "stub-model", "display_name": "Stub model",
                     "created_at": "2025-01-01T00:00:00Z"}
            return {"data": [model], "has_more": False, "first_id": "stub-model", "last_id": "stub-model"}
        model = {"id": "stub", "object": "model", "created": 0, "owned_by": "fake"}
        return {"object": "list", "data": [model]}
