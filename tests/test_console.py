"""Tests for bot.console.chat with a fake core: no model, no index, no subprocess.

The check-in tests store in a SQLite file per test (tmp_path) through the real Checkins store."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from bot.answering.model import Answer, Source
from bot.checkins import console as console_checkin
from bot.checkins.content import default_content
from bot.checkins.model import DIMENSIONS, DONT_KNOW, STAGES, CheckinResponse
from bot.checkins.store import Checkins
from bot.console import HELP, STOP_WORDS, WELCOME, chat
from bot.records.db import make_engine, migrate
from bot.records.schema import checkin_answers

QUOTE = "Neem de tijd voor ontwikkeling en leer van fouten is het devies."


class FakeAnswerer:
    def __init__(self) -> None:
        self.questions: list[str] = []

    def answer(self, text: str, *, english: bool = False, **_: object) -> Answer:
        self.questions.append(text)
        return Answer(
            question=text,
            language="nl",
            answered=True,
            framing=f"Antwoord op: {text}",
            sources=[
                Source(
                    title="NORA – Implementatie van ketensturing",
                    section="Geduld",
                    url="https://www.noraonline.nl/wiki/Ketensturing/Implementatie_van_ketensturing#Geduld",
                    licence="CC BY-ND 3.0",
                    quote=QUOTE,
                    score=0.8,
                )
            ],
        )


class TtyInput(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_chat(text: str, stdin_cls: type[io.StringIO] = io.StringIO) -> tuple[int, str, FakeAnswerer]:
    answerer = FakeAnswerer()
    core = SimpleNamespace(answerer=answerer)
    out = io.StringIO()
    code = chat(core, stdin_cls(text), out)
    return code, out.getvalue(), answerer


def test_eof_right_away_exits_zero_after_welcome():
    code, out, answerer = run_chat("")
    assert code == 0
    assert out.startswith(WELCOME)
    assert "Tot ziens." in out
    assert answerer.questions == []


def test_question_is_answered_with_the_answer_text():
    code, out, answerer = run_chat("Wat is een hiërarchiestuip?\n")
    assert code == 0
    assert answerer.questions == ["Wat is een hiërarchiestuip?"]
    assert "Ketenbot: Antwoord op: Wat is een hiërarchiestuip?" in out
    assert f"„{QUOTE}”" in out
    assert "Geduld" in out and "CC BY-ND 3.0" in out
    # the answer comes after the welcome and before the goodbye
    assert out.index(WELCOME) < out.index("Ketenbot: Antwoord") < out.rindex("Tot ziens.")


def test_question_is_stripped_before_answering():
    _, _, answerer = run_chat("   Hoe bouwen we vertrouwen op?  \t\n")
    assert answerer.questions == ["Hoe bouwen we vertrouwen op?"]


def test_several_questions_are_answered_in_order():
    _, out, answerer = run_chat("eerste vraag\ntweede vraag\n")
    assert answerer.questions == ["eerste vraag", "tweede vraag"]
    assert out.index("Antwoord op: eerste vraag") < out.index("Antwoord op: tweede vraag")


def test_blank_lines_are_ignored():
    code, out, answerer = run_chat("\n   \n\t\n\n")
    assert code == 0
    assert answerer.questions == []
    assert "Ketenbot:" not in out


@pytest.mark.parametrize("word", sorted(STOP_WORDS) + ["STOP", "  Stop  ", "Quit", "DOEI"])
def test_stop_words_end_the_chat(word):
    code, out, answerer = run_chat(f"{word}\nthis must not be answered\n")
    assert code == 0
    assert answerer.questions == []
    assert out.rstrip().endswith("Tot ziens.")


def test_stop_ends_chat_after_earlier_questions():
    code, _, answerer = run_chat("eerste vraag\nstop\ntweede vraag\n")
    assert code == 0
    assert answerer.questions == ["eerste vraag"]


def test_stop_inside_a_sentence_is_a_question():
    _, _, answerer = run_chat("Wanneer stop je met een keten?\n")
    assert answerer.questions == ["Wanneer stop je met een keten?"]


@pytest.mark.parametrize("word", ["help", "HELP", "/help", "?"])
def test_help_shows_help_text_and_is_not_a_question(word):
    code, out, answerer = run_chat(f"{word}\n")
    assert code == 0
    assert HELP in out
    assert answerer.questions == []


def test_help_then_question_still_answers():
    _, out, answerer = run_chat("help\nWat is ketensturing?\n")
    assert answerer.questions == ["Wat is ketensturing?"]
    assert out.index(HELP) < out.index("Antwoord op: Wat is ketensturing?")


def test_no_prompt_when_input_is_not_a_terminal():
    _, out, _ = run_chat("vraag\n")
    assert "vraag> " not in out


def test_prompt_when_input_is_a_terminal():
    _, out, answerer = run_chat("vraag een\nvraag twee\n", TtyInput)
    assert answerer.questions == ["vraag een", "vraag twee"]
    # one prompt per read: two questions plus the read that hits end of input
    assert out.count("vraag> ") == 3


# --- the weekly check-in in the console ------------------------------------------------------

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
CONTENT = default_content()
CREDIT_URL = CONTENT.source.url

# A full answer: stage per dimension, three pulse items, setback, three free-text lines.
FULL = "checkin\n2\n4\nculturele verankering\n4\n\n1\nja\nOverleg liep soepel\n\nWe leren van fouten\n"
FULL_RESPONSE = CheckinResponse(
    stages={
        "strategische_focus": "procedure",
        "operationeel_model": DONT_KNOW,
        "zichtbaarheid": "verankering",
    },
    pulse={"trust": 4, "learning": None, "control": 1},
    setback=True,
    went_well="Overleg liep soepel",
    went_wrong=None,
    learned="We leren van fouten",
)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path) -> Checkins:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    migrate(engine)
    return Checkins(engine)


def run_console(
    text: str,
    store: Checkins | None,
    *,
    clock: Clock | None = None,
    min_group: int = 5,
    stdin_cls: type[io.StringIO] = io.StringIO,
) -> tuple[int, str, FakeAnswerer]:
    answerer = FakeAnswerer()
    out = io.StringIO()
    code = chat(
        SimpleNamespace(answerer=answerer),
        stdin_cls(text),
        out,
        checkins=store,
        min_group=min_group,
        clock=clock or Clock(),
    )
    return code, out.getvalue(), answerer


def console_round(store: Checkins) -> dict:
    chain = store.chain_by_channel(console_checkin.CHANNEL_ID)
    assert chain is not None
    return store.latest_round_of(chain["id"])


def stored(store: Checkins):
    return store.response_of(console_round(store)["id"], console_checkin.USER_ID)


def answer_rows(store: Checkins) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(checkin_answers)).scalar_one()


def test_whole_checkin_is_stored_in_the_console_chain(store):
    code, out, answerer = run_console(FULL + "stop\n", store)
    assert code == 0
    assert answerer.questions == []  # nothing of the dialogue went to the question answerer
    chain = store.chain_by_channel("CONSOLE")
    assert chain["name"] == "Console" and chain["manager_id"] == "console"
    round_ = console_round(store)
    assert [p["user_id"] for p in store.participants(round_["id"])] == ["console"]
    assert stored(store) == (False, FULL_RESPONSE)
    assert "opgeslagen" in out and "Traceback" not in out
    assert out.rstrip().endswith("Tot ziens.")


def test_checkin_asks_the_forms_questions_in_the_forms_order(store):
    _, out, _ = run_console(FULL, store)
    asked = [CONTENT.dimension_question(d, "nl") for d in DIMENSIONS]
    asked += [CONTENT.pulse_question(k, "nl") for k in ("trust", "learning", "control")]
    asked += [CONTENT.setback_question("nl")]
    asked += [CONTENT.free_text_label(k, "nl") for k in ("went_well", "went_wrong", "learned")]
    places = [out.index(f"Ketenbot: {q}") for q in asked]
    assert places == sorted(places)


def test_checkin_shows_every_stage_quote_verbatim_and_credits_the_source_once(store):
    _, out, _ = run_console(FULL, store)
    for dim in DIMENSIONS:
        for stage in STAGES:
            assert f"„{CONTENT.quote(dim, stage)}”" in out
    before_summary = out.split("Dank je")[0]
    assert before_summary.count(CREDIT_URL) == 1
    assert before_summary.count(CONTENT.source.place) == 1
    assert before_summary.count("CC BY-ND 3.0") == 1
    assert "letterlijk geciteerd" in before_summary
    assert before_summary.count("4  Weet ik niet") == len(DIMENSIONS)
    assert "Kies 1, 2, 3 of 4." in before_summary


def test_checkin_shows_what_was_stored_and_that_slack_only_shows_aggregates(store):
    _, out, _ = run_console(FULL, store)
    after = out.split("Dank je, je antwoorden zijn opgeslagen.")[1]
    assert "Strategische focus: Procedure-georiënteerd" in after
    assert "Operationeel model: Weet ik niet" in after
    assert "Zichtbaarheid in organisatie: Culturele verankering" in after
    assert f"{CONTENT.pulse_question('trust', 'nl')} 4" in after
    assert f"{CONTENT.pulse_question('learning', 'nl')} (leeg)" in after
    assert f"{CONTENT.setback_question('nl')} Ja" in after
    assert "Wat ging goed? Overleg liep soepel" in after
    assert "alleen samengevat" in after and "vanaf 5 antwoorden" in after
    own_words = after.split("Ketenbot — tip:")[0]
    assert "„" not in own_words  # the person's own words are never set as a quote of the guidance


def test_a_check_in_with_a_setback_is_followed_by_a_patience_tip_and_one_without_by_none(store):
    from bot.nudges.advice import library

    _, out, _ = run_console(FULL, store)  # FULL reports a setback
    after = out.split("Dank je, je antwoorden zijn opgeslagen.")[1]
    assert "Ketenbot — tip:" in after
    setback_quotes = [t.quote for t in library() if "setback" in t.signals]
    assert any(q in after for q in setback_quotes)
    calm = FULL.replace("\nja\n", "\nnee\n")
    _, out2, _ = run_console(calm, store)
    assert "Ketenbot — tip:" not in out2.split("je antwoorden")[-1]


@pytest.mark.parametrize(
    ("answer", "stage"),
    [
        ("1", "opportunisme"),
        ("3.", "verankering"),
        ("0", None),  # not offered, so not accepted silently: re-asked
        ("4", DONT_KNOW),
        ("Procedure-georiënteerd", "procedure"),
        ("procedure georienteerd", "procedure"),
        ("  OPPORTUNISME ", "opportunisme"),
        ("cultur", "verankering"),
        ("Cultural embedding", "verankering"),
        ("weet ik niet", DONT_KNOW),
        ("don't know", DONT_KNOW),
    ],
)
def test_stage_answers_by_number_or_name(answer, stage):
    assert console_checkin.parse_stage(answer, CONTENT) == stage


@pytest.mark.parametrize("answer", ["", "5", "-1", "banaan", "op", "12"])
def test_stage_answers_that_are_not_a_choice(answer):
    assert console_checkin.parse_stage(answer, CONTENT) is None


def test_invalid_answers_are_asked_again_and_nothing_is_lost(store):
    text = (
        "checkin\n"
        "7\nbanaan\n2\n"  # stage: two wrong answers, then 2
        "4\n3\n"
        "0\nzes\n4\n"  # pulse: out of range, a word, then 4
        "\n1\n"
        "misschien\n\nja\n"  # setback: a word, then nothing (required), then ja
        "Overleg liep soepel\n\nWe leren van fouten\n"
    )
    code, out, _ = run_console(text, store)
    assert code == 0
    assert out.count("Dat herken ik niet. Antwoord met 1, 2, 3 of 4") == 2
    assert out.count("Kies een getal van 1 tot 5") == 2
    assert out.count("Kies ja of nee.") == 2
    assert stored(store) == (False, FULL_RESPONSE)


def test_invalid_answers_are_asked_again_in_english(store):
    _, out, _ = run_console("english\ncheckin\nbanana\nstop\n", store)
    assert "I don't recognise that. Answer with 1, 2, 3 or 4" in out


@pytest.mark.parametrize(
    "before",
    ["", "2\n", "2\n4\n3\n4\n", "2\n4\n3\n\n\n\nnee\n", "2\n4\n3\n\n\n\nnee\nGoed\n"],
    ids=["first-stage", "second-stage", "pulse", "free-text", "last-free-text"],
)
def test_sla_over_at_any_question_stores_a_skip(store, before):
    code, out, _ = run_console(f"checkin\n{before}sla over\n", store)
    assert code == 0
    assert stored(store) == (True, None)
    assert "je slaat deze week over" in out
    assert store.status(console_round(store)["id"]).skipped == 1


@pytest.mark.parametrize("word", ["stop", "STOP", "annuleer"])
def test_stop_leaves_the_checkin_without_storing_and_the_console_goes_on(store, word):
    code, out, answerer = run_console(f"checkin\n2\n4\n{word}\nWat is ketensturing?\n", store)
    assert code == 0
    assert stored(store) is None
    assert answer_rows(store) == 0
    assert "Gestopt; er is niets opgeslagen." in out
    assert answerer.questions == ["Wat is ketensturing?"]  # back in the console after 'stop'


def test_end_of_input_in_the_middle_stores_nothing_and_exits(store):
    code, out, _ = run_console("checkin\n2\n4\n", store)
    assert code == 0
    assert answer_rows(store) == 0
    assert out.rstrip().endswith("Tot ziens.")


def test_second_checkin_shows_the_answers_and_changes_them_in_one_row(store):
    clock = Clock()
    run_console(FULL, store, clock=clock)
    clock.now += timedelta(hours=1)
    # keep, change, keep; pulse keep, clear, change; setback change; free text keep, new, clear
    again = "checkin\n\n1\n\n\n-\n5\nnee\n\nIets ging mis\n-\n"
    _, out, _ = run_console(again, store, clock=clock)
    assert "Je hebt deze ronde al ingevuld" in out
    assert "2  Procedure-georiënteerd   ← eerder gekozen" in out
    assert "Enter = 2 houden." in out and "Enter = 4 houden, ‘-’ = leeg." in out
    assert "Eerder: Overleg liep soepel" in out
    assert "je antwoorden zijn gewijzigd" in out
    assert stored(store) == (
        False,
        CheckinResponse(
            stages={"strategische_focus": "procedure", "operationeel_model": "opportunisme",
                    "zichtbaarheid": "verankering"},
            pulse={"trust": 4, "learning": None, "control": 5},
            setback=False,
            went_well="Overleg liep soepel",
            went_wrong="Iets ging mis",
            learned=None,
        ),
    )
    assert answer_rows(store) == 1
    status = store.status(console_round(store)["id"])
    assert (status.invited, status.answered, status.skipped) == (1, 1, 0)


def test_checkin_twice_in_one_console_session(store):
    _, out, _ = run_console(FULL + "checkin\n\n\n\n\n\n\n\n\n\n\n", store)
    assert "je antwoorden zijn gewijzigd" in out
    assert stored(store) == (False, FULL_RESPONSE)
    assert answer_rows(store) == 1


def test_sla_over_after_answering_is_refused_and_keeps_the_answers(store):
    run_console(FULL, store)
    _, out, _ = run_console("checkin\nsla over\nstop\n", store)
    assert "al opgeslagen, dus overslaan hoeft niet" in out
    assert "er is niets gewijzigd" in out
    assert stored(store) == (False, FULL_RESPONSE)


def test_after_a_skip_the_checkin_can_still_be_filled_in(store):
    run_console("checkin\nsla over\n", store)
    _, out, _ = run_console(FULL, store)
    assert "Je sloeg deze week over" in out
    assert stored(store) == (False, FULL_RESPONSE)


def test_a_round_whose_time_is_up_is_closed_and_a_new_one_opened(store):
    clock = Clock()
    run_console(FULL, store, clock=clock)
    first = console_round(store)
    clock.now = first["closes_at"] + timedelta(minutes=1)
    _, out, _ = run_console("checkin\nsla over\n", store, clock=clock)
    assert "Je hebt deze ronde al ingevuld" not in out
    second = console_round(store)
    assert second["id"] != first["id"]
    assert store.round(first["id"])["closed_at"] is not None
    assert store.response_of(first["id"], "console") == (False, FULL_RESPONSE)
    assert stored(store) == (True, None)


def test_console_round_never_reaches_slack(store):
    """If the same database is later used with Slack, the scheduler leaves this round alone."""
    clock = Clock()
    run_console("checkin\nstop\n", store, clock=clock)
    round_ = console_round(store)
    assert store.to_invite(round_["id"]) == []
    assert store.to_remind(round_["id"]) == []
    store.close_round(round_["id"], clock.now)
    assert store.rounds_without_summary() == []


@pytest.mark.parametrize("word", ["check-in", "incheck", "CheckIn"])
def test_checkin_aliases_start_the_dialogue(store, word):
    _, out, answerer = run_console(f"{word}\nsla over\n", store)
    assert answerer.questions == []
    assert stored(store) == (True, None)


def test_checkin_in_english_keeps_the_quotes_dutch(store):
    text = (
        "english\ncheckin\n2\ndon't know\nCultural embedding\n4\n\n1\nyes\n"
        "Overleg liep soepel\n\nWe leren van fouten\n"
    )
    _, out, _ = run_console(text, store)
    assert "From now on my own words are in English" in out
    assert CONTENT.dimension_question("strategische_focus", "en") in out
    assert CONTENT.dimension_question("strategische_focus", "nl") not in out
    assert "2  Procedure-oriented" in out
    assert f"„{CONTENT.quote('strategische_focus', 'procedure')}”" in out
    assert "quoted word for word, in Dutch" in out
    assert "only sees them in aggregate" in out
    assert stored(store) == (False, FULL_RESPONSE)


def test_nederlands_switches_back(store):
    _, out, _ = run_console("english\nnederlands\ncheckin\nstop\n", store)
    assert CONTENT.dimension_question("strategische_focus", "nl") in out


def test_uitslag_before_any_round(store):
    _, out, answerer = run_console("checkin uitslag\n", store)
    assert "nog geen check-in-ronde" in out
    assert answerer.questions == []


@pytest.mark.parametrize("command", ["checkin uitslag", "checkin resultaat", "check-in uitslag", "uitslag"])
def test_uitslag_hides_the_distribution_below_min_group(store, command):
    run_console(FULL, store)
    _, out, answerer = run_console(f"{command}\n", store)
    assert answerer.questions == []
    assert "Check-in van ‘Console’: 1 van 1 uitgenodigden vulden hem in." in out
    assert "nog te weinig antwoorden (minimaal 5)" in out
    assert "Procedure-georiënteerd:" not in out and "%" not in out
    assert f"„{CONTENT.not_always_needed}”" in out and CREDIT_URL in out
    assert "Overleg liep soepel" not in out  # no free text, no single answer in a summary


def test_uitslag_shows_the_distribution_from_min_group(store):
    clock = Clock()
    run_console(FULL, store, clock=clock)
    round_ = console_round(store)
    store.fix_participants(round_["id"], ["U1", "U2", "U3"], clock.now)
    for user in ("U1", "U2", "U3"):  # the scheduler's invitations
        store.mark(round_["id"], user, "invited_at", clock.now)
    other = CheckinResponse(
        stages={d: "opportunisme" for d in DIMENSIONS}, pulse={"trust": 3, "learning": 3, "control": None},
        setback=False,
    )
    store.save_response(round_["id"], "U1", other, clock.now)
    store.save_response(round_["id"], "U2", other, clock.now)
    store.save_response(round_["id"], "U3", None, clock.now)
    _, out, _ = run_console("checkin uitslag\n", store, clock=clock, min_group=3)
    assert "3 van 4 uitgenodigden vulden hem in. Overgeslagen: 1." in out
    assert "nog te weinig" not in out
    strategic = out.split("Strategische focus\n")[1].split("\n\n")[0]
    assert "  - Opportunisme: 2 (67%)" in strategic
    assert "  - Procedure-georiënteerd: 1 (33%)" in strategic
    assert "  - Culturele verankering: 0 (0%)" in strategic
    assert "  - Weet ik niet: 0 (0%)" in strategic


def test_checkin_results_in_english(store):
    run_console(FULL, store)
    _, out, _ = run_console("english\ncheckin results\n", store)
    assert "Distribution per part: not enough answers yet (at least 5)." in out


def test_unknown_checkin_subcommand_explains_what_works(store):
    _, out, answerer = run_console("checkin start\n", store)
    assert "'checkin uitslag'" in out
    assert answerer.questions == []
    assert store.chain_by_channel("CONSOLE") is None


def test_a_sentence_starting_with_checkin_is_a_question(store):
    _, _, answerer = run_console("check-in: hoe werkt dat precies?\n", store)
    assert answerer.questions == ["check-in: hoe werkt dat precies?"]


def test_checkin_without_a_database_says_so(store):
    code, out, answerer = run_chat("checkin\nWat is ketensturing?\n")
    assert code == 0
    assert "geen database" in out
    assert answerer.questions == ["Wat is ketensturing?"]


def test_checkin_prompts_on_a_terminal(store):
    _, out, _ = run_console("checkin\n2\n4\n3\n4\n\n1\nja\n\n\n\n", store, stdin_cls=TtyInput)
    assert out.count("1-4> ") == 3
    assert out.count("1-5> ") == 3
    assert out.count("ja/nee> ") == 1
    assert "\n> " in out


def test_help_and_welcome_mention_the_checkin():
    assert "'checkin'" in WELCOME
    assert "'checkin'" in HELP and "'checkin uitslag'" in HELP


def test_cmd_chat_opens_the_records_database_for_the_checkin(tmp_path, monkeypatch, capsys):
    """``ketenbot chat`` (and ``run`` without Slack) gives the console a check-in store."""
    from bot import cli
    from bot.settings import load_settings

    settings = load_settings({"DATA_DIR": str(tmp_path / "data")}, env_file=None)
    monkeypatch.setattr(cli, "_build", lambda s, progress: SimpleNamespace(answerer=FakeAnswerer()))
    monkeypatch.setattr("sys.stdin", io.StringIO("checkin\nsla over\n"))
    assert cli.cmd_chat(settings, SimpleNamespace()) == 0
    assert "je slaat deze week over" in capsys.readouterr().out
    engine = make_engine(settings.database_url)
    assert stored(Checkins(engine)) == (True, None)


def test_tip_gives_a_coaching_tip_with_its_verbatim_quote_and_no_repeats():
    from bot.nudges.advice import library

    _, out, answerer = run_chat("tip\ntip\ntip\n")
    assert answerer.questions == []
    lines = [line for line in out.splitlines() if line.startswith("Ketenbot — tip: ")]
    assert len(lines) == 3 and len(set(lines)) == 3
    general = {t.nl for t in library() if t.general}
    assert all(line.removeprefix("Ketenbot — tip: ") in general for line in lines)
    assert out.count("CC BY-ND 3.0") == 3 and out.count("„") == 3
