"""``tandem indices list|delete``: see what an engine holds, remove what Tandem made."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from tandem.plugin.engines.base import IndexSummary
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.targets import engine_url
from tandem.plugin.index.fields import created_by_tandem
from tandem.plugin.index.names import IndexNotAllowed, IndexPolicy

from .vocabulary import add_engine_argument


def register(commands: Any) -> None:
    parser = commands.add_parser("indices", help="list indices, delete the ones Tandem created")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    list_cmd = verbs.add_parser(
        "list",
        help="indices with their documents, size and whether Tandem created them",
        description=(
            "Lists the engine's open indices (hidden and '.' system indices left out) with "
            "their document count, store size, and whether Tandem created them (the mark "
            "Tandem leaves in the mapping's _meta)."
        ),
    )
    add_engine_argument(list_cmd)
    list_cmd.add_argument("--json", action="store_true", help="print JSON")
    list_cmd.set_defaults(handler=_list)

    delete = verbs.add_parser(
        "delete",
        help="delete indices by name (only Tandem's own, unless --force)",
        description=(
            "Deletes each NAME after asking once for all of them. Refuses wildcards, lists, "
            "_all, system and hidden names, aliases, and indices Tandem did not create "
            "(unless --force); nothing is deleted when any NAME is refused."
        ),
    )
    delete.add_argument("names", nargs="+", metavar="NAME", help="index names, exactly as listed")
    add_engine_argument(delete)
    delete.add_argument("--yes", action="store_true", help="delete without asking")
    delete.add_argument(
        "--force", action="store_true", help="also delete indices Tandem did not create"
    )
    delete.set_defaults(handler=_delete)


@dataclass(frozen=True)
class IndexRow:
    name: str
    docs: int | None
    size_bytes: int | None
    created_by_tandem: bool


def _row(summary: IndexSummary) -> IndexRow:
    mine = created_by_tandem({"_meta": summary.meta})
    return IndexRow(summary.name, summary.docs, summary.size_bytes, mine)


def _rows(summaries: list[IndexSummary]) -> list[IndexRow]:
    return [_row(s) for s in summaries if not s.name.startswith(".")]


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size / 1e3:.1f} kB" if size < 1e6 else f"{size / 1e6:.1f} MB"


def _docs(docs: int | None) -> str:
    return "-" if docs is None else f"{docs:,}"


def _list(args: argparse.Namespace) -> int:
    adapter = connect(engine_url(args.engine))
    try:
        rows = _rows(adapter.list_indices())
        url = adapter.url
    finally:
        adapter.close()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    if not rows:
        print(f"no indices on {url}")
        return 0
    width = max(28, *(len(r.name) for r in rows))
    print(f"{'INDEX':<{width}} {'DOCS':>11} {'SIZE':>10}  TANDEM")
    for r in rows:
        mine = "yes" if r.created_by_tandem else "no"
        print(f"{r.name:<{width}} {_docs(r.docs):>11} {_size(r.size_bytes):>10}  {mine}")
    return 0


def _check_names(names: list[str]) -> None:
    """Refuse what is not one concrete, ordinary index name before asking the engine."""
    policy = IndexPolicy()
    for name in names:
        try:
            policy.check(name, "index name")
        except IndexNotAllowed:
            raise ValueError(
                f"{name!r} is a system, hidden or remote index: tandem indices delete leaves "
                "those to the engine's own API"
            ) from None


def _refusals(names: list[str], found: dict[str, IndexRow], force: bool, url: str) -> str | None:
    missing = [n for n in names if n not in found]
    if missing:
        return (
            f"no index named {', '.join(missing)} on {url} (aliases and closed indices are "
            "not deleted here): see 'tandem indices list'"
        )
    foreign = [n for n in names if not found[n].created_by_tandem]
    if foreign and not force:
        verb = "was" if len(foreign) == 1 else "were"
        return (
            f"{', '.join(foreign)} {verb} not created by Tandem (no _meta.tandem in the "
            "mapping): pass --force to delete anyway"
        )
    return None


def _confirmed(rows: list[IndexRow], url: str) -> bool:
    listed = ", ".join(f"{r.name} ({_docs(r.docs)} docs, {_size(r.size_bytes)})" for r in rows)
    noun = "index" if len(rows) == 1 else "indices"
    print(
        f"delete {len(rows)} {noun} on {url}: {listed}? [y/N] (--yes skips this question) ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    answer = sys.stdin.readline()  # end of input answers no
    return answer.strip().lower() in ("y", "yes")


def _delete(args: argparse.Namespace) -> int:
    names = list(dict.fromkeys(args.names))
    _check_names(names)
    adapter = connect(engine_url(args.engine))
    try:
        found = {r.name: r for r in _rows(adapter.list_indices())}
        refusal = _refusals(names, found, args.force, adapter.url)
        if refusal is not None:
            raise ValueError(refusal)
        chosen = [found[n] for n in names]
        if not args.yes and not _confirmed(chosen, adapter.url):
            print("nothing deleted", file=sys.stderr)
            return 1
        for row in chosen:
            adapter.delete_index(row.name)
            print(f"deleted {row.name} ({_docs(row.docs)} documents)")
    finally:
        adapter.close()
    return 0
