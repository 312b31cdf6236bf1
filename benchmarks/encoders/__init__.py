"""Encoder speed on SciFact: throughput, latency, baselines, a peer and memory, in one run.

Run from the repository root::

    python -m benchmarks.encoders [--docs N] [--queries N] [--quick] [--json]

Every number printed is measured in this run (``time.perf_counter``); nothing is
hard-coded. See ``benchmarks/README.md`` for what each number means.

Modules: :mod:`.records` (settings, variants and result records), :mod:`.harness`
(timing, tokenisation, FLOPs, the measuring passes, peak RSS), :mod:`.contenders`
(Tandem's encoders, the naive baseline, FastEmbed), :mod:`.report` (the summary),
:mod:`.runner` (one run, and the RSS probe) and :mod:`.cli` (the flags).
"""

from __future__ import annotations

from .cli import config_from, main, parse_args
from .records import Config, Report
from .report import summary
from .runner import run

__all__ = ["Config", "Report", "config_from", "main", "parse_args", "run", "summary"]
