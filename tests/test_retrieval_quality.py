"""Retrieval quality on the development sets must not regress (held-out sets are for bench/ only)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("retrieval_eval", ROOT / "bench" / "retrieval_eval.py")
retrieval_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(retrieval_eval)


@pytest.fixture(scope="module")
def summary(core):
    questions = retrieval_eval.load_set("dev") + retrieval_eval.load_set("dev2")
    return retrieval_eval.evaluate(core, questions)


def test_right_section_in_first_three_for_dutch_and_english(summary):
    assert summary["answerable"] >= 120
    for lang in ("nl", "en"):
        assert summary["by_language"][lang]["hit@3"] >= 0.95, summary["by_language"]


def test_out_of_scope_questions_are_refused(summary):
    assert summary["out_of_scope"] >= 50
    assert summary["out_of_scope_refused"] >= 0.88


def test_answerable_questions_are_rarely_refused(summary):
    assert summary["answerable_refused"] <= 0.03


def test_every_section_is_findable(summary):
    for section, row in summary["by_section"].items():
        assert row["hit@3"] >= 0.8, (section, row)
