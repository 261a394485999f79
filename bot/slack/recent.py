"""Message keys seen by this process: the stand-in for the database when it is unreachable."""

from __future__ import annotations

import threading
from collections import OrderedDict


class RecentKeys:
    def __init__(self, size: int = 10_000):
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """True the first time this process sees ``key``."""
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return True
