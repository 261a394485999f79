"""Turning a stored answer row back into an ``Answer`` (for sharing it later)."""

from __future__ import annotations

from bot.answering.model import Answer, Source
from bot.answering.phrases import phrase


def answer_from_row(row: dict) -> Answer:
    sources = [Source(**s) for s in row["sources"]]
    framing = phrase("answered" if row["answered"] else "not_covered", row["language"])
    return Answer(row["question"], row["language"], row["answered"], framing, sources)
