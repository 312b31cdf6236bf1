"""Which indices a request may touch, on real engines: concrete names only, the operator's
allow-list, and DeleteIndex only for indices Tandem created."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from tandem.client import ClientError, TandemClient
from tandem.integration.handle import EngineHandle

from .sidecar import start_sidecar

pytestmark = pytest.mark.integration


def _spec(name: str) -> dict[str, Any]:
    return {"name": name, "fields": [{"name": "text", "type": "text"}]}


@pytest.mark.parametrize("name", ["_all", "*", "tandem-*", "a,b"])
def test_delete_index_never_takes_more_than_one_index(
    engine_sidecar_client: TandemClient, engine_client: Any, name: str
) -> None:
    """At 88a4715 one DeleteIndex(index="_all") deleted every index the engine held."""
    keep = f"tandem-keep-{uuid.uuid4().hex[:8]}"
    engine_sidecar_client.create_index(_spec(keep))
    try:
        with pytest.raises(ClientError) as err:
            engine_sidecar_client.delete_index(name)
        assert err.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert engine_client.indices.exists(index=keep)
    finally:
        engine_sidecar_client.delete_index(keep)


def test_delete_index_leaves_indices_tandem_did_not_create(
    engine: EngineHandle, engine_sidecar_client: TandemClient, engine_client: Any, index_name: str
) -> None:
    engine_client.indices.create(index=index_name, body={"mappings": {"properties": {}}})
    with pytest.raises(ClientError) as err:
        engine_sidecar_client.delete_index(index_name)
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert "--allow-delete-any-index" in err.value.details
    assert engine_client.indices.exists(index=index_name)
    # The operator can allow it.
    sidecar = start_sidecar(engine=engine.url, allow_delete_any_index=True, metrics_port=-1)
    try:
        with TandemClient(sidecar.address) as client:
            client.delete_index(index_name)
        assert not engine_client.indices.exists(index=index_name)
    finally:
        sidecar.stop()


def test_hidden_and_system_indices_are_refused_by_default(
    engine_sidecar_client: TandemClient, engine_client: Any
) -> None:
    hidden = f".tandem-hidden-{uuid.uuid4().hex[:8]}"
    engine_client.indices.create(index=hidden, body={"settings": {"index.hidden": True}})
    try:
        for call in (
            lambda: engine_sidecar_client.delete_index(hidden),
            lambda: engine_sidecar_client.search(hidden, "anything"),
            lambda: engine_sidecar_client.index_documents(hidden, [{"_id": "1", "text": "x"}]),
        ):
            with pytest.raises(ClientError) as err:
                call()
            assert err.value.code is grpc.StatusCode.PERMISSION_DENIED, err.value.details
            assert "--indices" in err.value.details
        assert engine_client.indices.exists(index=hidden)
    finally:
        engine_client.indices.delete(index=hidden)


def test_the_operator_allow_list_decides(engine: EngineHandle, engine_client: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    allowed, other = f"tandem-ok-{tag}", f"tandem-no-{tag}"
    sidecar = start_sidecar(engine=engine.url, indices="tandem-ok-*", metrics_port=-1)
    try:
        with TandemClient(sidecar.address) as client:
            client.create_index(_spec(allowed))
            with pytest.raises(ClientError) as err:
                client.create_index(_spec(other))
            assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
            assert "allow-list (--indices tandem-ok-*)" in err.value.details
            client.delete_index(allowed)
        assert not engine_client.indices.exists(index=other)
    finally:
        sidecar.stop()
