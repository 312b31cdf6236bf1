"""Read documents from JSONL files or BEIR corpus folders, one bad line at a time.

A line that is not valid JSON, or has no id, becomes a :class:`BadLine` in
the stream instead of an exception, so one broken record never stops an
ingest and is still reported at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ID_KEYS = ("_id", "id")


@dataclass(frozen=True)
class Document:
    """One document: its id, text fields, and any other (metadata) fields."""

    id: str
    text: dict[str, str]
    metadata: dict[str, Any] = field(default_factory=dict)

    def passage(self) -> str:
        """What the encoders see: the text fields joined, title first."""
        return " ".join(v for v in self.text.values() if v).strip()


@dataclass(frozen=True)
class BadLine:
    """A record that could not become a document."""

    source: str
    line: int
    reason: str

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}"


def corpus_file(data: Path) -> Path:
    """The JSONL file for ``data``: the file itself, or a BEIR folder's corpus.jsonl."""
    if data.is_dir():
        corpus = data / "corpus.jsonl"
        if not corpus.is_file():
            raise FileNotFoundError(f"{data} is a folder without corpus.jsonl (BEIR layout)")
        return corpus
    if not data.is_file():
        raise FileNotFoundError(f"no such file or folder: {data}")
    return data


def parse_record(record: Any, text_fields: tuple[str, ...]) -> Document | str:
    """A document from one decoded JSON value, or the reason it is not one."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    doc_id = next((record[k] for k in ID_KEYS if k in record), None)
    if doc_id is None or (isinstance(doc_id, str) and not doc_id.strip()):
        return "no id (expected an '_id' or 'id' field)"
    if not isinstance(doc_id, (str, int)):
        return f"id must be a string or integer, got {type(doc_id).__name__}"
    text: dict[str, str] = {}
    for name in text_fields:
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            return f"field {name!r} must be a string, got {type(value).__name__}"
        text[name] = value
    if not any(v.strip() for v in text.values()):
        wanted = " or ".join(repr(f) for f in text_fields)
        return f"no text: expected a non-empty {wanted} field"
    metadata = {k: v for k, v in record.items() if k not in text_fields and k not in ID_KEYS}
    return Document(str(doc_id), text, metadata)


def read_documents(
    data: Path, text_fields: tuple[str, ...] = ("title", "text")
) -> Iterator[Document | BadLine]:
    """Stream documents from ``data`` (JSONL file or BEIR folder), in file order."""
    path = corpus_file(data)
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                yield BadLine(path.name, number, f"invalid JSON: {err.msg} at column {err.colno}")
                continue
            parsed = parse_record(record, text_fields)
            if isinstance(parsed, str):
                yield BadLine(path.name, number, parsed)
            else:
                yield parsed
