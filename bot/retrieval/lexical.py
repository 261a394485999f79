"""BM25 over Dutch stems, with compound splitting, built from the vector store's chunks."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from bot.retrieval.text import Decompounder, index_terms, words

K1 = 1.2
B = 0.6


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: dict


class LexicalIndex:
    def __init__(self, chunks: list[StoredChunk]):
        self.chunks = chunks
        vocabulary = {w for c in chunks for w in words(c.text)}
        self.decompounder = Decompounder(vocabulary)
        self._tf: list[Counter[str]] = [
            Counter(index_terms(c.text, self.decompounder)) for c in chunks
        ]
        self._len = [sum(tf.values()) for tf in self._tf]
        self._avg = (sum(self._len) / len(self._len)) if self._len else 1.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = max(len(chunks), 1)
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.max_idf = math.log(1 + (n + 0.5) / 0.5)
        self._postings: dict[str, list[int]] = {}
        for i, tf in enumerate(self._tf):
            for t in tf:
                self._postings.setdefault(t, []).append(i)

    def __len__(self) -> int:
        return len(self.chunks)

    def knows(self, term: str) -> bool:
        return term in self._idf

    def idf(self, term: str) -> float:
        return self._idf.get(term, self.max_idf)

    def scores(self, weighted_terms: dict[str, float]) -> dict[int, float]:
        """BM25 score per chunk index, for terms with a weight each (1.0 = from the question)."""
        out: dict[int, float] = {}
        for term, weight in weighted_terms.items():
            idf = self._idf.get(term)
            if idf is None:
                continue
            for i in self._postings[term]:
                tf = self._tf[i][term]
                norm = tf + K1 * (1 - B + B * self._len[i] / self._avg)
                out[i] = out.get(i, 0.0) + weight * idf * tf * (K1 + 1) / norm
        return out
