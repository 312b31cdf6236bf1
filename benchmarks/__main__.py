"""``python -m benchmarks all``: every benchmark in one go, then a summary of ratios.

Runs, in this order, each measuring its ratio side by side in one run:

* encoders: Tandem's encoders against a naive onnxruntime baseline;
* serve: the sidecar at 32 clients against in-process batches, and 32 against 1 client;
* ingest: end-to-end ingest against encode-only;
* enrich: in-place ``tandem enrich`` of a plain index against encode-only;
* queries: hybrid and inference-free sparse query latency against plain BM25.

``--quick`` uses each benchmark's small samples. ``--engine`` picks the engine
for ingest, enrich and queries (started through the launcher when it is a name).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from benchmarks import encoders, enrich, ingest, queries, serve
from benchmarks.common import DEFAULT_DATA, log


def _encoders(quick: bool) -> dict[str, float]:
    report = encoders.run(encoders.config_from(encoders.parse_args(["--quick"] if quick else [])))
    return {f"encoder {n.model} / naive baseline": n.speedup for n in report.naive}


def _serve(quick: bool) -> dict[str, float]:
    report = serve.run(serve.config_from(serve.parse_args(["--quick"] if quick else [])))
    return {r.name: r.value for r in report.ratios}


def _ingest(quick: bool, engine: str) -> dict[str, float]:
    result = ingest.run(DEFAULT_DATA, 128 if quick else 512, engine, 32)
    return {f"ingest end-to-end / encode-only ({result.engine})": result.ratio}


def _enrich(quick: bool, engine: str) -> dict[str, float]:
    result = enrich.run(DEFAULT_DATA, 128 if quick else 512, engine, 32)
    log(enrich.summary(result))
    return {f"enrich in place / encode-only ({result.engine})": result.ratio}


def _queries(quick: bool, engine: str) -> dict[str, float]:
    result = queries.run(engine, 1000, 50 if quick else 200)
    log(queries.summary(result))
    return {f"{name} ({result.engine})": value for name, value in result.ratios().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("which", choices=["all"], help="run every benchmark")
    parser.add_argument("--quick", action="store_true", help="small samples (a few minutes)")
    parser.add_argument(
        "--engine", default="opensearch", help="engine for ingest, enrich and queries"
    )
    parser.add_argument("--json", action="store_true", help="print the ratios as JSON")
    args = parser.parse_args(argv)
    ratios: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], dict[str, float]]]] = [
        ("encoders", lambda: _encoders(args.quick)),
        ("serve", lambda: _serve(args.quick)),
        ("ingest", lambda: _ingest(args.quick, args.engine)),
        ("enrich", lambda: _enrich(args.quick, args.engine)),
        ("queries", lambda: _queries(args.quick, args.engine)),
    ]
    for name, step in steps:
        log(f"=== {name}")
        ratios.update(step())
    if args.json:
        print(json.dumps(ratios, indent=2))
        return 0
    print("Summary (each ratio measured side by side in one run):")
    for name, value in ratios.items():
        print(f"  {name:58} {value:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
