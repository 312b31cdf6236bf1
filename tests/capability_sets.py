"""Hand-built capabilities of the tested engine lines (docs/engines.md), for unit tests."""

from __future__ import annotations

from dataclasses import replace

from tandem.plugin.engines.base import Capabilities
from tandem.plugin.engines.kinds import EngineKind

OPENSEARCH_36 = Capabilities(
    kind=EngineKind.OPENSEARCH,
    version=(3, 6, 0),
    build_type="zip",
    plugins=frozenset(
        {"opensearch-knn", "opensearch-neural-search", "mapper-extras", "analysis-common"}
    ),
    license=None,
    dense=True,
    knn_engines=("lucene",),
    rank_features=True,
    sparse_vector=True,
    neural_sparse=True,
    hybrid_query=True,
    normalization_techniques=("min_max", "l2", "z_score"),
    rrf_pipeline=True,
    retrievers=(),
)
OPENSEARCH_219 = replace(
    OPENSEARCH_36,
    version=(2, 19, 6),
    sparse_vector=False,
    normalization_techniques=("min_max", "l2"),
)
ELASTICSEARCH_95 = Capabilities(
    kind=EngineKind.ELASTICSEARCH,
    version=(9, 5, 4),
    build_type="zip",
    plugins=frozenset({"apm", "transport-netty4", "x-pack-core", "x-pack-security"}),
    license="basic",
    dense=True,
    knn_engines=(),
    rank_features=False,
    sparse_vector=True,
    neural_sparse=False,
    hybrid_query=False,
    normalization_techniques=(),
    rrf_pipeline=False,
    retrievers=(),
)
