"""Fusion defaults, measured: method, normalisation and retriever weights.

Run from the repository root (after ``tandem eval`` has indexed the datasets, or it
indexes them itself)::

    python -m benchmarks.fusion [--engine opensearch|elasticsearch|URL] [--json]

For SciFact, Cranfield and CISI (``../shared/data``) it runs each retriever once per
judged test query (BM25, dense and sparse, 100 hits each, the same searches
``tandem eval`` makes), then fuses those lists with Tandem's own fusion for every
setting: RRF and linear (min-max, z-score, L2), with BM25, dense and sparse weights on
a grid of tenths. The default is chosen on SciFact alone (the highest nDCG@10 there);
Cranfield and CISI are the held-out check, zero-shot: nothing is tuned per dataset.
Fusing a retriever list costs no engine time, so the whole grid takes seconds once the
searches are done.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # also runnable as a plain script
    sys.path.insert(0, str(REPO))

from benchmarks.common import held_out_arguments, log, table  # noqa: E402
from tandem.encoders.loader import load_dense, load_sparse  # noqa: E402
from tandem.encoders.registry import KNOWN_MODELS  # noqa: E402
from tandem.plugin.engines.connect import connect  # noqa: E402
from tandem.plugin.engines.targets import engine_url  # noqa: E402
from tandem.plugin.evaluation.data import Dataset  # noqa: E402
from tandem.plugin.evaluation.metrics import relevance  # noqa: E402
from tandem.plugin.evaluation.runner import ensure_index  # noqa: E402
from tandem.plugin.index.mapping import sparse_type_for  # noqa: E402
from tandem.plugin.search.fusion import FusionConfig, RetrieverHits, fuse  # noqa: E402
from tandem.plugin.search.options import SearchOptions  # noqa: E402
from tandem.plugin.search.searcher import Searcher  # noqa: E402

RETRIEVERS = ("bm25", "dense", "sparse")
DEPTH = 100
STEPS = 10  # weights in tenths
# (method, normalisation): RRF ignores the normalisation.
METHODS = (("rrf", "min_max"), ("linear", "min_max"), ("linear", "z_score"), ("linear", "l2"))

Lists = dict[str, list[RetrieverHits]]  # query id -> one list per retriever


@dataclass(frozen=True)
class Setting:
    method: str
    normalization: str
    weights: tuple[float, float, float]  # bm25, dense, sparse

    @property
    def label(self) -> str:
        how = "rrf" if self.method == "rrf" else f"linear {self.normalization}"
        if len(set(self.weights)) == 1:
            return f"{how}, equal weights"
        w = "/".join(f"{x:.1f}" for x in self.weights)
        return f"{how}, weights bm25/dense/sparse {w}"

    def config(self) -> FusionConfig:
        return FusionConfig(
            method=self.method,  # type: ignore[arg-type]
            normalization=self.normalization,  # type: ignore[arg-type]
            weights=dict(zip(RETRIEVERS, self.weights, strict=True)),
            window=DEPTH,
        )


# The default before this benchmark: linear, min-max, equal weights.
TODAY = Setting("linear", "min_max", (1 / 3, 1 / 3, 1 / 3))


@dataclass(frozen=True)
class Score:
    dataset: str
    setting: Setting
    ndcg10: float


def settings() -> Iterator[Setting]:
    """Every method with every weight triple in tenths that sums to 1 (each retriever
    may be left out, but not all three)."""
    triples = [
        (a / STEPS, b / STEPS, (STEPS - a - b) / STEPS)
        for a, b in itertools.product(range(STEPS + 1), repeat=2)
        if a + b <= STEPS
    ]
    yield TODAY
    for (method, normalization), weights in itertools.product(METHODS, triples):
        yield Setting(method, normalization, weights)


def retriever_lists(searcher: Searcher, index: str, dataset: Dataset) -> Lists:
    """Each retriever's hits and raw scores for every judged query."""
    lists: Lists = {}
    for qid, text in dataset.queries.items():
        lists[qid] = []
        for name in RETRIEVERS:
            options = SearchOptions(method=name, size=DEPTH, window=DEPTH)  # type: ignore[arg-type]
            hits = searcher.search(index, text, options).hits
            lists[qid].append(RetrieverHits(name, tuple((h.id, h.score) for h in hits)))
    return lists


def score(lists: Lists, setting: Setting, dataset: Dataset) -> float:
    config = setting.config()
    run = {}
    for qid, results in lists.items():
        fused = fuse(results, config)[:DEPTH]
        run[qid] = {hit.id: float(len(fused) - r) for r, hit in enumerate(fused)}
    return relevance(run, dataset.qrels)["ndcg@10"]


def measure(engine: str, data: Path, names: Sequence[str]) -> Iterator[Score]:
    adapter = connect(engine_url(engine))
    dense = load_dense(KNOWN_MODELS["minilm"])
    sparse = load_sparse(KNOWN_MODELS["splade-tiny"])
    searcher = Searcher(adapter, dense, sparse, sparse_type_for(adapter.capabilities))
    try:
        for name in names:
            dataset = Dataset.load(data / name)
            index, _, _ = ensure_index(adapter, dataset, dense, sparse, log)
            log(f"{dataset.name}: searching {len(dataset.queries)} queries x 3 retrievers")
            lists = retriever_lists(searcher, index, dataset)
            for setting in settings():
                yield Score(name, setting, score(lists, setting, dataset))
    finally:
        adapter.close()


def report(scores: list[Score], top: int = 15) -> str:
    """The best ``top`` settings on the first dataset and the engine's current default,
    with the held-out datasets beside them."""
    by_setting: dict[Setting, dict[str, float]] = {}
    for s in scores:
        by_setting.setdefault(s.setting, {})[s.dataset] = s.ndcg10
    names = list(dict.fromkeys(s.dataset for s in scores))
    first = names[0]
    ranked = sorted(by_setting.items(), key=lambda kv: -kv[1][first])
    chosen = ranked[0][0]
    rows = []
    shown = [*ranked[:top]]
    baseline = {s.dataset: s.ndcg10 for s in scores if s.setting == TODAY}
    for setting, values in shown:
        mark = "* " if setting == chosen else "  "
        rows.append([mark + setting.label, *(f"{values[d]:.4f}" for d in names)])
    if baseline:
        rows.append(["  (today) " + TODAY.label, *(f"{baseline[d]:.4f}" for d in names)])
    headers = [f"setting (* chosen on {first})", first, *(f"{d} (held out)" for d in names[1:])]
    return table(headers, rows) + f"\n\nchosen on {first}: {chosen.label}"


def main(argv: list[str] | None = None) -> int:
    args = held_out_arguments((__doc__ or "").split("\n\n")[0], argv)
    scores = list(measure(args.engine, args.data, args.datasets))
    if args.json:
        print(json.dumps([{**asdict(s), "label": s.setting.label} for s in scores]))
    else:
        print(report(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
