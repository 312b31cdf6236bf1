"""The words the commands share: one flag and one JSON key for each thing.

- ``--kind dense|sparse``: which encoder, the model kind (``tandem models list``
  calls it ``kind`` too); in JSON output the vector sits under that same key.
- ``--input query|document``: what the texts are (queries get the model's query
  prefix, or the sidecar's IDF table for sparse).
- ``--dense MODEL`` / ``--sparse MODEL``: always a model name (or ``none``).
- ``--engine``: ``opensearch``, ``elasticsearch`` or a URL.

Encoded texts print as JSON lines, ``{"text": ..., "dense": [...]}`` or
``{"text": ..., "sparse": {token: weight}}``, whichever command encoded them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tandem.encoders.registry import InputKind, ModelKind

KINDS = tuple(k.value for k in ModelKind)
INPUTS = tuple(k.value for k in InputKind)
STDIN = "-"


def _kind(text: str) -> str:
    if text in INPUTS:
        raise argparse.ArgumentTypeError(
            f"{text!r} says what the texts are, not which encoder: use --input {text} "
            "(--kind is dense or sparse)"
        )
    return text


def _input(text: str) -> str:
    if text in KINDS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is an encoder, not what the texts are: use --kind {text} "
            "(--input is query or document)"
        )
    return text


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class Deprecated(argparse.Action):
    """An old spelling, hidden from ``--help``: says what to write now, then sets ``const``."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, const: Any, use: str, **_: Any
    ) -> None:
        super().__init__(option_strings, dest, nargs=0, const=const, help=argparse.SUPPRESS)
        self.use = use

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"tandem: {option_string} is deprecated: use {self.use}", file=sys.stderr)
        setattr(namespace, self.dest, self.const)


def add_engine_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine", default="opensearch", help="opensearch, elasticsearch or an engine URL"
    )


def add_encode_arguments(parser: argparse.ArgumentParser, kind: str | None) -> None:
    """TEXT... and the flags of ``tandem encode`` and ``tandem models encode``.

    ``kind`` is the ``--kind`` default (``None``: the model's own kind).
    """
    parser.add_argument(
        "texts", nargs="+", metavar="TEXT", help="texts to encode; '-' reads one per stdin line"
    )
    parser.add_argument(
        "--kind",
        type=_kind,
        choices=KINDS,
        default=kind,
        help="encoder: dense vectors or sparse (SPLADE) terms"
        + ("" if kind else " (default: the model's kind)"),
    )
    parser.add_argument(
        "--input",
        type=_input,
        choices=INPUTS,
        default=InputKind.DOCUMENT.value,
        help="what the texts are: queries get the model's query prefix (and, for sparse, a "
        "sidecar's IDF table)",
    )
    parser.add_argument(
        "--top-k",
        type=positive,
        metavar="K",
        help="sparse: keep the K heaviest terms (default: all)",
    )
    parser.add_argument("--no-normalize", action="store_true", help="dense: skip L2 normalising")
    parser.add_argument("--json", action="store_true", help="JSON lines (the only format)")


def read_texts(raw: Sequence[str]) -> list[str]:
    """The TEXT arguments, or one text per non-blank stdin line for ``-``."""
    if list(raw) != [STDIN]:
        return list(raw)
    texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise ValueError("no text on stdin: give TEXT arguments or pipe one text per line")
    return texts


def dense_line(text: str, vector: Iterable[float]) -> str:
    return json.dumps({"text": text, ModelKind.DENSE.value: [round(float(x), 7) for x in vector]})


def sparse_line(text: str, weights: Mapping[str, float]) -> str:
    terms = {token: round(float(w), 6) for token, w in weights.items()}
    return json.dumps({"text": text, ModelKind.SPARSE.value: terms})
