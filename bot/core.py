"""Wiring of the answering core from settings: store, model, index, search, answerer.

Every surface (console, ``ketenbot ask``, later Slack) builds one :class:`Core`
and calls it; nothing here knows about those surfaces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.answering.compose import Answerer
from bot.index.embeddings import make_embeddings
from bot.index.indexer import IndexReport, Progress, sync_index
from bot.index.store import GuidanceStore, open_store
from bot.llm.prompts import load_prompts
from bot.llm.providers import make_chat_model
from bot.llm.writer import LlmAnswerer
from bot.ops.metrics import observe_llm
from bot.retrieval.glossary import Glossary
from bot.retrieval.hybrid import GuidanceSearch, RetrievalParams
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Core:
    settings: Settings
    store: GuidanceStore
    search: GuidanceSearch
    answerer: Answerer | LlmAnswerer
    index_report: IndexReport | None

    def reindex(self, progress: Progress | None = None) -> IndexReport:
        report = sync_index(self.store, self.settings.knowledge_dir, progress)
        if report.changed:
            self.search.reload()
        return report


def build_core(
    settings: Settings,
    progress: Progress | None = None,
    sync: bool = True,
    params: RetrievalParams | None = None,
) -> Core:
    """Open the store, bring the index up to date (cheap when nothing changed), load search."""
    embeddings = make_embeddings(settings.embedding_model)
    store = open_store(settings, embeddings)
    report = sync_index(store, settings.knowledge_dir, progress) if sync else None
    search = GuidanceSearch(store, embeddings, Glossary.load(settings.knowledge_dir), params)
    return Core(settings, store, search, make_answerer(settings, Answerer(search)), report)


def make_answerer(settings: Settings, base: Answerer, model=None) -> Answerer | LlmAnswerer:
    """The quote-based answerer, wrapped by the language-model writer when ``LLM_PROVIDER`` is
    set (``model`` replaces the configured one, for tests)."""
    model = model or make_chat_model(settings)
    if model is None:
        return base
    log.info("answers written by %s (%s), checked against quotes", settings.llm_model, settings.llm_provider)
    return LlmAnswerer(
        base, model, load_prompts(), model_name=settings.llm_model or "model",
        timeout_s=settings.llm_timeout_s, observer=observe_llm,
    )
