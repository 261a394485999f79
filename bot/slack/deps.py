"""What the Slack listeners need, passed in rather than fetched from globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.answering.compose import Answerer
from bot.checkins.runner import DueRunner
from bot.checkins.service import CheckinService
from bot.records.outbox import Outbox
from bot.records.pending import PendingQuestions
from bot.records.store import Records, utcnow
from bot.reports.service import ReportService
from bot.slack.locales import UserLocales
from bot.slack.recent import RecentKeys


@dataclass(frozen=True)
class SlackDeps:
    answerer: Answerer
    records: Records
    handoff_channel: str = ""  # where "vraag een mens" is posted; empty: not configured
    locales: UserLocales = field(default_factory=lambda: UserLocales())
    recent: RecentKeys = field(default_factory=lambda: RecentKeys())  # when the database is down
    outbox: Outbox | None = None  # answers given while the database is down, stored when it is back
    checkins: CheckinService | None = None  # check-in commands, forms and answers (issue 4)
    due: DueRunner | None = None  # scheduled work, run at once after a command changed something
    reports: ReportService | None = None  # aggregated reports, export and the App Home dashboard
    clock: Callable[[], datetime] = utcnow  # "now" for check-ins (tests pass a fixed one)
    # questions claimed and not yet answered, so another worker can finish them (issue 8)
    pending: PendingQuestions | None = None
