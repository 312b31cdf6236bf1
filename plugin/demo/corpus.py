"""A demo corpus built at run time from the installed standard library's docstrings.

Source files are parsed with :mod:`ast`, never imported, so building the corpus
runs no stdlib code (no ``antigravity`` browser tabs). Each module, class and
public function or method with a docstring of some substance becomes one
document: title ``module.Class.method``, text the docstring.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from tandem.plugin.ingest.documents import Document

MIN_CHARS = 80
SKIP_PARTS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}
Definition = ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _definitions(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, str, str]]:
    for node in body:
        if isinstance(node, Definition) and not node.name.startswith("_"):
            name = f"{prefix}.{node.name}"
            doc = ast.get_docstring(node)
            if doc:
                yield name, doc, "class" if isinstance(node, ast.ClassDef) else "function"
            if isinstance(node, ast.ClassDef):
                yield from _definitions(node.body, name)


def _documents_of(root: Path, path: Path) -> Iterator[Document]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    module = _module_name(root, path)
    found = [(module, ast.get_docstring(tree) or "", "module"), *_definitions(tree.body, module)]
    for name, doc, kind in found:
        text = " ".join(doc.split())
        if len(text) >= MIN_CHARS:
            yield Document(name, {"title": name, "text": text}, {"kind": kind})


def stdlib_documents(limit: int | None = None) -> list[Document]:
    """Docstring documents of the standard library, a stable spread of ``limit`` of them."""
    ordered = _all_documents()
    return list(ordered[:limit] if limit else ordered)


@functools.cache
def _all_documents() -> tuple[Document, ...]:
    """Parse once per process (a few seconds): every docstring document, in a stable order."""
    root = stdlib_root()
    docs: dict[str, Document] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).parts
        if SKIP_PARTS.intersection(relative) or any(p.startswith("_") for p in relative[:-1]):
            continue
        for doc in _documents_of(root, path):
            docs.setdefault(doc.id, doc)
    return tuple(sorted(docs.values(), key=lambda d: hashlib.sha1(d.id.encode()).hexdigest()))


def corpus_key(docs: list[Document]) -> str:
    """A digest of the corpus (ids and texts): the demo index is rebuilt when it changes."""
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(doc.id.encode())
        digest.update(doc.passage().encode())
    return digest.hexdigest()[:10]
