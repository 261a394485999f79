"""The tip library (prompts/tips.yaml): verbatim quotes, coverage, tags, and picking tips."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from bot.ingest.loaders import load_document
from bot.nudges.tips import DEFAULT_KNOWLEDGE_DIR, DEFAULT_PATH, SIGNALS, Tip, load_tips, pick

DOCUMENT = DEFAULT_KNOWLEDGE_DIR / "nora-implementatie-van-ketensturing.txt"


@pytest.fixture(scope="module")
def tips() -> tuple[Tip, ...]:
    return load_tips()


@pytest.fixture(scope="module")
def sections() -> dict[str, str]:
    doc = load_document(DOCUMENT, DOCUMENT.name)
    return {s.heading: s.text for s in doc.sections}


def test_library_loads_with_at_least_30_tips(tips):
    assert len(tips) >= 30
    assert len({t.id for t in tips}) == len(tips)


def test_every_quote_is_verbatim_in_its_section(tips, sections):
    raw = DOCUMENT.read_text(encoding="utf-8")
    for tip in tips:
        assert tip.quote in sections[tip.section], tip.id
        assert tip.quote in raw, tip.id


def test_every_section_with_body_text_is_covered(tips, sections):
    covered = {t.section for t in tips}
    missing = [heading for heading, text in sections.items() if text.strip() and heading not in covered]
    assert not missing


def test_at_least_three_tips_per_signal(tips):
    for signal in SIGNALS:
        assert sum(signal in t.signals for t in tips) >= 3, signal


def test_both_languages_are_own_words(tips):
    for tip in tips:
        nl, en = tip.text("nl"), tip.text("en")
        assert nl.strip() and en.strip(), tip.id
        assert nl != en, tip.id
        for text in (nl, en):
            assert text != tip.quote, tip.id
            assert tip.quote not in text, tip.id
        assert tip.text(None) == nl


def test_provenance_is_carried(tips):
    tip = next(t for t in tips if t.section == "Geduld")
    assert tip.url.endswith("#Geduld")
    assert tip.place == "NORA – Implementatie van ketensturing — Geduld"
    assert tip.licence == "CC BY-ND 3.0"
    assert "NORA" in tip.attribution


def test_never_cultural_embedding_as_target(tips):
    # No tip may push a chain towards the furthest stage as a goal.
    for tip in tips:
        for text in (tip.nl.lower(), tip.en.lower()):
            assert "streef naar culturele verankering" not in text
            assert "aim for cultural embedding" not in text


# --- the loader rejects broken files -------------------------------------------------------

def _write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    mutate(data["tips"])
    path = tmp_path / "tips.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _reword(items):
    items[0]["quote"] = items[0]["quote"].replace("geen enkele keten", "geen keten")


def _unknown_tag(items):
    items[1]["tags"]["signals"] = ["panic"]


def _duplicate(items):
    items[2]["id"] = items[0]["id"]


def _no_english(items):
    del items[3]["en"]


def _bad_section(items):
    items[4]["section"] = "Een kop die niet bestaat"


def _quote_in_text(items):
    items[5]["nl"] = "Kijk: " + items[5]["quote"]


@pytest.mark.parametrize(
    ("mutate", "index", "message"),
    [
        (_reword, 0, "word for word"),
        (_unknown_tag, 1, "unknown tags.signals"),
        (_duplicate, 0, "duplicate tip id"),
        (_no_english, 3, "language 'en'"),
        (_bad_section, 4, "not a heading"),
        (_quote_in_text, 5, "own words"),
    ],
)
def test_loader_rejects_broken_file(tmp_path, mutate, index, message):
    original = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))["tips"]
    path = _write(tmp_path, mutate)
    with pytest.raises(ValueError, match=message) as err:
        load_tips(path, knowledge_dir=DEFAULT_KNOWLEDGE_DIR)
    assert original[index]["id"] in str(err.value)


# --- picking -------------------------------------------------------------------------------

def test_pick_rotates_without_repeats_then_starts_over(tips):
    rng = random.Random(7)
    general = [t for t in tips if not t.signals]
    used: list[Tip] = []
    for _ in general:
        tip = pick(tips, used=used, rng=rng)
        assert tip is not None and tip not in used and not tip.signals
        used.append(tip)
    assert {t.id for t in used} == {t.id for t in general}
    again = pick(tips, used=used, rng=rng)
    assert again is not None and not again.signals


def test_pick_respects_signals(tips):
    rng = random.Random(1)
    used: list[str] = []
    for _ in range(20):
        tip = pick(tips, signals=("low_trust",), used=used, rng=rng)
        assert tip is not None and "low_trust" in tip.signals
        used.append(tip.id)


def test_after_a_setback_the_tip_is_about_the_setback(tips):
    for seed in range(10):
        tip = pick(tips, signals=["setback"], stage="procedure", rng=random.Random(seed))
        assert tip is not None and "setback" in tip.signals


def test_pick_respects_stage(tips):
    for seed in range(30):
        tip = pick(tips, stage="verankering", rng=random.Random(seed))
        assert tip is not None and not tip.signals
        assert not tip.stages or "verankering" in tip.stages


def test_pick_is_deterministic_with_a_seed(tips):
    a = [pick(tips, stage="opportunisme", rng=random.Random(42)).id for _ in range(3)]
    b = [pick(tips, stage="opportunisme", rng=random.Random(42)).id for _ in range(3)]
    assert a == b


def test_pick_without_fitting_tips_returns_none(tips):
    assert pick((), signals=("setback",)) is None
    with pytest.raises(ValueError):
        pick(tips, signals=("panic",))
