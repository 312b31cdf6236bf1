"""What ``tandem search`` was asked, from its flags: the query (text or ``--dsl``), the
options, and errors that name the flags rather than the API's field names."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tandem.plugin.search.extension import (
    DslError,
    TandemQuery,
    apply_overrides,
    parse_tandem_query,
)
from tandem.plugin.search.names import DEFAULT_WINDOW
from tandem.plugin.search.options import SearchOptions

from .text_fields import parse_text_fields

# The flags the CLI spells differently from SearchOptions and the gRPC API.
OPTION_FLAGS = {
    "window": "--window",
    "start": "--from",
    "from": "--from",
    "size": "--size",
    "k": "--size",
    "explain": "--explain",
    "mode": "--mode",
    "normalization": "--normalization",
    "method": "--method",
}
# How the CLI names the options a MissingField error advises on.
FIELD_TERMS = {
    "dense_field": "--dense-field",
    "sparse_field": "--sparse-field",
    "fields": "--text-fields",
    "method": "--method",
}
_OPTION_WORD = re.compile(r"(?<![\w.-])(" + "|".join(OPTION_FLAGS) + r")(?![\w-])")
_EXAMPLE = '\'{"term": {"lang": "en"}}\''


def in_flag_terms(message: str) -> str:
    """A :class:`SearchOptions` message with its option names as the CLI's flags."""
    return _OPTION_WORD.sub(lambda m: OPTION_FLAGS[m.group(1)], message)


@dataclass(frozen=True)
class SearchInput:
    """The query text, the options in force, and the user's DSL if one was given
    (``raw`` goes to a sidecar as it is; ``dsl`` is its parsed form for this process)."""

    text: str
    options: SearchOptions
    dsl: TandemQuery | None = None
    raw: dict[str, Any] | None = None


def filters(raw: list[str]) -> tuple[dict[str, Any], ...]:
    """Each ``--filter JSON`` as an engine query clause."""
    clauses = []
    for i, text in enumerate(raw, start=1):
        try:
            clause = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"--filter #{i} is not valid JSON ({err.msg}): give an engine query clause "
                f"such as {_EXAMPLE}"
            ) from None
        if not isinstance(clause, dict) or not clause:
            raise ValueError(
                f"--filter #{i} must be a non-empty JSON object: an engine query clause such "
                f"as {_EXAMPLE}"
            )
        clauses.append(clause)
    return tuple(clauses)


def _read_dsl(path: str) -> Any:
    where = "stdin" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as err:
        raise ValueError(f"--dsl {where}: cannot read it ({err.strerror or err})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--dsl {where} is not valid JSON: {err}") from None


def _options(args: argparse.Namespace) -> SearchOptions:
    fields = parse_text_fields(args.text_fields, boosts=True)
    clauses = filters(args.filter)
    # as over gRPC: without --window, each retriever's window covers the page
    window = args.window if args.window is not None else max(DEFAULT_WINDOW, args.start + args.size)
    try:
        return SearchOptions(
            method=args.method,
            start=args.start,
            size=args.size,
            window=window,
            normalization=args.normalization,
            mode=args.mode,
            # sidecar fusion keeps every retriever's rank and score: --json lists them
            explain=args.explain or (args.json and args.mode == "sidecar"),
            fields=fields,
            filters=clauses,
        )
    except ValueError as err:
        raise ValueError(in_flag_terms(str(err))) from None


def search_input(args: argparse.Namespace) -> SearchInput:
    """The search ``args`` ask for; ``ValueError`` in the flags' terms when it is not one."""
    if args.dsl is None:
        if args.query is None or not args.query.strip():
            raise ValueError(
                "QUERY is empty: give the text to search for, or --dsl FILE with a tandem clause"
            )
        return SearchInput(args.query, _options(args))
    if args.query is not None:
        raise ValueError(
            'give QUERY or --dsl, not both: the text goes in the DSL\'s {"tandem": {"query": '
            "TEXT}} clause"
        )
    options = _options(args)
    raw = _read_dsl(args.dsl)
    where = "stdin" if args.dsl == "-" else args.dsl
    try:
        dsl = parse_tandem_query(raw)
        options = apply_overrides(options, dsl)
    except DslError as err:
        raise ValueError(f"--dsl {where}: {err}") from None
    return SearchInput(dsl.text, options, dsl, raw)
