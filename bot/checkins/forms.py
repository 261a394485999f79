"""Block Kit for the weekly check-in: the DM, its reminder, the modal, and the channel summary.

Built with ``slack_sdk.models`` so Slack's limits are checked when ``to_dict()`` runs. Layout
follows ``bot.slack.blocks``: the bot's own words are marked "*Ketenbot:*"; quotes of the
guidance stand apart as block quotes „…” with a context line (section link, attribution,
licence). Quotes are Dutch in every language; only the bot's words follow ``language``.

The modal asks, in this order:

- per dimension of the table 'Ontwikkelstadia van ketens' which stage fits — *required*, with
  "weet ik niet" as a way out, so every answer describes all three dimensions and the
  distribution in a summary always adds up to the number of answers;
- three pulse items 1–5 (static selects, anchors in the option labels) — *optional*: someone
  who cannot judge an item should not have to guess (``control`` makes no sense without a
  setback), and an empty item is stored as None;
- whether something went wrong this week (yes/no) — *required*, a single click;
- three free-text questions — optional, at most MAX_FREE_TEXT characters.

Option labels stay short (Slack allows 75 characters; some quotes are longer), so the quotes
themselves are shown in a section above each radio group.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.checkins.content import CheckinContent, default_content, lang
from bot.checkins.model import (
    DIMENSIONS,
    DONT_KNOW,
    FREE_TEXT,
    MAX_FREE_TEXT,
    PULSE,
    PULSE_MAX,
    PULSE_MIN,
    STAGES,
    CheckinResponse,
    RoundSummary,
)
from bot.slack.text import FALLBACK_LIMIT, escape, link

# --- IDs ----------------------------------------------------------------------------------------

#: DM buttons (value: the round id) and the actions block that holds them.
OPEN_ACTION = "checkin_open"  # "Vul de check-in in" / "Wijzig je antwoorden": open the modal
SKIP_ACTION = "checkin_skip"  # "Sla deze week over"
ACTIONS_BLOCK = "checkin_actions"
#: The modal.
CALLBACK_ID = "checkin_form"
STAGE_ACTION = "checkin_stage"  # radio_buttons in each stage block
PULSE_ACTION = "checkin_pulse"  # static_select in each pulse block
SETBACK_ACTION = "checkin_setback"  # radio_buttons in SETBACK_BLOCK
TEXT_ACTION = "checkin_text"  # plain_text_input in each free-text block
SETBACK_BLOCK = "checkin_setback_block"
STAGE_BLOCKS: dict[str, str] = {d: f"checkin_stage_{d}" for d in DIMENSIONS}
PULSE_BLOCKS: dict[str, str] = {p: f"checkin_pulse_{p}" for p in PULSE}
TEXT_BLOCKS: dict[str, str] = {f: f"checkin_text_{f}" for f in FREE_TEXT}
YES, NO = "yes", "no"

TITLE_LIMIT = 24  # modal title, submit and close labels

LABELS = {
    "nl": {
        "bot": "Ketenbot",
        "title": "Wekelijkse check-in",
        "submit": "Verstuur",
        "save": "Bewaar",
        "cancel": "Annuleer",
        "open": "Vul de check-in in",
        "change": "Wijzig je antwoorden",
        "skip": "Sla deze week over",
        "invite": "Tijd voor de wekelijkse check-in van *{chain}*. Het kost minder dan twee minuten. "
                  "Je antwoorden worden alleen samengevat gedeeld, nooit met namen. "
                  "Invullen kan tot {closes}.",
        "answered": "Je antwoorden zijn opgeslagen. Je kunt ze wijzigen tot de ronde sluit.",
        "skipped": "Je slaat deze week over. Invullen kan nog steeds.",
        "remind": "Een herinnering: de check-in van *{chain}* staat open tot {closes}. Overslaan mag ook.",
        "modal_intro": "Check-in van *{chain}*. Kies per onderdeel de beschrijving die deze week het best "
                       "past; ‘Weet ik niet’ mag ook. Antwoorden worden alleen samengevat gedeeld, "
                       "nooit met namen.",
        "modal_previous": "Je eerdere antwoorden staan al ingevuld; wijzig wat je wilt.",
        "quotes_note": "De beschrijvingen zijn letterlijk geciteerd uit de NORA-handreiking.",
        "quote_from": "Citaat uit",
        "pulse_intro": "*Deze week in de keten* — kies 1 tot 5; wat je niet kunt inschatten mag leeg "
                       "blijven.",
        "pick": "Kies 1–5",
        "control_hint": "Ging er niets mis? Dan mag je dit leeg laten.",
        "yes": "Ja",
        "no": "Nee",
        "free_intro": "*Terugblik* — alles hieronder is optioneel.",
        "free_hint": "Noem liever geen namen.",
        "err_stage": "Kies een beschrijving, of ‘Weet ik niet’.",
        "err_setback": "Kies ja of nee.",
        "err_unknown": "Deze keuze ken ik niet; kies opnieuw.",
        "err_text": "Deze tekst kon ik niet lezen; probeer het opnieuw.",
        "closed": "Deze check-in-ronde is gesloten; er is niets gewijzigd.",
        "saved": "Dank je, je antwoorden zijn opgeslagen.",
        "skip_done": "Prima, je slaat deze week over.",
        "summary_head": "Check-in van *{chain}*: {answered} van {invited} uitgenodigden vulden hem in.",
        "summary_skipped": "Overgeslagen: {skipped}.",
        "too_few": "Verdeling per onderdeel: nog te weinig antwoorden (minimaal {n}).",
        "snapshot": "Een momentopname, geen score. Over de ontwikkelstadia zegt de handreiking:",
    },
    "en": {
        "bot": "Ketenbot",
        "title": "Weekly check-in",
        "submit": "Submit",
        "save": "Save",
        "cancel": "Cancel",
        "open": "Fill in the check-in",
        "change": "Change your answers",
        "skip": "Skip this week",
        "invite": "Time for the weekly check-in of *{chain}*. It takes less than two minutes. "
                  "Answers are only shared in aggregate, never with names. "
                  "You can fill it in until {closes}.",
        "answered": "Your answers are saved. You can change them until the round closes.",
        "skipped": "You are skipping this week. You can still fill it in.",
        "remind": "A gentle reminder: the check-in of *{chain}* is open until {closes}. "
                  "Skipping is fine too.",
        "modal_intro": "Check-in of *{chain}*. For each part, pick the description that fits best this week; "
                       "‘Don't know’ is fine too. Answers are only shared in aggregate, never with names.",
        "modal_previous": "Your earlier answers are filled in; change whatever you like.",
        "quotes_note": "The descriptions are quoted word for word, in Dutch, from the NORA guidance.",
        "quote_from": "Quoted from",
        "pulse_intro": "*This week in the chain* — pick 1 to 5; leave out what you cannot judge.",
        "pick": "Pick 1–5",
        "control_hint": "Nothing went wrong? Then you can leave this empty.",
        "yes": "Yes",
        "no": "No",
        "free_intro": "*Looking back* — everything below is optional.",
        "free_hint": "Please leave out names.",
        "err_stage": "Pick a description, or ‘Don't know’.",
        "err_setback": "Pick yes or no.",
        "err_unknown": "I don't recognise this choice; please pick again.",
        "err_text": "I could not read this text; please try again.",
        "closed": "This check-in round has closed; nothing was changed.",
        "saved": "Thank you, your answers are saved.",
        "skip_done": "Fine, you are skipping this week.",
        "summary_head": "Check-in of *{chain}*: {answered} of {invited} invited people filled it in.",
        "summary_skipped": "Skipped: {skipped}.",
        "too_few": "Distribution per part: not enough answers yet (at least {n}).",
        "snapshot": "A snapshot, not a score. About the development stages, the guidance says:",
    },
}


def labels(language: str) -> dict[str, str]:
    return LABELS[lang(language)]


def _bot(text: str) -> SectionBlock:
    """The bot's own words (already mrkdwn), marked as the bot's."""
    return SectionBlock(text=MarkdownTextObject(text=f"*{LABELS['nl']['bot']}:* {text}"))


def _mrkdwn(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


# --- DM: invitation and reminder -----------------------------------------------------------------


def _buttons(round_id: str, t: dict[str, str], answered: bool, skipped: bool) -> ActionsBlock:
    """Primary "fill in" (or "change" once answered); "skip" only while neither has happened."""
    elements = [
        ButtonElement(
            text=t["change"] if answered else t["open"],
            action_id=OPEN_ACTION,
            value=round_id,
            style="primary",
        )
    ]
    if not answered and not skipped:
        elements.append(ButtonElement(text=t["skip"], action_id=SKIP_ACTION, value=round_id))
    return ActionsBlock(block_id=ACTIONS_BLOCK, elements=elements)


def invitation_blocks(
    round_id: str,
    chain_name: str,
    language: str,
    closes_text: str,
    answered: bool = False,
    skipped: bool = False,
) -> list[Block]:
    """The check-in DM; rebuild it with ``answered``/``skipped`` to update the message.

    ``closes_text`` is mrkdwn written by the caller (e.g. "vrijdag 17:00" or a Slack
    ``<!date^…>`` token) and is not escaped; ``chain_name`` is escaped.
    """
    t = labels(language)
    blocks: list[Block] = [_bot(t["invite"].format(chain=escape(chain_name), closes=closes_text))]
    if answered:
        blocks.append(_context(f"✅ {t['answered']}"))
    elif skipped:
        blocks.append(_context(t["skipped"]))
    blocks.append(_buttons(round_id, t, answered, skipped))
    return blocks


def reminder_blocks(round_id: str, chain_name: str, language: str, closes_text: str) -> list[Block]:
    """One gentle line and the same buttons; only for people who neither answered nor skipped."""
    t = labels(language)
    line = t["remind"].format(chain=escape(chain_name), closes=closes_text)
    return [_bot(line), _buttons(round_id, t, answered=False, skipped=False)]


def invitation_text(chain_name: str, language: str) -> str:
    """Notification text (``text`` next to the blocks) for the invitation and the reminder."""
    return escape(f"{labels(language)['title']}: {chain_name}")[:FALLBACK_LIMIT]


# --- The modal -----------------------------------------------------------------------------------


def _credit(content: CheckinContent, t: dict[str, str]) -> ContextBlock:
    src = content.source
    prov = src.provenance
    credit = [link(src.url, src.place)]
    if prov.attribution:
        credit.append(escape(prov.attribution))
    if prov.licence:
        credit.append(link(prov.licence_url, prov.licence))
    return _context(f"{t['quote_from']} " + " · ".join(credit))


def _quote_line(quote: str) -> str:
    return f"> „{escape(quote)}”"


def _stage_options(content: CheckinContent, language: str) -> list[Option]:
    options = [Option(value=s, text=content.stage_name(s, language)) for s in STAGES]
    options.append(Option(value=DONT_KNOW, text=content.dont_know_label(language)))
    return options


def _pulse_options(content: CheckinContent, key: str, language: str) -> list[Option]:
    low, high = content.pulse_anchors(key, language)
    options = []
    for n in range(PULSE_MIN, PULSE_MAX + 1):
        text = f"{n} – {low}" if n == PULSE_MIN else f"{n} – {high}" if n == PULSE_MAX else str(n)
        options.append(Option(value=str(n), text=text))
    return options


def _yes_no(t: dict[str, str]) -> list[Option]:
    return [Option(value=YES, text=t["yes"]), Option(value=NO, text=t["no"])]


def _initial(options: list[Option], value: str | None) -> Option | None:
    return next((o for o in options if o.value == value), None)


def checkin_modal(
    round_id: str,
    chain_name: str,
    language: str,
    previous: CheckinResponse | None = None,
    *,
    content: CheckinContent | None = None,
) -> View:
    """The check-in form; with ``previous`` every element starts at the earlier answer."""
    content = content or default_content()
    t = labels(language)
    intro = t["modal_intro"].format(chain=escape(chain_name))
    if previous is not None:
        intro += f"\n_{t['modal_previous']}_"
    blocks: list[Block] = [_bot(intro), _context(f"_{t['quotes_note']}_")]

    for dim in DIMENSIONS:
        blocks.append(DividerBlock())
        label = content.dimension_label(dim, language)
        blocks.append(_mrkdwn(f"*{escape(label)}*\n{escape(content.dimension_question(dim, language))}"))
        lines = []
        for stage in STAGES:
            lines.append(f"*{escape(content.stage_name(stage, language))}*")
            lines.append(_quote_line(content.quote(dim, stage)))
        blocks.append(_mrkdwn("\n".join(lines)))
        blocks.append(_credit(content, t))
        options = _stage_options(content, language)
        blocks.append(
            InputBlock(
                block_id=STAGE_BLOCKS[dim],
                label=label,
                element=RadioButtonsElement(
                    action_id=STAGE_ACTION,
                    options=options,
                    initial_option=_initial(options, previous.stages.get(dim) if previous else None),
                ),
            )
        )

    blocks += [DividerBlock(), _mrkdwn(t["pulse_intro"])]
    for key in PULSE:
        options = _pulse_options(content, key, language)
        low, high = content.pulse_anchors(key, language)
        hint = f"1 = {low.lower()}, 5 = {high.lower()}"
        if key == "control":
            hint += f". {t['control_hint']}"
        value = previous.pulse.get(key) if previous else None
        blocks.append(
            InputBlock(
                block_id=PULSE_BLOCKS[key],
                label=content.pulse_question(key, language),
                optional=True,
                hint=hint,
                element=StaticSelectElement(
                    action_id=PULSE_ACTION,
                    placeholder=t["pick"],
                    options=options,
                    initial_option=_initial(options, None if value is None else str(value)),
                ),
            )
        )

    options = _yes_no(t)
    setback = None if previous is None or previous.setback is None else (YES if previous.setback else NO)
    blocks.append(
        InputBlock(
            block_id=SETBACK_BLOCK,
            label=content.setback_question(language),
            element=RadioButtonsElement(
                action_id=SETBACK_ACTION, options=options, initial_option=_initial(options, setback)
            ),
        )
    )

    blocks += [DividerBlock(), _mrkdwn(t["free_intro"])]
    for key in FREE_TEXT:
        blocks.append(
            InputBlock(
                block_id=TEXT_BLOCKS[key],
                label=content.free_text_label(key, language),
                optional=True,
                hint=t["free_hint"],
                element=PlainTextInputElement(
                    action_id=TEXT_ACTION,
                    multiline=True,
                    max_length=MAX_FREE_TEXT,
                    initial_value=previous.free_text(key) if previous else None,
                ),
            )
        )

    return View(
        type="modal",
        callback_id=CALLBACK_ID,
        private_metadata=json.dumps({"round_id": round_id, "language": lang(language)}),
        title=t["title"][:TITLE_LIMIT],
        submit=(t["save"] if previous is not None else t["submit"])[:TITLE_LIMIT],
        close=t["cancel"][:TITLE_LIMIT],
        blocks=blocks,
    )


def parse_metadata(private_metadata: str) -> tuple[str, str]:
    """(round_id, language) from the modal's ``private_metadata``; ValueError if it is not ours."""
    try:
        data = json.loads(private_metadata)
    except (TypeError, ValueError) as exc:
        raise ValueError("check-in metadata is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("round_id"), str) or not data["round_id"]:
        raise ValueError("check-in metadata has no round_id")
    return data["round_id"], lang(data.get("language"))


# --- Reading a submission ------------------------------------------------------------------------


class FormError(Exception):
    """Submitted values that cannot be stored; ``errors`` maps block_id to a message.

    Answer the view_submission with ``ack(**err.ack_payload())`` so Slack shows each message
    under its input.
    """

    def __init__(self, errors: dict[str, str], language: str):
        self.errors = dict(errors)
        self.language = lang(language)
        super().__init__("; ".join(f"{block}: {message}" for block, message in self.errors.items()))

    def ack_payload(self) -> dict[str, Any]:
        return {"response_action": "errors", "errors": dict(self.errors)}


_ABSENT = object()  # the block or element is not in the payload
_BAD = object()  # present, but not in the shape this form produces


def _element(values: Mapping[str, Any], block_id: str, action_id: str) -> Any:
    """The element state Slack sends at values[block_id][action_id]: a dict, _ABSENT or _BAD."""
    block = values.get(block_id, _ABSENT)
    if block is _ABSENT or block is None:
        return _ABSENT
    if not isinstance(block, Mapping):
        return _BAD
    state = block.get(action_id, _ABSENT)
    if state is _ABSENT or state is None:
        return _ABSENT
    return state if isinstance(state, Mapping) else _BAD


def _selected(state: Any) -> Any:
    """The selected option's value (str); None when nothing is selected; _BAD when malformed."""
    if state is _ABSENT:
        return None
    if state is _BAD:
        return _BAD
    option = state.get("selected_option")
    if option is None:
        return None
    if not isinstance(option, Mapping) or not isinstance(option.get("value"), str):
        return _BAD
    return option["value"]


def clean_text(value: str | None) -> str | None:
    """Strip, unify line ends and cap at MAX_FREE_TEXT; None when nothing is left."""
    if value is None:
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    # control characters (bell, escape, NUL ...) are dropped: they would reach terminals and exports,
    # and PostgreSQL refuses NUL in text
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()
    return text[:MAX_FREE_TEXT].rstrip() or None


def parse_submission(values: Mapping[str, Any], language: str = "nl") -> CheckinResponse:
    """A CheckinResponse from ``view["state"]["values"]`` of a view_submission payload.

    Shape (Slack's): ``{block_id: {action_id: {"type": "radio_buttons" | "static_select",
    "selected_option": {"text": {...}, "value": "..."} | None}}}`` and for text
    ``{"type": "plain_text_input", "value": "..." | None}``. Raises FormError (messages in
    ``language``) for a missing required answer or a value this form never offered.
    """
    t = labels(language)
    errors: dict[str, str] = {}
    if not isinstance(values, Mapping):
        values = {}

    stages: dict[str, str] = {}
    allowed_stages = {*STAGES, DONT_KNOW}
    for dim in DIMENSIONS:
        block_id = STAGE_BLOCKS[dim]
        value = _selected(_element(values, block_id, STAGE_ACTION))
        if value is None:
            errors[block_id] = t["err_stage"]
        elif value is _BAD or value not in allowed_stages:
            errors[block_id] = t["err_unknown"]
        else:
            stages[dim] = str(value)

    pulse: dict[str, int | None] = {}
    allowed_pulse = {str(n): n for n in range(PULSE_MIN, PULSE_MAX + 1)}
    for key in PULSE:
        block_id = PULSE_BLOCKS[key]
        value = _selected(_element(values, block_id, PULSE_ACTION))
        if value is None:
            pulse[key] = None
        elif value is _BAD or value not in allowed_pulse:
            errors[block_id] = t["err_unknown"]
        else:
            pulse[key] = allowed_pulse[str(value)]

    setback: bool | None = None
    value = _selected(_element(values, SETBACK_BLOCK, SETBACK_ACTION))
    if value is None:
        errors[SETBACK_BLOCK] = t["err_setback"]
    elif value is _BAD or value not in (YES, NO):
        errors[SETBACK_BLOCK] = t["err_unknown"]
    else:
        setback = value == YES

    texts: dict[str, str | None] = {}
    for key in FREE_TEXT:
        block_id = TEXT_BLOCKS[key]
        state = _element(values, block_id, TEXT_ACTION)
        raw = None if state is _ABSENT else state if state is _BAD else state.get("value")
        if raw is not None and not isinstance(raw, str):
            errors[block_id] = t["err_text"]
            continue
        texts[key] = clean_text(raw)

    if errors:
        raise FormError(errors, language)
    return CheckinResponse(stages=stages, pulse=pulse, setback=setback, **texts)


def closed_error(language: str) -> str:
    """Text for a submission or button click after the round closed."""
    return labels(language)["closed"]


def saved_text(language: str) -> str:
    return labels(language)["saved"]


def skipped_text(language: str) -> str:
    return labels(language)["skip_done"]


# --- The summary in the chain channel ------------------------------------------------------------


def percent(count: int, total: int) -> int:
    """Whole percent, halves rounded up; 0 for an empty total."""
    return (200 * count + total) // (2 * total) if total > 0 else 0


def summary_blocks(
    summary: RoundSummary, language: str, *, content: CheckinContent | None = None
) -> list[Block]:
    """Counts for a round, for the chain channel's thread. No names or user ids, ever.

    The distribution per dimension is shown only when ``summary.distribution`` is set (the
    caller leaves it None below ``min_group``). It ends with the guidance's own words that
    cultural embedding is not always needed, so no stage reads as the target.
    """
    content = content or default_content()
    t = labels(language)
    head = t["summary_head"].format(
        chain=escape(summary.chain_name), answered=summary.answered, invited=summary.invited
    )
    if summary.skipped:
        head += " " + t["summary_skipped"].format(skipped=summary.skipped)
    blocks: list[Block] = [_bot(head)]

    if summary.distribution is None:
        blocks.append(_mrkdwn(f"_{t['too_few'].format(n=summary.min_group)}_"))
    else:
        for dim in DIMENSIONS:
            counts = summary.distribution.get(dim) or {}
            keys = [*STAGES, DONT_KNOW]
            total = sum(int(counts.get(k, 0)) for k in keys)
            lines = [f"*{escape(content.dimension_label(dim, language))}*"]
            for key in keys:
                if key == DONT_KNOW:
                    name = content.dont_know_label(language)
                else:
                    name = content.stage_name(key, language)
                n = int(counts.get(key, 0))
                lines.append(f"• {escape(name)}: {n} ({percent(n, total)}%)")
            blocks.append(_mrkdwn("\n".join(lines)))

    blocks += [
        DividerBlock(),
        _bot(t["snapshot"]),
        _mrkdwn(_quote_line(content.not_always_needed)),
        _credit(content, t),
    ]
    return blocks


def summary_text(summary: RoundSummary, language: str) -> str:
    """Notification text for the summary message."""
    t = labels(language)
    head = t["summary_head"].replace("*{chain}*", "{chain}")
    return head.format(
        chain=escape(summary.chain_name), answered=summary.answered, invited=summary.invited
    )[:FALLBACK_LIMIT]
