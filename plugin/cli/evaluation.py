"""``tandem eval --data DIR``: quality and latency of every method on a BEIR dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import ModelKind, resolve_spec
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.targets import engine_url
from tandem.plugin.index.spec import Passages
from tandem.plugin.search.names import METHODS, MODES

from .vocabulary import add_engine_argument


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "eval",
        help="score BM25, dense, sparse and fused search on a BEIR dataset",
        description=(
            "Indexes DIR's corpus once (reused while its content is unchanged), runs every "
            "method over the judged test queries, and reports nDCG@10, recall@100 and MRR@10 "
            "(ir-measures) with p50/p99 latency. Writes results.json, results.md and PNG "
            "charts under --out. Needs the eval extra."
        ),
    )
    parser.add_argument("--data", type=Path, required=True, help="BEIR folder")
    add_engine_argument(parser)
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated, from {', '.join(METHODS)}"
    )
    parser.add_argument("--mode", choices=MODES, default="auto", help="where fusion runs")
    parser.add_argument("--dense", default="minilm", help="dense model")
    parser.add_argument("--sparse", default="splade-tiny", help="sparse model")
    parser.add_argument(
        "--out", type=Path, help="output folder (default: tandem-eval/DATASET-ENGINE)"
    )
    parser.add_argument(
        "--reference",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score a stemmed BM25 outside the engine (bm25s: k1 0.9, b 0.4, English "
        "stop words and stemmer) and compare hybrid with it",
    )
    parser.add_argument(
        "--passages",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="index long documents as overlapping passages (nested dense vectors) into an "
        "index of its own, to compare with --no-passages (the default: texts truncated at "
        "each model's window)",
    )
    parser.add_argument(
        "--sparse-passages",
        action="store_true",
        help="with --passages, split for the sparse model too (weights max-pooled)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print method -> metrics as JSON on stdout"
    )
    parser.set_defaults(handler=_eval)


def _say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _eval(args: argparse.Namespace) -> int:
    from tandem.plugin.evaluation.data import Dataset
    from tandem.plugin.evaluation.report import write
    from tandem.plugin.evaluation.runner import (
        EvalOptions,
        evaluate,
        methods_from,
        passage_suffix,
    )

    if args.sparse_passages and not args.passages:
        raise ValueError("--sparse-passages needs --passages")
    options = EvalOptions(
        methods=methods_from(args.methods),
        mode=args.mode,
        reference=args.reference,
        passages=Passages(sparse=args.sparse_passages) if args.passages else None,
    )
    dataset = Dataset.load(args.data)
    _say(f"{dataset.name}: {len(dataset.queries)} judged queries")
    dense = load_dense(resolve_spec(args.dense, ModelKind.DENSE), progress=_say)
    sparse = load_sparse(resolve_spec(args.sparse, ModelKind.SPARSE), progress=_say)
    adapter = connect(engine_url(args.engine))
    try:
        result = evaluate(adapter, dataset, dense, sparse, options, _say)
    finally:
        adapter.close()
    layout = passage_suffix(options.passages)
    out = args.out or Path("tandem-eval") / f"{dataset.name}-{result.engine.split()[0]}{layout}"
    for path in write(result, out):
        _say(f"wrote {path}")
    if args.json:
        print(json.dumps(result.methods, indent=2))  # method -> metrics, as before
    else:
        print((out / "results.md").read_text())
    return 0
