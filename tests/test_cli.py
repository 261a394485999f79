"""End-to-end tests of the real ``ketenbot`` command, run as a subprocess.

The index is built once per module (``ketenbot index`` into a temporary DATA_DIR) and
reused by every later call; several questions share one ``ask`` call to keep the number
of model loads down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from bot.retrieval.text import MAX_QUESTION_CHARS

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "knowledge"
NORA = KNOWLEDGE / "nora-implementatie-van-ketensturing.txt"
_SCRIPT = Path(sys.executable).parent / "ketenbot"
COMMAND = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "bot"]
JSON_KEYS = {"question", "language", "answered", "answer", "sources"}
SOURCE_KEYS = {"title", "section", "url", "licence", "quote", "score"}
# settings that must come from the test, never from the developer's shell
_DROPPED = {"CHROMA_URL", "DATABASE_URL", "ADMIN_USER_IDS", "TZ", "DATA_DIR", "KNOWLEDGE_DIR"}

BOT_TOKEN = "xoxb-SECRET1234567890-abcdefSECRETTAIL"
SIGNING_SECRET = "supersecret"


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k not in _DROPPED}
    env.update(
        DATA_DIR=str(data_dir),
        KNOWLEDGE_DIR=str(KNOWLEDGE),
        PYTHONUTF8="1",  # same text encoding whatever the host locale
        ANONYMIZED_TELEMETRY="False",
    )
    env.update(extra)
    return env


def _run(
    args: list[str],
    cwd: Path,
    data_dir: Path,
    stdin: str | bytes = "",
    timeout: float = 180,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    raw = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        COMMAND + args,
        input=raw,
        capture_output=True,
        cwd=cwd,
        env=_clean_env(data_dir, **extra),
        timeout=timeout,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", errors="replace"),
        proc.stderr.decode("utf-8", errors="replace"),
    )


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


# --- fixtures: one index, a few shared runs -----------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Working directory without a .env file, so only the test's environment counts."""
    path = tmp_path_factory.mktemp("cwd")
    assert not (path / ".env").exists()
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def first_index(workdir, data_dir) -> subprocess.CompletedProcess[str]:
    result = _run(["index"], workdir, data_dir)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def cli(first_index, workdir, data_dir):
    """Run ketenbot against the shared, already built index."""

    def run(args: list[str], stdin: str | bytes = "", **extra: str) -> subprocess.CompletedProcess[str]:
        return _run(args, workdir, data_dir, stdin, **extra)

    return run


LONG_QUESTION = ("Hoe bouwen we vertrouwen op tussen de ketenpartners? " * 400)[:20_000]
ASK_QUESTIONS = {
    "stuip": "Wat is een hiërarchiestuip?",
    "dutch": "Hoe bouwen we vertrouwen op tussen de ketenpartners?",
    "english": "How do we build trust between the chain partners?",
    "salary": "Wat zijn de salarisschalen voor ambtenaren in 2024?",
    "long": LONG_QUESTION,
    "emoji": "😀🎉🚀🔥👍",
    "punctuation": "?!?!...,,, ;;; ---",
    "control": "Wat\x07 is\x1b[0m een\x0b keten\u200bconferentie\u202e?\x7f",
    "german": "Wie kann ich das Vertrauen zwischen den Partnern aufbauen und was ist das?",
}


@pytest.fixture(scope="module")
def ask_run(cli):
    result = cli(["ask", "--json", *ASK_QUESTIONS.values()])
    return result


@pytest.fixture(scope="module")
def asked(ask_run) -> dict[str, dict]:
    assert ask_run.returncode == 0, ask_run.stderr
    objects = _json_lines(ask_run.stdout)
    assert len(objects) == len(ASK_QUESTIONS)
    return dict(zip(ASK_QUESTIONS, objects, strict=True))


STDIN_LINES = [
    "Wat doe je als er iets misgaat?",
    "",
    "Hoe\x00 begin\x1b je\x01 met een nieuwe\x7f keten?",
    "   ",
    "What should the board do when something goes wrong?",
]


@pytest.fixture(scope="module")
def stdin_run(cli):
    return cli(["ask", "--json", "-"], stdin="\n".join(STDIN_LINES) + "\n")


@pytest.fixture(scope="module")
def stdin_asked(stdin_run) -> list[dict]:
    assert stdin_run.returncode == 0, stdin_run.stderr
    return _json_lines(stdin_run.stdout)


@pytest.fixture(scope="module")
def all_answers(asked, stdin_asked) -> list[dict]:
    return list(asked.values()) + stdin_asked


# --- ask --json: shape ----------------------------------------------------------------------


def test_ask_json_prints_one_object_per_question_per_line(ask_run, asked):
    assert ask_run.returncode == 0
    assert "Traceback" not in ask_run.stderr
    lines = ask_run.stdout.splitlines()
    assert len(lines) == len(ASK_QUESTIONS)
    assert all(line.startswith("{") and line.endswith("}") for line in lines)
    for label in ("stuip", "dutch", "english", "salary", "emoji", "german"):
        assert asked[label]["question"] == ASK_QUESTIONS[label]


def test_ask_json_objects_have_the_stable_shape(all_answers):
    for obj in all_answers:
        assert set(obj) == JSON_KEYS
        assert isinstance(obj["question"], str)
        assert obj["language"] in {"nl", "en"}
        assert isinstance(obj["answered"], bool)
        assert isinstance(obj["answer"], str) and obj["answer"].startswith("Ketenbot: ")
        assert isinstance(obj["sources"], list)
        for source in obj["sources"]:
            assert set(source) == SOURCE_KEYS
            assert isinstance(source["score"], int | float)
            assert source["title"] and source["url"].startswith("https://")
            assert all(isinstance(source[k], str) for k in SOURCE_KEYS - {"score"})


def test_sources_are_in_descending_score_order(all_answers):
    checked = 0
    for obj in all_answers:
        scores = [s["score"] for s in obj["sources"]]
        assert scores == sorted(scores, reverse=True), obj["question"][:80]
        checked += len(scores) > 1
    assert checked >= 3


def test_answered_questions_have_quotes_with_licence(all_answers):
    answered = [obj for obj in all_answers if obj["answered"]]
    assert len(answered) >= 4
    for obj in answered:
        assert obj["sources"] and obj["sources"][0]["quote"], "the best source must be quoted"
        quoted = [s for s in obj["sources"] if s["quote"]]
        # weaker sections may follow as "see also" pointers without a quote, never before one
        assert obj["sources"][: len(quoted)] == quoted
        for source in quoted:
            assert source["licence"]
            assert f"„{source['quote']}”" in obj["answer"]
        for pointer in obj["sources"][len(quoted) :]:
            assert pointer["url"] in obj["answer"]


def test_every_quote_is_word_for_word_from_the_guidance(all_answers):
    guidance = _collapse(NORA.read_text(encoding="utf-8"))
    quotes = [s["quote"] for obj in all_answers if obj["answered"] for s in obj["sources"] if s["quote"]]
    assert len(quotes) >= 6
    for quote in quotes:
        text = _collapse(quote)
        text = text.removesuffix(" …")  # an over-long sentence is cut at a word and says so
        assert len(text) > 20
        assert text in guidance, quote


# --- ask --json: content ----------------------------------------------------------------


def test_hierarchy_spasm_question_is_answered_with_that_passage(asked):
    obj = asked["stuip"]
    assert obj["answered"] is True and obj["language"] == "nl"
    assert any("hiërarchiestuip" in s["quote"] for s in obj["sources"])


def test_dutch_question_gets_dutch_and_english_question_gets_english(asked):
    assert asked["dutch"]["language"] == "nl"
    assert asked["english"]["language"] == "en"
    assert asked["dutch"]["answered"] and asked["english"]["answered"]
    # the bot's own framing follows the question's language
    assert asked["english"]["answer"].startswith("Ketenbot: This is what the guidance says")
    assert asked["dutch"]["answer"].startswith("Ketenbot: Dit zegt de handreiking")


def test_out_of_scope_question_is_not_answered_but_points_to_nearest_sections(asked):
    obj = asked["salary"]
    assert obj["answered"] is False
    assert obj["language"] == "nl"
    assert obj["sources"], "nearest sections expected"
    for source in obj["sources"]:
        assert source["quote"] == ""
        assert source["title"] and source["url"] in obj["answer"]
    assert "„" not in obj["answer"]


# --- ask --json: bad input --------------------------------------------------------------


def test_bad_input_gives_exit_zero_and_no_traceback(ask_run, stdin_run):
    for run in (ask_run, stdin_run):
        assert run.returncode == 0
        assert "Traceback" not in run.stderr
        assert "Error" not in run.stderr


def test_very_long_question_is_truncated_and_still_answered(asked):
    obj = asked["long"]
    assert len(obj["question"]) <= MAX_QUESTION_CHARS < len(LONG_QUESTION)
    assert LONG_QUESTION.startswith(obj["question"].rstrip())
    assert str(MAX_QUESTION_CHARS) in obj["answer"]  # says that only the first part was used
    assert obj["answered"] is True


@pytest.mark.parametrize("label", ["emoji", "punctuation"])
def test_question_without_words_is_not_answered(asked, label):
    obj = asked[label]
    assert obj["answered"] is False
    assert obj["sources"] == []
    assert "„" not in obj["answer"]


def test_german_question_is_declined_politely(asked):
    obj = asked["german"]
    assert obj["answered"] is False
    assert obj["sources"] == []
    assert "Nederlands" in obj["answer"] and "English" in obj["answer"]


def _has_control_or_bidi(text: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in text)


def test_control_characters_are_removed_from_the_question(asked, stdin_asked):
    obj = asked["control"]
    assert not _has_control_or_bidi(obj["question"])
    assert "keten" in obj["question"] and "conferentie" in obj["question"]
    assert not _has_control_or_bidi(stdin_asked[2]["question"])
    assert "nieuwe keten" in stdin_asked[2]["question"]
    for obj in (asked["control"], stdin_asked[2]):
        assert not _has_control_or_bidi(obj["answer"].replace("\n", " "))


# --- ask --json - (stdin) -------------------------------------------------------------------


def test_ask_reads_one_question_per_stdin_line_including_empty_ones(stdin_run, stdin_asked):
    assert len(stdin_run.stdout.splitlines()) == len(STDIN_LINES)
    assert len(stdin_asked) == len(STDIN_LINES)
    assert stdin_asked[0]["question"] == STDIN_LINES[0]
    assert stdin_asked[4]["question"] == STDIN_LINES[4]
    assert stdin_asked[0]["answered"] is True and stdin_asked[0]["language"] == "nl"
    assert stdin_asked[4]["language"] == "en"
    for blank in (stdin_asked[1], stdin_asked[3]):
        assert blank["answered"] is False
        assert blank["sources"] == []
        assert blank["question"].strip() == ""


def test_ask_without_questions_exits_2(cli):
    result = cli(["ask", "--json"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert "question" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_utf8_on_stdin_gives_an_answer_not_a_traceback(cli):
    result = cli(["ask", "--json", "-"], stdin=b"Wat is een keten\xff\xfe?\n")
    assert "Traceback" not in result.stderr
    assert result.returncode == 0
    assert len(_json_lines(result.stdout)) == 1


# --- run / chat -----------------------------------------------------------------------------


def test_run_without_slack_tokens_starts_the_console_and_answers(cli):
    result = cli(["run"], stdin="Wat is een hiërarchiestuip?\nstop\n")
    assert result.returncode == 0, result.stderr
    assert "console" in result.stderr.lower()
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert "„" in result.stdout and "”" in result.stdout
    assert "hiërarchiestuip" in result.stdout
    assert result.stdout.rstrip().endswith("Tot ziens.")
    # every quote in the console answer is from the guidance too
    guidance = _collapse(NORA.read_text(encoding="utf-8"))
    quotes = [part.split("”", 1)[0] for part in result.stdout.split("„")[1:]]
    assert quotes
    for quote in quotes:
        assert _collapse(quote).removesuffix(" …") in guidance


def test_chat_with_closed_stdin_exits_0(cli):
    result = cli(["chat"], stdin="")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Ketenbot" in result.stdout
    assert "Tot ziens." in result.stdout
    assert "„" not in result.stdout  # nothing was asked, nothing answered


# --- configuration errors -------------------------------------------------------------------


@pytest.mark.parametrize("command", [["index"], ["ask", "--json", "vraag"], ["run"]])
def test_invalid_setting_exits_2_naming_the_variable(workdir, data_dir, command):
    result = _run(command, workdir, data_dir, TZ="Mars/Olympus")
    assert result.returncode == 2
    assert "TZ" in result.stderr and "Mars/Olympus" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_invalid_setting_in_dotenv_of_working_directory_is_reported(tmp_path, data_dir):
    (tmp_path / ".env").write_text("CHROMA_URL=localhost:8000\n", encoding="utf-8")
    result = _run(["index"], tmp_path, data_dir)
    assert result.returncode == 2
    assert "CHROMA_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_index_on_empty_knowledge_folder_exits_2(tmp_path):
    empty = tmp_path / "knowledge"
    empty.mkdir()
    (empty / "notes.xyz").write_text("not a supported format")
    result = _run(["index"], tmp_path, tmp_path / "data", KNOWLEDGE_DIR=str(empty))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(empty) in result.stderr
    assert ".txt" in result.stderr  # says what it would have read
    assert "Index up to date" not in result.stdout


def test_index_on_missing_knowledge_folder_exits_2(tmp_path):
    missing = tmp_path / "no-such-folder"
    result = _run(["index"], tmp_path, tmp_path / "data", KNOWLEDGE_DIR=str(missing))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(missing) in result.stderr
    assert "KNOWLEDGE_DIR" in result.stderr
    assert "Index up to date" not in result.stdout


# --- index ------------------------------------------------------------------------------------


def test_first_index_parses_the_guidance(first_index):
    out = first_index.stdout
    assert "Index up to date: 1 files" in out
    assert "1 parsed" in out
    assert "chunks +0 " not in out
    assert "nora-implementatie-van-ketensturing.txt" in first_index.stderr  # progress line


def test_second_index_run_changes_nothing(cli, first_index):
    result = cli(["index"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "0 parsed" in out and "1 unchanged" in out
    assert "chunks +0 -0" in out
    # same total as after the first run
    total = first_index.stdout.split("in total")[0].rsplit(",", 1)[1].strip()
    assert f"{total} in total" in out
    assert int(total) > 0


# --- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, extra",
    [
        (["run"], {}),
        (["-v", "run"], {}),
        # a closed loopback port stands in for an unreachable Slack (tests never reach slack.com)
        (["run"], {"SLACK_APP_TOKEN": "xapp-1-A0-SECRETAPPTOKEN", "SLACK_API_URL": "http://127.0.0.1:9/api/"}),
        (["run"], {"TZ": "Mars/Olympus"}),  # configuration error path
        (["run"], {"SLACK_APP_TOKEN": "not-an-app-token"}),  # token error path
    ],
)
def test_run_with_slack_tokens_never_prints_secrets(workdir, data_dir, args, extra):
    result = _run(
        args,
        workdir,
        data_dir,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        **extra,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    both = result.stdout + result.stderr
    assert result.stderr.strip(), "an explanation is expected"
    for secret in (BOT_TOKEN, "SECRET1234567890", SIGNING_SECRET, "SECRETAPPTOKEN"):
        assert secret not in both
    if not extra:  # a bot token without an app token: Socket Mode impossible, HTTP mode not asked
        assert "SLACK_APP_TOKEN" in result.stderr and "--http" in result.stderr
    if extra.get("SLACK_APP_TOKEN", "").startswith("xapp-"):  # Slack unreachable from the tests
        assert "cannot reach Slack" in result.stderr
