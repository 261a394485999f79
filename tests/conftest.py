"""Shared fixtures: settings in temp folders, a counting fake embedder, the real core."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import uuid
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings
from sqlalchemy import create_engine, text

from bot.records.db import make_engine, migrate
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


# ----------------------------------------------------------------------------- databases

POSTGRES = os.environ.get("KETENBOT_TEST_POSTGRES", "postgresql+psycopg://127.0.0.1:5432/test")


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway database on the local PostgreSQL; fails under CI when there is none."""
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = f"ketenbot_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server, no rights
        message = f"PostgreSQL at {POSTGRES} not usable ({type(exc).__name__}: {exc})"
        if _ci():
            pytest.fail(message + "; CI needs it")
        pytest.skip(message + "; set CI=true to make this a failure")
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    """A migrated, empty records database: SQLite, and PostgreSQL (marked ``postgres``)."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    else:
        eng = make_engine(request.getfixturevalue("postgres_url"))
        with eng.begin() as conn:  # a clean schema for every test
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate(eng)
    yield eng
    eng.dispose()
