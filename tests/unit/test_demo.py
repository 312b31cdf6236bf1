"""The demo's corpus and its side-by-side rendering."""

from __future__ import annotations

from tandem.plugin.demo.app import COLUMNS, render
from tandem.plugin.demo.corpus import corpus_key, stdlib_documents
from tandem.plugin.search.hits import FusedHit


def test_the_stdlib_gives_thousands_of_real_docstrings() -> None:
    docs = stdlib_documents()
    assert len(docs) > 2000
    assert len({d.id for d in docs}) == len(docs)
    ids = {d.id for d in docs}
    assert "json.loads" in ids  # a well-known public function with a long docstring
    assert not any(".test." in d.id or d.id.startswith("test.") for d in docs)
    assert all(len(d.text["text"]) >= 80 for d in docs)


def test_a_limit_takes_a_stable_spread() -> None:
    first = stdlib_documents(200)
    assert [d.id for d in first] == [d.id for d in stdlib_documents(200)]
    assert len({d.id.split(".")[0] for d in first}) > 20  # many modules, not one
    assert corpus_key(first) == corpus_key(stdlib_documents(200))
    assert corpus_key(first) != corpus_key(stdlib_documents(201))


def test_render_puts_the_four_lists_side_by_side() -> None:
    hits = {name: [FusedHit(f"{name}.hit{i}", 1.0, {}) for i in range(3)] for name in COLUMNS}
    text = render("open a file", hits, width=100)
    lines = text.splitlines()
    assert lines[0] == "query: open a file"
    assert lines[1].split(" | ")[0].strip() == "BM25" and "FUSED" in lines[1]
    assert all(len(line) <= 100 for line in lines)
    assert "1. fused.hit0" in text and "3. dense.hit2" in text
