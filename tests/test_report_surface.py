"""Reports for people: who sees what, bad requests, logging of views, and the Slack surfaces."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from slack_bolt import BoltRequest

from bot.checkins.service import CheckinService
from bot.checkins.store import COORDINATOR, Checkins
from bot.records.store import Records
from bot.reports.demo import fill_demo
from bot.reports.service import STAGE_QUOTES, ReportService, report_blocks, report_text
from bot.settings import load_settings
from bot.slack.app import create_app, make_client
from bot.slack.deps import SlackDeps
from tests.conftest import KNOWLEDGE
from tests.fakes.slack_api import RESPONSE, FakeSlack
from tests.fakes.slack_requests import SECRET, StubAnswerer, bolt_headers, event_body

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
COORD, ADMIN, MEMBER = "U0COORD01", "U0ADMIN01", "UDEMO01M01"
MANAGER = "UDEMO01MGR"  # manages the first demo chain


@pytest.fixture
def filled(engine):
    fill_demo(engine, chains=6, weeks=12, now=NOW)
    store = Checkins(engine)
    store.grant(COORD, COORDINATOR, by=ADMIN)
    service = ReportService(engine, store, admins=(ADMIN,), min_group=5, zone=AMS, clock=lambda: NOW)
    return engine, store, service


def test_the_guidance_quotes_in_reports_are_verbatim():
    text = (KNOWLEDGE / "nora-implementatie-van-ketensturing.txt").read_text(encoding="utf-8")
    assert all(quote in text for quote in STAGE_QUOTES.values())


def test_coordinators_see_every_chain_managers_their_own_members_none(filled):
    _, store, service = filled
    everyone = service.request(COORD, "", "nl", surface="slack").report
    assert len(everyone.chains) == 6
    own = service.request(MANAGER, "", "nl", surface="slack").report
    managed = {c["id"] for c in store.chains_managed_by(MANAGER)}
    assert {c.chain_id for c in own.chains} == managed and len(managed) == 1
    refused = service.request(MEMBER, "", "nl", surface="slack")
    assert refused.report is None and "coördinatoren" in refused.message
    other = next(c for c in store.all_chains() if c["id"] not in managed)
    not_mine = service.request(MANAGER, other["name"], "en", surface="slack")
    assert not_mine.report is None and "that you may see" in not_mine.message


@pytest.mark.parametrize("args", ["0", "105", "99999999999", "-3", "tien weken", "weken"])
def test_absurd_or_non_numeric_weeks_get_a_clear_message(filled, args):
    _, _, service = filled
    request = service.request(COORD, args, "nl", surface="slack")
    assert request.report is None
    assert "weken" in request.message or "ken geen keten" in request.message


def test_an_unknown_chain_is_named_politely_with_the_choices(filled):
    _, _, service = filled
    request = service.request(COORD, "Ruimtevaartketen 8", "nl", surface="slack")
    assert (
        request.report is None
        and "Ruimtevaartketen" in request.message
        and "Zorgketen Oost" in request.message
    )


def test_every_view_is_logged_with_who_and_what_but_no_figures(filled):
    engine, _, service = filled
    before = service.views()
    service.request(COORD, "Zorgketen 8", "nl", surface="slack")
    service.request(MANAGER, "", "en", surface="home")
    assert service.views() == before + 2
    with engine.connect() as conn:
        from sqlalchemy import select

        from bot.records.schema import report_views

        rows = conn.execute(select(report_views).order_by(report_views.c.viewed_at)).mappings().all()
    assert {r["user_id"] for r in rows} == {COORD, MANAGER}
    assert any(r["scope"] == "Zorgketen; 8 weeks" for r in rows)


def test_one_chain_report_quotes_the_guidance_and_never_names_anyone(filled):
    _, store, service = filled
    report = service.request(COORD, "Zorgketen Oost", "nl", surface="cli").report
    text = report_text(report, "nl", AMS)
    assert "„" in text and "Vaak kan het bij de procedure georiënteerde fase blijven." in text
    assert "UDEMO" not in text and "geen score" in text
    blocks = json.dumps([b.to_dict() for b in report_blocks(report, "en", AMS)], ensure_ascii=False)
    assert "UDEMO" not in blocks and "not a score" in blocks and "CC BY-ND 3.0" in blocks


def test_the_small_chain_shows_no_figures(filled):
    _, _, service = filled
    report = service.request(COORD, "Schuldhulpketen Zuid", "nl", surface="cli").report
    text = report_text(report, "nl", AMS)
    assert text.count("te weinig antwoorden") >= 4 and "Opportunisme ·" not in text


# ----------------------------------------------------------------------------- in Slack


@pytest.fixture
def slack(filled):
    engine, store, service = filled
    with FakeSlack() as fake:
        for user in (COORD, ADMIN, MANAGER, MEMBER):
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
        checkins = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=5)
        deps = SlackDeps(
            StubAnswerer(), Records(engine), checkins=checkins, reports=service, clock=lambda: NOW
        )
        yield fake, create_app(settings, deps, client)


def _command(app, fake, user: str, text: str, channel: str = "C0ANYWHERE") -> dict:
    key = f"r{time.monotonic_ns()}"
    body = urlencode(
        {
            "token": "unused",
            "team_id": "T0KETEN001",
            "channel_id": channel,
            "user_id": user,
            "command": "/keten",
            "text": text,
            "api_app_id": "A0KETENBOT",
            "response_url": fake.response_url(key),
            "trigger_id": fake.issue_trigger_id(),
        }
    )
    assert (
        app.dispatch(
            BoltRequest(body=body, headers=bolt_headers(body, "application/x-www-form-urlencoded"))
        ).status
        == 200
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [c for c in fake.calls(RESPONSE) if c.args.get("key") == key]
        if found:
            return found[0].args
        time.sleep(0.05)
    raise AssertionError("no reply")


def test_rapport_goes_to_the_askers_dm_with_a_chart(slack):
    fake, app = slack
    reply = _command(app, fake, MANAGER, "rapport")
    assert reply["response_type"] == "ephemeral" and "DM" in reply["text"]
    dm = fake.dm_channel(MANAGER)
    posts = [c for c in fake.calls("chat.postMessage") if c.args.get("channel") == dm]
    assert len(posts) == 1 and "UDEMO01M0" not in json.dumps(posts[0].args["blocks"])  # no member
    completed = fake.calls("files.completeUploadExternal")
    assert completed and completed[-1].ok and completed[-1].args.get("channel_id") == dm
    upload = [c for c in fake.calls("upload")]
    assert upload and upload[-1].status == 200
    asked = fake.calls("files.getUploadURLExternal")  # where Slack takes alt_txt
    assert asked and all("Grafiek van" in (c.args.get("alt_txt") or "") for c in asked)


def test_a_member_asking_for_a_report_is_told_who_can(slack):
    fake, app = slack
    reply = _command(app, fake, MEMBER, "rapport")
    assert "coördinatoren" in reply["text"] and fake.calls("chat.postMessage") == []


def test_export_is_for_coordinators_and_holds_aggregates_only(slack):
    fake, app = slack
    assert "coördinatoren" in _command(app, fake, MANAGER, "export")["text"].lower()
    assert "DM" in _command(app, fake, COORD, "export 12")["text"]
    uploads = [c for c in fake.calls("upload") if c.status == 200]
    assert uploads


def test_the_app_home_shows_a_coordinator_every_chain_and_a_member_their_own_answers(slack):
    fake, app = slack
    for user, event_id in ((COORD, "EvHome1"), (MEMBER, "EvHome2")):
        body = event_body(
            {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0HOME",
                "tab": "home",
                "event_ts": "1700000000.000100",
            },
            event_id,
        )
        assert app.dispatch(BoltRequest(body=body, headers=bolt_headers(body))).status == 200
    published = fake.wait_for_calls("views.publish", 2, timeout=20)  # answered, not just arrived
    views = {c.args["user_id"]: json.dumps(c.args["view"], ensure_ascii=False) for c in published}
    assert "Zorgketen Oost" in views[COORD] and "Jeugdketen Noord" in views[COORD]
    assert "Jouw laatste check-ins" in views[MEMBER] and "Zorgketen Oost" not in views[MEMBER]
    assert len(published) == 2 and all(c.ok for c in published)


def test_the_console_practice_chain_never_appears_in_reports(filled):
    engine, store, service = filled
    practice = store.register_chain("Console", "CONSOLE", "console")
    round_ = store.open_round(practice, opened_by="console", now=NOW)
    store.fix_participants(round_["id"], ["console"], NOW)
    report = service.request(COORD, "", "nl", surface="cli").report
    assert "Console" not in [c.chain_name for c in report.chains] and len(report.chains) == 6


def test_one_chains_report_shows_its_comments_without_names_and_the_overview_none(filled):
    _, _, service = filled
    one = service.request(COORD, "Zorgketen Oost", "nl", surface="cli").report
    text = report_text(one, "nl", AMS)
    assert "woorden van deelnemers, zonder namen" in text
    assert one.chains[0].comments and not any("UDEMO" in c for c in one.chains[0].comments)
    overview = report_text(service.request(COORD, "", "nl", surface="cli").report, "nl", AMS)
    assert "woorden van deelnemers" not in overview


def test_keten_tip_in_a_chains_channel_fits_its_latest_check_in(slack, filled):
    from bot.nudges.advice import for_chain, library, signals_of

    fake, app = slack
    _, store, service = filled
    zorg = next(c for c in store.all_chains() if c["name"] == "Zorgketen Oost")
    signals, stage = signals_of(for_chain(service, zorg["id"], NOW))
    reply = _command(app, fake, MEMBER, "tip", channel=zorg["channel_id"])
    assert reply["response_type"] == "ephemeral"
    shown = json.dumps(reply["blocks"], ensure_ascii=False)
    (tip,) = [t for t in library() if t.quote in shown]
    assert (set(tip.signals) & set(signals)) if signals else tip.general
    assert "CC BY-ND 3.0" in shown and "Tip van Ketenbot" in shown


def test_after_a_reported_setback_the_tip_is_about_patience_and_learning_not_control():
    from bot.nudges.advice import choose
    from bot.reports.model import ChainReport, RoundFigures

    last = RoundFigures(
        "r1", NOW, True, 8, 7, 0, {}, {"strategische_focus": 2.0}, {"trust": 3.4, "control": 2.0}, 3, 0.87
    )
    chain = ChainReport(
        "c1", "Zorgketen", [last], {"strategische_focus": 2.0}, {"strategische_focus": "steady"}
    )
    import random

    for seed in range(10):
        tip = choose(chain, rng=random.Random(seed))
        assert "setback" in tip.signals


def test_a_rising_control_reflex_is_a_signal_even_below_the_level():
    from bot.nudges.advice import signals_of
    from bot.reports.model import ChainReport, RoundFigures

    def week(n: int, control: float) -> RoundFigures:
        return RoundFigures(f"r{n}", NOW, True, 8, 7, 0, {}, {}, {"trust": 3.5, "control": control}, 0, 0.87)

    calm = ChainReport("c", "K", [week(1, 1.8), week(2, 2.0)], None, None)
    rising = ChainReport("c", "K", [week(1, 1.8), week(2, 2.6)], None, None)
    assert "control_reflex" not in signals_of(calm)[0]
    assert "control_reflex" in signals_of(rising)[0]
