"""Index listings from ``_cat/indices`` rows and ``_mapping`` filtered to ``_meta``."""

from __future__ import annotations

from tandem.plugin.engines.base import IndexSummary
from tandem.plugin.engines.listing import index_summaries

ROWS = [
    {"index": "products", "docs.count": "12", "store.size": "20480"},
    {"index": "tandem-eval-scifact-0a1b2c", "docs.count": "5183", "store.size": "9000000"},
    {"index": "broken", "docs.count": None, "store.size": None},  # a red index
]
MAPPINGS = {
    "tandem-eval-scifact-0a1b2c": {
        "mappings": {"_meta": {"tandem": {"created_by": "tandem", "dense": "embedding"}}}
    },
    "products": {"mappings": {"_meta": {"owner": "shop"}}},
}


def test_rows_become_sorted_summaries_with_their_meta() -> None:
    assert index_summaries(ROWS, MAPPINGS) == [
        IndexSummary("broken", None, None, {}),
        IndexSummary("products", 12, 20480, {"owner": "shop"}),
        IndexSummary(
            "tandem-eval-scifact-0a1b2c",
            5183,
            9000000,
            {"tandem": {"created_by": "tandem", "dense": "embedding"}},
        ),
    ]


def test_an_index_without_meta_and_an_empty_cluster() -> None:
    (only,) = index_summaries([{"index": "plain", "docs.count": "0", "store.size": "208"}], {})
    assert only == IndexSummary("plain", 0, 208, {})
    assert index_summaries([], {}) == []
