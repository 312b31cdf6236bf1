"""The HTTP/JSON face over real sockets: TEI and OpenAI shapes, search, errors, limits, auth, TLS.

The OpenAI route is checked with the real ``openai`` package; the TEI routes with raw
HTTP. Vectors must equal what the gRPC face and ``tandem models encode`` give.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from tandem.client import TandemClient
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.server.embedded import EmbeddedSidecar

from .certificates import self_signed
from .cli import tandem
from .http import base, call, error
from .sidecar import sample, start_sidecar

TEXTS = ["Vitamin D lowers the risk of respiratory infections.", "solar wind"]


def test_tei_embed_gives_the_grpc_vectors(
    encoding_sidecar: EmbeddedSidecar, encoding_client: TandemClient
) -> None:
    status, vectors = call(f"{base(encoding_sidecar)}/embed", {"inputs": TEXTS})
    assert status == 200
    expected = encoding_client.encode_dense(TEXTS).vectors
    np.testing.assert_allclose(np.asarray(vectors, dtype=np.float32), expected, atol=1e-6)
    status, single = call(f"{base(encoding_sidecar)}/embed", {"inputs": TEXTS[0]})
    assert status == 200 and len(single) == 1  # one string in: still a list of vectors
    np.testing.assert_allclose(single[0], expected[0], atol=1e-6)


def test_tei_embed_normalize_false_and_query_input(
    encoding_sidecar: EmbeddedSidecar, encoding_client: TandemClient
) -> None:
    body = {"inputs": TEXTS, "normalize": False, "input_type": "query"}
    status, vectors = call(f"{base(encoding_sidecar)}/embed", body)
    assert status == 200
    raw = encoding_client.encode_dense(TEXTS, kind="query", normalize=False).vectors
    np.testing.assert_allclose(np.asarray(vectors, dtype=np.float32), raw, atol=1e-6)
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) > 1e-3  # really not normalised


def test_tei_embed_sparse_gives_the_grpc_weights(
    encoding_sidecar: EmbeddedSidecar, encoding_client: TandemClient
) -> None:
    status, vectors = call(f"{base(encoding_sidecar)}/embed_sparse", {"inputs": TEXTS})
    assert status == 200
    expected = encoding_client.encode_sparse(TEXTS).vectors
    assert [[v["index"] for v in row] for row in vectors] == [
        [t.index for t in row] for row in expected
    ]
    for row, want in zip(vectors, expected, strict=True):
        np.testing.assert_allclose([v["value"] for v in row], [t.value for t in want], rtol=1e-6)


def test_sparse_token_format_is_what_opensearch_reads(
    encoding_sidecar: EmbeddedSidecar, encoding_client: TandemClient
) -> None:
    body = {"inputs": TEXTS, "format": "tokens"}
    status, maps = call(f"{base(encoding_sidecar)}/embed_sparse", body)
    assert status == 200
    expected = encoding_client.encode_sparse(TEXTS).vectors
    assert [set(m) for m in maps] == [{t.token for t in row} for row in expected]
    for got, want in zip(maps, expected, strict=True):
        assert all(abs(got[t.token] - t.value) <= 1e-6 * t.value for t in want)


def test_truncate_false_refuses_a_text_longer_than_the_model_reads(
    encoding_sidecar: EmbeddedSidecar,
) -> None:
    long_text = "word " * 400  # MiniLM reads 256 tokens
    answer = call(f"{base(encoding_sidecar)}/embed", {"inputs": long_text, "truncate": False})
    status, code, message = error(answer)
    assert (status, code) == (400, "INVALID_ARGUMENT") and "truncate" in message
    status, vectors = call(f"{base(encoding_sidecar)}/embed", {"inputs": long_text})
    assert status == 200 and len(vectors[0]) == 384  # truncation is on by default


def _vector(embedding: Any) -> Any:
    """An embedding as floats: asked-for base64 comes back as the client got it."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4")
    return embedding


# None: the client's default, which asks for base64 and decodes it itself.
@pytest.mark.parametrize("encoding_format", [None, "base64", "float"])
def test_openai_client_gets_what_tandem_models_encode_gives(
    encoding_sidecar: EmbeddedSidecar, encoding_format: str | None
) -> None:
    client = openai.OpenAI(base_url=f"{base(encoding_sidecar)}/v1", api_key="unused")
    extra = {"encoding_format": encoding_format} if encoding_format else {}
    answer = client.embeddings.create(model="minilm", input=TEXTS, **extra)  # type: ignore[arg-type]
    cli = tandem("models", "encode", "minilm", *TEXTS)
    assert cli.returncode == 0, cli.stderr
    expected = [json.loads(line)["dense"] for line in cli.stdout.splitlines()]
    assert [d.index for d in answer.data] == [0, 1]
    got = [_vector(d.embedding) for d in answer.data]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert answer.model == "minilm"
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > len(TEXTS)


def test_openai_client_naming_another_model_gets_not_found(
    encoding_sidecar: EmbeddedSidecar,
) -> None:
    client = openai.OpenAI(base_url=f"{base(encoding_sidecar)}/v1", api_key="unused")
    with pytest.raises(openai.NotFoundError, match="this sidecar's dense model is 'minilm'"):
        client.embeddings.create(model="text-embedding-3-small", input="hello")


BAD_BODIES = [
    # (route, raw body, content type, HTTP status, status name, words in the message)
    ("/embed", b'{"inputs": ', "application/json", 400, "INVALID_ARGUMENT", "not valid JSON"),
    ("/embed", b'["a"]', "application/json", 400, "INVALID_ARGUMENT", "must be a JSON object"),
    ("/embed", b'{"inputs": "a"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", "application/json"),
    ("/embed", b'{"inputs": []}', "application/json", 400, "INVALID_ARGUMENT", "non-empty"),
    ("/embed", b'{"inputs": [1, 2]}', "application/json", 400, "INVALID_ARGUMENT", "token ids"),
    ("/embed", b'{"inputs": ["a", ""]}', "application/json", 400, "INVALID_ARGUMENT", "inputs[1]"),
    ("/embed", b'{"inputs": "a", "normalize": "yes"}', "application/json", 400,
     "INVALID_ARGUMENT", "normalize must be true or false"),
    ("/embed", b'{"input": "a"}', "application/json", 400, "INVALID_ARGUMENT", "unknown field"),
    ("/embed", b'{"inputs": "a", "dimensions": 12}', "application/json", 400,
     "INVALID_ARGUMENT", "384-dimensional"),
    ("/embed_sparse", b'{"inputs": "a", "raw_scores": true}', "application/json", 400,
     "INVALID_ARGUMENT", "raw_scores"),
    ("/v1/embeddings", b'{"input": "a"}', "application/json", 400, "INVALID_ARGUMENT",
     "model is missing"),
    ("/v1/embeddings", b'{"input": "a", "model": "minilm", "encoding_format": "int8"}',
     "application/json", 400, "INVALID_ARGUMENT", "encoding_format"),
    ("/v1/search", b'{"index": "x", "query": "q"}', "application/json", 503, "UNAVAILABLE",
     "engine"),
    ("/v1/search", b'{"index": "x", "query": "q", "k": -1}', "application/json", 400,
     "INVALID_ARGUMENT", "k must be in"),
    ("/v1/search", b'{"index": "x", "query": "q", "method": "magic"}', "application/json", 400,
     "INVALID_ARGUMENT", "method must be one of"),
]  # fmt: skip


@pytest.mark.parametrize(("route", "raw", "content_type", "status", "code", "words"), BAD_BODIES)
def test_bad_input_gets_a_clear_json_error(
    encoding_sidecar: EmbeddedSidecar,
    route: str,
    raw: bytes,
    content_type: str,
    status: int,
    code: str,
    words: str,
) -> None:
    answer = call(f"{base(encoding_sidecar)}{route}", raw=raw, content_type=content_type)
    got_status, got_code, message = error(answer)
    assert (got_status, got_code) == (status, code), message
    assert words in message


def test_unknown_routes_and_methods(encoding_sidecar: EmbeddedSidecar) -> None:
    assert error(call(f"{base(encoding_sidecar)}/embeddings", {"inputs": "a"}))[:2] == (
        404,
        "NOT_FOUND",
    )
    assert error(call(f"{base(encoding_sidecar)}/embed", method="GET"))[:2] == (
        405,
        "METHOD_NOT_ALLOWED",
    )


@pytest.fixture(scope="module")
def small_sidecar() -> Iterator[EmbeddedSidecar]:
    """Tight limits: 2 texts per request, 64 bytes per text, 1 KiB per body."""
    sidecar = start_sidecar(
        sparse="none",
        max_texts=2,
        max_text_bytes=64,
        max_message_bytes=1024,
        http_port=0,
        http_host="127.0.0.1",
        metrics_port=-1,
    )
    yield sidecar
    sidecar.stop()


def test_limits_are_the_grpc_limits(small_sidecar: EmbeddedSidecar) -> None:
    url = f"{base(small_sidecar)}/embed"
    status, code, message = error(call(url, {"inputs": ["a", "b", "c"]}))
    assert (status, code) == (400, "INVALID_ARGUMENT") and "the limit is 2" in message
    status, code, message = error(call(url, {"inputs": ["x" * 65]}))
    assert (status, code) == (413, "RESOURCE_EXHAUSTED") and "64 bytes" in message
    status, code, message = error(call(url, {"inputs": ["x" * 30] * 40}))
    assert (status, code) == (413, "PAYLOAD_TOO_LARGE") and "1,024 bytes" in message
    status, code, _ = error(call(f"{base(small_sidecar)}/embed_sparse", {"inputs": "a"}))
    assert (status, code) == (400, "FAILED_PRECONDITION")  # started with --sparse none
    assert call(url, {"inputs": ["x" * 64, "y"]})[0] == 200  # at the limits: fine


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedSidecar, Path]]:
    """TLS and a bearer token, as on the gRPC port."""
    folder = tmp_path_factory.mktemp("http-tls")
    key, cert = self_signed(folder, "server")
    sidecar = start_sidecar(
        sparse="none",
        tls_cert=cert,
        tls_key=key,
        auth_token="s3cret-token",
        http_port=0,
        http_host="127.0.0.1",
        metrics_port=-1,
    )
    yield sidecar, cert
    sidecar.stop()


def test_token_and_tls_guard_the_http_face(secured: tuple[EmbeddedSidecar, Path]) -> None:
    sidecar, cert = secured
    context = ssl.create_default_context(cafile=str(cert))
    url = f"{base(sidecar, 'https')}/embed"
    status, code, message = error(call(url, {"inputs": "a"}, context=context))
    assert (status, code) == (401, "UNAUTHENTICATED") and "Authorization" in message
    wrong = {"Authorization": "Bearer nope"}
    assert error(call(url, {"inputs": "a"}, headers=wrong, context=context))[:2] == (
        401,
        "UNAUTHENTICATED",
    )
    right = {"Authorization": "Bearer s3cret-token"}
    assert call(url, {"inputs": "a"}, headers=right, context=context)[0] == 200
    # Probes send no token.
    assert call(f"{base(sidecar, 'https')}/health", context=context) == (
        200,
        {"status": "SERVING"},
    )
    # The OpenAI client's api_key is the bearer token.
    client = openai.OpenAI(
        base_url=f"{base(sidecar, 'https')}/v1",
        api_key="s3cret-token",
        http_client=httpx.Client(verify=context),
    )
    assert len(client.embeddings.create(model="minilm", input="a").data[0].embedding) == 384
    # A client that does not trust the certificate gets no answer; plaintext gets none either.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        call(f"{base(sidecar, 'https')}/health", context=ssl.create_default_context())
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        call(f"{base(sidecar)}/health")


def test_health_info_and_metrics(encoding_sidecar: EmbeddedSidecar) -> None:
    assert call(f"{base(encoding_sidecar)}/health") == (200, {"status": "SERVING"})
    status, info = call(f"{base(encoding_sidecar)}/info")
    assert status == 200
    assert [m["name"] for m in info["models"]] == ["minilm", "splade-tiny"]
    assert info["limits"]["max_texts_per_request"] == 256
    call(f"{base(encoding_sidecar)}/embed", {"inputs": "count me"})
    status, page = call(f"{base(encoding_sidecar)}/metrics")
    assert status == 200
    assert sample(page, "tandem_requests_total", method="HTTP /embed", code="OK") >= 1
    assert sample(page, "tandem_request_seconds_count", method="HTTP /embed") >= 1


def test_search_over_http_answers_what_grpc_answers(
    engine_sidecar: EmbeddedSidecar,
    engine_sidecar_client: TandemClient,
    scifact_sidecar_index: str,
) -> None:
    query = "vitamin D deficiency and infections"
    body = {
        "index": scifact_sidecar_index,
        "query": query,
        "k": 5,
        "from": 2,
        "explain": True,
        "mode": "sidecar",
        "document_fields": ["title"],
        "filters": [{"range": {"year": {"gte": 0}}}],
    }
    status, page = call(f"{base(engine_sidecar)}/v1/search", body)
    assert status == 200, page
    options = SearchOptions(
        size=5,
        start=2,
        explain=True,
        mode="sidecar",
        document_fields=("title",),
        filters=({"range": {"year": {"gte": 0}}},),
    )
    expected = engine_sidecar_client.search(scifact_sidecar_index, query, options)
    assert [h["id"] for h in page["hits"]] == [h.id for h in expected.hits]
    assert [h["rank"] for h in page["hits"]] == [3, 4, 5, 6, 7]
    np.testing.assert_allclose(
        [h["score"] for h in page["hits"]], [h.score for h in expected.hits], rtol=1e-6
    )
    assert set(page["hits"][0]["retrievers"]) == {"bm25", "dense", "sparse"}
    assert page["hits"][0]["document"] == {"title": expected.hits[0].document["title"]}
    assert (page["method"], page["mode"], page["partial"]) == ("rrf", "sidecar", False)
    assert page["timings"]["total_ms"] > 0


def test_tandem_clause_and_rewrite_over_http(
    engine_sidecar: EmbeddedSidecar, scifact_sidecar_index: str
) -> None:
    dsl = {"bool": {"must": [{"tandem": {"query": "stem cells", "method": "linear"}}]}}
    status, page = call(
        f"{base(engine_sidecar)}/v1/search", {"index": scifact_sidecar_index, "query_dsl": dsl}
    )
    assert status == 200 and len(page["hits"]) == 10
    assert (page["query"], page["method"]) == ("stem cells", "linear")
    status, rewritten = call(
        f"{base(engine_sidecar)}/v1/rewrite",
        {"index": scifact_sidecar_index, "query": "stem cells", "mode": "sidecar"},
    )
    assert status == 200
    assert set(rewritten["queries"]) == {"bm25", "dense", "sparse"}
    assert "knn" in json.dumps(rewritten["queries"]["dense"])


def test_search_errors_over_http(engine_sidecar: EmbeddedSidecar) -> None:
    url = f"{base(engine_sidecar)}/v1/search"
    status, code, message = error(call(url, {"index": "tandem-no-such-index", "query": "q"}))
    assert (status, code) == (404, "NOT_FOUND") and "tandem-no-such-index" in message
    status, code, message = error(
        call(url, {"index": "x", "query": "q"}, headers={"X-Request-Timeout": "soon"})
    )
    assert (status, code) == (400, "INVALID_ARGUMENT") and "X-Request-Timeout" in message
    status, code, message = error(call(url, {"index": "x", "query": "q", "filters": {"a": 1}}))
    assert (status, code) == (400, "INVALID_ARGUMENT") and "filters must be an array" in message
