"""prompts/checkin.yaml: quotes verbatim from the guidance, both languages, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.checkins.content import NOT_ALWAYS_NEEDED_QUOTE, load_checkin_content
from bot.checkins.model import DIMENSIONS, FREE_TEXT, PULSE, STAGES

ROOT = Path(__file__).resolve().parent.parent
YAML_PATH = ROOT / "prompts" / "checkin.yaml"
KNOWLEDGE = ROOT / "knowledge"
NORA_TEXT = (KNOWLEDGE / "nora-implementatie-van-ketensturing.txt").read_text(encoding="utf-8")
SECTION_URL = (
    "https://www.noraonline.nl/wiki/Ketensturing/Implementatie_van_ketensturing#Ontwikkelstadia_van_ketens"
)


def _raw() -> dict:
    return yaml.safe_load(YAML_PATH.read_text(encoding="utf-8"))


def _section_text(heading: str) -> str:
    """The text between ``heading`` and the next heading of the chapter ('Geduld')."""
    start = NORA_TEXT.index(f"\n{heading}\n")
    return NORA_TEXT[start : NORA_TEXT.index("\nGeduld\n", start)]


def test_every_quote_in_the_yaml_is_verbatim_in_the_guidance_section():
    section = _section_text(_raw()["source"]["section"])
    quotes = [q for d in _raw()["dimensions"] for q in d["quote"].values()]
    assert len(quotes) == len(DIMENSIONS) * len(STAGES)
    for quote in quotes:
        assert quote in section, quote


def test_summary_quote_is_verbatim_and_says_embedding_is_not_always_needed():
    section = _section_text("Ontwikkelstadia van ketens")
    assert NOT_ALWAYS_NEEDED_QUOTE in section
    short = "Dat laatste is ook niet altijd nodig. Vaak kan het bij de procedure georiënteerde fase blijven."
    assert NOT_ALWAYS_NEEDED_QUOTE.endswith(short)


def test_both_languages_present_for_every_question():
    raw = _raw()
    for d in raw["dimensions"]:
        for language in ("nl", "en"):
            assert d[language]["label"].strip() and d[language]["question"].strip()
    for item in [*raw["stages"], *raw["pulse"], *raw["free_text"], raw["dont_know"], raw["setback"]]:
        assert item["nl"].strip() and item["en"].strip()
    for item in raw["pulse"]:
        assert item["low"]["nl"] and item["low"]["en"] and item["high"]["nl"] and item["high"]["en"]


def test_loaded_content_matches_model_keys_and_languages():
    c = load_checkin_content()
    assert tuple(s.key for s in c.stages) == STAGES
    assert tuple(d.key for d in c.dimensions) == DIMENSIONS
    assert tuple(p.key for p in c.pulse) == PULSE
    assert tuple(f.key for f in c.free_text) == FREE_TEXT
    assert c.dimension_label("strategische_focus", "nl") == "Strategische focus"
    assert c.dimension_label("strategische_focus", "en") == "Strategic focus"
    assert c.stage_name("verankering", "en") == "Cultural embedding"
    assert c.stage_name("verankering", "fr") == "Culturele verankering"  # anything but "en" is Dutch
    assert c.pulse_anchors("trust", "en") == ("Little", "A lot")
    assert c.dont_know_label("nl") == "Weet ik niet"
    # quotes are the same whatever the language: there is no per-language accessor
    assert c.quote("zichtbaarheid", "procedure").startswith("Samenwerking is meer zichtbaar")


def test_attribution_comes_from_the_meta_yaml_with_a_section_anchor():
    meta = yaml.safe_load((KNOWLEDGE / "nora-implementatie-van-ketensturing.txt.meta.yaml").read_text())
    src = load_checkin_content().source
    assert src.provenance.title == meta["title"]
    assert src.provenance.licence == meta["licence"] == "CC BY-ND 3.0"
    assert src.provenance.licence_url == meta["licence_url"]
    assert src.url == SECTION_URL
    assert src.place == f"{meta['title']} — Ontwikkelstadia van ketens"


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "checkin.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda d: d["dimensions"][1]["en"].pop("question"), "dimensions[1].en.question"),
        (lambda d: d["pulse"][2]["high"].pop("nl"), "pulse[2].high.nl"),
        (lambda d: d["dimensions"][0]["quote"].pop("verankering"), "dimensions[0].quote.verankering"),
        (lambda d: d.pop("setback"), "setback"),
        (lambda d: d["dont_know"].update(en=""), "dont_know.en"),
        (lambda d: d["source"].pop("section"), "source.section"),
        (lambda d: d["free_text"].pop(), "free_text"),
        (lambda d: d["stages"].reverse(), "stages"),
    ],
)
def test_broken_yaml_names_the_key(tmp_path, mutate, named):
    data = _raw()
    mutate(data)
    with pytest.raises(ValueError) as err:
        load_checkin_content(_write(tmp_path, data))
    assert f"'{named}'" in str(err.value)
    assert "checkin.yaml" in str(err.value)


def test_invalid_yaml_syntax_is_a_value_error(tmp_path):
    path = tmp_path / "checkin.yaml"
    path.write_text("stages: [\n  - key: x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_checkin_content(path)
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ValueError, match="checkin.yaml"):
        load_checkin_content(path)


def test_reworded_quote_is_refused(tmp_path):
    data = _raw()
    data["dimensions"][0]["quote"]["procedure"] = "Routinegedreven succes: het proces moet gewoon werken"
    with pytest.raises(ValueError, match="not verbatim"):
        load_checkin_content(_write(tmp_path, data))


def test_missing_attribution_is_refused(tmp_path):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    shutil.copy(KNOWLEDGE / "nora-implementatie-van-ketensturing.txt", knowledge)
    meta = yaml.safe_load((KNOWLEDGE / "nora-implementatie-van-ketensturing.txt.meta.yaml").read_text())
    del meta["licence"]
    (knowledge / "nora-implementatie-van-ketensturing.txt.meta.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(ValueError, match="'licence'"):
        load_checkin_content(YAML_PATH, knowledge)
