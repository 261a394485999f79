"""A real Chroma server for the integration tests, started on loopback for the session.

The server is the ``chroma`` executable of the running virtualenv (next to
``sys.executable``), or the one named by ``KETENBOT_CHROMA_BIN``. Its data lives
in a temporary directory, so nothing is shared with other tests or with ``data/``.

When the server cannot be started, the tests that need it are skipped on a
developer's machine and *fail* when ``CI`` is set, so that CI never goes green
without having talked to a server.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
START_ATTEMPTS = 3  # a fresh port each time, in case another process took ours
LOG_TAIL_LINES = 40
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ServerStartError(RuntimeError):
    """The Chroma server did not come up; the message says why."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def chroma_executable() -> Path:
    """``KETENBOT_CHROMA_BIN`` if set, else the ``chroma`` script of this interpreter's venv."""
    override = os.environ.get("KETENBOT_CHROMA_BIN", "").strip()
    if override:
        return Path(override)
    # not resolved: the venv's python is a symlink to the base interpreter
    return Path(sys.executable).parent / ("chroma.exe" if os.name == "nt" else "chroma")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def heartbeat_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no server log)"
    tail = [line.rstrip() for line in _ANSI.sub("", text).splitlines() if line.strip()][-lines:]
    return "\n".join(tail) or "(server log is empty)"


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


def start_server(exe: Path, data_dir: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start ``chroma run`` and wait for its heartbeat; raise :class:`ServerStartError` if it fails."""
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise ServerStartError(f"no executable Chroma CLI at {exe}")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    last_error = ""
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [str(exe), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(data_dir)]
        with log_path.open("ab") as log:
            log.write(f"\n--- attempt {attempt}: {' '.join(cmd)}\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
                )
            except OSError as exc:
                raise ServerStartError(f"cannot run {exe}: {exc}") from exc
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if heartbeat_ok(url):
                if proc.poll() is None:
                    return proc, url
                break  # an answer, but not from ours: it exited (port taken), try another
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        if proc.poll() is None:
            stop(proc)
            raise ServerStartError(f"no heartbeat from {url} within {STARTUP_TIMEOUT_S:.0f} s")
        # chroma 1.5 exits with code 0 ("Address ... is not available") when the port is taken
        last_error = f"'chroma run' exited with code {proc.returncode} before answering on {url}"
    raise ServerStartError(f"{last_error} (tried {START_ATTEMPTS} ports)")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL (``http://127.0.0.1:PORT``) of a Chroma server private to this test session."""
    root = tmp_path_factory.mktemp("chroma_server")
    log_path = root / "server.log"
    exe = chroma_executable()
    try:
        proc, url = start_server(exe, root / "db", log_path)
    except ServerStartError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:  # outside the except block, so pytest shows no chained traceback
        if in_ci():
            pytest.fail(
                f"chroma server could not be started: {problem}\n"
                f"--- last lines of {log_path} ---\n{log_tail(log_path)}",
                pytrace=False,
            )
        pytest.skip(f"chroma server could not be started: {problem}; set CI=true to make this a failure")
    try:
        yield url
    finally:
        stop(proc)


# ----------------------------------------------------------------------------- scale-out tests


@pytest.fixture(scope="session")
def new_database(postgres_url: str) -> Iterator:
    """A factory of further throwaway databases on the PostgreSQL server of ``postgres_url``
    (which skips, or fails under CI, when there is none); all are dropped at the end."""
    import uuid

    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")  # any database will do
    made: list[str] = []

    def make() -> str:
        name = f"ketenbot_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_FIGURES: list[str] = []


@pytest.fixture
def figures() -> Callable[[str], None]:
    """Add a line to the "integration figures" section printed at the end of the run (also
    under ``-q``), for counts and timings a reader of the CI log should see."""
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's TerminalReporter
    if _FIGURES:
        terminalreporter.section("integration figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
