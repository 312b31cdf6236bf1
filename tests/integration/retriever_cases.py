"""What the framework retriever tests share: the searches they run on the SciFact slice,
Tandem's own answer to each (``client.search``), and the check that a framework's
documents are that answer: same ids in the same order, same fused scores, the stored
text, and each retriever's rank and score in the metadata."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tandem.client import SearchHits, SearchOptions, TandemClient
from tandem.frameworks import Retrieval
from tandem.frameworks.common import Passage

QUERY = "vitamin D deficiency and the risk of infection"
METADATA_FIELDS = ("year",)


def _filtered_query(text: str | None) -> dict[str, Any]:
    """The user's own query: BM25-heavy RRF inside a bool with a year filter; ``None``
    leaves the clause without its text (the retriever's template)."""
    clause: dict[str, Any] = {"method": "rrf", "weights": {"bm25": 2.0}}
    if text is not None:
        clause["query"] = text
    return {"bool": {"must": [{"tandem": clause}], "filter": [{"range": {"year": {"gte": 2010}}}]}}


@dataclass(frozen=True)
class Case:
    """One search: ``options`` (``None``: the retrievers' default) and the user's query."""

    name: str
    options: SearchOptions | None = None
    dsl: Callable[[str | None], dict[str, Any]] | None = None

    def retrieval(self, index: str) -> Retrieval:
        return Retrieval(
            index,
            **({"options": self.options} if self.options is not None else {}),
            dsl=self.dsl(None) if self.dsl is not None else None,
            metadata_fields=METADATA_FIELDS,
        )

    @property
    def explained(self) -> bool:
        return self.options is None or self.options.explain

    def expected(
        self, client: TandemClient, index: str, query: str = QUERY, size: int | None = None
    ) -> SearchHits:
        """Tandem's own hits for ``query`` (``size`` of them: default the options'), with
        the stored fields the documents show."""
        options = self.options or SearchOptions(explain=True)
        options = dataclasses.replace(
            options,
            size=size or options.size,
            document_fields=("title", "text", "year"),
        )
        if self.dsl is None:
            return client.search(index, query, options)
        return client.search(index, "", options, dsl=self.dsl(query))


CASES = [
    Case("hybrid"),
    Case(
        "linear-weights",
        SearchOptions(method="linear", weights={"bm25": 0.5, "dense": 2.0}, explain=True),
    ),
    Case(
        "filter-native",
        SearchOptions(size=5, filters=({"range": {"year": {"lt": 2010}}},), mode="auto"),
    ),
    Case("user-dsl", SearchOptions(size=6, explain=True), _filtered_query),
]
CASE_IDS = [case.name for case in CASES]


def assert_same(
    found: Sequence[Passage], expected: SearchHits, index: str, explained: bool = True
) -> None:
    """``found`` (a framework's documents, as passages) holds exactly ``expected``."""
    assert found, "the search found nothing; the comparison would prove nothing"
    assert [p.id for p in found] == [h.id for h in expected.hits]
    for passage, hit in zip(found, expected.hits, strict=True):
        assert passage.score == hit.score
        stored = hit.document
        assert passage.text == "\n".join(stored[f] for f in ("title", "text") if stored.get(f))
        assert {k: passage.metadata[k] for k in ("id", "index", "score", "mode")} == {
            "id": hit.id,
            "index": index,
            "score": hit.score,
            "mode": expected.mode,
        }
        # Each retriever's rank exactly, its raw score to float32 precision: the engine may
        # score a vector a ULP apart between two searches when a background merge changed
        # the segments in between (CI saw it once, in one dense score of ten).
        got = passage.metadata["retrievers"]
        assert {n: r["rank"] for n, r in got.items()} == {n: s.rank for n, s in hit.sources.items()}
        for name, source in hit.sources.items():
            assert got[name]["score"] == pytest.approx(source.score, rel=1e-6), name
        assert passage.metadata["year"] == stored["year"]
    if explained:  # the comparison of retrievers above compared something
        assert all(p.metadata["retrievers"] for p in found)


def assert_alike(again: Sequence[Passage], found: Sequence[Passage]) -> None:
    """Two searches for the same query a moment apart: the same documents in the same order,
    and scores equal to float32 precision (the engine may score a vector a ULP apart when
    its segments change between the two, as a background merge does)."""
    assert [(p.id, p.text) for p in again] == [(p.id, p.text) for p in found]
    for a, b in zip(again, found, strict=True):
        assert a.score == pytest.approx(b.score, rel=1e-6)
        assert a.metadata.keys() == b.metadata.keys()
        for name, source in a.metadata["retrievers"].items():
            assert source["rank"] == b.metadata["retrievers"][name]["rank"]
            assert source["score"] == pytest.approx(
                b.metadata["retrievers"][name]["score"], rel=1e-6
            )
