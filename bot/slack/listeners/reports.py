"""Reports in Slack: /keten rapport and /keten export (to the asker's DM), and the App Home."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View
from sqlalchemy.exc import SQLAlchemyError

from bot.checkins.content import default_content
from bot.checkins.messages import say
from bot.reports.chart import render_png_bytes
from bot.reports.export import report_csv
from bot.reports.service import ReportService, chain_lines, report_blocks, words
from bot.slack.deps import SlackDeps
from bot.slack.posting import post_once
from bot.slack.text import escape
from bot.slack.views import HOME_TEXT

log = logging.getLogger(__name__)
REPORT_WORDS = {"rapport", "report", "rapportage"}
EXPORT_WORDS = {"export", "exporteer"}
MAX_CHARTS = 5  # charts per report message; the rest: ask for one chain
MAX_HOME_CHAINS = 20
SLACK_FAILED = {
    "nl": "Slack nam het rapport nu niet aan; er is niets verloren. Probeer het over een paar minuten "
    "opnieuw.",
    "en": "Slack did not accept the report just now; nothing was lost. Please try again in a few minutes.",
}


def owns(text: str) -> bool:
    words_ = text.split()
    return bool(words_) and words_[0].lower() in REPORT_WORDS | EXPORT_WORDS


def handle(deps: SlackDeps, client: WebClient, command: dict, text: str, language: str) -> str:
    """Do the report or export; returns the ephemeral reply for the asker, also when Slack fails."""
    try:
        return _handle(deps, client, command, text, language)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("report not delivered (%s)", type(exc).__name__)
        return SLACK_FAILED["en" if language == "en" else "nl"]


def _handle(deps: SlackDeps, client: WebClient, command: dict, text: str, language: str) -> str:
    service: ReportService = deps.reports
    user = command.get("user_id") or ""
    first, _, rest = text.partition(" ")
    t = words(language)
    try:
        if first.lower() in EXPORT_WORDS:
            if not service.is_coordinator(user):
                return t["export_who"]
            request = service.request(user, rest, language, surface="export")
            if request.report is None:
                return request.message
            dm = client.conversations_open(users=user)["channel"]["id"]
            client.files_upload_v2(
                channel=dm,
                content=report_csv(request.report, language, zone=_zone(service)),
                filename="ketenbot-export.csv",
                title=t["title"] + " (CSV)",
            )
            return t["sent"]
        request = service.request(user, rest, language, surface="slack")
    except SQLAlchemyError:
        return say("storage_down", language)
    if request.report is None:
        return request.message
    report = request.report
    zone = _zone(service)
    dm = client.conversations_open(users=user)["channel"]["id"]
    blocks = [b.to_dict() for b in report_blocks(report, language, zone)]
    key = f"report:{user}:{command.get('trigger_id') or request.scope}"
    post_once(
        client, key=key, channel=dm, text=t["title"], blocks=blocks, unfurl_links=False, unfurl_media=False
    )
    charts = [c for c in report.chains if c.rounds][:MAX_CHARTS]
    if charts:
        uploads = [
            {
                "content": render_png_bytes(c, language, zone=zone, min_group=report.min_group),
                "filename": f"ketenbot-{_slug(c.chain_name)}.png",
                "title": c.chain_name,
                "alt_txt": _alt(c.chain_name, language),
            }
            for c in charts
        ]
        try:
            client.files_upload_v2(channel=dm, file_uploads=uploads)
        except (SlackApiError, SlackClientError, OSError) as exc:  # the figures are in the message already
            log.warning("chart not uploaded (%s)", type(exc).__name__)
    return t["sent"]


def _alt(chain_name: str, language: str) -> str:
    """Alt text for the chart (screen readers; government accessibility rules)."""
    if language == "en":
        text = (
            f"Chart for {chain_name}: per dimension the share of each development stage per round, "
            "and the trust, learning and control pulse per round on a 1-5 scale."
        )
    else:
        text = (
            f"Grafiek van {chain_name}: per onderdeel het aandeel van elk ontwikkelstadium per ronde, "
            "en de pulse voor vertrouwen, leren en terugval op controle per ronde op een schaal van 1-5."
        )
    return text[:1000]


def _zone(service: ReportService) -> ZoneInfo:
    return service.zone


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:40] or "keten"


def home_view_for(deps: SlackDeps, user: str, language: str) -> View:
    """The App Home: for coordinators every chain, for managers theirs, for members their own answers."""
    blocks: list[Block] = [
        HeaderBlock(text="Ketenbot"),
        SectionBlock(text=MarkdownTextObject(text=HOME_TEXT)),
    ]
    service = deps.reports
    if service is None:
        return View(type="home", blocks=blocks)
    t = words(language)
    try:
        visible = service.visible_chains(user)
        if visible is None or visible:
            request = service.request(user, "", language, surface="home")
            report = request.report
            if report is not None and report.chains:
                blocks += [
                    DividerBlock(),
                    HeaderBlock(text=t["title"]),
                    ContextBlock(
                        elements=[
                            MarkdownTextObject(
                                text=t["period"].format(weeks=report.weeks, n=report.min_group)
                            )
                        ]
                    ),
                ]
                for chain in report.chains[:MAX_HOME_CHAINS]:
                    text = f"*{escape(chain.chain_name)}*\n" + "\n".join(
                        chain_lines(chain, language, service.zone)
                    )
                    blocks.append(SectionBlock(text=MarkdownTextObject(text=text[:3000])))
                if len(report.chains) > MAX_HOME_CHAINS:
                    blocks.append(
                        SectionBlock(
                            text=MarkdownTextObject(
                                text=t["more"].format(n=len(report.chains) - MAX_HOME_CHAINS)
                            )
                        )
                    )
        blocks += _own_answers(deps, user, language)
    except SQLAlchemyError:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=say("storage_down", language))))
    return View(type="home", blocks=blocks[:100])


def _own_answers(deps: SlackDeps, user: str, language: str) -> list[Block]:
    """A member's own recent check-ins (only they see their Home tab) and what is kept about them."""
    content = default_content()
    rows = deps.checkins.store.own_answers(user, limit=5) if deps.checkins is not None else []
    nl = language != "en"
    title = "Jouw laatste check-ins" if nl else "Your latest check-ins"
    lines = []
    for row in rows:
        when = row["opened_at"].astimezone(deps.reports.zone).strftime("%d-%m-%Y")
        if row["skipped"]:
            what = "overgeslagen" if nl else "skipped"
        else:
            what = " · ".join(
                f"{content.dimension_label(d, language)}: "
                + (
                    content.dont_know_label(language)
                    if row[d] == "weet_niet"
                    else content.stage_name(row[d], language)
                )
                for d in ("strategische_focus", "operationeel_model", "zichtbaarheid")
                if row[d]
            )
        lines.append(f"• {escape(row['chain_name'])}, {when}: {what}")
    privacy = (
        "_Alleen jij ziet dit. Anderen zien je antwoorden nooit los: alleen als totalen, en pas vanaf "
        f"{deps.reports.min_group} antwoorden._"
        if nl
        else "_Only you see this. Others never see your answers on their own: only as totals, and only "
        f"from {deps.reports.min_group} answers._"
    )
    return [
        DividerBlock(),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{title}*\n" + ("\n".join(lines) if lines else ("Nog geen." if nl else "None yet."))
            )
        ),
        ContextBlock(elements=[MarkdownTextObject(text=privacy)]),
    ]
