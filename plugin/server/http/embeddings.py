"""Embedding routes in the shapes clients already speak.

- ``POST /embed`` and ``POST /embed_sparse``: text-embeddings-inference (TEI);
- ``POST /v1/embeddings``: OpenAI's embeddings API.

All go through the same models, batchers and limits as ``EncodeDense`` and
``EncodeSparse``. Beyond those shapes each takes ``input_type`` (``document``, the
default, or ``query``): a model with query and document prefixes, or a sparse
model with an inference-free IDF query side, encodes the two differently.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np

from tandem.encoders.registry import InputKind

from ..runtime import Runtime
from .bodies import boolean, choice, count, string, texts
from .problems import HttpProblem, bad_request

TEI_EMBED = (
    "inputs",
    "normalize",
    "truncate",
    "truncation_direction",
    "prompt_name",
    "dimensions",
    "input_type",
)
TEI_SPARSE = (
    "inputs",
    "truncate",
    "truncation_direction",
    "prompt_name",
    "raw_scores",
    "input_type",
    "format",
)
OPENAI = ("input", "model", "encoding_format", "dimensions", "user", "input_type")


def _kind(body: Mapping[str, Any]) -> InputKind:
    value = choice(body, "input_type", ("document", "query"), "document")
    return InputKind.QUERY if value == "query" else InputKind.DOCUMENT


def _tei_options(body: Mapping[str, Any]) -> None:
    """Refuse TEI options Tandem's models cannot honour."""
    direction = choice(body, "truncation_direction", ("right", "left"), "right")
    if direction == "left":
        raise bad_request(
            "truncation_direction 'left' is not supported: texts are cut on the right"
        )
    if body.get("prompt_name") is not None:
        raise bad_request(
            "prompt_name is not supported: send input_type 'query' or 'document' for the "
            "model's own prefixes"
        )


def _dimensions(body: Mapping[str, Any], served: int) -> None:
    asked = count(body, "dimensions") if body.get("dimensions") is not None else served
    if asked != served:
        raise bad_request(
            f"dimensions {asked} cannot be served: the dense model gives {served}-dimensional "
            "vectors (leave dimensions out)"
        )


async def tei_embed(runtime: Runtime, body: Mapping[str, Any]) -> Any:
    """``[[float, ...], ...]``: one vector per input, in order."""
    model = runtime.require_dense()
    inputs, _single = texts(body, "inputs")
    _tei_options(body)
    _dimensions(body, model.dimensions)
    vectors, _usage = await model.encode(
        inputs,
        _kind(body),
        truncate=boolean(body, "truncate", True),
        normalize=boolean(body, "normalize", True),
    )
    return vectors.tolist()


async def tei_embed_sparse(runtime: Runtime, body: Mapping[str, Any]) -> Any:
    """``[[{"index": int, "value": float}, ...], ...]``: the non-zero weights, heaviest first.

    With ``"format": "tokens"`` (Tandem's addition) each text's weights are one
    ``{token: weight}`` map instead: what OpenSearch's ``sparse_encoding`` processor and
    ``neural_sparse`` query read from a remote model, and what Tandem writes itself.
    """
    model = runtime.require_sparse()
    inputs, _single = texts(body, "inputs")
    _tei_options(body)
    fmt = choice(body, "format", ("indices", "tokens"), "indices")
    if boolean(body, "raw_scores", False):
        raise bad_request(
            "raw_scores is not supported: the SPLADE graph returns activated weights "
            "(log(1 + relu(logit)), max-pooled) only"
        )
    vectors, _usage = await model.encode(
        inputs, _kind(body), truncate=boolean(body, "truncate", True)
    )
    if fmt == "tokens":
        return [v.as_dict() for v in vectors]
    return [
        [{"index": int(i), "value": float(w)} for i, w in zip(v.ids, v.weights, strict=True)]
        for v in vectors
    ]


async def openai_embeddings(runtime: Runtime, body: Mapping[str, Any]) -> Any:
    """OpenAI's list object: ``data[i].embedding`` as floats or base64 float32, ``usage``."""
    model = runtime.require_dense()
    inputs, _single = texts(body, "input")
    name = string(body, "model")
    if not name:
        raise bad_request(f"model is missing: this sidecar serves the dense model {model.name!r}")
    if name != model.name:
        raise HttpProblem(
            404,
            "NOT_FOUND",
            f"model {name!r} is not served here: this sidecar's dense model is {model.name!r}",
        )
    fmt = choice(body, "encoding_format", ("float", "base64"), "float")
    _dimensions(body, model.dimensions)
    string(body, "user")
    vectors, usage = await model.encode(inputs, _kind(body))
    data = [
        {"object": "embedding", "index": i, "embedding": _encoded(row, fmt)}
        for i, row in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": model.name,
        "usage": {"prompt_tokens": usage.tokens, "total_tokens": usage.tokens},
    }


def _encoded(row: np.ndarray[Any, Any], fmt: str) -> Any:
    if fmt == "base64":  # little-endian float32, as OpenAI's clients decode it
        return base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
    return row.tolist()
