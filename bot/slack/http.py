"""HTTP mode: Slack's requests at POST /slack/events, a health check at GET /healthz."""

from __future__ import annotations

import json

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler

EVENTS_PATH = "/slack/events"


def asgi_app(app: App):
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    async def router(scope, receive, send):  # noqa: ANN001 - ASGI callables
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
            body = json.dumps({"ok": True}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await slack(scope, receive, send)

    return router


def serve(app: App, host: str, port: int) -> None:
    # access logs off: request lines carry no message text, but nothing here needs them
    uvicorn.run(asgi_app(app), host=host, port=port, log_level="warning", access_log=False)
