"""IndexDocuments on real engines: results streamed back, a dead worker, cancellation,
a bounded executor that never starves Search, and the index's own field names."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import grpc
import pytest

from tandem.client import ClientError, TandemClient
from tandem.integration.handle import EngineHandle
from tandem.v1 import index_pb2, index_pb2_grpc

from .proxy import Proxy
from .sidecar import sample, scrape, start_sidecar

pytestmark = pytest.mark.integration


def _header(index: str, resume: bool = False) -> index_pb2.IndexDocumentsRequest:
    return index_pb2.IndexDocumentsRequest(header=index_pb2.IndexHeader(index=index, resume=resume))


def _doc(doc_id: str, text: str = "a short text") -> index_pb2.IndexDocumentsRequest:
    return index_pb2.IndexDocumentsRequest(
        document=index_pb2.Document(id=doc_id, text={"text": text})
    )


def _spec(name: str, dense: str = "embedding", sparse: str = "sparse") -> dict[str, Any]:
    return {
        "name": name,
        "fields": [
            {"name": "text", "type": "text"},
            {"name": dense, "type": "dense"},
            {"name": sparse, "type": "sparse"},
        ],
    }


def _filled(engine_client: Any, index: str, field: str) -> int:
    """Documents with a value in ``field``: by an ``exists`` query (Elasticsearch 9 keeps
    vectors out of ``_source``), else by ``_source`` (``rank_features`` refuse ``exists``)."""
    engine_client.indices.refresh(index=index)
    try:
        body = {"query": {"exists": {"field": field}}}
        return int(engine_client.count(index=index, body=body)["count"])
    except Exception:
        hits = engine_client.search(index=index, body={"size": 100})["hits"]["hits"]
        return sum(1 for hit in hits if hit["_source"].get(field))


def test_results_stream_back_past_the_message_limit(engine: EngineHandle, index_name: str) -> None:
    """300 results with 400-character ids are ~130 KiB: over a 64 KiB message limit as one
    answer, fine as a stream of results."""
    sidecar = start_sidecar(engine=engine.url, max_message_bytes=64 * 1024, metrics_port=-1)
    try:
        with TandemClient(sidecar.address, timeout=120) as client:
            client.create_index(_spec(index_name))
            docs = [{"_id": f"{i:03d}" + "x" * 397, "text": f"doc {i}"} for i in range(300)]
            result = client.index_documents(index_name, docs)
        assert result.indexed == 300
        assert [r[0] for r in result.results] == [d["_id"] for d in docs]
        assert {r[1] for r in result.results} == {"indexed"}
    finally:
        sidecar.stop()


def test_a_dead_ingest_worker_ends_the_stream_within_a_second(
    engine: EngineHandle, index_name: str, engine_client: Any
) -> None:
    """The engine goes away after the header: the worker's first resume lookup fails, and
    the RPC must end with that error at once, however many documents are still coming."""
    parts = urlsplit(engine.url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 9200))
    proxy.up()
    sidecar = start_sidecar(
        engine=proxy.url, engine_timeout=2.0, engine_check_interval=60.0, metrics_port=-1
    )
    try:
        with TandemClient(sidecar.address, timeout=60) as client:
            client.create_index(_spec(index_name))
        headed = threading.Event()

        def stream() -> Iterator[index_pb2.IndexDocumentsRequest]:
            yield _header(index_name, resume=True)
            headed.wait(5)
            for i in range(3000):
                yield _doc(f"d{i}")

        channel = grpc.insecure_channel(sidecar.address)
        stub = index_pb2_grpc.IndexServiceStub(channel)
        started = time.monotonic()

        def take_engine_away() -> None:
            time.sleep(1.5)  # the header's index check has passed
            proxy.down()
            headed.set()

        threading.Thread(target=take_engine_away, daemon=True).start()
        with pytest.raises(grpc.RpcError) as err:
            for _ in stub.IndexDocuments(stream(), timeout=40):
                pass
        elapsed = time.monotonic() - started
        channel.close()
        # Before the fix the stream ran into its 40 s deadline (DEADLINE_EXCEEDED). Now it
        # ends as soon as the worker gives up: one retried resume lookup, each try bounded
        # by the engine client's own connection retries.
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE, err.value.details()
        assert elapsed < 30, f"the stream ended {elapsed:.1f} s after it started"
    finally:
        proxy.down()
        sidecar.stop()


def test_cancelling_a_stream_stops_its_ingest(engine: EngineHandle, index_name: str) -> None:
    sidecar = start_sidecar(engine=engine.url)
    try:
        with TandemClient(sidecar.address, timeout=60) as client:
            client.create_index(_spec(index_name))
        channel = grpc.insecure_channel(sidecar.address)
        stub = index_pb2_grpc.IndexServiceStub(channel)
        call = stub.IndexDocuments(
            iter([_header(index_name), *(_doc(f"d{i}") for i in range(2000))]), timeout=120
        )
        next(call)  # the first results are back: the ingest runs
        busy = sample(scrape(sidecar), "tandem_ingest_streams")
        call.cancel()
        channel.close()
        deadline = time.monotonic() + 3
        while sample(scrape(sidecar), "tandem_ingest_streams") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert busy == 1
        assert sample(scrape(sidecar), "tandem_ingest_streams") == 0
        # And the sidecar still ingests.
        with TandemClient(sidecar.address, timeout=60) as client:
            assert client.index_documents(index_name, [{"_id": "after", "text": "x"}]).indexed == 1
    finally:
        sidecar.stop()


def test_open_ingest_streams_never_starve_search(engine: EngineHandle, index_name: str) -> None:
    """Eight streams that stay open past the ingest limit: the extra ones are refused at
    once, and Search still answers."""
    sidecar = start_sidecar(engine=engine.url, metrics_port=-1)
    release = threading.Event()
    channel = grpc.insecure_channel(sidecar.address)
    try:
        with TandemClient(sidecar.address, timeout=60) as client:
            client.create_index(_spec(index_name))
            client.index_documents(index_name, [{"_id": "1", "text": "vitamin d"}])
        stub = index_pb2_grpc.IndexServiceStub(channel)

        def held() -> Iterator[index_pb2.IndexDocumentsRequest]:
            yield _header(index_name)
            yield _doc("held")
            release.wait(60)

        calls = [stub.IndexDocuments(held(), timeout=60) for _ in range(8)]
        time.sleep(2)
        with TandemClient(sidecar.address, timeout=10) as client:
            hits = client.search(index_name, "vitamin d").hits
        assert [h.id for h in hits] == ["1"]
        release.set()
        codes = []
        for call in calls:
            try:
                for _ in call:
                    pass
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as err:
                codes.append(err.code())
                if err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                    assert "--max-ingest-streams" in (err.details() or "")
        assert grpc.StatusCode.OK in codes
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
    finally:
        release.set()
        channel.close()
        sidecar.stop()


def test_vectors_land_in_the_fields_the_index_names(
    engine_sidecar_client: TandemClient, index_name: str, engine_client: Any
) -> None:
    engine_sidecar_client.create_index(_spec(index_name, dense="vector", sparse="terms"))
    result = engine_sidecar_client.index_documents(index_name, [{"_id": "1", "text": "heart"}])
    assert result.indexed == 1
    assert _filled(engine_client, index_name, "vector") == 1
    assert _filled(engine_client, index_name, "terms") == 1
    for default in ("embedding", "sparse"):
        assert _filled(engine_client, index_name, default) == 0


def test_an_index_tandem_did_not_create_is_read_for_its_fields(
    engine: EngineHandle, engine_sidecar_client: TandemClient, index_name: str, engine_client: Any
) -> None:
    """An existing index with its own names: the vector fields are found in its mapping."""
    dense = (
        # lucene: the k-NN zip here has no native libraries, and a faiss field kills the node
        {
            "type": "knn_vector",
            "dimension": 384,
            "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
        }
        if engine.kind.value == "opensearch"
        else {"type": "dense_vector", "dims": 384}
    )
    engine_client.indices.create(
        index=index_name,
        body={
            "settings": {"index": {"knn": True}} if engine.kind.value == "opensearch" else {},
            "mappings": {
                "properties": {
                    "body": {"type": "text"},
                    "emb": dense,
                    "toks": {
                        "type": "rank_features"
                        if engine.kind.value == "opensearch"
                        else "sparse_vector"
                    },
                }
            },
        },
    )
    result = engine_sidecar_client.index_documents(
        index_name, [{"_id": "1", "body": "heart attack"}], text_fields=("body",)
    )
    assert result.indexed == 1, result.results
    assert _filled(engine_client, index_name, "emb") == 1
    assert _filled(engine_client, index_name, "toks") == 1
    for default in ("embedding", "sparse"):
        assert _filled(engine_client, index_name, default) == 0


def test_an_index_without_vector_fields_is_refused(
    engine_sidecar_client: TandemClient, index_name: str, engine_client: Any
) -> None:
    engine_client.indices.create(
        index=index_name, body={"mappings": {"properties": {"text": {"type": "text"}}}}
    )
    with pytest.raises(ClientError) as err:
        engine_sidecar_client.index_documents(index_name, [{"_id": "1", "text": "x"}])
    assert err.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert "no dense or sparse field" in err.value.details


def test_ingest_goes_through_the_sidecars_limits_batchers_and_metrics(
    engine: EngineHandle, index_name: str
) -> None:
    """A document over --max-text-bytes fails alone; the others are encoded by the batchers
    (the encoder metrics count them) and the last answer carries tokens and model time."""
    sidecar = start_sidecar(engine=engine.url, max_text_bytes=200)
    try:
        before = sample(scrape(sidecar), "tandem_tokens_total", model="minilm")
        channel = grpc.insecure_channel(sidecar.address)
        stub = index_pb2_grpc.IndexServiceStub(channel)
        with TandemClient(sidecar.address, timeout=60) as client:
            client.create_index(_spec(index_name))
        stream = [_header(index_name), _doc("small"), _doc("big", "word " * 100), _doc("two")]
        answers = list(stub.IndexDocuments(iter(stream), timeout=120))
        channel.close()
        results = {r.id: r for a in answers for r in a.results}
        assert results["big"].status == index_pb2.DOCUMENT_STATUS_FAILED
        assert "--max-text-bytes 200" in results["big"].reason
        assert results["small"].status == results["two"].status == index_pb2.DOCUMENT_STATUS_INDEXED
        last = answers[-1]
        assert last.done and last.indexed == 2 and last.failed == 1
        assert last.metadata.tokens > 0 and last.metadata.inference_ms > 0
        after = sample(scrape(sidecar), "tandem_tokens_total", model="minilm")
        assert after > before
    finally:
        sidecar.stop()
