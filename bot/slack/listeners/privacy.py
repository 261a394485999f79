"""A person's own data in Slack: ``/keten mijn-gegevens`` (a JSON file in their DM) and
``/keten vergeet-mij`` (erase everything, after a confirmation button only they can use)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock
from sqlalchemy.exc import SQLAlchemyError

from bot.privacy.erase import erase, preview
from bot.privacy.export import collect, filename
from bot.privacy.texts import counted, t
from bot.slack import ids
from bot.slack.deps import SlackDeps

log = logging.getLogger(__name__)

EXPORT_WORDS = {"mijn-gegevens", "mijngegevens", "mijn_gegevens", "my-data", "mydata", "my_data"}
FORGET_WORDS = {"vergeet-mij", "vergeetmij", "vergeet_mij", "forget-me", "forgetme", "forget_me"}
#: The first word of the two-word spellings ("mijn gegevens", "vergeet mij", "forget me").
_FIRST_WORDS = {"mijn", "my", "vergeet", "forget"}
CONFIRM_FOR = timedelta(minutes=15)  # an older confirmation button erases nothing


def command(text: str) -> str | None:
    """ "export", "erase" or "usage" for the privacy subcommands; None for any other /keten text."""
    words = text.lower().split()
    if not words:
        return None
    for size in (2, 1):
        joined = "-".join(words[:size])
        if len(words) >= size and (joined in EXPORT_WORDS or joined in FORGET_WORDS):
            if len(words) > size:
                return "usage"
            return "export" if joined in EXPORT_WORDS else "erase"
    return None


def handle(deps: SlackDeps, client: WebClient, user: str, kind: str, language: str) -> dict:
    """The ephemeral reply (``respond`` keyword arguments) to a privacy subcommand."""
    if kind == "export":
        return {"text": _export(deps, client, user, language)}
    if kind == "erase":
        return _ask(deps, user, language)
    return {"text": t("usage", language)}


def _export(deps: SlackDeps, client: WebClient, user: str, language: str) -> str:
    now = deps.clock()
    try:
        data = collect(deps.records.engine, user, outbox=deps.outbox, now=now)
    except SQLAlchemyError as exc:
        log.warning("privacy: export failed (%s)", type(exc).__name__)
        return t("storage_down", language)
    except OSError as exc:  # the local outbox file could not be read
        log.warning("privacy: export failed (%s)", type(exc).__name__)
        return t("storage_down", language)
    content = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    try:
        dm = client.conversations_open(users=user)["channel"]["id"]
        client.files_upload_v2(
            channel=dm,
            content=content.encode("utf-8"),
            filename=filename(user, now),
            title=t("export_title", language),
            initial_comment=t("export_comment", language),
        )
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("privacy: export not delivered (%s)", type(exc).__name__)
        return t("slack_failed", language)
    log.info("privacy: export sent")
    return t("export_sent", language, n=sum(data["about"]["counts"].values()))


def _ask(deps: SlackDeps, user: str, language: str) -> dict:
    try:
        counts = preview(deps.records.engine, user, outbox=deps.outbox)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("privacy: erasure preview failed (%s)", type(exc).__name__)
        return {"text": t("storage_down", language)}
    if not any(counts.values()):
        return {"text": t("erase_nothing", language)}
    text = t("erase_ask", language, what=counted(counts, language))
    token = json.dumps({"u": user, "t": int(deps.clock().timestamp()), "l": language})
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=text[:3000])),
        ActionsBlock(
            block_id=ids.PRIVACY_FORGET_BLOCK,
            elements=[
                ButtonElement(
                    text=t("confirm", language),
                    action_id=ids.PRIVACY_FORGET_CONFIRM,
                    value=token,
                    style="danger",
                ),
                ButtonElement(text=t("cancel", language), action_id=ids.PRIVACY_FORGET_CANCEL, value=token),
            ],
        ),
    ]
    return {"text": text[:3000], "blocks": [b.to_dict() for b in blocks]}


def done_text(result, language: str) -> str:  # noqa: ANN001 - bot.privacy.erase.Erasure
    if not result.total:
        text = t("erase_again", language)
    else:
        text = t("erase_done", language, what=counted(result.counts, language))
        if result.chains:
            text += "\n\n" + t("erase_chains", language, chains=", ".join(f"*{c}*" for c in result.chains))
        text += "\n\n" + t("erase_in_channel", language)
    if result.outbox_failed:
        text += "\n\n" + t("erase_outbox_failed", language)
    return text


def _own_click(deps: SlackDeps, body: dict, respond: Respond) -> tuple[str, dict, str]:
    """(clicker, token, language) of a click on the erasure question; clicker "" (and the person
    told) when the button is not theirs: only who asked may answer it."""
    clicker, token = _clicked(body)
    language = _language(deps, clicker, token)
    if not clicker or token.get("u") != clicker:
        respond(text=t("not_yours", language), response_type="ephemeral", replace_original=False)
        return "", token, language
    return clicker, token, language


def register(app: App, deps: SlackDeps) -> None:
    @app.action(ids.PRIVACY_FORGET_CONFIRM)
    def on_confirm(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        clicker, token, language = _own_click(deps, body, respond)
        if not clicker:
            return
        if deps.clock().timestamp() - _issued(token) > CONFIRM_FOR.total_seconds():
            respond(text=t("expired", language), response_type="ephemeral", replace_original=True)
            return
        try:
            result = erase(deps.records.engine, clicker, outbox=deps.outbox)
        except SQLAlchemyError as exc:  # nothing erased; the button stays so it can be tried again
            log.warning("privacy: erasure failed (%s)", type(exc).__name__)
            respond(text=t("storage_down", language), response_type="ephemeral", replace_original=False)
            return
        respond(text=done_text(result, language), response_type="ephemeral", replace_original=True)

    @app.action(ids.PRIVACY_FORGET_CANCEL)
    def on_cancel(ack: Ack, body: dict, respond: Respond) -> None:
        ack()
        clicker, _token, language = _own_click(deps, body, respond)
        if not clicker:
            return
        respond(text=t("cancelled", language), response_type="ephemeral", replace_original=True)


def _clicked(body: dict) -> tuple[str, dict]:
    clicker = (body.get("user") or {}).get("id") or ""
    try:
        token = json.loads((body.get("actions") or [{}])[0].get("value") or "{}")
    except (ValueError, TypeError):
        token = {}
    return clicker, token if isinstance(token, dict) else {}


def _issued(token: dict) -> float:
    try:
        return float(token.get("t") or 0)
    except (TypeError, ValueError):
        return 0.0  # unreadable: as old as can be, so it has expired


def _language(deps: SlackDeps, clicker: str, token: dict) -> str:
    """The language asked in (the preference is erased with the rest, and the database may be down)."""
    if token.get("u") == clicker and token.get("l") in ("nl", "en"):
        return token["l"]
    return deps.locales.language(clicker)
