"""N Ketenbot HTTP workers as real processes, for scale-out tests and benchmarks.

Each worker is ``.venv/bin/ketenbot run --http --host 127.0.0.1 --port <free>`` with its own
``DATA_DIR``; all of them share one Slack (the fake, in the caller's process), one database and
one Chroma server, as N replicas behind a load balancer would::

    with FakeSlack() as slack, Workers(2, root=tmp, slack=slack, database_url=pg, chroma_url=ch) as w:
        w.start()                       # all at once, then wait for each GET /healthz
        post(w.events_url(0), ...)      # signed Slack requests to any worker
        w.kill(1, signal.SIGKILL); w.restart(1)

Every worker writes ``stdout``/``stderr`` to files under its folder (``w.stdout(i)``,
``w.stderr(i)``, ``w.logs(i)``). Workers run in their own process group and are stopped
(SIGTERM, then SIGKILL) by ``close()``, by the context manager, at interpreter exit, and by the
kernel when the process that started them dies (``PR_SET_PDEATHSIG``): none outlives its caller.

Time: check-ins only send DMs on working days in working hours (Europe/Amsterdam), so a test
at night or on a weekend would see nothing sent. Pass ``clock=WorkerClock(path)`` to run the
workers through this module instead of the ``ketenbot`` script: ``python -m tests.fakes.workers
run --http ...`` calls the same ``bot.cli.main`` after shifting the bot's "now" by the offset in
that file, which the test can move while the workers run (``clock.pin(...)``,
``clock.advance(...)``). Only the bot's clocks move (every ``bot.*`` module that calls
``datetime.now``); request signatures and HTTP use the real time.

Each worker gets a bot token of its own (accepted by the fake like the first), so
``worker_of(call)`` tells which worker made a call to the fake Slack.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE = ROOT / "knowledge"
VENV_BIN = Path(sys.executable).parent  # not resolved: the venv's python is a symlink
STARTUP_TIMEOUT_S = 240.0  # two workers loading models and syncing the index on 2 cores
STOP_TIMEOUT_S = 10.0
PORT_ATTEMPTS = 3
CLOCK_ENV = "KETENBOT_TEST_CLOCK_FILE"
#: Settings of the caller's environment that must not leak into a worker.
_DROP_PREFIXES = ("SLACK_", "CHROMA_", "LLM_", "DATABASE_", "KETENBOT_")
_DROP_NAMES = {
    "DATA_DIR", "KNOWLEDGE_DIR", "ADMIN_USER_IDS", "DUE_INTERVAL_S", "LOG_FORMAT", "EMBEDDING_MODEL",
    "MIN_GROUP_SIZE", "RETENTION_DAYS", "TZ", "FAILPOINTS",
}


class WorkerStartError(RuntimeError):
    """A worker did not answer GET /healthz; the message holds the end of its logs."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def tail(path: Path, chars: int = 4000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no file)"
    return text[-chars:] or "(empty)"


# ----------------------------------------------------------------------------- the workers' clock


class WorkerClock:
    """The offset (seconds) added to the bot's "now" in every worker started with it.

    Stored in a file that the workers read on every clock call (re-read when it changes), so
    moving it moves all workers at once, without restarting them."""

    def __init__(self, path: Path, offset: float = 0.0):
        self.path = Path(path)
        self.set_offset(offset)

    @property
    def offset(self) -> float:
        return float(self.path.read_text().strip() or 0)

    def set_offset(self, seconds: float) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{seconds:.6f}\n")
        os.replace(tmp, self.path)  # atomic: a worker never reads half a number

    def pin(self, moment: datetime) -> None:
        """Make "now" in the workers ``moment`` (after which it runs on with the real time)."""
        self.set_offset(moment.timestamp() - time.time())

    def advance(self, delta: timedelta | float) -> None:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        self.set_offset(self.offset + seconds)

    def now(self) -> datetime:
        """The workers' "now" (aware, UTC)."""
        return datetime.fromtimestamp(time.time() + self.offset, UTC)


def working_moment_ahead(after: datetime | None = None, zone: str = "Europe/Amsterdam") -> datetime:
    """10:00 local on the first Tuesday from tomorrow on whose Tuesday to Thursday, and the Tuesday
    and Wednesday a week later, are working days (no Dutch public holiday): room for reminders,
    the closing and a week's scheduled tip, all within working hours."""
    from zoneinfo import ZoneInfo

    from bot.checkins.when import is_dutch_holiday

    tz = ZoneInfo(zone)
    day = (after or datetime.now(UTC)).astimezone(tz).date() + timedelta(days=1)
    while day.weekday() != 1 or any(is_dutch_holiday(day + timedelta(days=k)) for k in (0, 1, 2, 7, 8)):
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=tz).astimezone(UTC)


def _install_clock(path: Path) -> None:
    """In a worker: shift the bot's clocks by the offset in ``path`` (see WorkerClock).

    Every ``bot.*`` module that reads the clock with ``from datetime import datetime`` and
    ``datetime.now(...)`` gets, as its global ``datetime``, a subclass whose ``now()``/``utcnow()``
    add the offset (and for which ``isinstance`` holds for any datetime): the modules imported
    already, and through an import hook those imported later (``bot.cli`` imports most lazily).
    Default clocks such as ``bot.records.store.utcnow`` or ``lambda: datetime.now(UTC)`` look the
    name up when called, so they follow."""
    import importlib.abc
    import importlib.machinery

    real = datetime
    cache: dict[str, Any] = {"stat": None, "offset": 0.0}
    lock = threading.Lock()

    def offset() -> float:
        try:
            st = os.stat(path)
        except OSError:
            return cache["offset"]
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        with lock:
            if key != cache["stat"]:
                try:
                    cache["offset"] = float(path.read_text().strip() or 0)
                    cache["stat"] = key
                except (OSError, ValueError):
                    pass
            return cache["offset"]

    class AnyDatetime(type):
        """``isinstance(d, ShiftedDatetime)`` holds for every datetime, as the module expects."""

        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, real)

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, real)

    class ShiftedDatetime(real, metaclass=AnyDatetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - datetime's signature
            return real.fromtimestamp(time.time() + offset(), tz)  # a plain datetime

        @classmethod
        def utcnow(cls):  # noqa: ANN206
            return real.fromtimestamp(time.time() + offset(), UTC).replace(tzinfo=None)

    def shift(module: Any) -> None:
        """Only modules that read the clock (``datetime.now(`` in their source) are touched."""
        if getattr(module, "datetime", None) is not real:
            return
        try:
            source = Path(module.__file__).read_text(encoding="utf-8")
        except (OSError, TypeError, AttributeError):
            return
        if "datetime.now(" in source or "datetime.utcnow(" in source:
            module.datetime = ShiftedDatetime

    def ours(name: str) -> bool:
        return name == "bot" or name.startswith("bot.")

    class ShiftOnImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201 - importlib's protocol
            if not ours(name):
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path, target)
            loader = getattr(spec, "loader", None)
            if loader is None or not hasattr(loader, "exec_module"):
                return spec
            run = loader.exec_module

            def exec_module(module: Any) -> None:
                run(module)
                shift(module)

            loader.exec_module = exec_module  # this loader object serves this one module
            return spec

    for name, module in list(sys.modules.items()):
        if ours(name):
            shift(module)
    sys.meta_path.insert(0, ShiftOnImport())


# ----------------------------------------------------------------------------- the workers


try:
    _LIBC: Any = ctypes.CDLL(None, use_errno=True)  # loaded here: no dlopen between fork and exec
    _PRCTL = _LIBC.prctl
except (OSError, AttributeError):  # not Linux
    _PRCTL = None


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    if _PRCTL is not None:
        # PR_SET_PDEATHSIG: SIGKILL when the thread that started us ends (so: start from a thread
        # that lives as long as the workers, as the main thread does)
        _PRCTL(1, signal.SIGKILL)


@dataclass
class Worker:
    index: int
    folder: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    starts: int = 0
    started_at: float = 0.0
    ready_after: float | None = None  # seconds from start to the first 200 on /healthz
    history: list[dict] = field(default_factory=list)  # exits: {"start", "returncode", "by"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout(self) -> Path:
        return self.folder / "stdout.log"

    @property
    def stderr(self) -> Path:
        return self.folder / "stderr.log"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


_LIVE: weakref.WeakSet[Workers] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for group in list(_LIVE):
        group.close()


class Workers:
    """``n`` worker processes sharing Slack (a FakeSlack), a database and a Chroma server."""

    def __init__(
        self,
        n: int,
        *,
        root: Path,
        slack: Any,  # tests.fakes.slack_api.FakeSlack
        database_url: str,
        chroma_url: str,
        secret: str | None = None,
        knowledge_dir: Path = KNOWLEDGE,
        admins: tuple[str, ...] = (),
        due_interval_s: int = 2,
        clock: WorkerClock | None = None,
        token_per_worker: bool = True,
        env: dict[str, str] | None = None,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
        worker_env: dict[int, dict[str, str]] | None = None,
    ):
        from tests.fakes.slack_requests import SECRET

        self.root = Path(root)
        self.slack = slack
        self.clock = clock
        self.startup_timeout_s = startup_timeout_s
        self.workers = [Worker(i, self.root / f"worker{i}") for i in range(n)]
        # Each worker gets a bot token of its own that the fake accepts like the first one, so a
        # test can tell from a call's Authorization header which worker made it (worker_of()).
        self.tokens = [
            f"{slack.token}-w{i}" if token_per_worker else slack.token for i in range(n)
        ]
        for token in self.tokens:
            slack.add_token(token)
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES) and k not in _DROP_NAMES
        }
        base.update(
            SLACK_BOT_TOKEN=slack.token,
            SLACK_SIGNING_SECRET=secret or SECRET,
            SLACK_API_URL=slack.base_url,
            DATABASE_URL=database_url,
            CHROMA_URL=chroma_url,
            KNOWLEDGE_DIR=str(knowledge_dir),
            ADMIN_USER_IDS=",".join(admins),
            DUE_INTERVAL_S=str(due_interval_s),
            LOG_FORMAT="json",
            HF_HUB_OFFLINE="1",
            ANONYMIZED_TELEMETRY="False",
            TOKENIZERS_PARALLELISM="false",
            PYTHONUNBUFFERED="1",
        )
        if clock is not None:
            base[CLOCK_ENV] = str(clock.path)
            base["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), base.get("PYTHONPATH", "")) if p)
        base.update(env or {})
        self.env = base
        # settings of single workers (by index) on top of ``env``, e.g. FAILPOINTS for one of them;
        # restart(i, env=...) replaces worker i's
        self.worker_env = {i: dict(e) for i, e in (worker_env or {}).items()}
        self._lock = threading.Lock()
        _LIVE.add(self)

    # ------------------------------------------------------------------ access

    def __len__(self) -> int:
        return len(self.workers)

    def url(self, i: int) -> str:
        """``http://127.0.0.1:PORT`` of worker ``i``."""
        return self.workers[i].url

    def events_url(self, i: int) -> str:
        return f"{self.workers[i].url}/slack/events"

    def stdout(self, i: int) -> Path:
        return self.workers[i].stdout

    def stderr(self, i: int) -> Path:
        return self.workers[i].stderr

    def logs(self, i: int) -> str:
        return self.stderr(i).read_text(errors="replace") + self.stdout(i).read_text(errors="replace")

    def alive(self, i: int) -> bool:
        return self.workers[i].alive()

    def pid(self, i: int) -> int | None:
        proc = self.workers[i].proc
        return proc.pid if proc is not None else None

    def worker_of(self, call: Any) -> int | None:
        """Which worker made this FakeSlack ``Call`` (by its bot token), None if none of ours."""
        auth = (call.header("Authorization") or "").removeprefix("Bearer ").strip()
        token = auth or str(call.args.get("token") or "")
        matches = [i for i, t in enumerate(self.tokens) if t == token]
        return matches[0] if len(matches) == 1 else None

    def command(self, port: int) -> list[str]:
        args = ["run", "--http", "--host", "127.0.0.1", "--port", str(port)]
        if self.clock is not None:  # same bot.cli.main, with the clock shifted first
            return [sys.executable, "-m", "tests.fakes.workers", *args]
        return [str(VENV_BIN / "ketenbot"), *args]

    # ------------------------------------------------------------------ lifecycle

    def start(self, indices: list[int] | None = None, *, wait: bool = True) -> None:
        """Start the given workers (default all) at the same moment, then wait until each answers
        GET /healthz (in parallel). Raises :class:`WorkerStartError` if one does not."""
        chosen = list(range(len(self.workers)) if indices is None else indices)
        for i in chosen:  # Popen returns at once: the processes start together
            self._spawn(self.workers[i], free_port())
        if wait:
            self.wait_ready(chosen)

    def wait_ready(self, indices: list[int] | None = None) -> None:
        """Wait (in parallel) until each worker answers GET /healthz. A worker that lost its port
        to another process while loading is started again on a new one, from this thread."""
        pending = list(range(len(self.workers)) if indices is None else indices)
        errors: dict[int, str] = {}
        for _attempt in range(PORT_ATTEMPTS):
            outcome: dict[int, str] = {}

            def one(i: int, outcome: dict[int, str] = outcome) -> None:
                try:
                    outcome[i] = self._wait_one(self.workers[i])
                except WorkerStartError as exc:
                    errors[i] = str(exc)

            threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in pending]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            pending = [i for i, state in outcome.items() if state == "port taken"]
            for i in pending:
                self._spawn(self.workers[i], free_port())
            if not pending:
                break
        for i in pending:
            errors[i] = f"lost its port {PORT_ATTEMPTS} times"
        if errors:
            raise WorkerStartError("; ".join(f"worker {i}: {e}" for i, e in sorted(errors.items())))

    def _spawn(self, w: Worker, port: int) -> None:
        w.folder.mkdir(parents=True, exist_ok=True)
        w.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**self.env, **self.worker_env.get(w.index, {}), "DATA_DIR": str(w.data_dir),
               "SLACK_BOT_TOKEN": self.tokens[w.index]}
        w.port, w.starts, w.ready_after = port, w.starts + 1, None
        with open(w.stdout, "ab") as out, open(w.stderr, "ab") as err:
            banner = f"\n--- start {w.starts} at {datetime.now(UTC).isoformat()} on port {port}\n".encode()
            out.write(banner)
            err.write(banner)
            out.flush()
            err.flush()
            w.started_at = time.monotonic()
            w.proc = subprocess.Popen(
                self.command(port),
                cwd=w.folder,  # no .env of the repository is read
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: stopped with everything it started
                preexec_fn=_set_pdeathsig,  # noqa: PLW1509 - only prctl, async-signal-safe enough
            )

    def _wait_one(self, w: Worker) -> str:
        """"ready", or "port taken" (start again elsewhere); raises WorkerStartError otherwise."""
        deadline = w.started_at + self.startup_timeout_s
        while time.monotonic() < deadline:
            if w.proc is not None and w.proc.poll() is not None:
                break
            if healthy(w.url, timeout=1.0):
                w.ready_after = time.monotonic() - w.started_at
                return "ready"
            time.sleep(0.25)
        else:
            self._stop(w, signal.SIGTERM, by="startup timeout")
            raise WorkerStartError(
                f"no answer on {w.url}/healthz within {self.startup_timeout_s:.0f} s\n{tail(w.stderr)}"
            )
        code = w.proc.returncode if w.proc is not None else None
        w.history.append({"start": w.starts, "returncode": code, "by": "exited during start"})
        if "address already in use" in tail(w.stderr, 2000).lower():
            return "port taken"
        raise WorkerStartError(f"exited with code {code} before answering on {w.url}\n{tail(w.stderr)}")

    def kill(self, i: int, sig: int = signal.SIGTERM, *, wait: bool = True) -> int | None:
        """Send ``sig`` to worker ``i`` (its whole process group); with ``wait``, wait for it to exit
        (SIGKILL after STOP_TIMEOUT_S) and return its exit code."""
        return self._stop(self.workers[i], sig, wait=wait, by=signal.Signals(sig).name)

    def restart(
        self, i: int, *, sig: int = signal.SIGTERM, wait: bool = True, new_port: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        """Stop worker ``i`` (if running) and start it again, on the same port unless ``new_port``.
        ``env``: from this start on, worker ``i``'s own settings (its ``worker_env``) are these
        (``{}``: none of its own any more); None keeps them."""
        w = self.workers[i]
        if env is not None:
            self.worker_env[i] = dict(env)
        if w.alive():
            self._stop(w, sig, by=f"restart ({signal.Signals(sig).name})")
        self._spawn(w, free_port() if new_port or not w.port else w.port)
        if wait:
            self.wait_ready([i])

    def _stop(self, w: Worker, sig: int, *, wait: bool = True, by: str = "") -> int | None:
        proc = w.proc
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)  # the group we created: the worker and anything it started
            except ProcessLookupError:
                pass
        if not wait:
            return None
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=STOP_TIMEOUT_S)
        self._reap_group(proc.pid)
        w.history.append({"start": w.starts, "returncode": proc.returncode, "by": by})
        return proc.returncode

    @staticmethod
    def _reap_group(pgid: int) -> None:
        """Whatever the worker started and left behind in its group gets SIGKILL."""
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        """Stop every worker: SIGTERM to all at once, then wait (SIGKILL for the slow)."""
        with self._lock:
            running = [w for w in self.workers if w.proc is not None]
            for w in running:
                if w.proc.poll() is None:
                    try:
                        os.killpg(w.proc.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            for w in running:
                if w.proc.returncode is None or w.proc.poll() is None:
                    self._stop(w, signal.SIGTERM, by="close")
                else:
                    self._reap_group(w.proc.pid)
        _LIVE.discard(self)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------- entry point


def _main(argv: list[str]) -> int:
    """``python -m tests.fakes.workers run --http ...``: ``ketenbot`` with the test clock."""
    clock_file = os.environ.get(CLOCK_ENV, "").strip()
    if clock_file:
        _install_clock(Path(clock_file))
    from bot.cli import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
