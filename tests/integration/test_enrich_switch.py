"""The alias switch of a reindex: a write the application made just before it is in
the copy the moment the alias moves.

The application indexes a document through the alias immediately before the alias
moves, then updates it through the alias immediately after. The copy must hold the
document by then: otherwise the update is a 404 (``document_missing``), and an
application that upserts would write a partial document that the catch-up then
keeps over the whole one. The write is either refused outright, while the source is
briefly write-blocked, or it is in the copy when the alias moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import KNOWN_MODELS
from tandem.encoders.sparse import SpladeEncoder
from tandem.integration.clients import client_for
from tandem.integration.handle import EngineHandle
from tandem.plugin.engines.base import EngineAdapter
from tandem.plugin.engines.connect import connect
from tandem.plugin.enrich import dialect
from tandem.plugin.enrich.checkpoint import lift_left_block
from tandem.plugin.enrich.marker import models_id
from tandem.plugin.enrich.plan import EnrichRequest, plan
from tandem.plugin.enrich.run import Enricher, EnrichOptions

from .user_index import bulk, create_user_index, refused_by_a_block, scifact_docs, stale, stored

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def encoders() -> tuple[DenseEncoder, SpladeEncoder]:
    return load_dense(KNOWN_MODELS["minilm"]), load_sparse(KNOWN_MODELS["splade-tiny"])


def test_a_write_just_before_the_switch_is_in_the_copy_when_the_alias_moves(
    engine: EngineHandle,
    engine_client: Any,
    alias: str,
    encoders: tuple[DenseEncoder, SpladeEncoder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = alias.removesuffix("-live")
    create_user_index(engine_client, engine, index)
    bulk(engine_client, engine, index, scifact_docs(20))
    engine_client.indices.put_alias(index=index, name=alias)
    app = client_for(engine)
    adapter = connect(engine.url)
    the_plan = plan(adapter, EnrichRequest(alias, ("title", "body"), 384, True, strategy="reindex"))
    seen: dict[str, Any] = {}
    real_move = dialect.update_aliases

    def move_with_a_write_on_each_side(
        on: EngineAdapter, actions: Sequence[Mapping[str, Any]]
    ) -> None:
        late = {"title": "written just before the switch", "body": "late arrival text"}
        try:
            app.index(index=alias, id="late", body=late)
            seen["acknowledged"] = True
        except Exception as err:  # the engine refused it: the application knows
            assert refused_by_a_block(err), err
            seen["acknowledged"] = False
        real_move(on, actions)
        if seen["acknowledged"]:
            app.update(index=alias, id="late", body={"doc": {"body": "edited after the switch"}})

    monkeypatch.setattr(dialect, "update_aliases", move_with_a_write_on_each_side)
    dense, sparse = encoders
    enricher = Enricher(
        adapter, the_plan, dense, sparse, models_id("minilm", "splade-tiny"), EnrichOptions()
    )
    report = enricher.run()

    assert seen, "the alias moved"
    assert report.failures == []
    # The source takes writes again once the alias has moved: nothing is left blocked.
    app.index(index=index, id="by-name", body={"title": "t", "body": "written by name after"})
    held = stored(engine_client, alias)
    assert stale(held) == []
    if seen["acknowledged"]:
        assert held["late"]["body"] == "edited after the switch"
    else:
        assert "late" not in held
    assert report.as_dict()["write_pause_seconds"] > 0
    adapter.close()


def test_resume_lifts_the_block_a_run_killed_mid_switch_left(
    engine: EngineHandle, engine_client: Any, alias: str
) -> None:
    index = alias.removesuffix("-live")
    create_user_index(engine_client, engine, index)
    adapter = connect(engine.url)
    dialect.block_writes(adapter, index)  # where a killed run's switch leaves it
    with pytest.raises(Exception) as refused:
        client_for(engine).index(index=index, id="a", body={"title": "t", "body": "b"})
    assert refused_by_a_block(refused.value)
    saved = {"identity": {"strategy": "reindex"}, "state": {"write_block": index}}

    assert lift_left_block(adapter, saved, resume=False) is None  # only when resuming
    assert lift_left_block(adapter, saved, resume=True) == index
    client_for(engine).index(index=index, id="a", body={"title": "t", "body": "b"})
    settings = engine_client.indices.get_settings(index=index)
    assert "blocks" not in dict(settings)[index]["settings"]["index"]
    adapter.close()
