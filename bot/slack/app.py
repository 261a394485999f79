"""The Bolt app: built from settings and the core, listeners registered, nothing at import time."""

from __future__ import annotations

import logging

from slack_bolt import App
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
    for module in (events, actions, commands, checkins, privacy):
        module.register(app, deps)
    return app
