"""The command line of ``python -m benchmarks.encoders``: its flags and the run settings
they make; ``--rss-probe`` (hidden) is the child process of the peak RSS measurement."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict

from benchmarks import common

from .records import Config
from .report import summary
from .runner import rss_probe, run


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed command line (a usage error exits)."""
    parser = common.make_parser(
        "python -m benchmarks.encoders", "Encoder speed on SciFact (see benchmarks/README.md)."
    )
    parser.add_argument("--docs", type=int, help="document sample size (default 256)")
    parser.add_argument("--queries", type=int, help="queries for latency (default 200)")
    parser.add_argument("--naive-docs", type=int, help="docs for the naive baseline (32)")
    parser.add_argument("--rss-docs", type=int, help="docs for the peak RSS probe (64)")
    common.add_repeat(parser)
    common.add_run_flags(parser, "small samples, about a minute")
    parser.add_argument("--rss-probe", action="store_true", help=argparse.SUPPRESS)
    return common.parse_positive(
        parser, argv, ("docs", "queries", "naive_docs", "rss_docs", "repeat")
    )


def config_from(args: argparse.Namespace) -> Config:
    """The run settings of parsed arguments, defaults filled in (smaller with ``--quick``)."""
    return Config(
        data=args.data.resolve(),
        docs=common.pick(args, "docs", 256, 64),
        queries=common.pick(args, "queries", 200, 50),
        naive_docs=common.pick(args, "naive_docs", 32, 8),
        rss_docs=common.pick(args, "rss_docs", 64, 32),
        matmul_seconds=1.0 if args.quick else 2.0,
        repeats=common.pick(args, "repeat", 2, 1),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its summary (or JSON): exit 0, 2 without data."""
    args = parse_args(argv)
    config = config_from(args)
    if args.rss_probe:
        print(json.dumps(asdict(rss_probe(config))))
        return 0
    if common.data_missing(config.data, "corpus.jsonl", "queries.jsonl"):
        return 2
    report = run(config)
    common.emit(summary(report), asdict(report) if args.json else None)
    return 0
