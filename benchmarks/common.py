"""Helpers the benchmark scripts share: data, timing, CPU use, tables and the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "scifact"


def log(message: str) -> None:
    """One line of progress on stderr, flushed at once."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines file, blank lines skipped."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_queries(folder: Path, count: int | None = None) -> list[str]:
    """The non-empty query texts of ``queries.jsonl`` in file order, the first ``count``."""
    texts = [str(row.get("text", "")).strip() for row in read_jsonl(folder / "queries.jsonl")]
    return [t for t in texts if t][:count]


def data_missing(folder: Path, *names: str) -> bool:
    """Whether a file of ``names`` is missing from ``folder`` (said on stderr)."""
    for name in names:
        if not (folder / name).is_file():
            log(f"no {name} in {folder}: pass --data DIR (a BEIR SciFact folder)")
            return True
    return False


# --------------------------------------------------------------------------- timing


def timed(action: Callable[[], object]) -> float:
    """Wall seconds ``action`` took."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def percentiles(seconds: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99 and mean, in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), float(ms.mean())


@dataclass(frozen=True)
class Started:
    """When a run began: wall clock and the one-minute load average."""

    wall: float
    load_avg: float

    @classmethod
    def now(cls) -> Started:
        return cls(time.perf_counter(), load_average())

    def seconds(self) -> float:
        """Wall seconds since the start."""
        return time.perf_counter() - self.wall


def load_average() -> float:
    """The machine's one-minute load average."""
    return os.getloadavg()[0]


def cpu_count() -> int:
    """This machine's CPU count."""
    return os.cpu_count() or 1


# --------------------------------------------------------------------------- CPU use


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of another process, from ``/proc`` (None elsewhere)."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may hold spaces.
    rest = stat[stat.rindex(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU seconds every core of the machine spent not idle, from ``/proc/stat``."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            jiffies = [int(x) for x in handle.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = jiffies[3] + jiffies[4]  # idle + iowait
    return (sum(jiffies) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Clock:
    """Wall time and CPU time (this process, a server, the whole machine) at one moment."""

    wall: float
    client: float
    server: float | None
    machine: float | None

    @classmethod
    def now(cls, server_pid: int | None = None) -> Clock:
        return cls(
            time.perf_counter(),
            time.process_time(),
            process_cpu_seconds(server_pid),
            machine_busy_seconds(),
        )


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds between two :class:`Clock` readings; ``others`` is what the machine
    spent outside this process and the server."""

    seconds: float
    client: float
    server: float | None
    others: float | None

    @classmethod
    def between(cls, start: Clock, end: Clock) -> CpuUse:
        server = None
        if start.server is not None and end.server is not None:
            server = end.server - start.server
        others = None
        if start.machine is not None and end.machine is not None:
            ours = (end.client - start.client) + (server or 0.0)
            others = max(0.0, end.machine - start.machine - ours)
        return cls(end.wall - start.wall, end.client - start.client, server, others)

    def cores(self, seconds: float | None) -> float | None:
        """``seconds`` of CPU per wall second (None stays None)."""
        return None if seconds is None else seconds / self.seconds


# --------------------------------------------------------------------------- output


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: left-aligned columns two spaces apart, a dashed rule."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


class Machine(Protocol):
    """What a benchmark's environment record says about the machine during the run."""

    @property
    def cpus(self) -> int: ...
    @property
    def load_avg_start(self) -> float: ...
    @property
    def load_avg_end(self) -> float: ...


def header(title: str, machine: Machine, seconds: float, *details: str) -> str:
    """A summary's first line: ``TITLE, N CPUs, DETAILS, load avg A -> B, ran S s``."""
    load = f"load avg {machine.load_avg_start:.2f} -> {machine.load_avg_end:.2f}"
    return ", ".join([title, f"{machine.cpus} CPUs", *details, load, f"ran {seconds:.0f} s"])


def sections(*parts: str | None) -> str:
    """The parts that are there, a blank line apart."""
    return "\n\n".join(part for part in parts if part)


def emit(summary: str, data: dict[str, Any] | None) -> None:
    """The summary on stdout; with ``data``, that as JSON on stdout and the summary on stderr."""
    if data is None:
        print(summary)
        return
    log(summary)
    print(json.dumps(data, indent=2))


# --------------------------------------------------------------------------- command line


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with ``--data`` (the SciFact folder) as its first option."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SciFact folder")
    return parser


def add_repeat(parser: argparse.ArgumentParser) -> None:
    """``--repeat N``: timed passes per number, the fastest kept."""
    parser.add_argument("--repeat", type=int, help="timed passes per number, best kept (2)")


def add_run_flags(parser: argparse.ArgumentParser, quick_help: str) -> None:
    """``--quick`` (small samples) and ``--json``."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", action="store_true", help="print JSON (summary to stderr)")


def parse_positive(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, names: Sequence[str]
) -> argparse.Namespace:
    """Parsed ``argv``; a usage error unless each option of ``names`` given is at least 1."""
    args = parser.parse_args(argv)
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def pick(args: argparse.Namespace, name: str, default: int, small: int) -> int:
    """Option ``name`` as given, else its default: ``small`` with ``--quick``."""
    value = getattr(args, name)
    return int(value) if value is not None else (small if args.quick else default)


HELD_OUT_DATASETS = ("scifact", "cranfield", "cisi")


def held_out_arguments(description: str, argv: list[str] | None) -> argparse.Namespace:
    """The flags of a benchmark that chooses a default on one dataset and holds the
    others out (``benchmarks.lexical``, ``benchmarks.fusion``); ``args.datasets`` is the
    list of names, the first being where the choice is made."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--engine", default="opensearch", help="opensearch, elasticsearch or URL")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA.parent, help="BEIR folders")
    parser.add_argument(
        "--datasets",
        default=",".join(HELD_OUT_DATASETS),
        help="comma-separated folders under --data; the choice is made on the first",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    return args
