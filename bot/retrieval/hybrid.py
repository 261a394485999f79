"""Hybrid retrieval: dense vectors from Chroma fused with BM25 over Dutch stems.

The question is widened with the glossary (which also bridges English to the
Dutch text), both searches run, their scores are fused per chunk and then per
section, and a grounding check decides whether the guidance covers the question.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.index.store import GuidanceStore
from bot.retrieval.glossary import Expansion, Glossary
from bot.retrieval.lexical import LexicalIndex, StoredChunk
from bot.retrieval.text import content_words, detect_language, index_terms, rarity, stem


@dataclass(frozen=True)
class RetrievalParams:
    dense_k: int = 24
    probe_weight: float = 3.0  # weight of the closest anticipated question per section
    # refuse when the closest out-of-scope question is this much closer than the closest
    # in-scope one (knowledge/out-of-scope.questions.yaml)
    scope_margin: float = 0.10
    scope_exempt_coverage: float = 0.95
    min_coverage_strong: float = 0.6
    strong_lexical: float = 7.0
    probe_rescue: float = 0.55
    min_lexical_known: float = 2.0  # lexical bar when every word is known to the guidance
    lexical_weight: float = 0.4
    dense_weight: float = 0.6
    expansion_weight: float = 0.5  # BM25 weight of glossary terms relative to question words
    sections: int = 3
    # Grounding. A question is answered when it names no subject the guidance never
    # mentions, its best passage is at least remotely related in meaning (dense_floor),
    # and enough of its words are known to the guidance (coverage) while the best
    # passage shares enough words with it (lexical) or is close in meaning (dense).
    # Tuned on dev, dev2 and (after their first measurement) heldout 1-3; see bench/README.md.
    dense_floor: float = 0.1
    min_coverage: float = 0.3
    min_lexical: float = 3.0
    min_coverage_dense: float = 0.2
    min_dense: float = 0.4


def _section_key(chunk: StoredChunk) -> tuple[str, str]:
    return (str(chunk.metadata.get("doc_path", "")), str(chunk.metadata.get("section", "")))


@dataclass(frozen=True)
class Hit:
    """One section's best chunk, with the scores that ranked it."""

    chunk: StoredChunk
    score: float
    dense: float
    lexical: float
    probe: float = 0.0  # similarity of the section's closest anticipated question

    @property
    def section_key(self) -> tuple[str, str]:
        return _section_key(self.chunk)


@dataclass(frozen=True)
class SearchResult:
    question: str
    language: str
    hits: list[Hit]
    coverage: float
    grounded: bool
    # subject words of the question that the guidance never uses (e.g. "salaris")
    unknown_topics: tuple[str, ...] = ()
    expansion: Expansion = field(default_factory=lambda: Expansion((), frozenset()))
    # similarity of the closest anticipated question inside / outside the guidance's scope
    inside: float = -1.0
    outside: float = -1.0
    vector: tuple[float, ...] = ()  # the plain question's embedding, for reuse by the answer


class GuidanceSearch:
    """Everything retrieval needs, loaded once per process."""

    def __init__(
        self,
        store: GuidanceStore,
        embeddings: Embeddings,
        glossary: Glossary,
        params: RetrievalParams | None = None,
    ):
        self.store = store
        self.embeddings = embeddings
        self.glossary = glossary
        self.params = params or RetrievalParams()
        self.reload()

    def reload(self) -> None:
        """Rebuild the lexical index from what the vector store holds now."""
        ids, docs, metas = self.store.all_records()
        records = [StoredChunk(i, d, m or {}) for i, d, m in zip(ids, docs, metas, strict=True)]
        # text chunks are searched and quoted; probes (anticipated questions) only point
        self.chunks = [c for c in records if c.metadata.get("kind", "text") == "text"]
        self.probes = [c for c in records if c.metadata.get("kind") == "probe"]
        self.scope = [c for c in records if c.metadata.get("kind") == "scope"]
        self.scope_by_id = {c.id: n for n, c in enumerate(self.scope)}
        self.by_id = {c.id: n for n, c in enumerate(self.chunks)}
        self.probe_by_id = {c.id: n for n, c in enumerate(self.probes)}
        self.lexical = LexicalIndex(self.chunks)
        self.first_chunk: dict[tuple[str, str], int] = {}
        for n, c in enumerate(self.chunks):
            self.first_chunk.setdefault(_section_key(c), n)

    # -- the search itself -------------------------------------------------------
    def search(self, question: str, language: str | None = None) -> SearchResult:
        p = self.params
        language = language or detect_language(question)
        expansion = self.glossary.expand(question)
        weighted: dict[str, float] = {}
        for t in index_terms(question, self.lexical.decompounder):
            weighted[t] = weighted.get(t, 0.0) + 1.0
        for t in index_terms(" ".join(expansion.terms), self.lexical.decompounder):
            weighted.setdefault(t, p.expansion_weight)
        lexical = self.lexical.scores(weighted)
        # passages are searched with the glossary-widened question; anticipated questions
        # (probes, scope) with the plain question, since they are matched question to question
        plain = self.embeddings.embed_query(question) if self.chunks else None
        widened = plain
        if plain and expansion.terms:
            widened = self.embeddings.embed_query(f"{question} ({' '.join(expansion.terms)})")
        dense = self._dense(widened, "text", self.by_id, len(self.chunks)) if widened else {}
        probe = self._probe_scores(plain) if plain and self.probes else {}
        outside = self._scope_similarity(plain) if plain and self.scope else -1.0

        hits = self._section_hits(lexical, dense, probe)
        coverage = self._coverage(question, expansion)
        unknown_topics = self._unknown_topics(question, expansion)
        top = hits[0] if hits else None
        inside = max(probe.values(), default=-1.0)
        grounded = bool(top and not unknown_topics) and self._grounded(top, coverage, inside, outside)
        return SearchResult(
            question, language, hits, coverage, grounded, unknown_topics, expansion, inside, outside,
            tuple(plain or ()),
        )

    def _section_hits(
        self, lexical: dict[int, float], dense: dict[int, float], probe: dict[tuple[str, str], float]
    ) -> list[Hit]:
        """Fuse the scores per chunk, keep each section's best chunk, add its probe score."""
        p = self.params
        top_lex = max(lexical.values(), default=0.0)
        floor = min(dense.values(), default=0.0)
        best: dict[tuple[str, str], Hit] = {}
        for i in set(lexical) | set(dense):
            lex, den = lexical.get(i, 0.0), dense.get(i, floor)
            score = p.lexical_weight * (lex / top_lex if top_lex else 0.0) + p.dense_weight * den
            hit = Hit(self.chunks[i], score, den, lex)
            if hit.section_key not in best or best[hit.section_key].score < score:
                best[hit.section_key] = hit
        for key, sim in probe.items():  # a matching anticipated question adds to its section
            hit = best.get(key)
            if hit is None:
                n = self.first_chunk.get(key)
                if n is None:
                    continue
                hit = Hit(self.chunks[n], 0.0, floor, 0.0)
            best[key] = Hit(hit.chunk, hit.score + p.probe_weight * sim, hit.dense, hit.lexical, sim)
        return sorted(best.values(), key=lambda h: h.score, reverse=True)

    def _grounded(self, top: Hit, coverage: float, inside: float, outside: float) -> bool:
        p = self.params
        related = top.dense >= p.dense_floor and (
            (coverage >= p.min_coverage and top.lexical >= p.min_lexical)
            or (coverage >= p.min_coverage_dense and top.dense >= p.min_dense)
            or (coverage >= p.scope_exempt_coverage and top.lexical >= p.min_lexical_known)
        )
        # a question very like one we anticipated for a section is in scope, whatever its words
        related = related or inside >= p.probe_rescue
        # ... unless it is clearly more like a question we know the guidance does not answer.
        # Strong word evidence wins over that: every word known to the guidance, or a
        # passage sharing many of the question's words.
        words_say_yes = coverage >= p.scope_exempt_coverage or (
            coverage >= p.min_coverage_strong and top.lexical >= p.strong_lexical
        )
        return related and (words_say_yes or outside - inside < p.scope_margin)

    def _unknown_topics(self, question: str, expansion: Expansion) -> tuple[str, ...]:
        topics = self.glossary.topic_words
        return tuple(
            w
            for w in content_words(question)
            if w in topics and w not in expansion.covered and not self.lexical.knows(stem(w))
        )

    def _dense(self, vector: list[float], kind: str, ids: dict[str, int], size: int) -> dict[int, float]:
        """Cosine similarity of the nearest chunks of one kind ("text", "probe" or "scope")."""
        found = self.store.vectorstore.similarity_search_by_vector_with_relevance_scores(
            vector, k=min(self.params.dense_k, size), filter={"kind": kind}
        )
        out = {}
        for doc, distance in found:
            n = ids.get(doc.id or "")
            if n is not None:
                out[n] = 1.0 - float(distance)  # cosine distance -> similarity
        return out

    def _scope_similarity(self, vector: list[float]) -> float:
        """Similarity of the closest anticipated out-of-scope question."""
        found = self._dense(vector, "scope", self.scope_by_id, len(self.scope))
        return max(found.values(), default=-1.0)

    def _probe_scores(self, vector: list[float]) -> dict[tuple[str, str], float]:
        """Per section, the similarity of its closest anticipated question."""
        best: dict[tuple[str, str], float] = {}
        for n, sim in self._dense(vector, "probe", self.probe_by_id, len(self.probes)).items():
            key = _section_key(self.probes[n])
            best[key] = max(best.get(key, -1.0), sim)
        return best

    def _coverage(self, question: str, expansion: Expansion) -> float:
        """Share of the question's meaning (IDF-weighted words) the guidance knows about."""
        total = known = 0.0
        lex = self.lexical
        for w in content_words(question):
            stems = [stem(w)] + [stem(p) for p in lex.decompounder.parts(w)]
            in_text = [s for s in stems if lex.knows(s)]
            if in_text:
                weight = max(lex.idf(s) for s in in_text)
                total += weight
                known += weight
            elif w in expansion.covered:
                total += lex.max_idf * 0.6
                known += lex.max_idf * 0.6
            else:  # unknown to the guidance: a rare word is likely the topic, a common one not
                weight = 1.0 if w in self.glossary.topic_words else rarity(w)
                total += lex.max_idf * weight
        return known / total if total else 0.0


class GuidanceRetriever(BaseRetriever):
    """LangChain face of :class:`GuidanceSearch`: grounded sections as ``Document``s."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    search_engine: GuidanceSearch

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = self.search_engine.search(query)
        if not result.grounded:
            return []
        return [
            Document(
                page_content=h.chunk.text,
                id=h.chunk.id,
                metadata={**h.chunk.metadata, "score": h.score},
            )
            for h in result.hits[: self.search_engine.params.sections]
        ]
