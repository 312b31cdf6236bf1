"""``tandem enrich --server ADDR``: the same enrich, run by a sidecar (``EnrichIndex``).

The sidecar reads and writes its own engine with its own models, so the flags that
pick them here (``--engine``, a model name, ``--int8``) and the ones about this
process (``--checkpoint``, ``--audit``, the batch and bulk sizes) are refused rather
than ignored. Ctrl-C asks the sidecar to stop where it is and prints its report (how
``--follow`` ends); a second Ctrl-C leaves at once.
"""

from __future__ import annotations

import argparse
import json
import sys

from tandem.client import EnrichProgress, EnrichResult, EnrichSettings
from tandem.plugin.ingest.progress import ProgressLine, Snapshot

from .enrich import NONE, print_interrupted, print_report
from .remote import client_for

# dest -> flag, for what only a run in this process uses (None or False when not given).
_LOCAL_ONLY = {
    "engine": "--engine",
    "int8": "--int8",
    "checkpoint": "--checkpoint",
    "audit": "--audit",
    "batch_size": "--batch-size",
    "page": "--page",
    "bulk_docs": "--bulk-docs",
    "concurrency": "--concurrency",
}


def refuse_local_flags(args: argparse.Namespace) -> None:
    given = [flag for dest, flag in _LOCAL_ONLY.items() if getattr(args, dest) not in (None, False)]
    given += [
        f"--{kind} {name}"
        for kind, name in (("dense", args.dense), ("sparse", args.sparse))
        if name not in (None, NONE)
    ]
    if given:
        names = ", ".join(given)
        raise ValueError(
            f"{names}: with --server the sidecar enriches with its own engine, models and "
            f"settings (set on tandem serve); drop {names}, or run without --server. "
            "--dense none / --sparse none do work with --server"
        )


def settings_from(args: argparse.Namespace, text_fields: tuple[str, ...]) -> EnrichSettings:
    return EnrichSettings(
        index=args.index,
        text_fields=text_fields,
        strategy=args.strategy,
        joiner=args.joiner,
        dense_field=args.dense_field,
        sparse_field=args.sparse_field,
        marker_field=args.marker_field,
        target=args.target or "",
        alias=args.alias or "",
        resume=args.resume,
        follow=args.follow,
        poll_seconds=args.poll,
        sparse_top_k=args.top_k or 0,
        dry_run=args.dry_run,
        skip_dense=args.dense == NONE,
        skip_sparse=args.sparse == NONE,
        passages=args.passages,
        passage_window=args.passage_window or 0,
        passage_stride=args.passage_stride or 0,
        passage_sparse=args.sparse_passages,
    )


def _snapshot(progress: EnrichProgress) -> Snapshot:
    return Snapshot(
        progress.enriched,
        progress.failed,
        progress.skipped,
        progress.seconds,
        progress.total or None,
    )


def enrich_remote(args: argparse.Namespace, text_fields: tuple[str, ...]) -> int:
    refuse_local_flags(args)
    settings = settings_from(args, text_fields)
    line = ProgressLine(verb="enriched")
    told = [False]

    def progress(so_far: EnrichResult) -> None:
        if so_far.plan and not told[0]:
            told[0] = True
            plan = so_far.plan
            print(
                f"· plan ({args.server}): {plan['strategy']} {plan['source']} -> "
                f"{plan['target']}: {plan['why']}",
                file=sys.stderr,
                flush=True,
            )
        if so_far.progress is not None and so_far.progress.phase != "prepare":
            line(_snapshot(so_far.progress))

    with client_for(args) as client:
        result = client.enrich_index(settings, progress=progress)
    if args.dry_run:
        print(json.dumps(result.plan, indent=2))
        return 0
    if result.progress is not None:
        line(_snapshot(result.progress), final=True)
    if result.report is None:
        print("the sidecar ended the run without a report", file=sys.stderr)
        return 1
    if result.interrupted and not args.follow:
        phase = result.progress.phase if result.progress else "prepare"
        return print_interrupted(result.report, phase, args, 130)
    return print_report(result.report, args)
