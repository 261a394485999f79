"""HTTP mode: Slack's requests at POST /slack/events, readiness at GET /healthz, metrics at GET /metrics.

``/healthz`` answers 200 ``{"ok": true, "checks": {...}}`` when every readiness check passes (the
database answers ``SELECT 1``, the guidance index is loaded: :mod:`bot.ops.health`), else 503
with ``"failed"`` naming the parts that did not. Without checks it only says the process is up.
``/metrics`` is the Prometheus text format of :mod:`bot.ops.metrics` (this worker's own).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qs

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler

from bot.ops import metrics
from bot.ops.health import HealthCheck

EVENTS_PATH = "/slack/events"
MAX_CLASSIFIED_BYTES = 1 << 20  # bodies beyond this are not parsed to name their kind
log = logging.getLogger(__name__)


def asgi_app(
    app: App,
    *,
    health: HealthCheck | dict[str, Callable] | None = None,
    registry: metrics.Registry | None = None,
):
    """The ASGI callable. ``health``: readiness checks (a :class:`HealthCheck`, or a mapping of
    name to callable); ``registry``: where metrics go (default: the process-wide registry)."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)
    if isinstance(health, dict):
        health = HealthCheck(health)
    metrics.bot_metrics(registry)  # declared now, so the first scrape already lists every family
    was_ready = [True]

    async def router(scope, receive, send):  # noqa: ANN001 - ASGI callables
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            if scope["path"] == "/healthz":
                await _health(send, health, was_ready)
                return
            if scope["path"] == "/metrics":
                body = (registry or metrics.default_registry()).expose().encode()
                await _send(send, 200, metrics.CONTENT_TYPE.encode(), body)
                return
        if scope["type"] != "http" or scope["path"] != EVENTS_PATH:
            await slack(scope, receive, send)  # lifespan, and Bolt's 404 for anything else
            return
        arrived = time.perf_counter()
        body = bytearray()
        status = 0

        async def reading_receive():  # noqa: ANN202
            message = await receive()
            if message["type"] == "http.request" and len(body) < MAX_CLASSIFIED_BYTES:
                body.extend(message.get("body", b""))
            return message

        async def tracking_send(message):  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start" and not status:
                status = message["status"]
                kind, event_type = _classify(scope, bytes(body))
                metrics.observe_ack(kind, time.perf_counter() - arrived, registry)
                if kind == "event" and status < 400:
                    metrics.count_event(event_type, registry)
            await send(message)

        try:
            await slack(scope, reading_receive, tracking_send)
        except Exception as exc:  # Bolt cannot parse the body: not a request Slack sent
            log.warning("unreadable request to %s: %s", scope.get("path"), type(exc).__name__)
            metrics.record_error("http_request", registry)
            if not status:
                await _reply(tracking_send, 400, {"ok": False, "error": "bad_request"})

    return router


def _classify(scope: dict, body: bytes) -> tuple[str, str]:
    """(kind, event type) of a request Slack sent: ``event`` (with the inner event's type),
    ``command``, ``interaction`` or ``other`` (URL verification, SSL checks, anything unparsable)."""
    content_type = ""
    for name, value in scope.get("headers") or []:
        if name.lower() == b"content-type":
            content_type = value.decode("latin-1").lower()
    try:
        if "json" in content_type or body.lstrip()[:1] == b"{":
            data = json.loads(body)
            if isinstance(data, dict) and data.get("type") == "event_callback":
                event = data.get("event")
                return "event", str(event.get("type", "")) if isinstance(event, dict) else ""
            return "other", ""
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=100)
    except (ValueError, UnicodeDecodeError):
        return "other", ""
    if "command" in form:
        return "command", ""
    if "payload" in form:
        return "interaction", ""
    return "other", ""


async def _health(send, health: HealthCheck | None, was_ready: list[bool]) -> None:  # noqa: ANN001
    if health is None:  # no checks given: the process is up, nothing more is known
        await _reply(send, 200, {"ok": True})
        return
    ready, checks = await health.run()
    if ready != was_ready[0]:  # said once per change, not on every probe
        was_ready[0] = ready
        if ready:
            log.warning("ready again: %s", ", ".join(checks))
        else:
            log.warning("not ready: %s", ", ".join(f"{k}={v}" for k, v in checks.items() if v != "ok"))
    if ready:
        await _reply(send, 200, {"ok": True, "checks": checks})
    else:
        failed = sorted(k for k, v in checks.items() if v != "ok")
        await _reply(send, 503, {"ok": False, "failed": failed, "checks": checks})


async def _reply(send, status: int, payload: dict) -> None:  # noqa: ANN001
    await _send(send, status, b"application/json", json.dumps(payload).encode())


async def _send(send, status: int, content_type: bytes, body: bytes) -> None:  # noqa: ANN001
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def serve(
    app: App,
    host: str,
    port: int,
    *,
    health: HealthCheck | dict[str, Callable] | None = None,
    registry: metrics.Registry | None = None,
) -> None:
    # access logs off: request lines carry no message text, but nothing here needs them.
    # log_config=None: uvicorn's own records go through the root handler (JSON, secrets redacted)
    uvicorn.run(
        asgi_app(app, health=health, registry=registry), host=host, port=port, log_level="warning",
        access_log=False, log_config=None,
    )
