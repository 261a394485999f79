"""Shared fixtures: settings in temp folders, a counting fake embedder, the real core."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from bot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
NORA_FILE = KNOWLEDGE / "nora-implementatie-van-ketensturing.txt"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


class CountingEmbeddings(Embeddings):
    """Deterministic bag-of-words vectors; counts every text it embeds."""

    dims = 64

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _vector(self, text: str) -> list[float]:
        v = [0.0] * self.dims
        for word in text.lower().split():
            v[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dims] += 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def make_settings(tmp: Path, knowledge: Path = KNOWLEDGE, **extra: str) -> Settings:
    env = {"DATA_DIR": str(tmp / "data"), "KNOWLEDGE_DIR": str(knowledge), **extra}
    return load_settings(env, env_file=None)


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped knowledge folder."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


@pytest.fixture(scope="session")
def core(tmp_path_factory: pytest.TempPathFactory):
    """The real answering core (default model) over the shipped guidance."""
    from bot.core import build_core

    return build_core(make_settings(tmp_path_factory.mktemp("core")))
