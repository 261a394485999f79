"""Check-in Block Kit: valid for Slack, round-trips through state.values, no names, quotes kept Dutch."""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.blocks import ActionsBlock

from bot.checkins import forms
from bot.checkins.content import NOT_ALWAYS_NEEDED_QUOTE, default_content
from bot.checkins.forms import (
    FormError,
    checkin_modal,
    closed_error,
    invitation_blocks,
    parse_metadata,
    parse_submission,
    reminder_blocks,
    summary_blocks,
)
from bot.checkins.model import (
    DIMENSIONS,
    DONT_KNOW,
    FREE_TEXT,
    MAX_FREE_TEXT,
    PULSE,
    STAGES,
    CheckinResponse,
    RoundSummary,
)

CONTENT = default_content()

FULL = CheckinResponse(
    stages={
        "strategische_focus": "procedure",
        "operationeel_model": "opportunisme",
        "zichtbaarheid": DONT_KNOW,
    },
    pulse={"trust": 4, "learning": 1, "control": 5},
    setback=True,
    went_well="De overdracht liep soepel.",
    went_wrong="Een bestand kwam te laat.\nTwee keer.",
    learned="Eerder bellen.",
)
SPARSE = CheckinResponse(
    stages={d: "verankering" for d in DIMENSIONS},
    pulse={"trust": None, "learning": 3, "control": None},
    setback=False,
    went_well=None,
    went_wrong=None,
    learned=None,
)


def _valid_blocks(blocks) -> list[dict]:
    dicts = [b.to_dict() for b in blocks]  # raises SlackObjectFormationError past Slack's limits
    json.dumps(dicts)
    assert 1 <= len(dicts) <= 50
    return dicts


def _texts(dicts: list[dict]) -> str:
    """Every piece of visible text in blocks (as dicts), joined."""
    out: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn"):
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(dicts)
    return "\n".join(out)


def _option(text: str, value: str) -> dict:
    return {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value}


def state_values(response: CheckinResponse) -> dict:
    """``view["state"]["values"]`` as Slack sends it for ``response`` (block_id → action_id → state)."""
    values: dict[str, dict] = {}
    for dim in DIMENSIONS:
        stage = response.stages[dim]
        values[forms.STAGE_BLOCKS[dim]] = {
            forms.STAGE_ACTION: {"type": "radio_buttons", "selected_option": _option(stage, stage)}
        }
    for key in PULSE:
        n = response.pulse[key]
        values[forms.PULSE_BLOCKS[key]] = {
            forms.PULSE_ACTION: {
                "type": "static_select",
                "selected_option": None if n is None else _option(str(n), str(n)),
            }
        }
    setback = {True: forms.YES, False: forms.NO}.get(response.setback)
    values[forms.SETBACK_BLOCK] = {
        forms.SETBACK_ACTION: {
            "type": "radio_buttons",
            "selected_option": None if setback is None else _option(setback, setback),
        }
    }
    for key in FREE_TEXT:
        values[forms.TEXT_BLOCKS[key]] = {
            forms.TEXT_ACTION: {"type": "plain_text_input", "value": response.free_text(key)}
        }
    return values


def _inputs(view_dict: dict) -> dict[str, dict]:
    return {b["block_id"]: b for b in view_dict["blocks"] if b["type"] == "input"}


# --- the modal ---


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize("previous", [None, FULL, SPARSE])
def test_modal_serialises_within_slack_limits(language, previous):
    view = checkin_modal("R-2024-W07", "Keten Zorg", language, previous).to_dict()
    assert view["type"] == "modal"
    assert view["callback_id"] == forms.CALLBACK_ID
    assert len(view["title"]["text"]) <= 24
    assert len(view["submit"]["text"]) <= 24 and len(view["close"]["text"]) <= 24
    assert len(view["blocks"]) <= 100
    assert json.loads(view["private_metadata"]) == {"round_id": "R-2024-W07", "language": language}
    assert parse_metadata(view["private_metadata"]) == ("R-2024-W07", language)
    inputs = _inputs(view)
    expected = [*forms.STAGE_BLOCKS.values(), *forms.PULSE_BLOCKS.values(), forms.SETBACK_BLOCK,
                *forms.TEXT_BLOCKS.values()]
    assert list(inputs) == expected
    for dim in DIMENSIONS:
        block = inputs[forms.STAGE_BLOCKS[dim]]
        assert not block.get("optional") and block["element"]["type"] == "radio_buttons"
        assert [o["value"] for o in block["element"]["options"]] == [*STAGES, DONT_KNOW]
    assert not inputs[forms.SETBACK_BLOCK].get("optional")
    for key in PULSE:
        block = inputs[forms.PULSE_BLOCKS[key]]
        assert block["optional"] is True
        assert [o["value"] for o in block["element"]["options"]] == ["1", "2", "3", "4", "5"]
    for key in FREE_TEXT:
        block = inputs[forms.TEXT_BLOCKS[key]]
        assert block["optional"] is True
        assert block["element"]["multiline"] is True and block["element"]["max_length"] == MAX_FREE_TEXT


@pytest.mark.parametrize("response", [FULL, SPARSE])
def test_modal_round_trips_through_state_values(response):
    assert parse_submission(state_values(response)) == response
    assert parse_submission(state_values(response), "en") == response


@pytest.mark.parametrize("previous", [FULL, SPARSE])
def test_prefilled_initial_options_match_previous(previous):
    inputs = _inputs(checkin_modal("R1", "Keten", "nl", previous).to_dict())
    for dim in DIMENSIONS:
        element = inputs[forms.STAGE_BLOCKS[dim]]["element"]
        assert element["initial_option"]["value"] == previous.stages[dim]
        assert element["initial_option"] in element["options"]
    for key in PULSE:
        element = inputs[forms.PULSE_BLOCKS[key]]["element"]
        if previous.pulse[key] is None:
            assert "initial_option" not in element
        else:
            assert element["initial_option"]["value"] == str(previous.pulse[key])
            assert element["initial_option"] in element["options"]
    setback = inputs[forms.SETBACK_BLOCK]["element"]["initial_option"]["value"]
    assert setback == (forms.YES if previous.setback else forms.NO)
    for key in FREE_TEXT:
        element = inputs[forms.TEXT_BLOCKS[key]]["element"]
        assert element.get("initial_value") == previous.free_text(key)


def test_fresh_modal_has_nothing_selected():
    inputs = _inputs(checkin_modal("R1", "Keten", "nl").to_dict())
    for block in inputs.values():
        assert "initial_option" not in block["element"] and "initial_value" not in block["element"]


def test_quotes_are_shown_verbatim_apart_from_the_bots_words_with_credit():
    view = checkin_modal("R1", "Keten", "nl").to_dict()
    sections = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    contexts = [e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert sections[0].startswith("*Ketenbot:* ")
    for dim in DIMENSIONS:
        for stage in STAGES:
            line = f"> „{CONTENT.quote(dim, stage)}”"
            assert any(line in s.splitlines() for s in sections), line
    url = CONTENT.source.url
    assert url.endswith("#Ontwikkelstadia_van_ketens")
    credits = [c for c in contexts if f"<{url}|" in c]
    assert len(credits) == len(DIMENSIONS)
    assert all("CC BY-ND 3.0" in c and "NORA" in c for c in credits)


def test_english_modal_has_english_labels_and_dutch_quotes():
    en = checkin_modal("R1", "Keten", "en").to_dict()
    text = _texts(en["blocks"])
    assert en["title"]["text"] == "Weekly check-in"
    for label in ("Strategic focus", "Operational model", "Opportunism", "Procedure-oriented",
                  "Cultural embedding", "Don't know", "What did we learn?", "Yes", "No", "1 – Little"):
        assert label in text, label
    for dutch in ("Strategische focus", "Culturele verankering", "Weet ik niet", "Wat ging goed?", "Ja\n"):
        assert dutch not in text, dutch
    for dim in DIMENSIONS:
        for stage in STAGES:
            assert f"„{CONTENT.quote(dim, stage)}”" in text
    nl = _texts(checkin_modal("R1", "Keten", "nl").to_dict()["blocks"])
    assert "Strategische focus" in nl and "Culturele verankering" in nl and "Strategic focus" not in nl


def test_chain_name_is_escaped():
    view = checkin_modal("R1", "<!channel> & co", "nl").to_dict()
    assert "<!channel>" not in json.dumps(view)
    assert "&lt;!channel&gt; &amp; co" in view["blocks"][0]["text"]["text"]


# --- parsing ---


def _errors(values: dict, language: str = "nl") -> dict[str, str]:
    with pytest.raises(FormError) as err:
        parse_submission(values, language)
    assert err.value.language == language
    assert err.value.ack_payload() == {"response_action": "errors", "errors": err.value.errors}
    return err.value.errors


def test_missing_required_answers_give_errors_in_both_languages():
    values = state_values(FULL)
    values[forms.STAGE_BLOCKS["zichtbaarheid"]][forms.STAGE_ACTION]["selected_option"] = None
    del values[forms.SETBACK_BLOCK]
    nl, en = _errors(values, "nl"), _errors(values, "en")
    assert set(nl) == set(en) == {forms.STAGE_BLOCKS["zichtbaarheid"], forms.SETBACK_BLOCK}
    assert "Weet ik niet" in nl[forms.STAGE_BLOCKS["zichtbaarheid"]]
    assert "Don't know" in en[forms.STAGE_BLOCKS["zichtbaarheid"]]
    assert nl[forms.SETBACK_BLOCK] == "Kies ja of nee." and en[forms.SETBACK_BLOCK] == "Pick yes or no."


def test_empty_payload_lists_every_required_block():
    assert set(_errors({})) == {*forms.STAGE_BLOCKS.values(), forms.SETBACK_BLOCK}


@pytest.mark.parametrize(
    ("block", "action", "state"),
    [
        (forms.STAGE_BLOCKS["strategische_focus"], forms.STAGE_ACTION,
         {"type": "radio_buttons", "selected_option": _option("x", "excellent")}),
        (forms.STAGE_BLOCKS["operationeel_model"], forms.STAGE_ACTION,
         {"type": "radio_buttons", "selected_option": "procedure"}),
        (forms.PULSE_BLOCKS["trust"], forms.PULSE_ACTION,
         {"type": "static_select", "selected_option": _option("6", "6")}),
        (forms.PULSE_BLOCKS["control"], forms.PULSE_ACTION,
         {"type": "static_select", "selected_option": {"value": 3}}),
        (forms.SETBACK_BLOCK, forms.SETBACK_ACTION,
         {"type": "radio_buttons", "selected_option": _option("maybe", "maybe")}),
        (forms.TEXT_BLOCKS["learned"], forms.TEXT_ACTION, {"type": "plain_text_input", "value": ["a"]}),
        (forms.TEXT_BLOCKS["went_well"], forms.TEXT_ACTION, "not a dict"),
    ],
)
def test_tampered_values_give_errors_in_both_languages(block, action, state):
    values = state_values(FULL)
    values[block] = {action: state}
    nl, en = _errors(values, "nl"), _errors(values, "en")
    assert list(nl) == list(en) == [block]
    assert nl[block] != en[block]
    assert nl[block] in forms.LABELS["nl"].values() and en[block] in forms.LABELS["en"].values()


def test_free_text_is_stripped_and_capped():
    values = state_values(SPARSE)
    long = "  " + "x" * (MAX_FREE_TEXT + 500) + "  "
    values[forms.TEXT_BLOCKS["went_well"]][forms.TEXT_ACTION]["value"] = long
    values[forms.TEXT_BLOCKS["went_wrong"]][forms.TEXT_ACTION]["value"] = " \n\t "
    values[forms.TEXT_BLOCKS["learned"]][forms.TEXT_ACTION]["value"] = "\r\nregel een\r\nregel twee\r\n"
    parsed = parse_submission(values)
    assert parsed.went_well == "x" * MAX_FREE_TEXT
    assert parsed.went_wrong is None
    assert parsed.learned == "regel een\nregel twee"


def test_optional_blocks_may_be_absent():
    values = state_values(FULL)
    for key in PULSE:
        del values[forms.PULSE_BLOCKS[key]]
    for key in FREE_TEXT:
        del values[forms.TEXT_BLOCKS[key]]
    parsed = parse_submission(values)
    assert parsed.pulse == {k: None for k in PULSE}
    assert parsed.went_well is parsed.went_wrong is parsed.learned is None


def test_bad_metadata_is_refused():
    for bad in ("", "nope", "[]", json.dumps({"language": "nl"})):
        with pytest.raises(ValueError):
            parse_metadata(bad)
    assert parse_metadata(json.dumps({"round_id": "R", "language": "de"})) == ("R", "nl")


def test_closed_error_in_both_languages():
    assert "gesloten" in closed_error("nl") and "niets gewijzigd" in closed_error("nl")
    assert "closed" in closed_error("en") and "nothing was changed" in closed_error("en")


# --- the DM ---


def _buttons(blocks) -> list[dict]:
    actions = [b for b in blocks if isinstance(b, ActionsBlock)]
    assert len(actions) == 1
    d = actions[0].to_dict()
    assert d["block_id"] == forms.ACTIONS_BLOCK
    return d["elements"]


@pytest.mark.parametrize("language", ["nl", "en"])
def test_invitation_and_reminder_serialise_with_buttons(language):
    blocks = invitation_blocks("R9", "Keten Zorg", language, "vrijdag 17:00")
    dicts = _valid_blocks(blocks)
    text = _texts(dicts)
    assert dicts[0]["text"]["text"].startswith("*Ketenbot:* ")
    assert "vrijdag 17:00" in text
    assert ("twee minuten" if language == "nl" else "two minutes") in text
    assert ("nooit met namen" if language == "nl" else "never with names") in text
    buttons = _buttons(blocks)
    assert [b["action_id"] for b in buttons] == [forms.OPEN_ACTION, forms.SKIP_ACTION]
    assert {b["value"] for b in buttons} == {"R9"}
    assert buttons[0]["style"] == "primary"
    open_label = "Vul de check-in in" if language == "nl" else "Fill in the check-in"
    assert buttons[0]["text"]["text"] == open_label
    assert buttons[1]["text"]["text"] == ("Sla deze week over" if language == "nl" else "Skip this week")

    reminder = reminder_blocks("R9", "Keten Zorg", language, "vrijdag 17:00")
    _valid_blocks(reminder)
    assert [b["action_id"] for b in _buttons(reminder)] == [forms.OPEN_ACTION, forms.SKIP_ACTION]


def test_invitation_after_answering_offers_a_change_and_no_skip():
    buttons = _buttons(invitation_blocks("R9", "Keten", "nl", "vrijdag", answered=True))
    pairs = [(b["action_id"], b["text"]["text"]) for b in buttons]
    assert pairs == [(forms.OPEN_ACTION, "Wijzig je antwoorden")]
    buttons = _buttons(invitation_blocks("R9", "Keten", "en", "Friday", answered=True))
    assert buttons[0]["text"]["text"] == "Change your answers"


def test_invitation_after_skipping_still_offers_to_fill_in():
    blocks = invitation_blocks("R9", "Keten", "nl", "vrijdag", skipped=True)
    _valid_blocks(blocks)
    assert [b["action_id"] for b in _buttons(blocks)] == [forms.OPEN_ACTION]


# --- the summary ---


def _summary(answered: int, min_group: int = 5, distribution=None, **kw) -> RoundSummary:
    return RoundSummary(chain_name=kw.get("chain", "Keten Zorg"), invited=kw.get("invited", 12),
                        answered=answered, skipped=kw.get("skipped", 2), min_group=min_group,
                        distribution=distribution)


DISTRIBUTION = {
    "strategische_focus": {"opportunisme": 1, "procedure": 3, "verankering": 1, DONT_KNOW: 1},
    "operationeel_model": {"opportunisme": 6},
    "zichtbaarheid": {"procedure": 2, "verankering": 2, DONT_KNOW: 2},
}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_summary_hides_distribution_below_min_group(language):
    dicts = _valid_blocks(summary_blocks(_summary(3), language))
    text = _texts(dicts)
    assert ("3 van 12" if language == "nl" else "3 of 12") in text
    if language == "nl":
        assert "nog te weinig antwoorden (minimaal 5)" in text
    else:
        assert "not enough answers yet (at least 5)" in text
    assert "%" not in text
    assert NOT_ALWAYS_NEEDED_QUOTE in text


def test_summary_shows_counts_and_percentages():
    dicts = _valid_blocks(summary_blocks(_summary(6, distribution=DISTRIBUTION, skipped=2), "nl"))
    text = _texts(dicts)
    assert "6 van 12 uitgenodigden" in text and "Overgeslagen: 2." in text
    sections = [d["text"]["text"] for d in dicts if d["type"] == "section"]
    focus = next(s for s in sections if s.startswith("*Strategische focus*"))
    assert focus.splitlines()[1:] == [
        "• Opportunisme: 1 (17%)",
        "• Procedure-georiënteerd: 3 (50%)",
        "• Culturele verankering: 1 (17%)",
        "• Weet ik niet: 1 (17%)",
    ]
    model = next(s for s in sections if s.startswith("*Operationeel model*"))
    assert "• Opportunisme: 6 (100%)" in model and "• Weet ik niet: 0 (0%)" in model
    visibility = next(s for s in sections if s.startswith("*Zichtbaarheid in organisatie*"))
    assert "• Procedure-georiënteerd: 2 (33%)" in visibility


def test_summary_in_english_keeps_the_quote_dutch_and_credits_it():
    dicts = _valid_blocks(summary_blocks(_summary(6, distribution=DISTRIBUTION, skipped=0), "en"))
    text = _texts(dicts)
    assert "6 of 12 invited" in text and "Skipped" not in text
    assert "• Cultural embedding: 1 (17%)" in text and "• Don't know: 1 (17%)" in text
    sections = [d["text"]["text"] for d in dicts if d["type"] == "section"]
    assert f"> „{NOT_ALWAYS_NEEDED_QUOTE}”" in sections
    assert f"<{CONTENT.source.url}|" in text and "CC BY-ND 3.0" in text
    assert CONTENT.source.url.endswith("#Ontwikkelstadia_van_ketens")


def test_summary_never_shows_user_ids():
    summary = _summary(6, distribution=DISTRIBUTION, chain="<@U123ABC> keten")
    for language in ("nl", "en"):
        dumped = json.dumps([b.to_dict() for b in summary_blocks(summary, language)])
        assert "<@" not in dumped and "U123ABC> " not in dumped
        assert "<@" not in forms.summary_text(summary, language)
    assert "<@" not in forms.invitation_text("<@U1>", "nl")


def test_percent_rounds_half_up():
    assert forms.percent(1, 8) == 13  # 12.5
    assert forms.percent(1, 6) == 17
    assert forms.percent(0, 0) == 0


def test_free_text_loses_control_characters_but_keeps_lines():
    from bot.checkins.forms import clean_text

    assert clean_text("goed\x07 overleg\x1b[31m\nnieuwe regel\x00") == "goed overleg[31m\nnieuwe regel"
