"""The lexical leg's choices, measured: analyzer, BM25 k1/b, query type and title boost.

Run from the repository root::

    python -m benchmarks.lexical [--engine opensearch|elasticsearch|URL] [--json]

For SciFact, Cranfield and CISI (``../shared/data``) it indexes title and text
once per (analyzer, k1/b) pair, BM25 only, then runs every query type and title
boost over the judged test queries and prints nDCG@10. The default is chosen on
SciFact alone (the highest nDCG@10 there); Cranfield and CISI are the held-out
check of that one choice, zero-shot: nothing is tuned per dataset.

The indices are deleted afterwards. BM25 needs no model, so a run takes about a
minute on two cores.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # also runnable as a plain script
    sys.path.insert(0, str(REPO))

from benchmarks.common import HELD_OUT_DATASETS, held_out_arguments, log, table  # noqa: E402
from tandem.plugin.engines.base import EngineAdapter  # noqa: E402
from tandem.plugin.engines.connect import connect  # noqa: E402
from tandem.plugin.engines.errors import EngineBadRequest  # noqa: E402
from tandem.plugin.engines.targets import engine_url  # noqa: E402
from tandem.plugin.evaluation.data import Dataset  # noqa: E402
from tandem.plugin.evaluation.metrics import relevance  # noqa: E402
from tandem.plugin.ingest.documents import Document  # noqa: E402

DATASETS = HELD_OUT_DATASETS
ANALYZERS = ("standard", "english")
SIMILARITIES = {"k1=1.2 b=0.75": (1.2, 0.75), "k1=0.9 b=0.4": (0.9, 0.4)}
QUERY_TYPES = ("best_fields", "most_fields", "cross_fields", "combined_fields")
TITLE_BOOSTS = (1.0, 2.0)
BATCH = 100  # searches per _msearch
SIZE = 100


@dataclass(frozen=True)
class Setting:
    analyzer: str
    similarity: str
    query_type: str
    title_boost: float

    @property
    def label(self) -> str:
        boost = "" if self.title_boost == 1.0 else f", title^{self.title_boost:g}"
        return f"{self.analyzer}, {self.similarity}, {self.query_type}{boost}"


@dataclass(frozen=True)
class Score:
    dataset: str
    setting: Setting
    ndcg10: float


def index_body(analyzer: str, k1: float, b: float) -> dict[str, Any]:
    text = {"type": "text", "analyzer": analyzer}
    return {
        "settings": {
            "index": {
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "similarity": {"default": {"type": "BM25", "k1": k1, "b": b}},
            }
        },
        "mappings": {"properties": {"title": text, "text": text}},
    }


def query_body(text: str, query_type: str, title_boost: float) -> dict[str, Any]:
    fields = [f"title^{title_boost:g}" if title_boost != 1.0 else "title", "text"]
    if query_type == "combined_fields":
        query: dict[str, Any] = {"combined_fields": {"query": text, "fields": fields}}
    else:
        query = {"multi_match": {"query": text, "fields": fields, "type": query_type}}
    return {"size": SIZE, "_source": False, "query": query}


def fill(adapter: EngineAdapter, name: str, docs: Sequence[Document], body: dict[str, Any]) -> None:
    adapter.delete_index(name)
    adapter.create_index(name, body)
    for start in range(0, len(docs), 500):
        operations: list[dict[str, Any]] = []
        for doc in docs[start : start + 500]:
            operations.append({"index": {"_index": name, "_id": doc.id}})
            operations.append({k: doc.text.get(k, "") for k in ("title", "text")})
        failed = [r for r in adapter.bulk(operations) if not r.ok]
        if failed:
            raise RuntimeError(f"{len(failed)} documents failed: {failed[0]}")
    adapter.refresh(name)


def run_queries(
    adapter: EngineAdapter, name: str, queries: dict[str, str], setting: Setting
) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    ids = list(queries)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        bodies = [
            (name, query_body(queries[q], setting.query_type, setting.title_boost)) for q in chunk
        ]
        for qid, answer in zip(chunk, adapter.msearch(bodies), strict=True):
            if "error" in answer:
                raise RuntimeError(f"{setting.label}: {answer['error']}")
            run[qid] = {h["_id"]: float(h["_score"]) for h in answer["hits"]["hits"]}
    return run


def measure(
    adapter: EngineAdapter, data: Path, datasets: Sequence[str] = DATASETS
) -> Iterator[Score]:
    for dataset_name in datasets:
        dataset = Dataset.load(data / dataset_name)
        docs = [d for d in dataset.documents() if isinstance(d, Document)]
        for analyzer, similarity in itertools.product(ANALYZERS, SIMILARITIES):
            name = f"tandem-lexical-{dataset_name}-{analyzer}-{len(docs)}"
            k1, b = SIMILARITIES[similarity]
            log(f"{dataset_name}: {len(docs)} documents, {analyzer} analyzer, {similarity}")
            fill(adapter, name, docs, index_body(analyzer, k1, b))
            try:
                for query_type, boost in itertools.product(QUERY_TYPES, TITLE_BOOSTS):
                    setting = Setting(analyzer, similarity, query_type, boost)
                    try:
                        run = run_queries(adapter, name, dataset.queries, setting)
                    except EngineBadRequest as err:
                        if "unknown query" not in str(err):
                            raise
                        # OpenSearch before 3.0 has no combined_fields query.
                        log(f"{setting.label}: skipped, {adapter.url} has no {query_type} query")
                        continue
                    yield Score(dataset_name, setting, relevance(run, dataset.qrels)["ndcg@10"])
            finally:
                adapter.delete_index(name)


def report(scores: list[Score]) -> str:
    """One row per setting, best on the first dataset first: the choice is made on the
    first dataset, the others are held out."""
    by_setting: dict[Setting, dict[str, float]] = {}
    for s in scores:
        by_setting.setdefault(s.setting, {})[s.dataset] = s.ndcg10
    names = list(dict.fromkeys(s.dataset for s in scores))
    first = names[0]
    chosen = max(by_setting, key=lambda s: by_setting[s][first])
    rows = [
        [
            ("* " if setting == chosen else "  ") + setting.label,
            *(f"{values[d]:.4f}" for d in names),
        ]
        for setting, values in sorted(by_setting.items(), key=lambda kv: -kv[1][first])
    ]
    headers = [f"setting (* chosen on {first})", first, *(f"{d} (held out)" for d in names[1:])]
    return table(headers, rows) + f"\n\nchosen on {first}: {chosen.label}"


def main(argv: list[str] | None = None) -> int:
    args = held_out_arguments((__doc__ or "").split("\n\n")[0], argv)
    adapter = connect(engine_url(args.engine))
    try:
        scores = list(measure(adapter, args.data, args.datasets))
    finally:
        adapter.close()
    if args.json:
        print(json.dumps([{**asdict(s), "label": s.setting.label} for s in scores]))
    else:
        print(report(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
