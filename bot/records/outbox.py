"""Answers given while the database was down, kept in a local file until it is back.

The Slack path answers even when the database cannot be reached. Those answers are appended
here (one JSON line each, fsynced) and written to the database by :meth:`Outbox.flush` once it
answers again, so no answer goes unrecorded. The file holds question text, like the database
does, and lives in DATA_DIR. A lock on the file keeps processes that share DATA_DIR apart.
:meth:`Outbox.remove` (erasure, retention) rewrites it atomically: a new file renamed over the old.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    @contextmanager
    def _locked(self):  # noqa: ANN202 - a file object
        """The file, opened and locked. :meth:`remove` replaces the file by renaming a new one over
        it; whoever was waiting for the lock on the old file opens the new one and locks that."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            while True:
                handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
                fcntl.flock(handle, fcntl.LOCK_EX)
                if _same_file(handle, self.path):
                    break
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            try:
                yield handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()

    def add(self, kind: str, row: dict[str, Any]) -> None:
        line = json.dumps({"kind": kind, "row": row}, default=_encode, ensure_ascii=False)
        with self._locked() as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def pending(self) -> int:
        try:
            with self._locked() as handle:
                handle.seek(0)
                return sum(1 for line in handle if line.strip())
        except OSError:
            return 0

    def is_empty(self) -> bool:
        try:
            return self.path.stat().st_size == 0
        except FileNotFoundError:
            return True

    def flush(self, records: Any) -> int:
        """Write what is waiting to the database; returns how many rows were written. Rows that
        are already there (a flush interrupted half-way) are skipped by their id. If the
        database fails again, everything not yet written stays in the file."""
        if self.is_empty():
            return 0
        with self._locked() as handle:
            handle.seek(0)
            lines = [line for line in handle.read().splitlines() if line.strip()]
            written = 0
            for i, line in enumerate(lines):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    log.error("outbox: skipped a damaged line")
                    continue
                try:
                    records.restore(entry["kind"], _decode(entry["row"]))
                except SQLAlchemyError as exc:
                    log.warning("outbox: database still unavailable (%s); %d waiting", type(exc).__name__,
                                len(lines) - i)
                    _rewrite(handle, lines[i:])
                    return written
                written += 1
            _rewrite(handle, [])
        if written:
            log.info("outbox: %d stored after the database came back", written)
        return written


    def entries(self) -> list[OutboxEntry]:
        """Everything waiting in the file, oldest first (a damaged line has kind and row None)."""
        if self.is_empty():
            return []
        with self._locked() as handle:
            handle.seek(0)
            return [_entry(line) for line in handle.read().splitlines() if line.strip()]

    def remove(
        self,
        match: Callable[[OutboxEntry], bool],
        *,
        while_locked: Callable[[list[OutboxEntry]], object] | None = None,
    ) -> int:
        """Rewrite the file without the entries ``match`` is true for; returns how many went.

        Atomic: the rest is written to a new file in the same folder, synced, and renamed over
        the old one, so a crash leaves either the old file or the new one, never half of one.
        ``while_locked(entries)`` runs first, with the file locked (no process adds to it or
        flushes it meanwhile); if it raises, the file is left as it was. The erasure runs its
        database transaction there, so a flush can never bring back what it just erased."""
        if self.is_empty() and while_locked is None:
            return 0
        with self._locked() as handle:
            handle.seek(0)
            entries = [_entry(line) for line in handle.read().splitlines() if line.strip()]
            if while_locked is not None:
                while_locked(entries)
            kept = [e.line for e in entries if not match(e)]
            removed = len(entries) - len(kept)
            if removed:
                _replace(self.path, kept)
        return removed


@dataclass(frozen=True)
class OutboxEntry:
    kind: str | None  # "answer" or "event"; None for a damaged line
    row: dict[str, Any] | None
    line: str  # as stored


def _entry(line: str) -> OutboxEntry:
    try:
        data = json.loads(line)
        return OutboxEntry(data["kind"], _decode(data["row"]), line)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return OutboxEntry(None, None, line)


def _same_file(handle: Any, path: Path) -> bool:
    try:
        mine, now = os.fstat(handle.fileno()), os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def _replace(path: Path, lines: list[str]) -> None:
    """Write ``lines`` to a new file and rename it over ``path`` (same folder, so atomic)."""
    fd, temp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))
            out.flush()
            os.fsync(out.fileno())
        with suppress(FileNotFoundError):  # the same permissions as the file it replaces
            os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(temp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    try:  # the rename itself survives a power cut only once the folder is synced
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def _rewrite(handle: Any, lines: list[str]) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write("".join(line + "\n" for line in lines))
    handle.flush()
    os.fsync(handle.fileno())


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    raise TypeError(f"cannot store {type(value).__name__}")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: datetime.fromisoformat(v["$dt"]) if isinstance(v, dict) and "$dt" in v else v
        for k, v in row.items()
    }
