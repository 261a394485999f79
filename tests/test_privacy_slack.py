"""/keten mijn-gegevens and /keten vergeet-mij through the real Bolt app and the fake Slack; what
the logs, the vector index and the CSV export hold about a person after a whole flow (nothing)."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import create_engine

from bot.checkins import forms
from bot.checkins.runner import DueRunner
from bot.checkins.service import CheckinService
from bot.checkins.store import Checkins
from bot.console import chat
from bot.privacy.erase import preview
from bot.privacy.export import collect
from bot.privacy.places import ERASED
from bot.records.outbox import Outbox
from bot.records.store import Records
from bot.settings import load_settings
from bot.slack import ids
from bot.slack.app import create_app, make_client
from bot.slack.deps import SlackDeps
from bot.slack.locales import UserLocales
from bot.slack.messenger import SlackMessenger
from tests.fakes.slack_api import RESPONSE, FakeSlack
from tests.fakes.slack_requests import SECRET, StubAnswerer, bolt_headers, event_body
from tests.test_checkin_forms import state_values
from tests.test_privacy import NOW, OTHER, OTHER_TEXT, TEXT, USER, cells_holding, seed
from tests.test_privacy import RESPONSE as CHECKIN

AMS = ZoneInfo("Europe/Amsterdam")
ADMIN = "U0ADMIN003"


class World:
    def __init__(self, fake, app, records, outbox, clock, engine):  # noqa: ANN001
        self.fake, self.app, self.records, self.outbox, self.clock, self.engine = (
            fake,
            app,
            records,
            outbox,
            clock,
            engine,
        )

    def send(self, body: str, content_type: str = "application/x-www-form-urlencoded"):  # noqa: ANN201
        return self.app.dispatch(BoltRequest(body=body, headers=bolt_headers(body, content_type)))

    def command(self, user: str, text: str, channel: str = "C0ANYWHERE") -> dict:
        key = f"cmd{time.monotonic_ns()}"
        body = urlencode(
            {
                "token": "unused",
                "team_id": "T0KETEN001",
                "channel_id": channel,
                "user_id": user,
                "command": "/keten",
                "text": text,
                "api_app_id": "A0KETENBOT",
                "response_url": self.fake.response_url(key),
                "trigger_id": self.fake.issue_trigger_id(),
            }
        )
        assert self.send(body).status == 200
        return self.wait_reply(key)

    def click(self, user: str, action_id: str, value: str) -> dict:
        key = f"click{time.monotonic_ns()}"
        payload = {
            "type": "block_actions",
            "team": {"id": "T0KETEN001", "domain": "keten"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0KETEN001"},
            "api_app_id": "A0KETENBOT",
            "token": "unused",
            "trigger_id": self.fake.issue_trigger_id(),
            "container": {
                "type": "message",
                "message_ts": "1.000001",
                "channel_id": "C0ANYWHERE",
                "is_ephemeral": True,
            },
            "channel": {"id": "C0ANYWHERE", "name": "ergens"},
            "response_url": self.fake.response_url(key),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": ids.PRIVACY_FORGET_BLOCK,
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
            "state": {"values": {}},
        }
        assert self.send(urlencode({"payload": json.dumps(payload)})).status == 200
        return self.wait_reply(key)

    def wait_reply(self, key: str, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [c for c in self.fake.calls(RESPONSE) if c.args.get("key") == key]
            if found:
                return found[0].args
            time.sleep(0.02)
        raise AssertionError("no reply")


def _world(fake, engine, tmp_path, answerer=None, checkins=None, due=None):  # noqa: ANN001, ANN202
    for user in (USER, OTHER, ADMIN):
        fake.add_user(user)
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.base_url,
            "ADMIN_USER_IDS": ADMIN,
        },
        env_file=None,
    )
    client = make_client(settings)
    records = Records(engine)
    outbox = Outbox(tmp_path / "data" / "outbox.jsonl")
    clock = {"now": NOW}
    deps = SlackDeps(
        answerer or StubAnswerer(),
        records,
        outbox=outbox,
        checkins=checkins,
        due=due,
        locales=UserLocales(lookup=records.language_of),
        clock=lambda: clock["now"],
    )
    return World(fake, create_app(settings, deps, client), records, outbox, clock, engine)


@pytest.fixture
def world(engine, tmp_path):
    with FakeSlack() as fake:
        w = _world(fake, engine, tmp_path)
        seed(engine, w.outbox)  # USER chose English, OTHER Dutch
        yield w


def _button(reply: dict, action_id: str) -> dict:
    for block in reply.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button")


# ----------------------------------------------------------------------------- mijn-gegevens


def test_my_data_arrives_in_the_dm_as_a_json_file_with_everything(world):
    reply = world.command(USER, "my-data")
    assert reply["response_type"] == "ephemeral" and "Your data is in your DM" in reply["text"]
    completed = world.fake.calls("files.completeUploadExternal")
    assert len(completed) == 1 and completed[0].ok
    assert completed[0].args["channel_id"] == world.fake.dm_channel(USER)
    file_id = world.fake.calls("files.getUploadURLExternal")[0].response["file_id"]
    data = json.loads(world.fake.uploaded(file_id).decode("utf-8"))
    expected = collect(world.engine, USER, outbox=world.outbox, now=NOW)
    assert data == json.loads(json.dumps(expected)) and sum(data["about"]["counts"].values()) > 20
    assert data["about"]["user_id"] == USER and OTHER_TEXT not in json.dumps(data)
    name = world.fake.calls("files.getUploadURLExternal")[0].args["filename"]
    assert name.startswith("ketenbot-mijn-gegevens-") and name.endswith(".json")


@pytest.mark.parametrize("words", ["mijn-gegevens", "mijn gegevens", "Mijn-Gegevens"])
def test_my_data_in_dutch_for_a_dutch_user(world, words):
    reply = world.command(OTHER, words)
    assert "Je gegevens staan als bestand in je DM" in reply["text"]


def test_my_data_when_slack_refuses_the_file_or_the_database_is_down(world):
    world.fake.fail_next("files.getUploadURLExternal", status=200, error="not_allowed_token_type")
    assert "Slack nam het bestand nu niet aan" in world.command(OTHER, "mijn-gegevens")["text"]
    world.records.engine = create_engine("postgresql+psycopg://127.0.0.1:1/none")
    assert "opslag is even niet bereikbaar" in world.command(OTHER, "mijn-gegevens")["text"]
    assert not [c for c in world.fake.calls("files.completeUploadExternal") if c.ok]


# ----------------------------------------------------------------------------- vergeet-mij


def test_forget_me_asks_first_and_only_the_asker_can_confirm_once(world):
    ask = world.command(USER, "forget-me")
    assert ask["response_type"] == "ephemeral" and "Erase everything" in ask["text"]
    assert "3 questions and answers" in ask["text"] and "1 language preference" in ask["text"]
    confirm = _button(ask, ids.PRIVACY_FORGET_CONFIRM)
    assert confirm["style"] == "danger" and _button(ask, ids.PRIVACY_FORGET_CANCEL)
    before = preview(world.engine, USER, outbox=world.outbox)

    someone_else = world.click(OTHER, ids.PRIVACY_FORGET_CONFIRM, confirm["value"])
    # told in their own language (Dutch), the asker's message left alone
    assert (
        "Deze knop is van iemand anders" in someone_else["text"] and someone_else["replace_original"] is False
    )
    assert preview(world.engine, USER, outbox=world.outbox) == before  # nothing erased

    done = world.click(USER, ids.PRIVACY_FORGET_CONFIRM, confirm["value"])
    assert done["replace_original"] is True and done["text"].startswith("*Erased.*")  # in English
    assert "• 3 questions and answers" in done["text"] and "*Keten A*" in done["text"]
    assert "blocks" not in done or not done["blocks"]  # the button is gone
    for needle in (USER, TEXT):
        assert cells_holding(world.engine, needle) == {}
    assert all(USER not in e.line for e in world.outbox.entries())
    assert world.records.language_of(OTHER) == "nl" and collect(world.engine, OTHER)["answers"]
    assert Checkins(world.engine).chain_by_channel("C0CHAIN0A")["manager_id"] == ERASED

    twice = world.click(USER, ids.PRIVACY_FORGET_CONFIRM, confirm["value"])  # a second click
    assert "nothing was erased" in twice["text"]
    assert (
        world.command(USER, "vergeet-mij")["text"] == "Ketenbot bewaart niets over je; er is niets te wissen."
    )


def test_forget_me_cancelled_or_expired_erases_nothing(world):
    before = preview(world.engine, USER, outbox=world.outbox)
    ask = world.command(USER, "vergeet mij")
    cancelled = world.click(USER, ids.PRIVACY_FORGET_CANCEL, _button(ask, ids.PRIVACY_FORGET_CANCEL)["value"])
    assert cancelled["text"] == "Fine, nothing was erased." and cancelled["replace_original"] is True
    ask = world.command(USER, "vergeet-mij")
    world.clock["now"] = NOW + timedelta(minutes=16)
    expired = world.click(USER, ids.PRIVACY_FORGET_CONFIRM, _button(ask, ids.PRIVACY_FORGET_CONFIRM)["value"])
    assert "has expired" in expired["text"]
    forged = world.click(USER, ids.PRIVACY_FORGET_CONFIRM, "not json at all")
    assert "belongs to someone else" in forged["text"]
    assert preview(world.engine, USER, outbox=world.outbox) == before


def test_forget_me_with_the_database_down_keeps_everything_and_can_be_tried_again(world):
    good = world.records.engine
    before = preview(good, USER, outbox=world.outbox)
    ask = world.command(OTHER, "vergeet-mij")
    value = _button(ask, ids.PRIVACY_FORGET_CONFIRM)["value"]
    world.records.engine = create_engine("postgresql+psycopg://127.0.0.1:1/none")
    down = world.click(OTHER, ids.PRIVACY_FORGET_CONFIRM, value)
    assert "opslag is even niet bereikbaar; er is niets gewist" in down["text"]
    assert down["replace_original"] is False  # the button stays
    assert "opslag is even niet bereikbaar" in world.command(OTHER, "vergeet-mij")["text"]
    assert preview(good, USER, outbox=world.outbox) == before
    world.records.engine = good
    assert world.click(OTHER, ids.PRIVACY_FORGET_CONFIRM, value)["text"].startswith("*Gewist.*")
    assert cells_holding(good, OTHER) == {} and preview(good, USER, outbox=world.outbox)["answers"] == 3


@pytest.mark.parametrize("text", ["vergeet-mij nu meteen", "my-data please", "mijn gegevens graag"])
def test_extra_words_get_the_usage_and_change_nothing(world, text):
    before = preview(world.engine, USER, outbox=world.outbox)
    reply = world.command(OTHER, text)
    assert "Meer woorden zijn niet nodig" in reply["text"]
    assert preview(world.engine, USER, outbox=world.outbox) == before and not world.fake.calls(
        "files.completeUploadExternal"
    )


def test_help_names_both_commands(world):
    text = world.command(OTHER, "help")["text"]
    assert "/keten mijn-gegevens" in text and "/keten vergeet-mij" in text


# ----------------------------------------------------------------------------- the console


def test_the_console_writes_my_data_to_a_file_and_says_where(engine, tmp_path):
    import io

    from bot.checkins.console import USER_ID

    store = Checkins(engine)
    chain = store.register_chain("Console", "CONSOLE", USER_ID)
    round_ = store.open_round(chain, opened_by=USER_ID, now=NOW)
    store.fix_participants(round_["id"], [USER_ID], NOW)
    store.save_response(round_["id"], USER_ID, CHECKIN, NOW)

    class NoAnswers:
        def answer(self, *a, **k):  # noqa: ANN002, ANN003, ANN202
            raise AssertionError("no question was asked")

    out = io.StringIO()
    chat(
        type("Core", (), {"answerer": NoAnswers()})(),
        io.StringIO(f"mijn-gegevens\nmy-data {tmp_path / 'elders' / 'ik.json'}\nstop\n"),
        out,
        checkins=store,
        clock=lambda: NOW,
        export_dir=tmp_path,
    )
    written = sorted(tmp_path.glob("ketenbot-mijn-gegevens-console-*.json"))
    assert len(written) == 1 and f"Je gegevens staan in {written[0]}" in out.getvalue()
    data = json.loads(written[0].read_text(encoding="utf-8"))
    assert (
        data["about"]["counts"]["checkin_answers"] == 1
        and data["checkin_answers"][0]["chain_name"] == "Console"
    )
    assert (written[0].stat().st_mode & 0o777) == 0o600
    assert (tmp_path / "elders" / "ik.json").is_file()


def test_the_console_without_storage_says_so(tmp_path):
    import io

    out = io.StringIO()
    chat(
        type("Core", (), {"answerer": None})(), io.StringIO("mijn-gegevens\nstop\n"), out, export_dir=tmp_path
    )
    assert "kunnen nu niet worden opgehaald" in out.getvalue() and not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- logs, vectors, CSV


def _whole_flow(w: World, store: Checkins, runner: DueRunner) -> None:
    """A question by mention and by /keten, feedback, a check-in answered in the form, the export
    and the erasure: everything a person does with Ketenbot."""
    question = f"Hoe bouwen we vertrouwen op tussen de partners {TEXT}?"
    body = event_body(
        {
            "type": "app_mention",
            "user": USER,
            "channel": "C0CHAIN0A",
            "ts": "1700000100.000100",
            "event_ts": "1700000100.000100",
            "text": f"<@U0KETENBOT> {question}",
        },
        "EvPrivacy1",
    )
    assert w.send(body, "application/json").status == 200
    w.fake.wait_for_calls("chat.postMessage", 1, timeout=20)
    private = w.command(USER, f"vraag Wat doet een ketenregisseur {TEXT}?", channel="C0CHAIN0A")
    answer_id = next(
        e["value"]
        for b in private.get("blocks") or []
        for e in b.get("elements") or []
        if e.get("action_id") == ids.ANSWER_FEEDBACK_UP
    )
    w.click(USER, ids.ANSWER_FEEDBACK_UP, answer_id)
    # a check-in: the runner invites, USER answers in the form
    chain = store.register_chain("Keten C", "C0CHAIN0C", ADMIN)
    round_ = store.open_round(chain, opened_by=ADMIN, now=NOW)
    store.fix_participants(round_["id"], [USER, OTHER], NOW)
    runner.run(NOW.replace(hour=9))
    view = forms.checkin_modal(round_["id"], "Keten C", "nl").to_dict()
    answer = CHECKIN.__class__(CHECKIN.stages, CHECKIN.pulse, True, f"goed {TEXT}", None, None)
    submission = {
        "type": "view_submission",
        "team": {"id": "T0KETEN001", "domain": "keten"},
        "user": {"id": USER, "username": "u", "team_id": "T0KETEN001"},
        "api_app_id": "A0KETENBOT",
        "token": "unused",
        "trigger_id": "1.2.3",
        "view": {**view, "state": {"values": state_values(answer)}},
        "response_urls": [],
    }
    assert w.send(urlencode({"payload": json.dumps(submission)})).status == 200
    assert store.response_of(round_["id"], USER) is not None
    w.command(USER, "mijn-gegevens")
    ask = w.command(USER, "vergeet-mij")
    w.click(USER, ids.PRIVACY_FORGET_CONFIRM, _button(ask, ids.PRIVACY_FORGET_CONFIRM)["value"])


@pytest.fixture
def guidance(tmp_path, knowledge_copy):
    """The real retrieval and answering over a Chroma index of the guidance (fast test vectors)."""
    from bot.answering.compose import Answerer
    from bot.index.indexer import sync_index
    from bot.index.store import open_store
    from bot.retrieval.glossary import Glossary
    from bot.retrieval.hybrid import GuidanceSearch
    from tests.conftest import CountingEmbeddings, make_settings

    embeddings = CountingEmbeddings()
    store = open_store(make_settings(tmp_path / "chroma", knowledge_copy), embeddings)
    sync_index(store, knowledge_copy)
    search = GuidanceSearch(store, embeddings, Glossary.load(knowledge_copy))
    return store, Answerer(search)


def test_after_a_whole_flow_no_user_id_or_message_text_is_in_the_logs_or_the_vector_index(
    engine, tmp_path, guidance, caplog
):
    chroma, answerer = guidance
    before = chroma.all_records()
    with FakeSlack() as fake:
        fake.add_channel("C0CHAIN0C", name="keten-c", members=[USER, OTHER])
        store = Checkins(engine)
        settings_client = make_client(
            load_settings({"SLACK_BOT_TOKEN": fake.token, "SLACK_API_URL": fake.base_url}, env_file=None)
        )
        runner = DueRunner(store, SlackMessenger(settings_client), zone=AMS, min_group=3)
        service = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=3, directory=runner.messenger)
        w = _world(fake, engine, tmp_path, answerer=answerer, checkins=service, due=runner)
        caplog.set_level(logging.INFO)
        _whole_flow(w, store, runner)
    # the vector index holds the guidance only, unchanged by anything a person did
    after = chroma.all_records()
    assert after == before
    everything = json.dumps(after, ensure_ascii=False)
    for needle in (USER, OTHER, TEXT, "C0CHAIN0A", "vertrouwen op tussen de partners ERASEME"):
        assert needle not in everything
    # the logs: nothing at INFO and above names the person or quotes what they wrote
    standard = set(vars(logging.makeLogRecord({})))
    shown = []
    for record in caplog.records:
        if record.levelno < logging.INFO:
            continue
        extra = {k: v for k, v in vars(record).items() if k not in standard}
        shown.append(f"{record.name} {record.getMessage()} {record.exc_text or ''} {extra}")
    leaks = [line for line in shown if USER in line or TEXT in line or "ketenregisseur" in line]
    assert shown and not leaks, leaks
    assert cells_holding(engine, USER) == {} and cells_holding(engine, TEXT) == {}


def test_the_csv_report_export_holds_no_user_ids_and_no_free_text(engine):
    from bot.reports.demo import fill_demo
    from bot.reports.export import report_csv
    from bot.reports.service import ReportService

    fill_demo(engine, chains=4, weeks=8, now=NOW)
    store = Checkins(engine)
    store.grant("U0COORD001", "coordinator", by=ADMIN)
    service = ReportService(engine, store, admins=(ADMIN,), min_group=5, zone=AMS, clock=lambda: NOW)
    report = service.request("U0COORD001", "8", "nl", surface="export").report
    assert report is not None and report.chains
    with engine.connect() as conn:
        from sqlalchemy import select

        from bot.records.schema import chains, checkin_answers, participants

        people = {u for (u,) in conn.execute(select(participants.c.user_id))}
        managers = {u for (u,) in conn.execute(select(chains.c.manager_id))}
        texts = {
            t
            for row in conn.execute(
                select(checkin_answers.c.went_well, checkin_answers.c.went_wrong, checkin_answers.c.learned)
            )
            for t in row
            if t
        }
    assert people and texts
    for language in ("nl", "en"):
        csv_text = report_csv(report, language, zone=AMS)
        assert not re.search(r"\b[UW][A-Z0-9]{6,}\b", csv_text)
        assert not any(u in csv_text for u in people | managers | {"U0COORD001", ADMIN})
        assert not any(t in csv_text for t in texts)
