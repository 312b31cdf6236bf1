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
        help="split texts longer than the dense model's window into overlapping passages, "
        "one vector each (nested kNN scores a document by its best passage) (default: off; "
        "texts are truncated, and the run reports what that drops)",
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
    parser.add_argument(
        "--sparse-passages",
        action="store_true",
        help="split for the sparse model too, max-pooling its weights over passages (off by "
        "default: splade-tiny reads 510 tokens, and pooling lowered its nDCG@10 on SciFact)",
    )


def passages_from(args: argparse.Namespace) -> Passages | None:
    """The ``Passages`` the flags ask for (``None`` without ``--passages``); a window,
    stride or ``--sparse-passages`` without ``--passages`` is refused (``ValueError``)
    rather than ignored."""
    window, stride = args.passage_window, args.passage_stride
    if not args.passages:
        if window is not None or stride is not None or args.sparse_passages:
            raise ValueError(
                "--passage-window, --passage-stride and --sparse-passages need --passages "
                "(they shape the passages)"
            )
        return None
    try:
        return Passages(window, stride, args.sparse_passages)
    except SpecError as err:
        raise ValueError(f"--passage-{err.key}: {err.problem}") from None
