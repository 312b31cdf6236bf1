"""Relevance metrics through ir-measures (the ``eval`` extra).

ir-measures is maintained, names measures the way papers do (``nDCG@10``,
``R@100``, ``RR@10``) and computes them with trec_eval's own code
(pytrec_eval), so the numbers match published BEIR tables. Latency
percentiles are plain numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

MEASURES = ("nDCG@10", "R@100", "RR@10")
KEYS = {"nDCG@10": "ndcg@10", "R@100": "recall@100", "RR@10": "mrr@10"}

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def relevance(run: Run, qrels: Qrels) -> dict[str, float]:
    """nDCG@10, recall@100 and MRR@10 (as ``ndcg@10``, ``recall@100``, ``mrr@10``), averaged
    over every judged query; a query with no hits counts as 0."""
    try:
        import ir_measures
    except ImportError as err:
        raise ImportError(
            "tandem eval needs the eval extra: pip install 'tandem-search[eval]'"
        ) from err
    measures = [ir_measures.parse_measure(m) for m in MEASURES]
    # Queries the run lacks still count (as zeros): trec_eval would otherwise skip them.
    full_run = {q: dict(run.get(q, {})) or {"__none__": 0.0} for q in qrels}
    scores = ir_measures.calc_aggregate(measures, {q: dict(d) for q, d in qrels.items()}, full_run)
    return {KEYS[str(m)]: float(scores[m]) for m in measures}


def latency(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    values = np.asarray(seconds, dtype=np.float64) * 1000
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
    }
