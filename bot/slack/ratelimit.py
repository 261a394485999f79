"""Rate limits shared by every thread of one Web API client.

slack_sdk's own RateLimitErrorRetryHandler makes only the call that got the 429 wait. Slack's
limits are per method, so while one answer waits out its Retry-After the others kept calling
into the closed window, got more 429s and ran out of retries: answers were lost. Here a 429
closes the method's gate for Retry-After seconds, and no call to that method leaves this
process until the gate opens again.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState


class RateLimitGate:
    """When each Web API method may be called again."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ):
        self._clock, self._sleep = clock, sleep
        self._open_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def close(self, method: str, seconds: float) -> None:
        with self._lock:
            self._open_at[method] = max(self._open_at.get(method, 0.0), self._clock() + seconds)

    def wait(self, method: str) -> None:
        while True:
            with self._lock:
                remaining = self._open_at.get(method, 0.0) - self._clock()
            if remaining <= 0:
                return
            # a little jitter so waiting callers do not all return in the same instant
            self._sleep(remaining + random.uniform(0.0, 0.25))


def _method(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1]


class GatedRateLimitRetryHandler(RetryHandler):
    """On HTTP 429: close the method's gate for Retry-After seconds, wait for it, retry."""

    def __init__(self, gate: RateLimitGate, max_retry_count: int = 6):
        super().__init__(max_retry_count=max_retry_count)
        self.gate = gate

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        return response is not None and response.status_code == 429

    def prepare_for_next_attempt(
        self, *, state: RetryState, request: HttpRequest,
        response: HttpResponse | None = None, error: Exception | None = None,
    ) -> None:
        seconds = 1.0
        for name, values in (response.headers if response is not None else {}).items():
            if name.lower() == "retry-after" and values:
                try:
                    seconds = max(0.0, float(values[0]))
                except ValueError:
                    pass
        method = _method(request)
        self.gate.close(method, seconds)
        state.next_attempt_requested = True
        self.gate.wait(method)
        state.increment_current_attempt()


class GatedWebClient(WebClient):
    """A WebClient that waits while a method's rate-limit gate is closed before calling it."""

    def __init__(self, *args: Any, gate: RateLimitGate, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.gate = gate

    def api_call(self, api_method: str, **kwargs: Any):  # noqa: ANN201 - SlackResponse
        self.gate.wait(api_method)
        return super().api_call(api_method, **kwargs)
