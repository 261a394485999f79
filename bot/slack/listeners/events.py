"""Events: mentions in channels, DMs, follow-ups in the bot's threads, the App Home."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.ops import failpoints
from bot.records.pending import message_key
from bot.slack.deps import SlackDeps
from bot.slack.listeners.reports import home_view_for
from bot.slack.replies import answer_in_thread
from bot.slack.views import home_view

log = logging.getLogger(__name__)

# message subtypes that are still a person writing to the bot
_HUMAN_SUBTYPES = {None, "thread_broadcast", "file_share"}


def register(app: App, deps: SlackDeps) -> None:
    @app.event("app_mention")
    def on_mention(event: dict, client: WebClient) -> None:
        _answer_once(deps, client, event)

    @app.event("message")
    def on_message(event: dict, client: WebClient) -> None:
        subtype = event.get("subtype")
        if not isinstance(subtype, str | None) or subtype not in _HUMAN_SUBTYPES or event.get("bot_id"):
            return
        if event.get("channel_type") == "im":
            _answer_once(deps, client, event)
        elif event.get("thread_ts") and _bots_thread(deps, event):
            _answer_once(deps, client, event)  # a follow-up in a thread the bot answered in
        # any other channel message is none of the bot's business: not read, not stored, not logged

    @app.event("app_home_opened")
    def on_home(event: dict, client: WebClient) -> None:
        user = event.get("user")
        if event.get("tab") == "home" and isinstance(user, str) and user:
            if deps.reports is None:
                view = home_view()
            else:
                language = "en" if deps.locales.prefers_english(client, user) else "nl"
                view = home_view_for(deps, user, language)
            client.views_publish(user_id=user, view=view.to_dict())


def _answer_once(deps: SlackDeps, client: WebClient, event: dict) -> None:
    """A mention arrives as app_mention and as message, and Slack retries: answer each message once."""
    if not all(isinstance(event.get(k), str) and event.get(k) for k in ("user", "channel", "ts")):
        return  # not a message a person wrote to us
    key = message_key(event["channel"], event["ts"])
    thread_ts = event.get("thread_ts")
    if not isinstance(thread_ts, str) or not thread_ts:
        thread_ts = event["ts"]  # no thread (or not a usable one): answer under the message itself
    text = event.get("text")
    text = text if isinstance(text, str) else ""
    try:
        if deps.pending is not None:  # claimed and kept until answered, in one transaction
            first = deps.pending.claim(key, channel_id=event["channel"], thread_ts=thread_ts,
                                       user_id=event["user"], text=text)
        else:
            first = deps.records.claim_event(key)
    except SQLAlchemyError as exc:  # the database is down: still answer, once per process
        log.warning("database unavailable (%s); answering without records", type(exc).__name__)
        first = deps.recent.claim(key)
        if first and deps.outbox is not None:
            deps.outbox.add("event", {"event_id": key})  # claimed in the database once it is back
    else:
        if first and deps.outbox is not None and not deps.outbox.is_empty():
            _flush_outbox(deps)
    if not first:
        return
    failpoints.hit("question-claimed")
    answer_in_thread(
        deps, client, key=key, channel=event["channel"], thread_ts=thread_ts,
        user=event["user"], text=text,
    )


def _bots_thread(deps: SlackDeps, event: dict) -> bool:
    channel, thread_ts = event.get("channel"), event.get("thread_ts")
    if not (isinstance(channel, str) and isinstance(thread_ts, str)):
        return False
    try:
        return deps.records.has_answer_in_thread(channel, thread_ts)
    except SQLAlchemyError:  # cannot tell whose thread it is: stay out of it
        return False


def _flush_outbox(deps: SlackDeps) -> None:
    try:
        deps.outbox.flush(deps.records)
    except OSError as exc:  # the local file is unreadable: keep answering, say so in the log
        log.error("outbox could not be flushed (%s)", type(exc).__name__)
