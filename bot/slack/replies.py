"""Answering a question in Slack: one place for the steps every surface shares."""

from __future__ import annotations

import logging
import re

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.answering.phrases import phrase
from bot.slack.blocks import answer_blocks, answer_fallback_text
from bot.slack.deps import SlackDeps
from bot.slack.posting import post_once
from bot.slack.text import unescape

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def strip_mentions(text: str) -> str:
    """The question as typed: mentions of the bot (or anyone) removed, Slack's escaping undone."""
    return unescape(_MENTION.sub(" ", text or "")).strip()


def answer_in_thread(
    deps: SlackDeps, client: WebClient, *, key: str, channel: str, thread_ts: str, user: str, text: str
) -> None:
    """Show that the bot is working, answer, store the answer, post it in the thread once.

    ``key`` names the question (its channel and ts): the post carries it, so a retry after a
    dropped connection does not post the answer twice (``bot.slack.posting``)."""
    try:  # a visible "working on it"; cosmetic, so any failure is ignored
        client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status="is typing…")
    except (SlackApiError, OSError) as exc:
        log.debug("no status shown: %s", type(exc).__name__)
    english = deps.locales.prefers_english(client, user)
    try:
        context = deps.records.first_question_in_thread(channel, thread_ts) or ""
    except SQLAlchemyError:
        context = ""
    try:
        answer = deps.answerer.answer(strip_mentions(text), context=context, english=english)
    except Exception:  # never leave the asker without a word
        log.exception("answering failed")
        apology = phrase("failed", "en" if english else "nl")
        post_once(client, key=key, channel=channel, thread_ts=thread_ts, text=apology)
        return
    row = deps.records.answer_row(answer, user_id=user, channel_id=channel, thread_ts=thread_ts)
    try:
        answer_id = deps.records.insert_answer(row)
    except SQLAlchemyError as exc:  # answer anyway; without a stored answer there is no feedback
        answer_id = None
        if deps.outbox is not None:
            deps.outbox.add("answer", row)
            log.warning("answer kept in the outbox until the database is back (%s)", type(exc).__name__)
        else:
            log.warning("answer not stored (%s)", type(exc).__name__)
    post_once(
        client,
        key=key,
        channel=channel,
        thread_ts=thread_ts,
        text=answer_fallback_text(answer),
        blocks=[b.to_dict() for b in answer_blocks(answer, answer_id)],
        unfurl_links=False,
        unfurl_media=False,
    )
    log.info("answered", extra={"answer_id": answer_id, "answered": answer.answered})
