"""What the benchmarks measure about the machine: other processes' CPU, and memory."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path


class OtherLoad:
    """CPU used by *other* processes while a benchmark runs, in cores (0..2 here).

    /proc/stat busy time of the whole machine minus this process's and its waited
    children's CPU time, over the wall time. Anything well above 0 means the numbers
    were measured on a shared, busy machine.
    """

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
        own = sum(
            getattr(resource.getrusage(who), f)
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
            for f in ("ru_utime", "ru_stime")
        )
        return time.monotonic(), busy, own

    def cores(self) -> float:
        wall, busy, own = (b - a for a, b in zip(self.start, self._sample(), strict=True))
        return round(max(0.0, (busy - own) / wall), 2) if wall > 0 else 0.0


def rss_now_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
