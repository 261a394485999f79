"""Logs: JSON lines (or text) with extra fields, and no secret ever reaching the output."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bot.ops.logs import RedactSecrets, configure_logging, redact
from tests.conftest import KNOWLEDGE, ROOT

BOT_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
USER_TOKEN = "xoxp-2222222222-3333333333-4444444444-0123456789abcdef0123456789abcdef"
APP_TOKEN = "xapp-1-A0KETENBOT-1234567890123-0123456789abcdef0123456789abcdef"
ROTATING = "xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA"
REFRESH = "xoxe-1-My0xLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MC0xMjM0"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # no shape of its own: masked by value
DB_PASSWORD = "s3cr3t:with@signs"
SECRET_PIECES = ("1234567890-0987654321", "0123456789abcdef", "Mi0yLTEy", "My0xLTEy", SIGNING_SECRET,
                 "s3cr3t", "sk-abcdefghijklmnop", "eyJhbGciOiJIUzI1NiJ9")


@pytest.fixture
def output():
    """Root logging set up by ``configure_logging`` into a buffer; restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buffer = io.StringIO()

    def setup(log_format: str = "json") -> io.StringIO:
        buffer.seek(0)
        buffer.truncate()
        configure_logging(log_format, logging.INFO, secrets=[SIGNING_SECRET], stream=buffer, force=True)
        return buffer

    yield setup
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def _leaky_logging() -> None:
    log = logging.getLogger("bot.slack.somewhere")  # a child logger: its records propagate to root
    log.warning("token in the message " + BOT_TOKEN)
    log.warning("token as an argument %s and %s", USER_TOKEN, APP_TOKEN)
    log.error("refresh %s / %s", ROTATING, REFRESH)
    log.warning("signing secret %s", SIGNING_SECRET)
    log.warning("database at postgresql+psycopg://ketenbot:%s@db.internal:5432/ketenbot", DB_PASSWORD)
    log.warning("headers", extra={"auth": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.abc.def"},
                                  "keys": ["sk-abcdefghijklmnopqrstuvwxyz123456"], "token": BOT_TOKEN})
    try:
        raise RuntimeError(f"Slack said invalid_auth for {BOT_TOKEN}")
    except RuntimeError:
        log.exception("call failed")
    logging.getLogger("uvicorn.error").error("from a library: %r", {"token": APP_TOKEN})


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_token_in_a_log_record_never_reaches_the_output(output, log_format):
    buffer = output(log_format)
    _leaky_logging()
    text = buffer.getvalue()
    assert text.count("\n") >= 8
    for piece in SECRET_PIECES:
        assert piece not in text, piece
    # what leaked stays recognisable, so the leak can be found and fixed
    assert "xoxb-***" in text and "xoxp-***" in text and "xapp-***" in text and "xoxe.xoxp-***" in text
    assert "ketenbot:***@db.internal" in text and "Bearer ***" in text and "RuntimeError" in text


def test_json_lines_carry_time_level_logger_message_and_extra_fields(output):
    buffer = output("json")
    log = logging.getLogger("bot.slack.replies")
    before = datetime.now(UTC)
    log.info("answered", extra={"answer_id": 42, "answered": True, "ai": False, "due": {"opened": 1}})
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("answering failed")
    logging.getLogger("bot.x").debug("below the level: not written")
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert list(first)[:4] == ["time", "level", "logger", "message"]
    assert first["time"].endswith("Z")
    moment = datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert moment.utcoffset().total_seconds() == 0
    assert abs((moment - before).total_seconds()) < 5
    assert first | {"time": None} == {
        "time": None, "level": "INFO", "logger": "bot.slack.replies", "message": "answered",
        "answer_id": 42, "answered": True, "ai": False, "due": {"opened": 1},
    }
    assert second["level"] == "ERROR" and second["message"] == "answering failed"
    assert "ZeroDivisionError" in second["exception"] and "Traceback" in second["exception"]


def test_text_lines_show_extra_fields_after_the_message(output):
    buffer = output("text")
    logging.getLogger("bot.checkins.runner").info("due work", extra={"due": {"opened": 2}})
    line = buffer.getvalue().strip()
    assert line.endswith('INFO bot.checkins.runner: due work due={"opened": 2}')


def test_a_second_setup_replaces_the_first_and_foreign_handlers_are_left_alone():
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        first, second = io.StringIO(), io.StringIO()
        configure_logging("text", logging.INFO, stream=first)
        configure_logging("json", logging.WARNING, stream=second)  # as the CLI does after the settings
        logging.getLogger("bot.t").warning("once")
        assert first.getvalue() == "" and json.loads(second.getvalue())["message"] == "once"
        assert len(root.handlers) == 1 and root.level == logging.WARNING

        foreign = logging.StreamHandler(io.StringIO())
        root.addHandler(foreign)
        assert configure_logging("json", logging.INFO, stream=io.StringIO()) is None  # like basicConfig
        assert foreign in root.handlers
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)


def test_values_in_database_errors_stay_out_of_tracebacks(output, tmp_path):
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import IntegrityError

    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (user_id TEXT PRIMARY KEY, question TEXT)"))
    buffer = output("json")
    try:
        for _ in range(2):
            with engine.begin() as conn:
                row = {"u": "U0PERSON1", "q": "mijn geheime vraag"}
                conn.execute(text("INSERT INTO t VALUES (:u, :q)"), row)
    except IntegrityError:
        logging.getLogger("bot.checkins.due").exception("due work failed for a round")
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    record = next(r for r in records if r["message"] == "due work failed for a round")
    assert "IntegrityError" in record["exception"] and "[parameters: ***]" in record["exception"]
    assert "U0PERSON1" not in buffer.getvalue() and "geheime" not in buffer.getvalue()


def test_redact_keeps_ordinary_text():
    plain = "answered in 1.2s; see https://example.org/a:b and user:x in text; sk-short"
    assert redact(plain) == plain
    assert redact("https://user:pw@host/x") == "https://user:***@host/x"
    assert RedactSecrets(["abc"]).secrets == ()  # too short to mask safely


def _run_cli(tmp_path, log_format: str) -> subprocess.CompletedProcess:
    code = (
        "import logging, sys\n"
        "from bot import cli\n"
        "def fake(settings, args):\n"
        f"    logging.getLogger('bot.fake').warning('leaked %s', {BOT_TOKEN!r}, extra={{'answer_id': 7}})\n"
        f"    logging.getLogger('bot.fake').warning('secret %s', {SIGNING_SECRET!r})\n"
        "    return 0\n"
        "cli.cmd_rapport = fake\n"
        "sys.exit(cli.main(['rapport']))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LLM_", "LOG_"))}
    env.update(PYTHONPATH=str(ROOT), DATA_DIR=str(tmp_path / "data"), KNOWLEDGE_DIR=str(KNOWLEDGE),
               LOG_FORMAT=log_format, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_cli_logs_json_lines_or_text_as_log_format_says_with_secrets_redacted(tmp_path):
    done = _run_cli(tmp_path, "json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [r["message"] for r in lines] == ["leaked xoxb-***", "secret ***"]
    assert lines[0]["answer_id"] == 7 and lines[0]["logger"] == "bot.fake" and lines[0]["level"] == "WARNING"
    assert BOT_TOKEN[5:] not in done.stderr and SIGNING_SECRET not in done.stderr

    done = _run_cli(tmp_path, "text")
    assert done.returncode == 0, done.stderr
    assert "WARNING bot.fake: leaked xoxb-*** answer_id=7" in done.stderr
    assert BOT_TOKEN[5:] not in done.stderr and SIGNING_SECRET not in done.stderr
