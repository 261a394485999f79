"""HTTP mode: Slack's requests at POST /slack/events, a health check at GET /healthz."""

from __future__ import annotations

import json
import logging

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler

EVENTS_PATH = "/slack/events"
log = logging.getLogger(__name__)


def asgi_app(app: App):
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    async def router(scope, receive, send):  # noqa: ANN001 - ASGI callables
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
            await _reply(send, 200, {"ok": True})
            return
        started = False

        async def tracking_send(message):  # noqa: ANN001
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await slack(scope, receive, tracking_send)
        except Exception as exc:  # Bolt cannot parse the body: not a request Slack sent
            log.warning("unreadable request to %s: %s", scope.get("path"), type(exc).__name__)
            if not started:
                await _reply(send, 400, {"ok": False, "error": "bad_request"})

    return router


async def _reply(send, status: int, payload: dict) -> None:  # noqa: ANN001
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


def serve(app: App, host: str, port: int) -> None:
    # access logs off: request lines carry no message text, but nothing here needs them
    uvicorn.run(asgi_app(app), host=host, port=port, log_level="warning", access_log=False)
