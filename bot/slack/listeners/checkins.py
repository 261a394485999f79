"""Check-in buttons in the DM and the check-in form (modal)."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.checkins import forms
from bot.checkins.messages import closes_token, say
from bot.checkins.model import DIMENSIONS
from bot.checkins.store import CheckinError
from bot.ops import failpoints
from bot.slack.deps import SlackDeps

log = logging.getLogger(__name__)
FIRST_BLOCK = forms.STAGE_BLOCKS[DIMENSIONS[0]]  # where a whole-form message is shown


def register(app: App, deps: SlackDeps) -> None:
    if deps.checkins is None:
        return
    store = deps.checkins.store

    def language_of(client: WebClient, user: str) -> str:
        return "en" if deps.locales.prefers_english(client, user) else "nl"

    def refusal(round_: dict | None, user: str, language: str, now: datetime) -> str | None:
        if round_ is None or round_["closed_at"] is not None or round_["closes_at"] <= now:
            return forms.closed_error(language)
        if not store.is_participant(round_["id"], user):
            return say("not_invited", language)
        return None

    @app.action(forms.OPEN_ACTION)
    def on_open(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        user, round_id = body["user"]["id"], body["actions"][0].get("value") or ""
        language = language_of(client, user)
        try:
            round_ = store.round(round_id)
            if problem := refusal(round_, user, language, deps.clock()):
                respond(text=problem, response_type="ephemeral", replace_original=False)
                return
            chain = store.chain(round_["chain_id"])
            given = store.response_of(round_id, user)
        except SQLAlchemyError:
            respond(text=say("storage_down", language), response_type="ephemeral", replace_original=False)
            return
        view = forms.checkin_modal(round_id, chain["name"], language, given[1] if given else None)
        meta = json.loads(view.private_metadata)
        container = body.get("container") or {}
        meta["dm"] = [container.get("channel_id"), container.get("message_ts")]  # to update the DM after
        view.private_metadata = json.dumps(meta)
        client.views_open(trigger_id=body["trigger_id"], view=view.to_dict())

    @app.action(forms.SKIP_ACTION)
    def on_skip(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        user, round_id = body["user"]["id"], body["actions"][0].get("value") or ""
        language = language_of(client, user)
        now = deps.clock()
        try:
            round_ = store.round(round_id)
            if problem := refusal(round_, user, language, now):
                respond(text=problem, response_type="ephemeral", replace_original=False)
                return
            given = store.response_of(round_id, user)
            if given is not None and not given[0]:  # answered already: an old button must not wipe it
                respond(text=_already_answered(language), response_type="ephemeral", replace_original=False)
                return
            store.save_response(round_id, user, None, now)
            chain = store.chain(round_["chain_id"])
        except CheckinError:
            respond(text=forms.closed_error(language), response_type="ephemeral", replace_original=False)
            return
        except SQLAlchemyError:
            respond(text=say("storage_down", language), response_type="ephemeral", replace_original=False)
            return
        blocks = forms.invitation_blocks(
            round_id, chain["name"], language, closes_token(round_["closes_at"], language), skipped=True
        )
        respond(
            text=forms.skipped_text(language), blocks=[b.to_dict() for b in blocks], replace_original=True
        )

    @app.view(forms.CALLBACK_ID)
    def on_submit(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        user = body["user"]["id"]
        try:
            round_id, language = forms.parse_metadata(view.get("private_metadata") or "")
        except ValueError:
            ack(response_action="errors", errors={FIRST_BLOCK: forms.closed_error("nl")})
            return
        try:
            response = forms.parse_submission(view["state"]["values"], language)
        except forms.FormError as exc:
            ack(**exc.ack_payload())
            return
        except (KeyError, TypeError):
            ack(response_action="errors", errors={FIRST_BLOCK: forms.closed_error(language)})
            return
        now = deps.clock()
        try:
            store.save_response(round_id, user, response, now)
            failpoints.hit("form-saved")
        except CheckinError as exc:  # closed, or not invited: told so in the form, nothing changed
            message = forms.closed_error(language) if exc.code == "closed" else say("not_invited", language)
            ack(response_action="errors", errors={FIRST_BLOCK: message})
            return
        except SQLAlchemyError:  # the form stays open with everything in it: nothing is lost
            ack(response_action="errors", errors={FIRST_BLOCK: say("storage_down", language)})
            return
        ack()
        _mark_answered(client, store, view, round_id, language)


def _already_answered(language: str) -> str:
    if language == "en":
        return (
            "Your answers for this week are in, so this round is not skipped. You can still change them "
            "with “Change your answers” until the round closes."
        )
    return (
        "Je antwoorden voor deze week staan er al, dus deze week wordt niet overgeslagen. Wijzigen kan "
        "met ‘Wijzig je antwoorden’ tot de ronde sluit."
    )


def _mark_answered(client: WebClient, store, view: dict, round_id: str, language: str) -> None:  # noqa: ANN001
    """Show in the DM that the answers are in (and can still be changed); cosmetic."""
    try:
        channel, ts = (json.loads(view.get("private_metadata") or "{}").get("dm") or [None, None])[:2]
        round_ = store.round(round_id)
        chain = store.chain(round_["chain_id"]) if round_ else None
        if not (channel and ts and chain):
            return
        blocks = forms.invitation_blocks(
            round_id, chain["name"], language, closes_token(round_["closes_at"], language), answered=True
        )
        client.chat_update(
            channel=channel, ts=ts, text=forms.saved_text(language), blocks=[b.to_dict() for b in blocks]
        )
    except (SlackApiError, OSError, SQLAlchemyError, ValueError, TypeError, KeyError) as exc:
        log.info("DM not updated (%s)", type(exc).__name__)
