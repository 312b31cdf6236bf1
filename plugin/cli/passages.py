"""``--passages``, ``--passage-window`` and ``--passage-stride``.

Shared by ``tandem index`` and ``tandem eval``, so both spell the options the same way;
what long documents became is reported by :func:`tandem.plugin.ingest.passages.length_lines`.
"""

from __future__ import annotations

import argparse

from tandem.plugin.index.spec import Passages, SpecError


def add_passage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passages",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="split texts longer than a model's window into overlapping passages: one dense "
        "vector per passage (nested kNN scores a document by its best passage) and sparse "
        "weights max-pooled over them (default: off; texts are truncated, and the run "
        "reports what that drops)",
    )
    parser.add_argument(
        "--passage-window",
        type=int,
        metavar="TOKENS",
        help="tokens per passage (default: all the model reads, 254 for minilm)",
    )
    parser.add_argument(
        "--passage-stride",
        type=int,
        metavar="TOKENS",
        help="tokens from one passage's start to the next (default: half the window)",
    )


def passages_from(args: argparse.Namespace) -> Passages | None:
    """The ``Passages`` the flags ask for (``None`` without ``--passages``); a window or
    stride without ``--passages`` is refused rather than ignored."""
    window, stride = args.passage_window, args.passage_stride
    if not args.passages:
        if window is not None or stride is not None:
            raise SystemExit(
                "--passage-window and --passage-stride need --passages (they shape the passages)"
            )
        return None
    try:
        return Passages(window, stride)
    except SpecError as err:
        raise SystemExit(f"--passage-{err.key}: {err.problem}") from None
