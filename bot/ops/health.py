"""Readiness for ``GET /healthz``: named checks (the database answers ``SELECT 1``, the guidance
index is loaded), each run in a thread of its own with a short deadline, so a hanging database
never blocks the event loop; a check still hanging from an earlier request is not started again
(it is reported as ``timeout`` until it returns), so slow checks cannot pile up threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

Check = Callable[[], Any]  # raises (or returns False) when the part is not ready
DEFAULT_TIMEOUT_S = 2.0


class HealthCheck:
    def __init__(self, checks: Mapping[str, Check], timeout_s: float = DEFAULT_TIMEOUT_S):
        self.checks = dict(checks)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._running: dict[str, concurrent.futures.Future] = {}

    def _start(self, name: str) -> concurrent.futures.Future:
        with self._lock:
            future = self._running.get(name)
            if future is not None and not future.done():
                return future  # still busy from an earlier request: wait for that one
            future = concurrent.futures.Future()
            future.set_running_or_notify_cancel()  # cannot be cancelled: the thread owns it
            self._running[name] = future
        check = self.checks[name]

        def work() -> None:
            try:
                future.set_result(check())
            except BaseException as exc:  # reported by name below, never raised in the thread
                future.set_exception(exc)

        threading.Thread(target=work, name=f"health-{name}", daemon=True).start()
        return future

    async def run(self) -> tuple[bool, dict[str, str]]:
        """(ready, {check: "ok" | "timeout" | "failed: <ExceptionType>" | "failed"})."""
        futures = {name: asyncio.wrap_future(self._start(name)) for name in self.checks}
        if futures:
            await asyncio.wait(futures.values(), timeout=self.timeout_s)
        results: dict[str, str] = {}
        for name, future in futures.items():
            if not future.done():
                results[name] = "timeout"
            elif future.exception() is not None:
                # the type only: a driver's message may name hosts, users or worse
                results[name] = f"failed: {type(future.exception()).__name__}"
            else:
                results[name] = "failed" if future.result() is False else "ok"
        return all(r == "ok" for r in results.values()), results


def database_check(engine: Any) -> Check:
    """The records database answers ``SELECT 1``."""

    def check() -> None:
        from sqlalchemy import text

        with engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()

    return check


def index_check(store: Any, search: Any = None) -> Check:
    """The guidance index holds chunks, and search has them loaded."""

    def check() -> bool:
        if search is not None and not getattr(search, "chunks", None):
            return False
        return store.count() > 0

    return check


def readiness(engine: Any, store: Any = None, search: Any = None,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> HealthCheck:
    """The checks ``ketenbot run --http`` serves at ``/healthz``."""
    checks: dict[str, Check] = {"database": database_check(engine)}
    if store is not None:
        checks["index"] = index_check(store, search)
    return HealthCheck(checks, timeout_s)
