"""Answering a question in Slack: one place for the steps every surface shares."""

from __future__ import annotations

import logging
import re
import time
import uuid

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.answering.phrases import phrase
from bot.llm.prompts import Turn
from bot.ops import failpoints, metrics
from bot.retrieval.text import detect_language
from bot.slack.blocks import answer_blocks, answer_fallback_text, working_blocks
from bot.slack.deps import SlackDeps
from bot.slack.posting import METADATA_EVENT_TYPE, PostFailed, find_post, post_once
from bot.slack.text import FALLBACK_LIMIT, escape, unescape

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def strip_mentions(text: str) -> str:
    """The question as typed: mentions of the bot (or anyone) removed, Slack's escaping undone."""
    return unescape(_MENTION.sub(" ", text or "")).strip()


def answer_in_thread(
    deps: SlackDeps, client: WebClient, *, key: str, channel: str, thread_ts: str, user: str, text: str,
    resumed: bool = False,
) -> None:
    """Show that the bot is working, answer, store the answer, post it in the thread once.

    ``key`` names the question (its channel and ts): the post carries it, so a retry after a
    dropped connection does not post the answer twice (``bot.slack.posting``). With a language
    model, a "searching" message is posted first and updated in place as checked sentences
    arrive (:class:`InPlace`). ``resumed``: another worker claimed this question and did not
    finish (``bot.records.pending``); whatever it did post is looked for first, and the stored
    answer keeps the id derived from ``key``, so nothing is posted or stored twice."""
    started = time.monotonic()
    if resumed and _already_answered(client, channel=channel, thread_ts=thread_ts, key=key):
        _done(deps, key)  # the worker that died had posted the answer: nothing to add
        return
    try:  # a visible "working on it"; cosmetic, so any failure is ignored
        client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status="is typing…")
    except (SlackApiError, OSError) as exc:
        log.debug("no status shown: %s", type(exc).__name__)
    english = deps.locales.prefers_english(client, user)
    language = "en" if english else "nl"
    streams = getattr(deps.answerer, "streams", False)  # a language model: it reads the thread
    try:
        context = deps.records.first_question_in_thread(channel, thread_ts) or ""
        history = [Turn(q, r) for q, r in deps.records.thread_turns(channel, thread_ts)] if streams else []
    except SQLAlchemyError:
        context, history = "", []
    live = None
    if streams:
        # the language the answer will be in: the asker's choice, else the question's own
        asked_in = detect_language(strip_mentions(text))
        shown_in = "en" if english or asked_in == "en" else "nl"
        live = InPlace(client, key=key, channel=channel, thread_ts=thread_ts, language=shown_in,
                       model=getattr(deps.answerer, "model_name", ""), check_first=resumed)
    try:
        if live is not None:
            live.start()
            answer = deps.answerer.answer(
                strip_mentions(text), context=context, english=english, history=history, on_progress=live.show
            )
        else:
            answer = deps.answerer.answer(strip_mentions(text), context=context, english=english)
    except Exception:  # never leave the asker without a word
        log.exception("answering failed")
        metrics.record_error("answer")
        apology = phrase("failed", language)
        if live is None or not live.finish(text=apology, blocks=None):
            if not _post(client, deps, key=key, channel=channel, thread_ts=thread_ts, text=apology,
                         check_first=resumed):
                return
        _done(deps, key)
        return
    row = deps.records.answer_row(answer, user_id=user, channel_id=channel, thread_ts=thread_ts)
    row["id"] = answer_id_for(key)  # the same question always gets the same id: stored once
    try:
        answer_id = deps.records.insert_answer(row)
    except SQLAlchemyError as exc:  # answer anyway; without a stored answer there is no feedback
        answer_id = None
        metrics.record_error("answer_store")
        if deps.outbox is not None:
            deps.outbox.add("answer", row)
            log.warning("answer kept in the outbox until the database is back (%s)", type(exc).__name__)
        else:
            log.warning("answer not stored (%s)", type(exc).__name__)
    message = {
        "text": answer_fallback_text(answer),
        "blocks": [b.to_dict() for b in answer_blocks(answer, answer_id)],
    }
    if live is None or not live.finish(**message):
        # no language model, or the in-place message could not be updated: a message of its own
        post_key = key if live is None else f"{key}:answer"
        if not _post(client, deps, key=post_key, done_key=key, channel=channel, thread_ts=thread_ts,
                     unfurl_links=False, unfurl_media=False, check_first=resumed, **message):
            return
        if live is not None:
            live.withdraw()
    failpoints.hit("answer-posted")
    _done(deps, key)
    metrics.observe_answer(answer, time.monotonic() - started)
    log.info("answered", extra={"answer_id": answer_id, "answered": answer.answered,
                                "ai": bool(answer.ai_text)})


def _post(client: WebClient, deps: SlackDeps, *, key: str, done_key: str | None = None, **kwargs) -> bool:
    """``post_once``; False when it did not get through. Slack refusing the post for good
    (``is_archived``, ``not_in_channel``, ``channel_not_found``...) ends the question: retrying
    cannot help. Not knowing (``PostFailed``: Slack down) leaves it pending, for the sweep."""
    try:
        post_once(client, key=key, **kwargs)
        return True
    except PostFailed:
        metrics.record_error("answer_post")
        log.warning("answer not delivered yet; a sweep tries again")
        return False
    except (SlackApiError, OSError) as exc:
        metrics.record_error("answer_post")
        error = exc.response.get("error", "") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.warning("answer not delivered: Slack refused it (%s)", error)
        _done(deps, done_key or key)
        return False


def _already_answered(client: WebClient, *, channel: str, thread_ts: str, key: str) -> bool:
    """Is the finished answer to ``key`` in Slack? A placeholder still "working" does not count:
    that answer is written again, in place."""
    for post_key in (key, f"{key}:answer"):
        found = find_post(client, channel=channel, thread_ts=thread_ts, key=post_key)
        if found and ((found.get("metadata") or {}).get("event_payload") or {}).get("state") != "working":
            return True
    return False


def answer_id_for(key: str) -> str:
    """The stored answer's id for the question ``key`` ("msg:<channel>:<ts>")."""
    return str(uuid.uuid5(_ANSWER_IDS, key))


_ANSWER_IDS = uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")


def _done(deps: SlackDeps, key: str) -> None:
    """The question is answered: no other worker needs to pick it up."""
    if deps.pending is None:
        return
    try:
        deps.pending.done(key)
    except SQLAlchemyError as exc:  # the sweep finds it later; post_once then sees it was answered
        log.warning("answered question not cleared (%s)", type(exc).__name__)


class InPlace:
    """One message that grows while a language model writes: posted at once ("searching…"),
    updated with ``chat.update`` at most every ``interval`` seconds as checked sentences come in,
    and replaced by the finished answer. Updates are idempotent, so Slack's retry handlers may
    repeat them; the first post goes through ``post_once`` like every other post."""

    def __init__(
        self, client: WebClient, *, key: str, channel: str, thread_ts: str, language: str,
        model: str = "", interval: float = 1.2, clock=time.monotonic, check_first: bool = False,
    ):
        self.client, self.key, self.channel, self.thread_ts = client, key, channel, thread_ts
        self.language, self.model, self.interval, self.clock = language, model, interval, clock
        self.check_first = check_first
        self.ts: str | None = None
        self._last = float("-inf")
        self.updates = 0

    def start(self) -> None:
        try:
            self.ts = post_once(
                self.client, key=self.key, channel=self.channel, thread_ts=self.thread_ts,
                text=phrase("working", self.language),
                blocks=[b.to_dict() for b in working_blocks(self.language)], check_first=self.check_first,
                state="working",
            ) or None
        except (SlackApiError, OSError, PostFailed) as exc:  # the answer will get its own message
            log.warning("no placeholder posted (%s)", type(exc).__name__)

    def show(self, text: str) -> None:
        """Called with the model's checked sentences so far; updates when enough time passed."""
        if self.ts is None or self.clock() - self._last < self.interval:
            return
        self._last = self.clock()
        blocks = [b.to_dict() for b in working_blocks(self.language, text, self.model)]
        fallback = escape(f"{phrase('working', self.language)} {text}")[:FALLBACK_LIMIT]
        self._update(text=fallback, blocks=blocks, state="working")

    def finish(self, *, text: str, blocks: list[dict] | None) -> bool:
        """Replace the placeholder with the final message; False when there is none or it failed."""
        return self.ts is not None and self._update(text=text, blocks=blocks or [], state="done")

    def withdraw(self) -> None:
        """Remove the placeholder (and any sentences shown in it) once the answer was posted as
        a message of its own; best effort."""
        if self.ts is None:
            return
        try:
            self.client.chat_delete(channel=self.channel, ts=self.ts)
        except (SlackApiError, OSError) as exc:
            log.warning("placeholder not removed (%s)", type(exc).__name__)

    def _update(self, *, text: str, blocks: list[dict], state: str) -> bool:
        try:
            self.client.chat_update(
                channel=self.channel, ts=self.ts, text=text, blocks=blocks,
                metadata={
                    "event_type": METADATA_EVENT_TYPE, "event_payload": {"key": self.key, "state": state}
                },
            )
        except (SlackApiError, OSError) as exc:
            log.warning("message not updated (%s)", type(exc).__name__)
            return False
        self.updates += 1
        return True
