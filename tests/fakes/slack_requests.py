"""What tests and benchmarks send to the app as if they were Slack: signed requests, events,
and an app wired to the fake Web API. One place, so every caller signs and builds alike."""

from __future__ import annotations

import json
import time
from pathlib import Path

from slack_bolt import App
from slack_sdk.signature import SignatureVerifier

from bot.answering.model import Answer, Source
from bot.records.db import make_engine, migrate
from bot.records.store import Records
from bot.settings import load_settings
from bot.slack.app import create_app
from bot.slack.deps import SlackDeps
from bot.slack.locales import UserLocales
from tests.fakes.slack_api import FakeSlack

SECRET = "test-signing-secret"
BOT_MENTION = "<@U0KETENBOT>"


def signature_headers(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signing headers for ``body`` (HMAC-SHA256 of ``v0:timestamp:body``)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "x-slack-request-timestamp": ts,
        "x-slack-signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


def bolt_headers(
    body: str, content_type: str = "application/json", *, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, list[str]]:
    """Signed headers in the shape ``slack_bolt.BoltRequest`` takes."""
    signed = signature_headers(body, secret=secret, timestamp=timestamp)
    return {"content-type": [content_type], **{k: [v] for k, v in signed.items()}}


def event_body(event: dict, event_id: str) -> str:
    """An Events API ``event_callback`` envelope around ``event``."""
    return json.dumps(
        {
            "token": "unused",
            "type": "event_callback",
            "team_id": "T0KETEN001",
            "api_app_id": "A0KETENBOT",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": "T0KETEN001", "user_id": "U0KETENBOT", "is_bot": True}],
        }
    )


def mention(text: str, ts: str, *, user: str = "U1", channel: str = "C1") -> dict:
    return {
        "type": "app_mention",
        "user": user,
        "channel": channel,
        "ts": ts,
        "event_ts": ts,
        "text": f"{BOT_MENTION} {text}",
    }


class StubAnswerer:
    """Stands in for the answering core: a fixed, valid answer, after ``seconds`` if asked."""

    def __init__(self, seconds: float = 0.0):
        self.seconds = seconds

    def answer(self, text: str, **_hints: object) -> Answer:
        if self.seconds:
            time.sleep(self.seconds)
        source = Source("NORA", "Geduld", "https://example.org#Geduld", "CC BY-ND 3.0", "Een citaat.", 1.0)
        return Answer(text[:2000], "nl", True, "Dit zegt de handreiking hierover.", [source])


def sqlite_records(folder: Path) -> Records:
    engine = make_engine(f"sqlite:///{folder / 'records.sqlite3'}")
    migrate(engine)
    return Records(engine)


def app_against(fake: FakeSlack, answerer, records, *, handoff: str = "", outbox=None, pending=None) -> App:  # noqa: ANN001
    """The real Bolt app, its Web API client pointed at ``fake``, verifying with ``SECRET``."""
    settings = load_settings(
        {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.base_url},
        env_file=None,
    )
    locales = UserLocales(lookup=getattr(records, "language_of", None))
    return create_app(
        settings,
        SlackDeps(
            answerer, records, handoff_channel=handoff, outbox=outbox, locales=locales, pending=pending
        ),
    )
