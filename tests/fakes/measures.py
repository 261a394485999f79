"""Counting what reached the fake Slack, for tests and benchmarks alike."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.slack_api import Call


@dataclass(frozen=True)
class RateLimitReport:
    rate_limited: int  # calls answered 429
    delivered: int  # calls answered 200
    distinct_delivered: int  # distinct messages among them (by ``key``)
    early_retries: int  # a rate-limited message retried sooner than Retry-After
    into_known_window: int  # calls sent after the client saw a 429, before its window passed


def rate_limit_report(
    calls: list[Call], key: str, retry_after: float, slack: float = 0.05
) -> RateLimitReport:
    limited = [c for c in calls if c.status == 429]
    delivered = [c for c in calls if c.status == 200]
    early = 0
    for c in limited:
        later = [d for d in calls if d.at > c.at and d.args.get(key) == c.args.get(key)]
        early += bool(later) and later[0].at - c.answered_at < retry_after
    # requests already on the wire when a 429 went out cannot be called back, hence ``slack``
    into = sum(
        1 for c in limited for d in calls if c.answered_at + slack < d.at < c.answered_at + retry_after
    )
    distinct = len({d.args.get(key) for d in delivered})
    return RateLimitReport(len(limited), len(delivered), distinct, early, into)
