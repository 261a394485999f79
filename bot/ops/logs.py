"""Logging: JSON lines for machines (``LOG_FORMAT=json``) or text for people (``text``), and secrets
redacted from every record before any handler writes it.

JSON: one object per line: ``time`` (ISO-8601, UTC, milliseconds, ``Z``), ``level``, ``logger``,
``message``, then the record's ``extra`` fields (``log.info("answered", extra={"answer_id": 3})``),
and ``exception`` with the traceback when there is one.

What is logged is the bot's own doing (ids of stored rows, counts, exception types), never what
people wrote: no message text. :class:`RedactSecrets` is a safety net on top, not a licence:
Slack tokens (``xoxb-``, ``xoxp-``, ``xoxe.xoxp-``, ``xapp-`` ...), API keys (``sk-...``),
``Bearer`` credentials, the password in ``scheme://user:password@host``, the bound values
SQLAlchemy repeats in its errors (``[parameters: ...]``: user ids, answers) and any secret value
given to :func:`configure_logging` are replaced by ``***`` in the message, its arguments, the
extra fields and the traceback text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"

# Slack: xoxb- bot, xoxp- user, xoxa-/xoxr- (refresh), xoxe.xoxp- / xoxe- rotating, xoxc-/xoxd- session,
# xapp- app-level. The prefix stays (it says which kind leaked), the rest goes.
_SLACK_TOKEN = re.compile(r"\b((?:xox[a-z](?:\.xox[a-z])?|xapp)-)[A-Za-z0-9-]+")
_API_KEY = re.compile(r"\b(sk-(?:ant-)?)[A-Za-z0-9_-]{16,}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# scheme://user:password@host: from the first ":" after the user to the last "@" before the path
# (a password may hold ":", and an unencoded "@" too)
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^\s/]+(@)")
# SQLAlchemy's error text repeats the statement's bound values (user ids, answers ...) on one line
_SQL_PARAMETERS = re.compile(r"(\[parameters: )[^\n]*(\])")

# attributes every LogRecord has; anything else on a record came in through ``extra``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with Slack tokens, API keys, bearer credentials, URL passwords, SQL parameters
    and ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    text = _SLACK_TOKEN.sub(lambda m: m.group(1) + MASK, text)
    text = _API_KEY.sub(lambda m: m.group(1) + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(2), text)
    return _SQL_PARAMETERS.sub(lambda m: m.group(1) + MASK + m.group(2), text)


def _redact_value(value: Any, secrets: tuple[str, ...], depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if depth > 4:
        return value
    if isinstance(value, dict):
        return {k: _redact_value(v, secrets, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, secrets, depth + 1) for v in value)
    return value


class RedactSecrets(logging.Filter):
    """Rewrites a record so no secret reaches a handler's output. Attach it to handlers (a
    logger's filters do not see records propagated from its children); :func:`configure_logging`
    does so for the handler it installs."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = tuple(s for s in secrets if s and len(s) >= 6)  # a short "secret" would mask words

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call ("%s" without args ...): log what was given
            message = f"{record.msg} {record.args}"
        clean = redact(message, self.secrets)
        if clean != message or record.args:
            record.msg, record.args = clean, None  # formatted once, here, with secrets gone
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, _redact_value(value, self.secrets))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            data[key if key not in data else f"extra_{key}"] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic human line, with any extra fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = extra_fields(record)
        if not extras:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        shown = " ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in extras.items())
        return f"{first} {shown}{newline}{rest}"


class _Installed(logging.StreamHandler):
    """The handler :func:`configure_logging` installs (and replaces when called again)."""


def configure_logging(
    log_format: str = "text",
    level: int = logging.WARNING,
    *,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
    force: bool = False,
) -> logging.Handler | None:
    """Send every record to ``stream`` (default stderr) as JSON lines (``log_format == "json"``)
    or text, secrets redacted. Replaces the handler an earlier call installed (the CLI calls
    again once the settings are read). Like ``logging.basicConfig``, it leaves a root logger that
    someone else already gave handlers (a test runner) alone, unless ``force``; returns the new
    handler, or None when it did nothing."""
    root = logging.getLogger()
    foreign = [h for h in root.handlers if not isinstance(h, _Installed)]
    if foreign and not force:
        return None
    handler = _Installed(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RedactSecrets(secrets))
    for old in list(root.handlers):
        root.removeHandler(old)
        if isinstance(old, _Installed):
            old.close()
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def settings_secrets(settings: Any) -> tuple[str, ...]:
    """The secret values in ``settings`` that have no recognisable shape of their own."""
    names = ("slack_bot_token", "slack_app_token", "slack_signing_secret", "llm_api_key")
    return tuple(v for v in (getattr(settings, n, "") for n in names) if v)
