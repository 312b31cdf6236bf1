"""A demo corpus built at run time from the installed standard library's docstrings.

Source files are parsed with :mod:`ast`, never imported, so building the corpus
runs no stdlib code (no ``antigravity`` browser tabs). Each module, class and
public function or method with a docstring of some substance becomes one
document: title ``module.Class.method``, text the docstring.

:func:`python_documents` widens it for the scale benchmark: the installed
packages too, and every block of comment lines (read with :mod:`tokenize`) as a
document of its own, titled ``module:line``; a text met twice (licence headers)
is kept once.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import sysconfig
import tokenize
from collections.abc import Iterator, Sequence
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


def _comment_blocks(source: str, module: str) -> Iterator[tuple[str, str, str]]:
    """Runs of consecutive comment lines, as ``(module:line, text, "comment")``."""
    block: list[str] = []
    first = last = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type != tokenize.COMMENT:
                continue
            line = token.start[0]
            if block and line != last + 1:
                yield f"{module}:{first}", " ".join(block), "comment"
                block = []
            if not block:
                first = line
            block.append(token.string.lstrip("#!: "))
            last = line
    except (tokenize.TokenError, SyntaxError):
        return
    if block:
        yield f"{module}:{first}", " ".join(block), "comment"


def _documents_of(root: Path, path: Path, comments: bool = False) -> Iterator[Document]:
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    module = _module_name(root, path)
    found = [(module, ast.get_docstring(tree) or "", "module"), *_definitions(tree.body, module)]
    if comments:
        found += _comment_blocks(source, module)
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
    for path in _modules(root, SKIP_PARTS):
        for doc in _documents_of(root, path):
            docs.setdefault(doc.id, doc)
    return tuple(sorted(docs.values(), key=lambda d: hashlib.sha1(d.id.encode()).hexdigest()))


def package_roots() -> tuple[Path, ...]:
    """The standard library and the folders installed packages live in (no duplicates)."""
    paths = sysconfig.get_paths()
    roots = [Path(paths[key]) for key in ("stdlib", "purelib", "platlib")]
    return tuple(dict.fromkeys(r for r in roots if r.is_dir()))


def python_documents(
    limit: int | None = None, roots: Sequence[Path] | None = None, comments: bool = True
) -> list[Document]:
    """Docstrings, and with ``comments`` comment blocks, of the modules under ``roots``
    (default :func:`package_roots`), each text once.

    Modules are read in a stable shuffled order (by a digest of their path) until
    ``limit`` texts are found, so that a small corpus still spreads over many
    packages and does not read them all."""
    files = [
        (hashlib.sha1(str(path.relative_to(root)).encode()).hexdigest(), root, path)
        for root in roots or package_roots()
        for path in _modules(root, SKIP_PARTS)
    ]
    docs: dict[str, Document] = {}
    texts: set[str] = set()
    for _, root, path in sorted(files):
        for doc in _documents_of(root, path, comments):
            text = doc.text["text"]
            if doc.id not in docs and text not in texts:
                docs[doc.id] = doc
                texts.add(text)
        if limit is not None and len(docs) >= limit:
            break
    return list(docs.values())[:limit]


def _modules(root: Path, skip: set[str]) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).parts
        if not skip.intersection(relative) and not any(p.startswith("_") for p in relative[:-1]):
            yield path


def corpus_key(docs: list[Document]) -> str:
    """A digest of the corpus (ids and texts): the demo index is rebuilt when it changes."""
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(doc.id.encode())
        digest.update(doc.passage().encode())
    return digest.hexdigest()[:10]
