"""The command line of ``python -m benchmarks.serve``: its flags, the run settings they
make, and the exit codes."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence

from benchmarks import common

from .records import BenchmarkError, Config
from .report import as_json, summary
from .runner import run

CLIENTS = (1, 8, 32)


def _parse_clients(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected integers like 1,8,32: {err}") from err
    if len(values) < 2 or values[0] < 1:
        raise argparse.ArgumentTypeError("give at least two client counts, each at least 1")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The parsed command line (a usage error exits)."""
    parser = common.make_parser(
        "python -m benchmarks.serve",
        "Sidecar EncodeDense speed against in-process calls (benchmarks/README.md).",
    )
    parser.add_argument("--requests", type=int, help="timed texts per measurement (2000)")
    parser.add_argument(
        "--clients",
        type=_parse_clients,
        default=CLIENTS,
        help="concurrent client levels, comma-separated (default 1,8,32)",
    )
    common.add_repeat(parser)
    parser.add_argument(
        "--server-args",
        default="",
        help="extra 'tandem serve' flags, e.g. --server-args='--max-wait-ms 5'",
    )
    common.add_run_flags(parser, "small samples, under a minute")
    return common.parse_positive(parser, argv, ("requests", "repeat"))


def config_from(args: argparse.Namespace) -> Config:
    """The run settings of parsed arguments, defaults filled in (smaller with ``--quick``)."""
    return Config(
        data=args.data.resolve(),
        requests=common.pick(args, "requests", 2000, 400),
        clients=tuple(args.clients),
        repeats=common.pick(args, "repeat", 2, 1),
        server_args=tuple(shlex.split(args.server_args)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its summary (or JSON): exit 0, 1 on failure, 2 without data."""
    args = parse_args(argv)
    config = config_from(args)
    if common.data_missing(config.data, "queries.jsonl"):
        return 2
    common.log(f"load average at start: {common.load_average():.2f}")
    try:
        report = run(config)
    except BenchmarkError as err:
        common.log(f"benchmark failed: {err}")
        return 1
    common.log(f"load average at end: {report.environment.load_avg_end:.2f}")
    common.emit(summary(report), as_json(report) if args.json else None)
    return 0
