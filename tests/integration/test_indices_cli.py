"""``tandem indices list|delete`` as an operator runs them, on each engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.index.spec import default_spec
from tandem.plugin.ingest.assemble import ensure_index

from .cli import tandem


@pytest.fixture
def adapter(engine: EngineHandle) -> Iterator[EngineAdapter]:
    connected = connect(engine.url)
    yield connected
    connected.close()


@pytest.fixture
def foreign_index(index_name: str, engine_client: Any) -> Iterator[str]:
    """An index created straight on the engine, without Tandem's mark; removed afterwards."""
    name = f"{index_name}-foreign"
    engine_client.indices.create(index=name)
    yield name
    engine_client.indices.delete(index=name, ignore_unavailable=True)


def _fill(adapter: EngineAdapter, name: str, docs: int) -> None:
    operations: list[dict[str, Any]] = []
    for i in range(docs):
        operations += [{"index": {"_index": name, "_id": str(i)}}, {"title": f"doc {i}"}]
    assert all(r.ok for r in adapter.bulk(operations, refresh=True))


def _tandem_index(adapter: EngineAdapter, name: str, docs: int) -> None:
    assert ensure_index(adapter, default_spec(name, ("title",), None, sparse=False), None)
    _fill(adapter, name, docs)


def _listed(engine: EngineHandle) -> dict[str, dict[str, Any]]:
    done = tandem("indices", "list", "--engine", engine.url, "--json")
    assert done.returncode == 0, done.stderr
    return {row["name"]: row for row in json.loads(done.stdout)}


def test_list_shows_documents_size_and_who_created_each_index(
    engine: EngineHandle, adapter: EngineAdapter, index_name: str, foreign_index: str
) -> None:
    _tandem_index(adapter, index_name, 3)
    _fill(adapter, foreign_index, 2)
    rows = _listed(engine)
    assert rows[index_name]["docs"] == 3 and rows[index_name]["created_by_tandem"] is True
    assert rows[foreign_index]["docs"] == 2 and rows[foreign_index]["created_by_tandem"] is False
    assert rows[index_name]["size_bytes"] > 0
    assert set(rows[index_name]) == {"name", "docs", "size_bytes", "created_by_tandem"}
    assert not any(name.startswith(".") for name in rows)

    table = tandem("indices", "list", "--engine", engine.url)
    assert table.returncode == 0, table.stderr
    (line,) = [x for x in table.stdout.splitlines() if x.startswith(index_name + " ")]
    assert line.split()[1] == "3" and line.endswith("yes")


@pytest.mark.parametrize("name", ["tandem-test-*", "_all", "a,b", ".kibana"])
def test_delete_refuses_patterns_lists_and_system_names(engine: EngineHandle, name: str) -> None:
    done = tandem("indices", "delete", name, "--engine", engine.url, "--yes", "--force")
    assert done.returncode == 2
    assert "tandem: error:" in done.stderr and "Traceback" not in done.stderr


def test_delete_leaves_indices_tandem_did_not_create_unless_forced(
    engine: EngineHandle, adapter: EngineAdapter, index_name: str, foreign_index: str
) -> None:
    _tandem_index(adapter, index_name, 1)
    refused = tandem(
        "indices", "delete", index_name, foreign_index, "--engine", engine.url, "--yes"
    )
    assert refused.returncode == 2
    assert f"{foreign_index} was not created by Tandem" in refused.stderr
    assert "--force" in refused.stderr
    assert adapter.index_exists(index_name)  # nothing is deleted when one name is refused

    forced = tandem("indices", "delete", foreign_index, "--engine", engine.url, "--yes", "--force")
    assert forced.returncode == 0, forced.stderr
    assert not adapter.index_exists(foreign_index)


def test_delete_asks_first(engine: EngineHandle, adapter: EngineAdapter, index_name: str) -> None:
    _tandem_index(adapter, index_name, 2)
    declined = tandem("indices", "delete", index_name, "--engine", engine.url, input="n\n")
    assert declined.returncode == 1
    assert "delete 1 index on" in declined.stderr and "[y/N]" in declined.stderr
    assert "nothing deleted" in declined.stderr
    assert adapter.index_exists(index_name)

    no_answer = tandem("indices", "delete", index_name, "--engine", engine.url, input="")
    assert no_answer.returncode == 1 and adapter.index_exists(index_name)

    accepted = tandem("indices", "delete", index_name, "--engine", engine.url, input="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert f"deleted {index_name} (2 documents)" in accepted.stdout
    assert not adapter.index_exists(index_name)
    assert index_name not in _listed(engine)


def test_delete_names_a_missing_index(engine: EngineHandle, index_name: str) -> None:
    done = tandem("indices", "delete", index_name, "--engine", engine.url, "--yes")
    assert done.returncode == 2
    assert f"no index named {index_name}" in done.stderr and "tandem indices list" in done.stderr
