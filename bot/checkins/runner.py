"""Running due work: once (``ketenbot due``), right after a command, or every minute in the bot."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.checkins.due import DueReport, Messenger, run_due
from bot.checkins.store import Checkins
from bot.ops import metrics

log = logging.getLogger(__name__)


class DueRunner:
    def __init__(
        self,
        store: Checkins,
        messenger: Messenger,
        *,
        zone: ZoneInfo,
        min_group: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        nudges=None,  # noqa: ANN001 - bot.nudges.schedule.Nudges: coaching tips in the same runs
        reports=None,  # noqa: ANN001 - anything with .engine and .min_group (a ReportService)
        retention_days: int = 0,  # settings.retention_days: the daily purge of older records; 0: off
        outbox=None,  # noqa: ANN001 - bot.records.outbox.Outbox: old answers waiting there are purged too
    ):
        self.store, self.messenger, self.zone, self.min_group, self.clock = (
            store,
            messenger,
            zone,
            min_group,
            clock,
        )
        self.nudges, self.reports = nudges, reports
        self.retention_days, self.outbox = retention_days, outbox
        self._lock = threading.Lock()  # one run at a time in this process (others: the database decides)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, now: datetime | None = None) -> DueReport | None:
        """Run what is due; None when a run is already going in this process."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            with metrics.due_run() as measured:  # duration, outcome, last success
                return measured.done(run_due(
                    self.store,
                    self.messenger,
                    now=now or self.clock(),
                    zone=self.zone,
                    min_group=self.min_group,
                    nudges=self.nudges,
                    reports=self.reports,
                    retention_days=self.retention_days,
                    outbox=self.outbox,
                ))
        finally:
            self._lock.release()

    def run_soon(self) -> None:
        """Run in the background now (after a command changed something)."""
        threading.Thread(target=self._safe_run, name="due-now", daemon=True).start()

    def _safe_run(self) -> None:
        try:
            report = self.run()
            if report is not None and (report.failed or report.opened or report.closed or report.purged):
                log.info("due work", extra={"due": report.as_dict()})
        except Exception:  # the loop must survive a bad minute (database down, Slack down)
            log.exception("due work failed")
            metrics.record_error("due")

    def start(self, every_seconds: float = 60.0) -> None:
        def loop() -> None:
            while not self._stop.wait(every_seconds):
                self._safe_run()

        self._thread = threading.Thread(target=loop, name="due-every-minute", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
