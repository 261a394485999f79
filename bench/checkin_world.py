"""Shared by the check-in benchmarks: databases, a registered chain, and counting at the fake Slack.

Not a benchmark itself. ``--postgres URL`` in the benchmarks names a server (a database in it that
the user may CREATE DATABASE from); each benchmark makes its own throwaway database there and
drops it afterwards.
"""

from __future__ import annotations

import json
import statistics
import sys
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.checkins.model import CheckinResponse  # noqa: E402
from bot.checkins.service import CheckinService  # noqa: E402
from bot.checkins.store import Checkins  # noqa: E402

AMS = ZoneInfo("Europe/Amsterdam")
#: An ordinary working Monday morning (no holiday, inside working hours), as in tests/test_checkins.py.
MONDAY = datetime(2027, 1, 11, 10, 0, tzinfo=AMS).astimezone(UTC)
ADMIN, MANAGER = "UADMIN0001", "UMANAGER01"
CHAIN_NAME = "Jeugdketen Noord"
MIN_GROUP = 5


def people(n: int, prefix: str = "UP") -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(1, n + 1)]


@contextmanager
def database(kind: str, tmp: Path, postgres: str | None) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database: a file in ``tmp``, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'ketenbot.sqlite3'}"
        return
    if not postgres:
        raise SystemExit("PostgreSQL needs --postgres URL")
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    name = f"ketenbot_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_schema(engine) -> None:  # noqa: ANN001 - a SQLAlchemy Engine
    """PostgreSQL: drop every table (as tests/conftest.py does), so the next migrate starts clean."""
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def registered_chain(store: Checkins, channel: str, now: datetime = MONDAY) -> tuple[CheckinService, dict]:
    """The admin names a chain manager, who registers ``channel`` as a chain."""
    service = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=MIN_GROUP)
    reply = service.handle(ADMIN, channel, f"rol ketenmanager <@{MANAGER}|mgr>", "nl", now)
    assert "ketenmanager" in reply.text, reply.text
    reply = service.handle(MANAGER, channel, f"keten registreer {CHAIN_NAME}", "nl", now)
    assert CHAIN_NAME in reply.text, reply.text
    return service, store.chain_by_channel(channel)


def answer(stage: str = "procedure") -> CheckinResponse:
    stages = {"strategische_focus": stage, "operationeel_model": stage, "zichtbaarheid": "weet_niet"}
    pulse = {"trust": 4, "learning": 3, "control": 2}
    return CheckinResponse(stages, pulse, False, "Goed overleg", None, None)


# ------------------------------------------------------------------ counting at the fake


def metadata_key(message_or_args: dict) -> str | None:
    """The business key post_once puts in message metadata (``event_payload.key``)."""
    meta = message_or_args.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return None
    if not isinstance(meta, dict):
        return None
    return (meta.get("event_payload") or {}).get("key")


def stored_keys(fake, channels: Iterable[str] | None = None) -> Counter:  # noqa: ANN001 - FakeSlack
    """How many messages carrying each key are in Slack now (all channels, or ``channels``)."""
    counts: Counter = Counter()
    for channel in channels if channels is not None else [None]:
        for message in fake.messages(channel):
            key = metadata_key(message)
            if key:
                counts[key] += 1
    return counts


def into_known_windows(calls, rate_limits, slack: float = 0.05) -> int:  # noqa: ANN001 - fake records
    """Calls to a method sent after a 429 for that method went out and before its Retry-After
    passed. Requests already on the wire when the 429 went out cannot be called back: ``slack``."""
    return sum(
        1
        for r in rate_limits
        for c in calls
        if c.method == r.method and r.at + slack < c.at < r.at + r.retry_after
    )


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
