"""Locate ``../shared`` (golden fixtures, evaluation data) without copying it."""

from __future__ import annotations

import csv
import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tandem.integration.pytest_plugin import in_ci

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("TANDEM_SHARED_DIR", REPO.parent / "shared"))


def scifact_corpus(count: int) -> list[dict[str, Any]]:
    """The first ``count`` SciFact documents (``_id``, ``title``, ``text``), each with a
    ``year`` (2000 to 2019, in turn) to filter on."""
    with (shared_dir() / "data" / "scifact" / "corpus.jsonl").open() as lines:
        docs = [json.loads(line) for line in itertools.islice(lines, count)]
    for i, doc in enumerate(docs):
        doc["year"] = 2000 + i % 20
    return docs


def load_fixture(name: str) -> dict[str, Any]:
    path = shared_dir() / "fixtures" / name
    if not path.is_file():
        message = f"golden fixture {path} is missing (set TANDEM_SHARED_DIR)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def scifact_slice(folder: Path, docs: int) -> Path:
    """A BEIR folder under ``folder`` (``folder/scifact``) with the first ``docs`` SciFact
    documents and the judged queries that point into them; ``folder`` is returned."""
    source = shared_dir() / "data" / "scifact"
    target = folder / "scifact"
    (target / "qrels").mkdir(parents=True)
    lines = (source / "corpus.jsonl").read_text().splitlines()[:docs]
    (target / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    ids = {json.loads(line)["_id"] for line in lines}
    with (source / "qrels" / "test.tsv").open() as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["corpus-id"] in ids]
    with (target / "qrels" / "test.tsv").open("w") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"{r['query-id']}\t{r['corpus-id']}\t{r['score']}\n" for r in rows)
    queries = {r["query-id"] for r in rows}
    kept = [
        line
        for line in (source / "queries.jsonl").read_text().splitlines()
        if line.strip() and json.loads(line)["_id"] in queries
    ]
    (target / "queries.jsonl").write_text("\n".join(kept) + "\n")
    return folder
