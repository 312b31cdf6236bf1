"""The names a search is made of: methods, retrievers, normalisations, fusion modes.

The one home for these vocabularies: options, the ``tandem`` clause, the rewriter,
fusion, the CLI's choices and the client's enum tables all read them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

Retriever = Literal["bm25", "dense", "sparse"]
FusionMethod = Literal["rrf", "linear"]
Method = Literal["bm25", "dense", "sparse", "rrf", "linear"]
Normalization = Literal["min_max", "z_score", "l2"]
Mode = Literal["auto", "native", "sidecar"]

RETRIEVERS: tuple[Retriever, ...] = get_args(Retriever)
FUSION_METHODS: tuple[FusionMethod, ...] = get_args(FusionMethod)
METHODS: tuple[Method, ...] = get_args(Method)
NORMALIZATIONS: tuple[Normalization, ...] = get_args(Normalization)
MODES: tuple[Mode, ...] = get_args(Mode)

DEFAULT_SIZE = 10
DEFAULT_WINDOW = 100
DEFAULT_RANK_CONSTANT = 60
# index.max_result_window, OpenSearch's and Elasticsearch's largest kNN k, and
# Elasticsearch's largest num_candidates: one bound for both k and window.
MAX_WINDOW = 10_000
