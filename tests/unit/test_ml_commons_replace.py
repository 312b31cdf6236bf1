"""``tandem connect --replace`` deleting a model whose connector another model still uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tandem.plugin.engines.errors import EngineRequestError
from tandem.plugin.engines.ml_commons import MlCommons

IN_USE = (
    "ML Commons DELETE /_plugins/_ml/connectors/c1 failed on http://127.0.0.1:9240: HTTP 409 "
    "status_exception: 1 models are still using this connector, please delete or update the "
    "models first: [old-model]"
)


class Recorder:
    """An adapter that records requests and refuses the connector's deletion."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, **_: Any
    ) -> Any:
        self.calls.append((method, path))
        if method == "DELETE" and "/connectors/" in path:
            raise EngineRequestError(IN_USE, status=409, error_type="status_exception")
        return {}


def test_a_connector_still_in_use_is_left_in_place_and_said() -> None:
    adapter = Recorder()
    said: list[str] = []
    MlCommons(adapter, said.append).delete_model(  # type: ignore[arg-type]
        {"_id": "m1", "name": "tandem-dense-query", "connector_id": "c1"}
    )
    assert adapter.calls == [
        ("POST", "/_plugins/_ml/models/m1/_undeploy"),
        ("DELETE", "/_plugins/_ml/models/m1"),
        ("DELETE", "/_plugins/_ml/connectors/c1"),
    ]
    assert said[-1] == (
        "left connector c1 in place: another model still uses it (ML Commons: 1 models are "
        "still using this connector, please delete or update the models first: [old-model])"
    )
