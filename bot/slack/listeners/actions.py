"""Buttons on answers and the feedback-reason modal."""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.slack import ids
from bot.slack.blocks import answer_blocks, answer_fallback_text, labels
from bot.slack.deps import SlackDeps
from bot.slack.posting import post_once
from bot.slack.stored import answer_from_row
from bot.slack.text import escape
from bot.slack.views import feedback_reason_view

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 2000


def register(app: App, deps: SlackDeps) -> None:
    @app.action(ids.ANSWER_FEEDBACK_UP)
    def on_up(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        answer_id, user = _clicked(body)
        if not (answer_id and user):
            _gone(respond)
            return
        try:
            language = _language(deps, answer_id)
            deps.records.save_feedback(answer_id, user, helpful=True)
        except SQLAlchemyError as exc:
            _not_saved(respond, exc)
            return
        respond(text=labels(language)["thanks"], response_type="ephemeral", replace_original=False)

    @app.action(ids.ANSWER_FEEDBACK_DOWN)
    def on_down(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        answer_id, user = _clicked(body)
        if not (answer_id and user):
            _gone(respond)
            return
        try:
            deps.records.save_feedback(answer_id, user, helpful=False)
            language = _language(deps, answer_id)
        except SQLAlchemyError as exc:
            _not_saved(respond, exc)
            return
        trigger = body.get("trigger_id")
        if isinstance(trigger, str) and trigger:  # the 👎 is saved; the reason form is a courtesy
            client.views_open(trigger_id=trigger, view=feedback_reason_view(answer_id, language).to_dict())

    @app.view(ids.FEEDBACK_REASON_VIEW)
    def on_reason(ack: Ack, body: dict, view: dict) -> None:
        meta = _meta(view)
        field = _dig(view, "state", "values", ids.FEEDBACK_REASON_BLOCK, ids.FEEDBACK_REASON_INPUT)
        value = field.get("value") if isinstance(field, dict) else None
        reason = (value if isinstance(value, str) else "").strip()[:MAX_REASON_CHARS] or None
        answer_id, user = meta.get("answer_id"), _dig(body, "user", "id")
        if isinstance(answer_id, str) and answer_id and isinstance(user, str) and reason:
            try:
                deps.records.save_feedback(answer_id, user, helpful=False, reason=reason)
            except SQLAlchemyError as exc:  # keep the modal open with the text in it: nothing is lost
                log.warning("feedback reason not stored (%s)", type(exc).__name__)
                language = meta.get("language") if meta.get("language") in ("nl", "en") else "nl"
                errors = {ids.FEEDBACK_REASON_BLOCK: labels(language)["not_saved"]}
                ack(response_action="errors", errors=errors)
                return
        ack()

    @app.action(ids.ANSWER_ASK_HUMAN)
    def on_human(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        answer_id, user = _clicked(body)
        if not (answer_id and user):
            _gone(respond)
            return
        try:
            row = deps.records.get_answer(answer_id)
        except SQLAlchemyError as exc:
            _not_saved(respond, exc)
            return
        t = labels(row["language"] if row else "nl")
        if not deps.handoff_channel or row is None:
            respond(text=t["no_handoff"], response_type="ephemeral", replace_original=False)
            return
        where = f"<#{row['channel_id']}>" if row["channel_id"].startswith(("C", "G")) else "een DM"
        clicked_at = body["actions"][0].get("action_ts")
        key = f"handoff:{answer_id}:{user}:{clicked_at or ''}"
        first = True
        if isinstance(clicked_at, str) and clicked_at:  # one click delivered to two workers: one post
            try:
                first = deps.records.claim_event(key)
            except SQLAlchemyError:
                first = True  # better a second post than none
        if first:
            post_once(
                client,
                key=key,
                channel=deps.handoff_channel,
                text=f"<@{user}> vraagt om een mens bij een antwoord van Ketenbot in {where}: "
                f"„{escape(row['question'])}”",
            )
        respond(text=t["handoff_done"], response_type="ephemeral", replace_original=False)

    @app.action(ids.ANSWER_SHARE)
    def on_share(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        answer_id, _user = _clicked(body)
        if not answer_id:
            _gone(respond)
            return
        try:
            row = deps.records.get_answer(answer_id)
        except SQLAlchemyError as exc:
            _not_saved(respond, exc)
            return
        if row is None:
            respond(text=labels("nl")["gone"], response_type="ephemeral", replace_original=False)
            return
        answer = answer_from_row(row)
        respond(
            text=answer_fallback_text(answer),
            blocks=[b.to_dict() for b in answer_blocks(answer, answer_id)],
            response_type="in_channel",
            delete_original=True,
        )


def _not_saved(respond: Respond, exc: Exception) -> None:
    log.warning("feedback not stored (%s)", type(exc).__name__)
    respond(text=labels("nl")["not_saved"] + "\n_" + labels("en")["not_saved"] + "_",
            response_type="ephemeral", replace_original=False)


def _gone(respond: Respond) -> None:
    respond(text=labels("nl")["gone"] + "\n_" + labels("en")["gone"] + "_",
            response_type="ephemeral", replace_original=False)


def _clicked(body: dict) -> tuple[str, str]:
    """(answer id, user) of a click; "" for what is missing or not text."""
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    value, user = action.get("value"), _dig(body, "user", "id")
    return (value if isinstance(value, str) else ""), (user if isinstance(user, str) else "")


def _dig(data: object, *keys: str) -> object:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _meta(view: dict) -> dict:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except (ValueError, TypeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _language(deps: SlackDeps, answer_id: str) -> str:
    row = deps.records.get_answer(answer_id)
    return row["language"] if row else "nl"
