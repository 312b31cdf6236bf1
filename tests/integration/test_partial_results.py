"""Partial results on real engines: a search that some shards failed says so.

Two indices behind one alias map ``year`` differently (an integer, a keyword);
a ``prefix`` filter on ``year`` is refused by the integer index's shard and
runs on the keyword one, so every engine answers HTTP 200 with one failed shard
and the keyword index's hits. (Engine timeouts are covered by recorded responses
in the unit tests: a tiny ``timeout`` did not time out the small test indices
reliably on any engine here.)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from tandem.client import ClientError, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.server.embedded import EmbeddedSidecar

from .shared_data import shared_dir
from .sidecar import sample, scrape, spec_json, start_sidecar

PER_INDEX = 8
BROKEN_ON_INTEGERS = {"prefix": {"year": "20"}}


def _spec(name: str, year_type: str) -> dict[str, Any]:
    return spec_json(name, year=year_type)


def _docs() -> list[dict[str, Any]]:
    with (shared_dir() / "data" / "scifact" / "corpus.jsonl").open() as lines:
        docs = [json.loads(line) for line in itertools.islice(lines, 2 * PER_INDEX)]
    for i, doc in enumerate(docs):
        doc["year"] = 2000 + i
    return docs


@pytest.fixture(scope="module")
def split_alias(
    engine_sidecar_client: TandemClient, engine_client: Any
) -> Iterator[tuple[str, str, set[str]]]:
    """An alias over an index with an integer ``year`` and one with a keyword ``year``;
    yields the alias, the integer index's name and the keyword index's ids."""
    tag = uuid.uuid4().hex[:10]
    numbers, words = f"tandem-partial-int-{tag}", f"tandem-partial-kw-{tag}"
    docs = _docs()
    engine_sidecar_client.create_index(_spec(numbers, "integer"))
    engine_sidecar_client.create_index(_spec(words, "keyword"))
    try:
        engine_sidecar_client.index_documents(numbers, docs[:PER_INDEX])
        engine_sidecar_client.index_documents(words, docs[PER_INDEX:])
        alias = f"tandem-partial-{tag}"
        engine_client.indices.put_alias(index=[numbers, words], name=alias)
        yield alias, numbers, {d["_id"] for d in docs[PER_INDEX:]}
    finally:
        for name in (numbers, words):
            with contextlib.suppress(ClientError):
                engine_sidecar_client.delete_index(name)


def _modes(engine: EngineHandle) -> list[str]:
    # Native hybrid fusion runs on OpenSearch; Elasticsearch's Basic licence has none.
    return ["sidecar", "native"] if engine.kind is EngineKind.OPENSEARCH else ["sidecar"]


def test_shard_failures_come_back_marked_partial_and_counted(
    engine: EngineHandle,
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
    split_alias: tuple[str, str, set[str]],
) -> None:
    alias, numbers, word_ids = split_alias
    before = sample(scrape(engine_sidecar), "tandem_partial_results_total", cause="shard_failures")
    for mode in _modes(engine):
        options = SearchOptions(size=5, mode=mode, filters=(BROKEN_ON_INTEGERS,))  # type: ignore[arg-type]
        found = engine_sidecar_client.search(alias, "cells and proteins", options)
        assert found.mode == ("native" if mode == "native" else "sidecar")
        assert found.partial and not found.timed_out, mode
        assert found.shard_failures, mode
        assert all(numbers in f and "prefix" in f for f in found.shard_failures), mode
        assert found.hits and {h.id for h in found.hits} <= word_ids, mode
    after = sample(scrape(engine_sidecar), "tandem_partial_results_total", cause="shard_failures")
    assert after == before + len(_modes(engine))
    whole = engine_sidecar_client.search(alias, "cells and proteins", SearchOptions(size=5))
    assert not whole.partial and whole.shard_failures == []


def test_partial_results_fail_when_the_operator_asks(
    engine: EngineHandle, split_alias: tuple[str, str, set[str]]
) -> None:
    alias, numbers, _ = split_alias
    strict = start_sidecar(engine=engine.url, dense="none", sparse="none", partial_results="fail")
    try:
        with TandemClient(strict.address) as client:
            bm25 = SearchOptions(method="bm25", size=5)
            assert client.search(alias, "cells", bm25).hits  # complete: answered as usual
            with pytest.raises(ClientError) as refused:
                client.search(
                    alias, "cells", SearchOptions(method="bm25", filters=(BROKEN_ON_INTEGERS,))
                )
        assert refused.value.code is grpc.StatusCode.UNAVAILABLE
        assert "partial results" in refused.value.details and numbers in refused.value.details
        assert "--partial-results" in refused.value.details
        page = scrape(strict)
        assert sample(page, "tandem_partial_results_total", cause="shard_failures") == 1.0
    finally:
        strict.stop()
