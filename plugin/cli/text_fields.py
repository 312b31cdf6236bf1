"""``--text-fields``: the one flag, in ``tandem index`` and ``tandem search``, for the
fields that hold a document's text (written and encoded by one, searched by BM25 in
the other), so an index written with ``--text-fields body`` is searched with the same."""

from __future__ import annotations

import argparse

from tandem.plugin.index.spec import DEFAULT_TEXT_FIELDS
from tandem.plugin.search.options import DEFAULT_FIELDS

FLAG = "--text-fields"
DEFAULT = ",".join(DEFAULT_TEXT_FIELDS)
# Search's default: the same fields, the title boosted (plugin/search/options.py).
SEARCH_DEFAULT = ",".join(DEFAULT_FIELDS)


def add_text_fields_argument(
    parser: argparse.ArgumentParser, help: str, *aliases: str, default: str = DEFAULT
) -> None:
    """``aliases`` are other spellings of the same flag (``--fields`` in search)."""
    parser.add_argument(
        FLAG,
        *aliases,
        dest="text_fields",
        default=default,
        metavar="F1,F2",
        help=f"{help} (default: {default})",
    )


def parse_text_fields(raw: str, boosts: bool) -> tuple[str, ...]:
    """The comma-separated field names of ``raw``; ``boosts`` allows ``title^2``."""
    names = tuple(f.strip() for f in raw.split(",") if f.strip())
    if not names:
        raise ValueError(
            f"{FLAG} names no field: give comma-separated field names such as {DEFAULT}"
        )
    if not boosts:
        boosted = [n for n in names if "^" in n]
        if boosted:
            raise ValueError(
                f"{FLAG} {boosted[0]}: a boost only means something to search; "
                "name the field without ^"
            )
    return names
