"""Reports for people: who may see which chains, what they asked for, and every view logged.

``ReportService.request`` turns ``/keten rapport [keten] [weken]`` (or the CLI's options) into
a :class:`Report` the person may see, or a polite refusal in their language. Rendering lives
next door: Block Kit (:func:`report_blocks`), plain text (:func:`report_text`), JSON
(:func:`report_json`); charts and CSV in ``bot.reports.chart`` / ``bot.reports.export``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from sqlalchemy import Engine, func, select

from bot.checkins.content import default_content, lang
from bot.checkins.model import DIMENSIONS, PULSE, STAGES
from bot.checkins.store import COORDINATOR, MANAGER, Checkins
from bot.records.schema import chains, report_views
from bot.records.store import Clock, utcnow
from bot.reports.aggregate import build_report
from bot.reports.model import HIDDEN_OPEN, ChainReport, Report, RoundFigures
from bot.slack.text import escape, link

DEFAULT_WEEKS = 12
MAX_WEEKS = 104  # two years of weekly rounds
MAX_CHAINS_IN_MESSAGE = 12  # more chains: the rest is in the export
MAX_COMMENTS = 8  # free-text answers shown in one chain's report

# Verbatim from the guidance's section 'Ontwikkelstadia van ketens' (CC BY-ND 3.0): what it says
# about each stage. tests/test_report_surface.py checks that each is in the knowledge text.
STAGE_QUOTES = {
    "opportunisme": "Het eerste stadium is opportunisme. Daarbij wordt ad hoc samengewerkt, als het echt niet "
    "anders kan. Individuen zijn verantwoordelijk voor de samenwerking, maar de keten wordt niet breed in de "
    "organisatie herkend.",
    "procedure": "Wanneer een keten groter wordt en zich ontwikkelt, worden meer procedures ingevoerd. "
    "Samenwerking is niet meer ad hoc, maar vindt regelmatig plaats. Het proces is stabiel geworden en er zijn "
    "ook groepen met de samenwerking bezig.",
    "verankering": "Uiteindelijk kan een keten culturele verankering krijgen. Dan is de keten een vast onderdeel "
    "van de strategie van de organisaties, vindt continue verbetering van de keten plaats en wordt de keten in de "
    "betrokken organisaties herkend als zijnde van vitaal belang voor het eigen voortbestaan.",
}

WORDS = {
    "nl": {
        "title": "Ketenbot-rapport",
        "period": "Laatste {weeks} weken · minimale groepsgrootte {n}",
        "too_few": "te weinig antwoorden",
        "open": "ronde loopt nog",
        "no_rounds": "Nog geen check-ins in deze periode.",
        "latest": "Laatste gesloten ronde ({date}): {answered} van {invited} ingevuld ({rate}).",
        "no_closed": "Nog geen gesloten ronde in deze periode.",
        "stage_line": "*{dim}*: {stage}{trend}",
        "trend": {
            "up": " · richting verankering",
            "down": " · richting opportunisme",
            "steady": " · stabiel",
        },
        "pulse": "Vertrouwen {trust} · ruimte om te leren {learning} · terugval op controle {control} (1–5)",
        "setbacks": "Tegenslagen gemeld: {n}",
        "more": "En nog {n} ketens; `/keten export` geeft alles als CSV.",
        "totals": "Alle ketens samen (laatste gesloten ronde): {answered} van {invited} ingevuld.",
        "totals_hidden": "Een totaal over alle ketens wordt niet getoond: daaruit zou een kleine groep af te leiden zijn.",
        "snapshot": "Een momentopname, geen score: een later stadium is niet vanzelf beter. Over dit stadium zegt de handreiking:",
        "who": "Alleen coördinatoren zien alle ketens en ketenmanagers hun eigen keten. Jij ziet de samenvatting in het kanaal van je keten, en je eigen antwoorden in het Home-tabblad van Ketenbot.",
        "no_chain": "Ik ken geen keten met de naam ‘{name}’ die jij mag inzien. Jouw ketens: {names}.",
        "no_chains_at_all": "Er is nog geen keten die jij mag inzien.",
        "weeks_bad": "Het aantal weken moet een heel getal van 1 tot en met {max} zijn, bijvoorbeeld `/keten rapport 12`.",
        "export_who": "Alleen coördinatoren kunnen de export maken.",
        "sent": "Het rapport staat in je DM met Ketenbot.",
        "no_estimate": "nog niet te zeggen",
        "comments": "Uit de check-ins — woorden van deelnemers, zonder namen en in willekeurige volgorde (alleen uit rondes met genoeg antwoorden):",
    },
    "en": {
        "title": "Ketenbot report",
        "period": "Last {weeks} weeks · minimum group size {n}",
        "too_few": "not enough answers",
        "open": "round still open",
        "no_rounds": "No check-ins in this period yet.",
        "latest": "Latest closed round ({date}): {answered} of {invited} answered ({rate}).",
        "no_closed": "No closed round in this period yet.",
        "stage_line": "*{dim}*: {stage}{trend}",
        "trend": {"up": " · towards embedding", "down": " · towards opportunism", "steady": " · steady"},
        "pulse": "Trust {trust} · room to learn {learning} · fallback on control {control} (1–5)",
        "setbacks": "Setbacks reported: {n}",
        "more": "And {n} more chains; `/keten export` has them all as CSV.",
        "totals": "All chains together (latest closed round): {answered} of {invited} answered.",
        "totals_hidden": "No total over all chains is shown: a small group could be worked out from it.",
        "snapshot": "A snapshot, not a score: a later stage is not better as such. About this stage the guidance says:",
        "who": "Only coordinators see every chain, and chain managers their own chain. You see the summary in your chain's channel, and your own answers in Ketenbot's Home tab.",
        "no_chain": "I know no chain called ‘{name}’ that you may see. Your chains: {names}.",
        "no_chains_at_all": "There is no chain you may see yet.",
        "weeks_bad": "The number of weeks must be a whole number from 1 to {max}, e.g. `/keten rapport 12`.",
        "export_who": "Only coordinators can make the export.",
        "sent": "The report is in your DM with Ketenbot.",
        "no_estimate": "too early to tell",
        "comments": "From the check-ins — participants' own words, without names, in random order (only from rounds with enough answers):",
    },
}


def words(language: str) -> dict:
    return WORDS[lang(language)]


@dataclass(frozen=True)
class ReportRequest:
    report: Report | None  # None: refused, see ``message``
    message: str = ""
    scope: str = ""


class ReportService:
    def __init__(
        self,
        engine: Engine,
        store: Checkins,
        *,
        admins: tuple[str, ...],
        min_group: int,
        zone: ZoneInfo,
        clock: Clock = utcnow,
    ):
        self.engine, self.store, self.admins = engine, store, admins
        self.min_group, self.zone, self.clock = min_group, zone, clock

    def visible_chains(self, user: str) -> list[dict] | None:
        """None: every chain (coordinators, administrators, the local CLI); else the chains this
        person manages (possibly none)."""
        if user in self.admins or user == "cli" or self.store.has_role(user, COORDINATOR):
            return None
        if not self.store.has_role(user, MANAGER):  # a manager whose role was taken sees nothing more
            return []
        return self.store.chains_managed_by(user)

    def request(
        self, user: str, args: str, language: str, *, surface: str, comments: bool = False
    ) -> ReportRequest:
        t = words(language)
        words_ = args.split()
        weeks = DEFAULT_WEEKS
        if words_ and (words_[-1].isdigit() or words_[-1].lstrip("-").isdigit()):
            value = int(words_.pop())
            if not 1 <= value <= MAX_WEEKS:
                return ReportRequest(None, t["weeks_bad"].format(max=MAX_WEEKS))
            weeks = value
        elif words_ and len(words_) == 1 and _looks_like_weeks(words_[0]):
            return ReportRequest(None, t["weeks_bad"].format(max=MAX_WEEKS))
        name = " ".join(words_).strip()
        visible = self.visible_chains(user)
        if visible is not None and not visible:
            return ReportRequest(None, t["no_chains_at_all"] + " " + t["who"])
        chain_ids = None if visible is None else [c["id"] for c in visible]
        if name:
            match = self._find(name, visible)
            if match is None:
                names = ", ".join(sorted(c["name"] for c in (visible or self.store.all_chains()))) or "—"
                return ReportRequest(None, t["no_chain"].format(name=escape(name), names=escape(names)))
            chain_ids = [match["id"]]
        one_chain = chain_ids is not None and len(chain_ids) == 1  # comments belong to one chain's view
        report = build_report(
            self.engine,
            chain_ids=chain_ids,
            weeks=weeks,
            min_group=self.min_group,
            now=self.clock(),
            comments=comments or one_chain,
        )
        scope = f"{name or 'all'}; {weeks} weeks"
        self.log_view(user, surface, scope)
        return ReportRequest(report, scope=scope)

    def _find(self, name: str, visible: list[dict] | None) -> dict | None:
        pool = visible if visible is not None else self.store.all_chains()
        wanted = name.casefold()
        exact = [c for c in pool if c["name"].casefold() == wanted]
        if exact:
            return exact[0]
        partial = [c for c in pool if wanted in c["name"].casefold()]
        return partial[0] if len(partial) == 1 else None

    def log_view(self, user: str, surface: str, scope: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                report_views.insert().values(
                    id=str(uuid.uuid4()),
                    viewed_at=self.clock(),
                    user_id=user,
                    surface=surface,
                    scope=scope[:200],
                )
            )

    def views(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(report_views)).scalar_one()

    def is_coordinator(self, user: str) -> bool:
        return user in self.admins or user == "cli" or self.store.has_role(user, COORDINATOR)

    def chain_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(chains)).scalar_one()


def _looks_like_weeks(word: str) -> bool:
    return word.lower() in {"weken", "weeks", "week"} or any(ch.isdigit() for ch in word)


# ----------------------------------------------------------------------------- rendering


def latest_closed(chain: ChainReport) -> RoundFigures | None:
    closed = [r for r in chain.rounds if r.closed]
    return closed[-1] if closed else None


def stage_at(estimate: float) -> str:
    """The stage an estimate on 1..3 lies nearest to."""
    return STAGES[min(2, max(0, round(estimate) - 1))]


def _stage_name(estimate: float | None, language: str) -> str | None:
    return None if estimate is None else default_content().stage_name(stage_at(estimate), language)


def _mean(value: float | None, t: dict) -> str:
    return t["too_few"] if value is None else f"{value:.1f}".replace(".", "," if t is WORDS["nl"] else ".")


def _date(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%d-%m-%Y")


def chain_lines(chain: ChainReport, language: str, zone: ZoneInfo) -> list[str]:
    """The bot's words about one chain, mrkdwn; no person, ever."""
    t, content = words(language), default_content()
    if not chain.rounds:
        return [t["no_rounds"]]
    last = latest_closed(chain)
    if last is None:
        return [t["no_closed"]]
    rate = t["too_few"] if last.response_rate is None else f"{round(last.response_rate * 100)}%"
    lines = [
        t["latest"].format(
            date=_date(last.opened_at, zone), answered=last.answered, invited=last.invited, rate=rate
        )
    ]
    estimates = chain.trend_estimate or {}
    for d in DIMENSIONS:
        value = estimates.get(d)
        if value is None and last.stage_estimate is not None:
            value = last.stage_estimate.get(d)
        if last.stage_estimate is None and value is None:
            stage = t["open"] if last.hidden_reason == HIDDEN_OPEN else t["too_few"]
        else:
            stage = _stage_name(value, language) or t["no_estimate"]
        direction = (chain.trend_direction or {}).get(d)
        trend = t["trend"].get(direction, "") if direction else ""
        lines.append(
            t["stage_line"].format(dim=content.dimension_label(d, language), stage=stage, trend=trend)
        )
    means = last.pulse_means or {}
    lines.append(t["pulse"].format(**{p: _mean(means.get(p), t) for p in PULSE}))
    lines.append(t["setbacks"].format(n=t["too_few"] if last.setbacks is None else last.setbacks))
    return lines


def dominant_stage(chain: ChainReport) -> str | None:
    """Where the chain stands overall: the middle of its per-dimension trend (or latest round)."""
    values = [v for v in (chain.trend_estimate or {}).values() if v is not None]
    if not values:
        last = latest_closed(chain)
        values = [v for v in ((last.stage_estimate or {}) if last else {}).values() if v is not None]
    if not values:
        return None
    return stage_at(sorted(values)[len(values) // 2])


def guidance_for(chain: ChainReport) -> tuple[str, str] | None:
    """(quote, then the not-always-needed passage) for where the chain stands, or None."""
    stage = dominant_stage(chain)
    if stage is None:
        return None
    return STAGE_QUOTES[stage], default_content().not_always_needed


def report_blocks(report: Report, language: str, zone: ZoneInfo) -> list[Block]:
    t, content = words(language), default_content()
    blocks: list[Block] = [
        HeaderBlock(text=t["title"]),
        ContextBlock(
            elements=[MarkdownTextObject(text=t["period"].format(weeks=report.weeks, n=report.min_group))]
        ),
    ]
    for chain in report.chains[:MAX_CHAINS_IN_MESSAGE]:
        blocks.append(DividerBlock())
        text = f"*{escape(chain.chain_name)}*\n" + "\n".join(chain_lines(chain, language, zone))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text[:3000])))
    if len(report.chains) > MAX_CHAINS_IN_MESSAGE:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=t["more"].format(n=len(report.chains) - MAX_CHAINS_IN_MESSAGE))
            )
        )
    if len(report.chains) > 1:
        if report.total_answered is None:
            total = t["totals_hidden"]
        else:
            total = t["totals"].format(answered=report.total_answered, invited=report.total_invited)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=total)))
    if len(report.chains) == 1 and report.chains[0].comments:
        shown = report.chains[0].comments[:MAX_COMMENTS]
        blocks += [
            DividerBlock(),
            SectionBlock(text=MarkdownTextObject(text=f"_{t['comments']}_")),
            SectionBlock(
                text=MarkdownTextObject(text="\n".join(f"• {escape(c)[:280]}" for c in shown)[:3000])
            ),
        ]
    if len(report.chains) == 1 and (quotes := guidance_for(report.chains[0])):
        source = content.source
        credit = (
            f"{link(source.url, source.place)} · {escape(source.provenance.attribution)} · "
            f"{escape(source.provenance.licence)}"
        )
        blocks += [
            DividerBlock(),
            SectionBlock(text=MarkdownTextObject(text=f"_{t['snapshot']}_")),
            SectionBlock(text=MarkdownTextObject(text="\n".join(f"> „{escape(q)}”" for q in quotes))),
            ContextBlock(elements=[MarkdownTextObject(text=credit)]),
        ]
    return blocks[:50]


def report_text(report: Report, language: str, zone: ZoneInfo) -> str:
    t, content = words(language), default_content()
    out = [f"Ketenbot: {t['title']} — {t['period'].format(weeks=report.weeks, n=report.min_group)}"]
    for chain in report.chains:
        out.append("")
        out.append(chain.chain_name)
        out += ["  " + line.replace("*", "") for line in chain_lines(chain, language, zone)]
    if len(report.chains) > 1:
        out.append("")
        out.append(
            t["totals_hidden"]
            if report.total_answered is None
            else t["totals"].format(answered=report.total_answered, invited=report.total_invited)
        )
    if len(report.chains) == 1 and report.chains[0].comments:
        out += ["", f"Ketenbot: {t['comments']}"] + [
            f"  • {c}" for c in report.chains[0].comments[:MAX_COMMENTS]
        ]
    if len(report.chains) == 1 and (quotes := guidance_for(report.chains[0])):
        source = content.source
        out += ["", f"Ketenbot: {t['snapshot']}"] + [f"„{q}”" for q in quotes]
        out += [
            f"    {source.place}",
            f"    {source.url}",
            f"    {source.provenance.attribution}, {source.provenance.licence}",
        ]
    return "\n".join(out)


def report_json(report: Report) -> dict:
    def plain(value):  # noqa: ANN001, ANN202 - JSON-able copy
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return plain(asdict(report))
