"""Tests for bot.settings.load_settings: defaults, .env handling, validation, secret masking."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.settings import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_SLACK_API_URL,
    Settings,
    SettingsError,
    load_settings,
)

BOT_TOKEN = "xoxb-1234567890-0987654321-SECRETbotTOKENpart"
APP_TOKEN = "xapp-1-A0123456789-SECRETappTOKENpart"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543signing"
DB_PASSWORD = "hunter2-db-Passw0rd"


def _error(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as info:
        load_settings(environ, None)
    return str(info.value)


# --- defaults ---------------------------------------------------------------------------


def test_defaults_with_empty_environment():
    s = load_settings({}, None)
    assert isinstance(s, Settings)
    assert s.slack_bot_token == "" and s.slack_app_token == "" and s.slack_signing_secret == ""
    assert not s.slack_configured
    assert s.slack_api_url == DEFAULT_SLACK_API_URL == "https://slack.com/api/"
    assert s.data_dir == Path("data") == Path("./data")
    assert s.knowledge_dir == Path("knowledge")
    assert s.chroma_url == ""
    assert s.embedding_model == DEFAULT_EMBEDDING_MODEL and s.embedding_model
    assert s.admin_user_ids == ()
    assert s.tz == "Europe/Amsterdam"
    assert s.zone == ZoneInfo("Europe/Amsterdam")
    assert s.chroma_path == Path("data") / "chroma"


def test_default_database_is_a_sqlite_file_inside_data_dir():
    s = load_settings({}, None)
    assert s.database_url.startswith("sqlite:///")
    db_file = Path(s.database_url.removeprefix("sqlite:///"))
    assert db_file.parent == s.data_dir
    assert db_file.suffix in {".sqlite3", ".sqlite", ".db"}


def test_default_database_follows_a_custom_absolute_data_dir(tmp_path):
    s = load_settings({"DATA_DIR": str(tmp_path / "kb")}, None)
    assert s.data_dir == tmp_path / "kb"
    # four slashes: SQLAlchemy's form for an absolute path
    assert s.database_url.startswith("sqlite:////")
    assert Path(s.database_url.removeprefix("sqlite:///")).parent == tmp_path / "kb"
    assert s.chroma_path == tmp_path / "kb" / "chroma"


def test_empty_values_fall_back_to_defaults():
    s = load_settings({"SLACK_API_URL": "", "TZ": "  ", "DATA_DIR": "", "EMBEDDING_MODEL": ""}, None)
    assert s.slack_api_url == DEFAULT_SLACK_API_URL
    assert s.tz == "Europe/Amsterdam"
    assert s.data_dir == Path("data")
    assert s.embedding_model == DEFAULT_EMBEDDING_MODEL


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://slack.com/api", "https://slack.com/api/"),
        ("https://slack.com/api/", "https://slack.com/api/"),
        ("http://127.0.0.1:8765/api", "http://127.0.0.1:8765/api/"),
    ],
)
def test_slack_api_url_gets_one_trailing_slash(given, expected):
    assert load_settings({"SLACK_API_URL": given}, None).slack_api_url == expected


def test_explicit_values_are_used_and_stripped():
    s = load_settings(
        {
            "SLACK_BOT_TOKEN": f"  {BOT_TOKEN}\n",
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "CHROMA_URL": "http://127.0.0.1:8000",
            "KNOWLEDGE_DIR": "/srv/guidance",
            "EMBEDDING_MODEL": "packaged:all-MiniLM-L6-v2",
            "TZ": "UTC",
            "DATABASE_URL": "postgresql+psycopg://ketenbot@db.example/ketenbot",
        },
        None,
    )
    assert s.slack_bot_token == BOT_TOKEN
    assert s.slack_app_token == APP_TOKEN
    assert s.slack_signing_secret == SIGNING_SECRET
    assert s.slack_configured
    assert s.chroma_url == "http://127.0.0.1:8000"
    assert s.knowledge_dir == Path("/srv/guidance")
    assert s.embedding_model == "packaged:all-MiniLM-L6-v2"
    assert s.tz == "UTC"
    assert s.database_url == "postgresql+psycopg://ketenbot@db.example/ketenbot"


# --- .env file --------------------------------------------------------------------------


def test_env_file_is_read(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment line\n"
        f"SLACK_BOT_TOKEN={BOT_TOKEN}\n"
        'TZ="Europe/London"\n'
        "ADMIN_USER_IDS=U012ABCDEF,U0XYZ123\n"
        "KNOWLEDGE_DIR=/srv/guidance  # inline comment\n",
        encoding="utf-8",
    )
    s = load_settings({}, env_file)
    assert s.slack_bot_token == BOT_TOKEN
    assert s.tz == "Europe/London"
    assert s.admin_user_ids == ("U012ABCDEF", "U0XYZ123")
    assert s.knowledge_dir == Path("/srv/guidance")


def test_environment_wins_over_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("TZ=Europe/London\nDATA_DIR=/from/file\nCHROMA_URL=http://file:8000\n")
    s = load_settings({"TZ": "Asia/Tokyo", "DATA_DIR": "/from/env"}, env_file)
    assert s.tz == "Asia/Tokyo"
    assert s.data_dir == Path("/from/env")
    assert s.chroma_url == "http://file:8000"  # only in the file: the file still counts


def test_missing_env_file_is_fine(tmp_path):
    s = load_settings({"TZ": "UTC"}, tmp_path / "does-not-exist.env")
    assert s.tz == "UTC"


def test_bad_value_in_env_file_is_reported(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("TZ=Mars/Olympus\n")
    with pytest.raises(SettingsError, match="TZ"):
        load_settings({}, env_file)


def test_good_environment_value_overrides_a_bad_file_value(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("TZ=Mars/Olympus\n")
    assert load_settings({"TZ": "UTC"}, env_file).tz == "UTC"


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ, variable",
    [
        ({"SLACK_BOT_TOKEN": "xoxp-user-token-123"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": APP_TOKEN}, "SLACK_APP_TOKEN"),  # app token without bot token
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        ({"SLACK_API_URL": "ftp://slack.com/api/"}, "SLACK_API_URL"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        ({"SLACK_API_URL": "https://"}, "SLACK_API_URL"),
        ({"CHROMA_URL": "localhost:8000"}, "CHROMA_URL"),
        ({"CHROMA_URL": "http://"}, "CHROMA_URL"),
        ({"CHROMA_URL": "tcp://127.0.0.1:8000"}, "CHROMA_URL"),
        ({"ADMIN_USER_IDS": "U012ABCDEF, bob"}, "ADMIN_USER_IDS"),
        ({"ADMIN_USER_IDS": "u012abcdef"}, "ADMIN_USER_IDS"),
        ({"TZ": "Mars/Olympus"}, "TZ"),
        ({"TZ": "../../etc/passwd"}, "TZ"),
        ({"DATABASE_URL": "data/ketenbot.sqlite3"}, "DATABASE_URL"),
    ],
)
def test_malformed_value_raises_settings_error_naming_the_variable(environ, variable):
    message = _error(environ)
    assert variable in message


def test_settings_error_is_a_value_error():
    assert issubclass(SettingsError, ValueError)


def test_app_token_without_bot_token_says_the_bot_token_is_missing():
    message = _error({"SLACK_APP_TOKEN": APP_TOKEN})
    assert "SLACK_BOT_TOKEN" in message and "missing" in message.lower()


def test_bad_admin_id_names_only_the_bad_id():
    message = _error({"ADMIN_USER_IDS": "U012ABCDEF, bob,W0ABC123"})
    invalid_part = message.split("not valid:", 1)[1]
    assert "bob" in invalid_part
    assert "U012ABCDEF" not in invalid_part and "W0ABC123" not in invalid_part


def test_several_errors_are_reported_together():
    message = _error(
        {
            "SLACK_BOT_TOKEN": "xoxp-user-token",
            "TZ": "Mars/Olympus",
            "CHROMA_URL": "localhost:8000",
            "ADMIN_USER_IDS": "bob",
            "DATABASE_URL": "nonsense",
            "SLACK_API_URL": "gopher://x",
        }
    )
    names = ["SLACK_BOT_TOKEN", "TZ", "CHROMA_URL", "ADMIN_USER_IDS", "DATABASE_URL", "SLACK_API_URL"]
    for name in names:
        assert name in message
    # one bullet per problem
    assert message.count("\n- ") == len(names)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("U012ABCDEF", ("U012ABCDEF",)),
        ("U012ABCDEF,W0ABC123", ("U012ABCDEF", "W0ABC123")),
        ("U012ABCDEF, W0ABC123 ,U999XYZ", ("U012ABCDEF", "W0ABC123", "U999XYZ")),
        ("U012ABCDEF W0ABC123\tU999XYZ\nU777AAA", ("U012ABCDEF", "W0ABC123", "U999XYZ", "U777AAA")),
        (" ,, U012ABCDEF,,, ", ("U012ABCDEF",)),
        ("", ()),
    ],
)
def test_admin_user_ids_parsing(raw, expected):
    assert load_settings({"ADMIN_USER_IDS": raw}, None).admin_user_ids == expected


# --- secrets never shown ------------------------------------------------------------------


def _secret_settings() -> Settings:
    return load_settings(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "DATABASE_URL": f"postgresql+psycopg://ketenbot:{DB_PASSWORD}@db.example:5432/ketenbot",
            "CHROMA_URL": "http://chroma:chroma-Pw-42@127.0.0.1:8000",
        },
        None,
    )


@pytest.mark.parametrize("render", [repr, str, lambda s: f"{s}", lambda s: f"{s!r}"])
def test_repr_never_shows_secrets(render):
    shown = render(_secret_settings())
    for secret in (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, DB_PASSWORD, "chroma-Pw-42"):
        assert secret not in shown
    assert "SECRET" not in shown  # not even the tail of a token
    # still useful: the non-secret parts are visible
    assert "db.example" in shown and "Europe/Amsterdam" in shown


def test_repr_inside_a_container_never_shows_secrets():
    # e.g. a traceback or log line that prints a structure holding the settings
    shown = repr({"settings": _secret_settings()})
    assert BOT_TOKEN not in shown and SIGNING_SECRET not in shown and DB_PASSWORD not in shown


def test_masking_does_not_change_the_real_values():
    s = _secret_settings()
    assert s.slack_bot_token == BOT_TOKEN
    assert s.slack_signing_secret == SIGNING_SECRET
    assert DB_PASSWORD in s.database_url


def test_errors_never_show_the_bad_token():
    message = _error({"SLACK_BOT_TOKEN": "xoxp-" + "SECRETuserTOKEN", "SLACK_APP_TOKEN": "xoxb-SECRETapp"})
    assert "SECRETuserTOKEN" not in message and "SECRETapp" not in message


def test_database_url_error_never_shows_the_password():
    message = _error({"DATABASE_URL": f"ketenbot:{DB_PASSWORD}@db.example/ketenbot"})
    assert "DATABASE_URL" in message
    assert DB_PASSWORD not in message


def test_masked_secrets_show_no_character_of_their_own():
    s = load_settings(
        {"SLACK_BOT_TOKEN": "xoxb-abcdefgh", "SLACK_SIGNING_SECRET": "s3cr3tvalue"}, env_file=None
    )
    shown = repr(s)
    assert "xoxb-***" in shown and "abcdefgh" not in shown
    assert "s3cr3" not in shown and "'***'" in shown


def test_an_empty_environment_variable_does_not_wipe_a_value_from_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("SLACK_BOT_TOKEN=xoxb-from-file\n", encoding="utf-8")
    s = load_settings({"SLACK_BOT_TOKEN": ""}, env_file=env_file)
    assert s.slack_bot_token == "xoxb-from-file"


def test_glibc_style_tz_with_leading_colon_is_accepted():
    assert load_settings({"TZ": ":Europe/Amsterdam"}, env_file=None).tz == "Europe/Amsterdam"


def test_chroma_url_error_hides_its_password():
    message = _error({"CHROMA_URL": "admin:chromapw@localhost:8000"})
    assert "CHROMA_URL" in message and "chromapw" not in message


def test_min_group_size_defaults_to_five_and_never_goes_below_three():
    assert load_settings({}, env_file=None).min_group_size == 5
    assert load_settings({"MIN_GROUP_SIZE": "7"}, env_file=None).min_group_size == 7
    for bad in ("2", "0", "vijf", "-5", "2.5"):
        with pytest.raises(SettingsError, match="MIN_GROUP_SIZE"):
            load_settings({"MIN_GROUP_SIZE": bad}, env_file=None)


# --- optional language model (issue 7) ------------------------------------------------------

LLM_KEY = "sk-proj-SECRETllmKEYpart-1234567890"
LLM_URL_PASSWORD = "gw-Passw0rd-77"


def test_without_llm_provider_no_language_model_is_configured():
    s = load_settings({"LLM_MODEL": "llama3.1", "LLM_BASE_URL": "http://127.0.0.1:11434/v1"}, env_file=None)
    assert s.llm_provider == "" and not s.llm_configured
    assert load_settings({"LLM_PROVIDER": "  "}, env_file=None).llm_configured is False


@pytest.mark.parametrize(
    "raw, provider",
    [("openai", "openai"), ("OpenAI", "openai"), (" ANTHROPIC ", "anthropic"), ("Anthropic", "anthropic")],
)
def test_known_llm_providers_are_accepted_case_insensitively(raw, provider):
    s = load_settings({"LLM_PROVIDER": raw, "LLM_MODEL": "some-model"}, env_file=None)
    assert s.llm_provider == provider and s.llm_configured and s.llm_model == "some-model"


@pytest.mark.parametrize("raw", ["ollama", "azure", "open-ai", "gpt"])
def test_unknown_llm_provider_names_the_choices(raw):
    message = _error({"LLM_PROVIDER": raw, "LLM_MODEL": "m"})
    assert "LLM_PROVIDER" in message and "'openai'" in message and "'anthropic'" in message
    assert repr(raw.lower()) in message


def test_llm_provider_without_a_model_is_an_error():
    message = _error({"LLM_PROVIDER": "openai"})
    assert "LLM_MODEL" in message
    assert "LLM_MODEL" in _error({"LLM_PROVIDER": "anthropic", "LLM_MODEL": "   "})


@pytest.mark.parametrize("url", ["127.0.0.1:11434/v1", "ftp://127.0.0.1/v1", "http://", "localhost", "ws://x:1/v1"])
def test_bad_llm_base_url_is_an_error(url):
    assert "LLM_BASE_URL" in _error({"LLM_PROVIDER": "openai", "LLM_MODEL": "m", "LLM_BASE_URL": url})


def test_good_llm_base_urls_are_kept_as_given():
    for url in ("http://127.0.0.1:11434/v1", "https://gateway.example/openai/v1"):
        s = load_settings({"LLM_PROVIDER": "openai", "LLM_MODEL": "m", "LLM_BASE_URL": url}, env_file=None)
        assert s.llm_base_url == url


def test_llm_base_url_error_hides_its_password():
    message = _error({"LLM_BASE_URL": f"gw:{LLM_URL_PASSWORD}@127.0.0.1:8080/v1"})
    assert "LLM_BASE_URL" in message and LLM_URL_PASSWORD not in message


@pytest.mark.parametrize("raw", ["soon", "20s", "0", "0.5", "-5", "301", "1000", "nan", "NaN", "inf", "-inf",
                                 "1e400"])
def test_bad_llm_timeout_is_an_error(raw):
    message = _error({"LLM_TIMEOUT_S": raw})
    assert "LLM_TIMEOUT_S" in message and "between 1 and 300" in message


def test_llm_timeout_defaults_to_twenty_seconds_and_accepts_the_bounds():
    assert load_settings({}, env_file=None).llm_timeout_s == 20.0
    assert load_settings({"LLM_TIMEOUT_S": ""}, env_file=None).llm_timeout_s == 20.0
    for raw, value in (("1", 1.0), ("1.5", 1.5), (" 45 ", 45.0), ("300", 300.0)):
        assert load_settings({"LLM_TIMEOUT_S": raw}, env_file=None).llm_timeout_s == value


def test_several_llm_errors_are_reported_together():
    message = _error({"LLM_PROVIDER": "openai", "LLM_BASE_URL": "nope", "LLM_TIMEOUT_S": "nan"})
    for name in ("LLM_MODEL", "LLM_BASE_URL", "LLM_TIMEOUT_S"):
        assert name in message
    assert message.count("\n- ") == 3


def _llm_secret_settings(base_url: str) -> Settings:
    return load_settings(
        {"LLM_PROVIDER": "openai", "LLM_MODEL": "gpt-stub", "LLM_API_KEY": LLM_KEY, "LLM_BASE_URL": base_url},
        env_file=None,
    )


@pytest.mark.parametrize("render", [repr, str, lambda s: f"{s!r}", lambda s: repr({"settings": s})])
def test_repr_never_shows_the_llm_key_nor_the_base_url_password(render):
    s = _llm_secret_settings(f"https://ketenbot:{LLM_URL_PASSWORD}@gateway.example/v1")
    shown = render(s)
    assert LLM_KEY not in shown and "SECRETllmKEY" not in shown and "1234567890" not in shown
    assert LLM_URL_PASSWORD not in shown
    assert "gateway.example" in shown and "gpt-stub" in shown and "openai" in shown  # still useful
    assert s.llm_api_key == LLM_KEY and LLM_URL_PASSWORD in s.llm_base_url  # the real values stay


def test_repr_shows_that_an_llm_key_is_set_but_none_of_its_characters():
    shown = repr(_llm_secret_settings("http://127.0.0.1:11434/v1"))
    assert "llm_api_key='***'" in shown
    assert "llm_api_key=''" in repr(load_settings({}, env_file=None))


def test_repr_hides_a_base_url_password_that_contains_a_colon():
    shown = repr(_llm_secret_settings("https://ketenbot:first-half:second-half@gateway.example/v1"))
    assert "first-half" not in shown and "second-half" not in shown
