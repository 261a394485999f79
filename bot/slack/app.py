"""The Bolt app: built from settings and the core, listeners registered, nothing at import time."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.settings import Settings
from bot.slack.client import make_client
from bot.slack.deps import SlackDeps
from bot.slack.listeners import actions, checkins, commands, events, privacy

log = logging.getLogger(__name__)


class _DropTokenNotice(logging.Filter):
    """Bolt warns "token will be unused" whenever SLACK_BOT_TOKEN is set and a client is given;
    giving our own client (with that token, the rate-limit gate and safe retries) is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


log.addFilter(_DropTokenNotice())


def create_app(settings: Settings, deps: SlackDeps, client: WebClient | None = None) -> App:
    app = App(
        client=client or make_client(settings),
        signing_secret=settings.slack_signing_secret or None,
        # Socket Mode has no signatures to check; HTTP mode always does
        request_verification_enabled=bool(settings.slack_signing_secret),
        process_before_response=False,  # ack at once, answer afterwards
        ignoring_self_events_enabled=True,
        logger=log,
    )
    our_client = app.client

    @app.middleware
    def one_client_and_clean_text(context, body, next):  # noqa: ANN001, A002 - Bolt's names
        # Bolt makes a plain WebClient per request; ours waits at the shared rate-limit gate, so
        # no listener calls into a window a 429 has opened (bot.slack.ratelimit)
        context["client"] = our_client
        _drop_lone_surrogates(body)  # valid JSON, but no database or Slack can store them
        next()

    @app.error
    def on_error(error: Exception, response):  # noqa: ANN001 - a BoltResponse
        if response is not None and response.status == 500 and isinstance(
            error, KeyError | TypeError | AttributeError | ValueError | IndexError
        ):  # Bolt's own matching failed on a body of the wrong shape: the request is bad, not us
            log.warning("unreadable request (%s)", type(error).__name__)
            return BoltResponse(status=400, body="")
        log.error("listener failed (%s)", type(error).__name__, exc_info=error)
        return None

    for module in (events, actions, commands, checkins, privacy):
        module.register(app, deps)
    return app


def _drop_lone_surrogates(value: object) -> object:
    """Replace lone surrogates (``"\\ud800"`` in JSON) in every string of a parsed body, in place."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _drop_lone_surrogates(item)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            value[n] = _drop_lone_surrogates(item)
    return value
