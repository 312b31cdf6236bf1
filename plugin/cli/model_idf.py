"""``tandem models idf DATA --out idf.json``: the IDF table that ``tandem serve --idf`` loads."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tandem.encoders.idf import IdfTable
from tandem.encoders.loader import text_batcher
from tandem.encoders.registry import ModelKind, resolve_spec
from tandem.encoders.sources import pull
from tandem.plugin.ingest.documents import BadLine, corpus_file, read_documents

PROGRESS_EVERY = 10_000  # documents between progress lines


def register(verbs: Any) -> None:
    """Add ``idf`` to the ``tandem models`` verbs."""
    idf = verbs.add_parser(
        "idf",
        help="build the IDF table for inference-free sparse queries (tandem serve --idf)",
        description=(
            "Counts how many of DATA's documents (a JSONL file or a BEIR folder, read as "
            "tandem index reads them) hold each token of the sparse model's tokenizer, and "
            "writes BM25's IDF per token as a JSON object {token: idf}. 'tandem serve --idf "
            "FILE' then encodes sparse queries with the tokenizer and this table, without "
            "running the model; documents still go through the model."
        ),
    )
    idf.add_argument("data", type=Path, metavar="DATA", help="JSONL file or BEIR corpus folder")
    idf.add_argument("--out", type=Path, required=True, metavar="FILE", help="JSON file to write")
    idf.add_argument(
        "--sparse", default="splade-tiny", help="sparse model whose tokenizer splits the text"
    )
    idf.add_argument(
        "--text-fields", default="title,text", metavar="F1,F2", help="fields holding the text"
    )
    idf.set_defaults(handler=_idf)


def _say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _idf(args: argparse.Namespace) -> int:
    text_fields = tuple(f.strip() for f in args.text_fields.split(",") if f.strip())
    corpus = corpus_file(args.data)  # fail on a bad path before fetching the model
    spec = resolve_spec(args.sparse, ModelKind.SPARSE)
    pull(spec)  # the tokenizer comes with the checkpoint
    bad: list[BadLine] = []

    def passages() -> Iterator[str]:
        for record in read_documents(corpus, text_fields):
            if isinstance(record, BadLine):
                bad.append(record)
            else:
                yield record.passage()

    counted = [0]

    def progress(done: int) -> None:
        if done // PROGRESS_EVERY > counted[0] // PROGRESS_EVERY:
            _say(f"{done:,} documents counted")
        counted[0] = done

    try:
        table = IdfTable.from_corpus(text_batcher(spec), passages(), progress)
    except ValueError:
        if counted[0]:
            raise
        fields = ", ".join(text_fields)
        first = f" (first problem: {bad[0].id}: {bad[0].reason})" if bad else ""
        raise ValueError(
            f"{corpus} holds no document with text in {fields}{first}: check --text-fields"
        ) from None
    table.save(args.out)
    if bad:
        print(
            f"skipped {len(bad):,} records that are not documents (first: {bad[0].id}: "
            f"{bad[0].reason})",
            file=sys.stderr,
        )
    print(
        f"wrote {args.out}: IDF of {len(table.idf):,} tokens over {counted[0]:,} documents "
        f"({spec.name} tokenizer); serve it with: tandem serve --sparse {args.sparse} "
        f"--idf {args.out}"
    )
    return 0
