"""OpenSearch ML Commons: Tandem's HTTP face as remote models, and pipelines that use them.

Four models, one per encoder and input type, each behind its own connector: dense
and sparse, document and query. Ingest uses the document ones; ``neural`` and
``neural_sparse`` queries the query ones (a sidecar with ``--idf`` encodes sparse
queries inference-free; a model with query prefixes applies them). The connectors
call ``/embed`` (a 2-D array: ML Commons' default embedding post-process) and
``/embed_sparse`` with ``"format": "tokens"`` (a list of ``{token: weight}`` maps,
which the sparse processors read with no post-process).

Running ``tandem connect opensearch`` again reuses the models of the same name
whose connector calls the same URL; ``replace`` deletes them and starts over.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .base import EngineAdapter
from .errors import EngineRequestError

ML = "/_plugins/_ml"
ROLES = ("dense_document", "dense_query", "sparse_document", "sparse_query")
DEPLOY_TIMEOUT = 120.0


class ConnectError(Exception):
    """ML Commons refused, or could not call Tandem; the message says what to check."""


@dataclass(frozen=True)
class Target:
    """Where OpenSearch reaches Tandem's HTTP face, and how it authenticates."""

    server_url: str
    token: str | None = None
    max_texts: int = 256  # the sidecar's --max-texts: texts per call at most


def model_name(role: str) -> str:
    return f"tandem-{role.replace('_', '-')}"


def _url(target: Target, role: str) -> str:
    path = "/embed" if role.startswith("dense") else "/embed_sparse"
    return target.server_url.rstrip("/") + path


def connector_body(target: Target, role: str) -> dict[str, Any]:
    """The connector for one role: an HTTP call to Tandem with the texts as ``inputs``."""
    kind, input_type = role.split("_")
    fields = {"inputs": "${parameters.input}", "input_type": input_type}
    if kind == "sparse":
        fields["format"] = "tokens"
    request_body = (
        "{ "
        + ", ".join(f'"{k}": {v if k == "inputs" else json.dumps(v)}' for k, v in fields.items())
        + " }"
    )
    headers = {"Content-Type": "application/json"}
    if target.token:
        headers["Authorization"] = "Bearer ${credential.token}"
    action: dict[str, Any] = {
        "action_type": "predict",
        "method": "POST",
        "url": _url(target, role),
        "headers": headers,
        "request_body": request_body,
        "pre_process_function": "connector.pre_process.default.embedding",
    }
    if kind == "dense":
        action["post_process_function"] = "connector.post_process.default.embedding"
    return {
        "name": model_name(role),
        "description": f"Tandem sidecar, {kind} encoder for {input_type} texts",
        "version": "1",
        "protocol": "http",
        # ML Commons encrypts credentials; it requires a non-empty map even without a token.
        "credential": {"token": target.token or "none"},
        "parameters": {"input_docs_processed_step_size": str(target.max_texts)},
        "actions": [action],
    }


def ingest_pipeline_body(
    models: Mapping[str, str], text_field: str, dense_field: str, sparse_field: str
) -> dict[str, Any]:
    """``text_embedding`` and ``sparse_encoding`` on ``text_field``, 16 documents a call."""
    return {
        "description": "Tandem: dense and sparse vectors from the Tandem sidecar",
        "processors": [
            {
                "text_embedding": {
                    "model_id": models["dense_document"],
                    "field_map": {text_field: dense_field},
                    "batch_size": 16,
                }
            },
            {
                "sparse_encoding": {
                    "model_id": models["sparse_document"],
                    "field_map": {text_field: sparse_field},
                    "batch_size": 16,
                }
            },
        ],
    }


def search_pipeline_body(
    models: Mapping[str, str], dense_field: str, sparse_field: str
) -> dict[str, Any]:
    """``neural`` and ``neural_sparse`` queries without a ``model_id`` get the query models."""
    return {
        "description": "Tandem: query models for neural and neural_sparse queries",
        "request_processors": [
            {
                "neural_query_enricher": {
                    "default_model_id": models["dense_query"],
                    "neural_field_default_id": {
                        dense_field: models["dense_query"],
                        sparse_field: models["sparse_query"],
                    },
                }
            }
        ],
    }


class MlCommons:
    """ML Commons' REST API on one OpenSearch cluster."""

    def __init__(self, adapter: EngineAdapter, progress: Callable[[str], None]) -> None:
        self.adapter = adapter
        self.progress = progress

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.adapter.request(method, path, body, what=f"ML Commons {method} {path}")

    def check_installed(self) -> None:
        plugins = self.adapter.request("GET", "/_cat/plugins", params={"format": "json"})
        rows = plugins.get("answer", [])
        if not any(isinstance(r, dict) and r.get("component") == "opensearch-ml" for r in rows):
            raise ConnectError(
                f"{self.adapter.url} has no ML Commons (opensearch-ml plugin): install it, or "
                "start a local engine with 'tandem engines up opensearch --with ml'"
            )

    def find_model(self, name: str) -> dict[str, Any] | None:
        """The newest model called ``name`` (its ``_id`` among the fields), or ``None``."""
        query = {"query": {"term": {"name.keyword": name}}, "size": 100}
        try:
            found = self._call("POST", f"{ML}/models/_search", query)
        except EngineRequestError as err:
            if "index_not_found" in str(err):  # no model was ever registered
                return None
            raise
        hits = [
            h for h in found.get("hits", {}).get("hits", []) if "chunk_number" not in h["_source"]
        ]
        if not hits:
            return None
        newest = max(hits, key=lambda h: h["_source"].get("created_time", 0))
        return {"_id": newest["_id"], **newest["_source"]}

    def connector_url(self, connector_id: str) -> str | None:
        connector = self._call("GET", f"{ML}/connectors/{connector_id}")
        actions = connector.get("actions") or [{}]
        url = actions[0].get("url")
        return str(url) if url else None

    def delete_model(self, model: Mapping[str, Any]) -> None:
        model_id = model["_id"]
        self.progress(f"deleting model {model.get('name')} ({model_id})")
        self._call("POST", f"{ML}/models/{model_id}/_undeploy")
        self._call("DELETE", f"{ML}/models/{model_id}")
        connector_id = model.get("connector_id")
        if not connector_id:
            return
        try:
            self._call("DELETE", f"{ML}/connectors/{connector_id}")
        except EngineRequestError as err:
            # Another model (one left by an interrupted run, say) still uses it: a connector
            # costs nothing unused, so the replacement goes on and says so.
            if err.status != 409 or "still using this connector" not in str(err):
                raise
            reason = str(err).split("status_exception: ", 1)[-1]
            self.progress(
                f"left connector {connector_id} in place: another model still uses it "
                f"(ML Commons: {reason})"
            )

    def ensure_model(self, target: Target, role: str, replace: bool) -> tuple[str, bool]:
        """The model id for ``role``, deployed; whether an existing one was reused."""
        name = model_name(role)
        existing = self.find_model(name)
        if existing is not None:
            url = (
                self.connector_url(existing["connector_id"])
                if existing.get("connector_id")
                else None
            )
            if replace:
                self.delete_model(existing)
            elif url == _url(target, role):
                self._deploy(existing["_id"], name)
                return str(existing["_id"]), True
            else:
                raise ConnectError(
                    f"a model {name} already calls {url}, not {_url(target, role)}: pass "
                    "--replace to delete it and connect this sidecar instead"
                )
        self.progress(f"creating connector and model {name} -> {_url(target, role)}")
        connector = self._call("POST", f"{ML}/connectors/_create", connector_body(target, role))
        register = {
            "name": name,
            "function_name": "remote",
            "description": f"Tandem sidecar {role.replace('_', ' ')} encoder",
            "connector_id": connector["connector_id"],
        }
        model = self._call("POST", f"{ML}/models/_register", register)
        model_id = str(model["model_id"])
        self._deploy(model_id, name)
        return model_id, False

    def _deploy(self, model_id: str, name: str) -> None:
        state = self._call("GET", f"{ML}/models/{model_id}").get("model_state")
        if state != "DEPLOYED":
            self._call("POST", f"{ML}/models/{model_id}/_deploy")
        deadline = time.monotonic() + DEPLOY_TIMEOUT
        while state != "DEPLOYED":
            if state == "DEPLOY_FAILED" or time.monotonic() > deadline:
                raise ConnectError(
                    f"model {name} ({model_id}) did not deploy (state {state}): see the "
                    "engine's log"
                )
            time.sleep(0.5)
            state = self._call("GET", f"{ML}/models/{model_id}").get("model_state")

    def check_model(self, model_id: str, role: str, target: Target) -> int:
        """Call the model through OpenSearch once; the number of values it gave back."""
        task = "text_embedding" if role.startswith("dense") else "sparse_encoding"
        path = f"{ML}/_predict/{task}/{model_id}"
        try:
            answer = self._call("POST", path, {"text_docs": ["tandem connect check"]})
        except EngineRequestError as err:
            raise ConnectError(
                f"OpenSearch could not call Tandem at {_url(target, role)}: {err}. Check that "
                "the sidecar serves HTTP there (tandem serve --http-port), that the engine's "
                "host reaches that address, and that it matches "
                "plugins.ml_commons.trusted_connector_endpoints_regex"
            ) from err
        output = answer["inference_results"][0]["output"][0]
        if role.startswith("dense"):
            return len(output["data"])
        return len(output["dataAsMap"]["response"][0])

    def put_ingest_pipeline(self, name: str, body: Mapping[str, Any]) -> None:
        self._call("PUT", f"/_ingest/pipeline/{name}", body)

    def put_search_pipeline(self, name: str, body: Mapping[str, Any]) -> None:
        self._call("PUT", f"/_search/pipeline/{name}", body)

    def use_pipelines(self, index: str, ingest: str, search: str) -> None:
        settings = {"index.default_pipeline": ingest, "index.search.default_pipeline": search}
        self._call("PUT", f"/{index}/_settings", settings)
