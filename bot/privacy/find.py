"""Finding a person's rows in the text keys: delivery keys and the keys of messages answered."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, or_, select

from bot.privacy.places import key_names
from bot.records.outbox import OutboxEntry
from bot.records.pending import message_key
from bot.records.schema import answers, deliveries, processed_events

CHUNK = 500  # values per IN (...): well under every database's limit on bound parameters


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def delivery_keys(conn: Connection, user_id: str) -> list[str]:
    """Every delivery key that names ``user_id`` as one of its parts (``invite:<round>:<user>``)."""
    if not user_id:
        return []
    pattern = "%" + like_escape(user_id) + "%"
    rows = conn.execute(select(deliveries.c.key).where(deliveries.c.key.like(pattern, escape="\\")))
    # LIKE only narrows it down (SQLite's is case-insensitive); the parts decide
    return sorted(key for (key,) in rows if key_names(key, user_id))


@dataclass
class MessageRefs:
    """Which answered messages were this person's: exact ``msg:<channel>:<ts>`` keys (their
    questions, from the answers), and their DM channels with the bot (every message there is
    theirs). A follow-up in a channel thread is not found this way: its own ts is not stored;
    its key holds no user id and goes with the retention period."""

    exact: set[str] = field(default_factory=set)
    dm_channels: set[str] = field(default_factory=set)

    def add(self, channel_id: str | None, thread_ts: str | None) -> None:
        if not channel_id:
            return
        if channel_id.startswith("D"):
            self.dm_channels.add(channel_id)
        if thread_ts:
            self.exact.add(message_key(channel_id, thread_ts))

    def matches(self, event_id: str) -> bool:
        if event_id in self.exact:
            return True
        parts = event_id.split(":")
        return len(parts) >= 3 and parts[0] == "msg" and parts[1] in self.dm_channels


def message_refs(conn: Connection, user_id: str, outbox_entries: Iterable[OutboxEntry] = ()) -> MessageRefs:
    refs = MessageRefs()
    rows = conn.execute(
        select(answers.c.channel_id, answers.c.thread_ts).where(answers.c.user_id == user_id).distinct()
    )
    for channel_id, thread_ts in rows:
        refs.add(channel_id, thread_ts)
    for entry in outbox_entries:
        if entry.kind == "answer" and entry.row and entry.row.get("user_id") == user_id:
            refs.add(entry.row.get("channel_id"), entry.row.get("thread_ts"))
    return refs


def message_keys(conn: Connection, refs: MessageRefs) -> list[str]:
    """The keys in ``processed_events`` of this person's messages."""
    found: set[str] = set()
    exact = sorted(refs.exact)
    for start in range(0, len(exact), CHUNK):
        chunk = exact[start : start + CHUNK]
        found.update(
            k
            for (k,) in conn.execute(
                select(processed_events.c.event_id).where(processed_events.c.event_id.in_(chunk))
            )
        )
    channels = sorted(refs.dm_channels)
    for start in range(0, len(channels), 50):
        patterns = [message_key(like_escape(c), "%") for c in channels[start : start + 50]]
        query = select(processed_events.c.event_id).where(
            or_(*(processed_events.c.event_id.like(p, escape="\\") for p in patterns))
        )
        found.update(k for (k,) in conn.execute(query) if refs.matches(k))
    return sorted(found)


def outbox_match(user_id: str, refs: MessageRefs):  # noqa: ANN201 - a predicate on OutboxEntry
    """Is this outbox entry this person's? Their answers, the keys of their messages, and a
    damaged line that holds their user id (it cannot be read, so it cannot be told apart)."""

    def match(entry: OutboxEntry) -> bool:
        if entry.kind is None:
            return bool(user_id) and user_id in entry.line
        row = entry.row or {}
        if entry.kind == "answer":
            return row.get("user_id") == user_id
        if entry.kind == "event":
            return refs.matches(str(row.get("event_id") or ""))
        return bool(user_id) and user_id in entry.line

    return match
