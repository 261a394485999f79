"""Answers given while the database was down, kept in a local file until it is back.

The Slack path answers even when the database cannot be reached. Those answers are appended
here (one JSON line each, fsynced) and written to the database by :meth:`Outbox.flush` once it
answers again, so no answer goes unrecorded. The file holds question text, like the database
does, and lives in DATA_DIR. A lock on the file keeps processes that share DATA_DIR apart.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from contextlib import contextmanager
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

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
