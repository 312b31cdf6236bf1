"""Run the demo: an engine, the two models, the stdlib corpus, and side-by-side search."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS
from tandem.encoders.sparse import SpladeEncoder
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.errors import EngineUnavailable
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.engines.targets import engine_url as resolve
from tandem.plugin.index.mapping import sparse_type_for
from tandem.plugin.ingest.fill import fill_index, holds
from tandem.plugin.ingest.progress import ProgressLine
from tandem.plugin.search.hits import FusedHit
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.search.searcher import Searcher

from .corpus import corpus_key, stdlib_documents

Say = Callable[[str], None]
COLUMNS = ("bm25", "dense", "sparse", "fused")


@dataclass
class Demo:
    """Everything a demo search needs, ready."""

    adapter: EngineAdapter
    searcher: Searcher
    index: str
    documents: int

    def search(self, query: str, size: int = 5, method: str = "rrf") -> dict[str, list[FusedHit]]:
        """Each retriever's hits and the fused list, for ``query``."""
        results = {}
        for column in COLUMNS:
            chosen = method if column == "fused" else column
            options = SearchOptions(method=chosen, size=size, explain=True)  # type: ignore[arg-type]
            results[column] = self.searcher.search(self.index, query, options).hits
        return results

    def close(self) -> None:
        self.adapter.close()


def engine_url(engine: str | None, say: Say) -> str:
    """The given engine, or a local OpenSearch started (or found) through the launcher."""
    if engine:
        return resolve(engine)
    say("no engine given: starting a local OpenSearch (fetched once, then cached)")
    return start_local_engine(say)


def start_local_engine(say: Say) -> str:
    """Start (or find) a local OpenSearch; the one place the demo uses the launcher."""
    from tandem.integration.errors import EngineError
    from tandem.integration.launcher import Launcher

    try:
        return Launcher(progress=say).up(EngineKind.OPENSEARCH).url
    except EngineError as err:
        raise EngineUnavailable(f"could not start a local OpenSearch: {err}") from err


def prepare(engine: str | None, limit: int | None, say: Say) -> Demo:
    """Start or attach the engine, pull the models, build and index the corpus (once)."""
    url = engine_url(engine, say)
    say("loading models minilm and splade-tiny (pulled and exported to ONNX on first use)")
    dense: DenseEncoder = load_dense(KNOWN_MODELS["minilm"], progress=say)
    sparse: SpladeEncoder = load_sparse(KNOWN_MODELS["splade-tiny"], progress=say)
    say("reading the standard library's docstrings")
    docs = stdlib_documents(limit)
    index = f"tandem-demo-{corpus_key(docs)}"
    adapter = connect(url)
    if holds(adapter, index, len(docs)):
        say(f"index {index} already holds the {len(docs):,} docstrings")
    else:
        say(f"indexing {len(docs):,} docstrings into {index} on {adapter.url}")
        report = fill_index(adapter, index, docs, dense, sparse, ProgressLine())
        if report.failures:
            say(f"{len(report.failures)} docstrings failed to index; searching the rest")
    searcher = Searcher(adapter, dense, sparse, sparse_type_for(adapter.capabilities))
    return Demo(adapter, searcher, index, len(docs))


def render(query: str, results: dict[str, list[FusedHit]], width: int | None = None) -> str:
    """The four result lists side by side, one column each, titles wrapped to fit."""
    total = width or shutil.get_terminal_size((120, 24)).columns
    column = max(18, (total - 3 * (len(COLUMNS) - 1)) // len(COLUMNS))
    cells: list[list[str]] = []
    for name in COLUMNS:
        lines = [name.upper().ljust(column), "-" * column]
        for rank, hit in enumerate(results[name], start=1):
            wrapped = textwrap.wrap(f"{rank}. {hit.id}", column) or [""]
            lines += [w.ljust(column) for w in wrapped]
        cells.append(lines)
    height = max(len(c) for c in cells)
    rows = [
        " | ".join((c[i] if i < len(c) else " " * column) for c in cells) for i in range(height)
    ]
    return f"query: {query}\n" + "\n".join(r.rstrip() for r in rows)
