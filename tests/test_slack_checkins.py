"""Check-ins through the real Bolt app and the fake Slack: commands, DMs, the form, closing."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from slack_bolt import BoltRequest

from bot.checkins import forms
from bot.checkins.model import CheckinResponse
from bot.checkins.runner import DueRunner
from bot.checkins.service import CheckinService
from bot.checkins.store import Checkins
from bot.records.store import Records
from bot.settings import load_settings
from bot.slack.app import create_app, make_client
from bot.slack.deps import SlackDeps
from bot.slack.locales import UserLocales
from bot.slack.messenger import SlackMessenger
from tests.fakes.slack_api import RESPONSE, FakeSlack
from tests.fakes.slack_requests import SECRET, StubAnswerer, bolt_headers
from tests.test_checkin_forms import state_values

AMS = ZoneInfo("Europe/Amsterdam")
ADMIN, MANAGER, CHANNEL = "U0ADMIN01", "U0MANAGR1", "C0JEUGD01"
MEMBERS = ["U0MEMBR01", "U0MEMBR02", "U0MEMBR03"]
ANSWER = CheckinResponse(
    {"strategische_focus": "procedure", "operationeel_model": "opportunisme", "zichtbaarheid": "weet_niet"},
    {"trust": 4, "learning": None, "control": 2},
    True,
    None,
    "Een levering liep vast",
    "Eerder bellen",
)


@pytest.fixture
def world(tmp_path, engine):
    with FakeSlack() as fake:
        for user in (ADMIN, MANAGER, *MEMBERS):
            fake.add_user(user, locale="en-GB" if user == MEMBERS[2] else "nl-NL")
        fake.add_user("U0ROBOT01", is_bot=True)
        fake.add_channel(CHANNEL, name="jeugdketen", members=[MANAGER, *MEMBERS, "U0ROBOT01"])
        settings = load_settings(
            {
                "SLACK_BOT_TOKEN": fake.token,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": fake.base_url,
                "ADMIN_USER_IDS": ADMIN,
                "MIN_GROUP_SIZE": "3",
            },
            env_file=None,
        )
        client = make_client(settings)
        store = Checkins(engine)
        runner = DueRunner(
            store, SlackMessenger(client), zone=AMS, min_group=3, clock=lambda: _working_moment()
        )
        records = Records(engine)
        records.set_language(MEMBERS[2], "en")  # chose English with /keten taal en
        locales = UserLocales(lookup=records.language_of)
        runner.messenger.locales = locales
        service = CheckinService(store, admins=(ADMIN,), zone=AMS, min_group=3, directory=runner.messenger)
        deps = SlackDeps(
            StubAnswerer(), records, checkins=service, due=runner, clock=_working_moment, locales=locales
        )
        yield fake, create_app(settings, deps, client), store, runner


def _working_moment():
    from datetime import UTC, datetime

    return datetime(2027, 1, 12, 10, 0, tzinfo=AMS).astimezone(UTC)  # a Tuesday morning


def _send(app, body: str, content_type: str, secret: str = SECRET):
    return app.dispatch(BoltRequest(body=body, headers=bolt_headers(body, content_type, secret=secret)))


def _command(app, fake, user: str, text: str, channel: str = CHANNEL):
    key = f"cmd{time.monotonic_ns()}"
    body = urlencode(
        {
            "token": "unused",
            "team_id": "T0KETEN001",
            "team_domain": "keten",
            "channel_id": channel,
            "channel_name": "jeugdketen",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/keten",
            "text": text,
            "api_app_id": "A0KETENBOT",
            "response_url": fake.response_url(key),
            "trigger_id": fake.issue_trigger_id(),
        }
    )
    assert _send(app, body, "application/x-www-form-urlencoded").status == 200
    reply = _wait(lambda: [c for c in fake.calls(RESPONSE) if c.args.get("key") == key])
    return reply[0].args


def _wait(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def _interaction(app, payload: dict, secret: str = SECRET):
    return _send(
        app, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", secret
    )


def _click(fake, user: str, action_id: str, value: str, dm: dict) -> dict:
    return {
        "type": "block_actions",
        "team": {"id": "T0KETEN001", "domain": "keten"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0KETEN001"},
        "api_app_id": "A0KETENBOT",
        "token": "unused",
        "trigger_id": fake.issue_trigger_id(),
        "container": {
            "type": "message",
            "message_ts": dm["ts"],
            "channel_id": dm["channel"],
            "is_ephemeral": False,
        },
        "channel": {"id": dm["channel"], "name": "directmessage"},
        "message": dm["message"],
        "response_url": fake.response_url(f"click{time.monotonic_ns()}"),
        "actions": [
            {
                "action_id": action_id,
                "block_id": forms.ACTIONS_BLOCK,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
        "state": {"values": {}},
    }


def _submission(user: str, view: dict, response: CheckinResponse) -> dict:
    return {
        "type": "view_submission",
        "team": {"id": "T0KETEN001", "domain": "keten"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0KETEN001"},
        "api_app_id": "A0KETENBOT",
        "token": "unused",
        "trigger_id": "1.2.3",
        "view": {**view, "state": {"values": state_values(response)}},
        "response_urls": [],
    }


def _invitations(fake) -> dict[str, dict]:
    """user -> {channel, ts, message} of the check-in DM each person got."""
    found = {}
    for call in fake.calls("chat.postMessage"):
        meta = call.args.get("metadata") or {}
        meta = json.loads(meta) if isinstance(meta, str) else meta
        key = (meta.get("event_payload") or {}).get("key", "")
        if key.startswith("invite:") and call.response and call.response.get("ok"):
            found[key.rsplit(":", 1)[1]] = {
                "channel": call.response["channel"],
                "ts": call.response["ts"],
                "message": call.response["message"],
            }
    return found


def test_a_whole_round_in_slack(world):
    fake, app, store, runner = world
    assert "ketenmanager" in _command(app, fake, ADMIN, f"rol ketenmanager <@{MANAGER}|mgr>")["text"]
    assert "Jeugdketen" in _command(app, fake, MANAGER, "keten registreer Jeugdketen")["text"]
    started = _command(app, fake, MANAGER, "checkin start")
    assert started["response_type"] == "ephemeral" and "geopend" in started["text"]

    invites = _wait(lambda: (found := _invitations(fake)) and len(found) == len(MEMBERS) + 1 and found)
    assert set(invites) == {MANAGER, *MEMBERS}  # the bot member is left out
    announce = [c for c in fake.calls("chat.postMessage") if c.args.get("channel") == CHANNEL]
    assert len(announce) == 1 and "check-in" in announce[0].args["text"]

    # a member opens the form from the DM and submits it
    member = MEMBERS[0]
    assert (
        _interaction(app, _click(fake, member, forms.OPEN_ACTION, _round_id(store), invites[member])).status
        == 200
    )
    opened = _wait(lambda: fake.wait_for_calls("views.open", 1, timeout=0.1))[0]  # answered, not just arrived
    view = opened.response["view"]
    assert view["callback_id"] == forms.CALLBACK_ID and opened.response["ok"]
    response = _interaction(app, _submission(member, view, ANSWER))
    assert response.status == 200 and response.body in ("", None)
    assert store.response_of(_round_id(store), member) == (False, ANSWER)
    updated = _wait(lambda: fake.wait_for_calls("chat.update", 1, timeout=0.1))[
        0
    ]  # the DM now says the answers are in
    assert updated.args["ts"] == invites[member]["ts"]

    # an old skip button must not wipe answers already given
    assert (
        _interaction(app, _click(fake, member, forms.SKIP_ACTION, _round_id(store), invites[member])).status
        == 200
    )
    _wait(lambda: [c for c in fake.calls(RESPONSE) if "niet overgeslagen" in (c.args.get("text") or "")])
    assert store.response_of(_round_id(store), member) == (False, ANSWER)

    # the English member skips the week: neutral, stored, the DM replaced
    english = MEMBERS[2]
    assert (
        _interaction(app, _click(fake, english, forms.SKIP_ACTION, _round_id(store), invites[english])).status
        == 200
    )
    skip_reply = _wait(lambda: [c for c in fake.calls(RESPONSE) if c.args.get("replace_original")])[0]
    assert skip_reply.args["replace_original"] is True
    assert store.response_of(_round_id(store), english) == (True, None)

    status = _command(app, fake, MANAGER, "checkin status")["text"]
    assert "1 van 4" in status and "1 slaan" in status
    assert all(m not in status for m in MEMBERS)  # counts, never names

    round_id = _round_id(store)
    assert "gesloten" in _command(app, fake, MANAGER, "checkin sluit")["text"]
    summary = _wait(lambda: store.round(round_id)["summary_ts"])
    posted = [c for c in fake.calls("chat.postMessage") if c.response and c.response.get("ts") == summary][0]
    assert (
        posted.args["channel"] == CHANNEL and posted.args["thread_ts"] == store.round(round_id)["announce_ts"]
    )
    assert "te weinig antwoorden" in json.dumps(posted.args["blocks"], ensure_ascii=False)  # 1 answer < 3

    # a form submitted after closing: told so in the form, nothing changed
    late = _interaction(app, _submission(MEMBERS[1], view, ANSWER))
    body = json.loads(late.body)
    assert body["response_action"] == "errors" and "gesloten" in json.dumps(body, ensure_ascii=False)
    assert store.response_of(round_id, MEMBERS[1]) is None


def _round_id(store) -> str:
    chain = store.chain_by_channel(CHANNEL)
    current = store.open_round_of(chain["id"]) or store.latest_round_of(chain["id"])
    return current["id"]


def test_form_errors_keep_the_form_open_and_store_nothing(world):
    fake, app, store, runner = world
    _command(app, fake, ADMIN, f"rol ketenmanager <@{MANAGER}|mgr>")
    _command(app, fake, MANAGER, "keten registreer Jeugdketen")
    _command(app, fake, MANAGER, "checkin start")
    invites = _wait(lambda: (found := _invitations(fake)) and len(found) == len(MEMBERS) + 1 and found)
    member = MEMBERS[1]
    _interaction(app, _click(fake, member, forms.OPEN_ACTION, _round_id(store), invites[member]))
    view = _wait(lambda: fake.wait_for_calls("views.open", 1, timeout=0.1))[0].response["view"]
    payload = _submission(member, view, ANSWER)
    del payload["view"]["state"]["values"][forms.STAGE_BLOCKS["zichtbaarheid"]]
    reply = json.loads(_interaction(app, payload).body)
    assert reply["response_action"] == "errors" and forms.STAGE_BLOCKS["zichtbaarheid"] in reply["errors"]
    assert store.response_of(_round_id(store), member) is None
    forged = _interaction(app, _submission(member, view, ANSWER), secret="not-the-secret")
    assert forged.status == 401 and store.response_of(_round_id(store), member) is None


def test_someone_outside_the_round_cannot_open_its_form(world):
    fake, app, store, runner = world
    _command(app, fake, ADMIN, f"rol ketenmanager <@{MANAGER}|mgr>")
    _command(app, fake, MANAGER, "keten registreer Jeugdketen")
    _command(app, fake, MANAGER, "checkin start")
    invites = _wait(lambda: (found := _invitations(fake)) and len(found) == len(MEMBERS) + 1 and found)
    outsider_click = _click(fake, ADMIN, forms.OPEN_ACTION, _round_id(store), invites[MEMBERS[0]])
    assert _interaction(app, outsider_click).status == 200
    reply = _wait(lambda: [c for c in fake.calls(RESPONSE) if "lijst" in (c.args.get("text") or "")])[0]
    assert reply.args["response_type"] == "ephemeral"
    assert fake.calls("views.open") == []


def test_unknown_and_unauthorised_commands_answer_politely(world):
    fake, app, store, runner = world
    assert "Alleen beheerders" in _command(app, fake, MANAGER, "rol ketenmanager <@U0MEMBR01|x>")["text"]
    assert "registreer" in _command(app, fake, MANAGER, "checkin start")["text"]
    assert "Dat commando ken ik niet" in _command(app, fake, MANAGER, "vliegen")["text"]
    english = _command(app, fake, MEMBERS[2], "checkin start")["text"]
    assert "chain register" in english


def test_registering_needs_the_bot_in_the_channel_and_only_people_can_be_added(world):
    fake, app, store, runner = world
    fake.add_channel("C0NOBOT01", name="zonder-bot", members=[MANAGER], include_bot=False)
    _command(app, fake, ADMIN, f"rol ketenmanager <@{MANAGER}|mgr>")
    refused = _command(app, fake, MANAGER, "keten registreer Zonder bot", channel="C0NOBOT01")["text"]
    assert "/invite @Ketenbot" in refused and store.chain_by_channel("C0NOBOT01") is None
    _command(app, fake, MANAGER, "keten registreer Jeugdketen")
    bot_added = _command(app, fake, MANAGER, "keten voeg-toe <@U0ROBOT01|robot>")["text"]
    assert "geen persoon" in bot_added
    assert store.member_overrides(store.chain_by_channel(CHANNEL)["id"]) == {}
    assert "doet voortaan mee" in _command(app, fake, MANAGER, f"keten voeg-toe <@{MEMBERS[0]}|m>")["text"]
