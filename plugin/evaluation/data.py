"""BEIR-layout datasets: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv``."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from tandem.plugin.ingest.documents import BadLine, Document, read_documents

QRELS = Path("qrels") / "test.tsv"


@dataclass(frozen=True)
class Dataset:
    """A BEIR folder: judged test queries and their graded relevance."""

    folder: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def corpus(self) -> Path:
        return self.folder / "corpus.jsonl"

    @classmethod
    def load(cls, folder: Path) -> Dataset:
        """Read queries and qrels; only queries with at least one judgement are kept."""
        missing = [
            p for p in ("corpus.jsonl", "queries.jsonl", str(QRELS)) if not (folder / p).exists()
        ]
        if missing:
            raise FileNotFoundError(
                f"{folder} is not a BEIR dataset: {', '.join(missing)} missing "
                "(expected corpus.jsonl, queries.jsonl and qrels/test.tsv)"
            )
        qrels: dict[str, dict[str, int]] = {}
        with (folder / QRELS).open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
        queries: dict[str, str] = {}
        with (folder / "queries.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    record = json.loads(line)
                    if str(record["_id"]) in qrels:
                        queries[str(record["_id"])] = str(record["text"])
        if not queries:
            raise ValueError(f"{folder}: no query in queries.jsonl has a judgement in {QRELS}")
        return cls(folder, queries, {q: qrels[q] for q in queries})

    def documents(self) -> list[Document | BadLine]:
        return list(read_documents(self.corpus))


@dataclass(frozen=True)
class Coverage:
    """How many of the judged documents the corpus holds."""

    judged: int
    missing: int

    @property
    def share_missing(self) -> float:
        return self.missing / self.judged if self.judged else 0.0


# Above this share of judged documents missing, the scores say more about the data than
# about the methods: most likely qrels and corpus come from different datasets or splits.
MOSTLY_MISSING = 0.5


def judged_coverage(qrels: dict[str, dict[str, int]], corpus_ids: set[str]) -> Coverage:
    """The distinct documents ``qrels`` judges, and how many of them ``corpus_ids`` lacks."""
    judged = {doc for judgements in qrels.values() for doc in judgements}
    return Coverage(len(judged), len(judged - corpus_ids))


def coverage_warning(dataset: Dataset, corpus_ids: set[str]) -> str | None:
    """A warning when most judged documents are not in the corpus; ``None`` otherwise."""
    coverage = judged_coverage(dataset.qrels, corpus_ids)
    if coverage.share_missing <= MOSTLY_MISSING:
        return None
    return (
        f"warning: {coverage.missing:,} of {coverage.judged:,} judged documents "
        f"({coverage.share_missing:.0%}) are not in {dataset.corpus}, so every method will "
        f"score low: check that corpus.jsonl and {QRELS} come from the same dataset"
    )


def content_hash(files: list[Path], *extra: str) -> str:
    """A short digest of the files' bytes and ``extra`` (models, mapping): the index cache key."""
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    for text in extra:
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()[:12]
