"""``tandem demo``: hybrid search over the Python standard library, on a local engine."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tandem.plugin.search.names import FUSION_METHODS

from .vocabulary import positive


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="try hybrid search on the standard library's docstrings (starts what it needs)",
        description=(
            "Starts a local OpenSearch unless --engine is given, pulls the two models, indexes "
            "the docstrings of the installed Python standard library (built at run time, "
            "about 3,600 documents; indexed once, then reused), and shows BM25, dense, sparse "
            "and fused results side by side. Without --query it asks for queries until an "
            "empty line or Ctrl-D."
        ),
    )
    parser.add_argument("--query", help="answer this one query and exit")
    parser.add_argument("--engine", help="opensearch, elasticsearch or a URL (default: start one)")
    parser.add_argument(
        "--docs",
        type=_docs,
        metavar="N",
        help="index at most N docstrings (default: all, about 3,600)",
    )
    parser.add_argument("--size", type=int, default=5, help="hits per column")
    parser.add_argument("--method", choices=FUSION_METHODS, default="rrf", help="fusion")
    parser.set_defaults(handler=_demo)


def _docs(text: str) -> int | None:
    """A positive count, or ``all`` (compose passes ``${DEMO_DOCS:-all}``)."""
    if text.strip().lower() == "all":
        return None
    try:
        return positive(text)
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"{err} (or 'all')") from None


def _say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _demo(args: argparse.Namespace) -> int:
    from tandem.plugin.demo.app import prepare, render

    if args.query is not None and not args.query.strip():
        raise ValueError("--query is empty: give the words to search for")
    demo = prepare(args.engine, args.docs, _say)
    try:
        if args.query is not None:
            print(render(args.query, demo.search(args.query, args.size, args.method)))
            return 0
        _say(f"{demo.documents:,} docstrings ready; type a query (empty line or Ctrl-D quits)")
        while True:
            try:
                query = input("search> ").strip()
            except EOFError:
                print()
                return 0
            if not query:
                return 0
            print(render(query, demo.search(query, args.size, args.method)) + "\n")
    finally:
        demo.close()
