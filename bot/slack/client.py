"""The Web API client, kept light to import: ``ketenbot due`` needs it without the answering core."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.settings import Settings
from bot.slack.posting import SafeConnectionErrorRetryHandler, SafeServerErrorRetryHandler
from bot.slack.ratelimit import GatedRateLimitRetryHandler, GatedWebClient, RateLimitGate


def make_client(settings: Settings) -> WebClient:
    """Web API client for SLACK_API_URL: 429s close a gate shared by all threads (see
    ``bot.slack.ratelimit``); 500/503 and dropped connections are retried, except for
    chat.postMessage, where ``bot.slack.posting.post_once`` checks before posting again."""
    gate = RateLimitGate()
    return GatedWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        gate=gate,
        retry_handlers=[
            SafeConnectionErrorRetryHandler(max_retry_count=2),
            GatedRateLimitRetryHandler(gate),
            SafeServerErrorRetryHandler(max_retry_count=2),
        ],
    )
