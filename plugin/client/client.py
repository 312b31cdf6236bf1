"""A synchronous client for every ``tandem.v1`` RPC, returning plain Python values."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import grpc
from google.protobuf.json_format import MessageToDict
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tandem.plugin.search.hits import FusedHit, Source
from tandem.plugin.search.names import Method, Mode, Normalization
from tandem.plugin.search.options import SearchOptions

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

from tandem.v1 import (
    common_pb2,
    encode_pb2,
    encode_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    info_pb2,
    info_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)

from .enrich import EnrichResult, EnrichSettings
from .tls import PathArg, channel_credentials

Kind = Literal["query", "document"]
T = TypeVar("T")
_KINDS = {"query": common_pb2.INPUT_KIND_QUERY, "document": common_pb2.INPUT_KIND_DOCUMENT}
_METHODS: dict[Method, search_pb2.SearchMethod.ValueType] = {
    "bm25": search_pb2.SEARCH_METHOD_BM25,
    "dense": search_pb2.SEARCH_METHOD_DENSE,
    "sparse": search_pb2.SEARCH_METHOD_SPARSE,
    "rrf": search_pb2.SEARCH_METHOD_RRF,
    "linear": search_pb2.SEARCH_METHOD_LINEAR,
}
_MODES: dict[Mode, search_pb2.FusionMode.ValueType] = {
    "auto": search_pb2.FUSION_MODE_AUTO,
    "native": search_pb2.FUSION_MODE_NATIVE,
    "sidecar": search_pb2.FUSION_MODE_SIDECAR,
}
_NORMALIZATIONS: dict[Normalization, search_pb2.Normalization.ValueType] = {
    "min_max": search_pb2.NORMALIZATION_MIN_MAX,
    "z_score": search_pb2.NORMALIZATION_Z_SCORE,
    "l2": search_pb2.NORMALIZATION_L2,
}
_STATUS = {
    index_pb2.DOCUMENT_STATUS_INDEXED: "indexed",
    index_pb2.DOCUMENT_STATUS_SKIPPED: "skipped",
    index_pb2.DOCUMENT_STATUS_FAILED: "failed",
}


class ClientError(RuntimeError):
    """An RPC failed; ``code`` is its gRPC status code, the message the server's."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.details = message


@dataclass(frozen=True)
class Metadata:
    tokens: int
    queue_ms: float
    inference_ms: float
    engine_ms: float
    total_ms: float

    @classmethod
    def of(cls, message: common_pb2.ResponseMetadata) -> Metadata:
        return cls(
            message.tokens,
            message.queue_ms,
            message.inference_ms,
            message.engine_ms,
            message.total_ms,
        )


@dataclass(frozen=True)
class DenseResult:
    """One row per text. numpy is loaded on the first dense call, not when the
    client is imported, so an application that only searches never pays for it."""

    vectors: npt.NDArray[np.float32]
    metadata: Metadata


@dataclass(frozen=True)
class SparseTerm:
    index: int
    value: float
    token: str | None


@dataclass(frozen=True)
class SparseResult:
    vectors: list[list[SparseTerm]]
    metadata: Metadata


@dataclass(frozen=True)
class SearchHits:
    """Hits, and where fusion ran (``native``, ``sidecar`` or ``single``).

    ``partial``: the engine answered from part of the data (``timed_out``, or
    ``shard_failures``, one line per failed shard); the hits are what the rest found.
    """

    hits: list[FusedHit]
    metadata: Metadata
    mode: str
    partial: bool = False
    timed_out: bool = False
    shard_failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IndexProgress:
    """Running totals of an ``index_documents`` stream."""

    indexed: int
    skipped: int
    failed: int


@dataclass(frozen=True)
class IndexResult:
    """``results`` holds ``(id, status, reason)`` per document, in the order sent."""

    results: list[tuple[str, str, str]]
    indexed: int
    skipped: int
    failed: int
    metadata: Metadata


def client_error(err: grpc.RpcError) -> ClientError:
    """A failed RPC as a :class:`ClientError` (sync and asyncio calls alike)."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    return ClientError(code, details or "")


def _call(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except grpc.RpcError as err:
        raise client_error(err) from None


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    """gRPC channel options: the message size limit, both ways."""
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]


ChannelT = TypeVar("ChannelT")


def open_channel(
    secure: Callable[[str, grpc.ChannelCredentials, list[tuple[str, int]]], ChannelT],
    insecure: Callable[[str, list[tuple[str, int]]], ChannelT],
    address: str,
    credentials: grpc.ChannelCredentials | None,
    max_message_bytes: int,
) -> ChannelT:
    """A channel to ``address`` from ``grpc`` or ``grpc.aio``'s factories: TLS when there
    are ``credentials``, the message size limit both ways."""
    options = channel_options(max_message_bytes)
    if credentials is not None:
        return secure(address, credentials, options)
    return insecure(address, options)


def bearer(token: str | None) -> tuple[tuple[str, str], ...]:
    """The call metadata carrying ``token`` (none without one)."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def search_request(
    index: str,
    query: str,
    options: SearchOptions,
    dsl: Mapping[str, Any] | None = None,
    dense_field: str | None = None,
    sparse_field: str | None = None,
) -> Any:
    """The ``SearchRequest`` message; unset field names mean the sidecar's defaults."""
    request = search_pb2.SearchRequest(
        index=index,
        query=query,
        k=options.size,
        fields=list(options.fields),
        method=_METHODS[options.method],
        normalization=_NORMALIZATIONS[options.normalization],
        weights=dict(options.weights),
        window=options.window,
        rank_constant=options.rank_constant,
        filters_json=[json.dumps(f) for f in options.filters],
        explain=options.explain,
        mode=_MODES[options.mode],
        query_dsl_json=json.dumps(dsl) if dsl is not None else "",
        dense_field=dense_field or "",
        sparse_field=sparse_field or "",
        document_fields=list(options.document_fields),
    )
    setattr(request, "from", options.start)  # "from" is a Python keyword
    return request


def search_hits(response: search_pb2.SearchResponse) -> SearchHits:
    """A ``SearchResponse`` as plain values."""
    hits = [
        FusedHit(
            h.id,
            h.score,
            {r.retriever: Source(r.rank, r.score) for r in h.retrievers},
            json.loads(h.document_json) if h.document_json else {},
        )
        for h in response.hits
    ]
    return SearchHits(
        hits,
        Metadata.of(response.metadata),
        response.mode,
        partial=response.partial,
        timed_out=response.timed_out,
        shard_failures=list(response.shard_failures),
    )


def _documents(
    index: str,
    documents: Iterable[Mapping[str, Any]],
    resume: bool,
    top_k: int,
    text_fields: Sequence[str],
) -> Iterator[index_pb2.IndexDocumentsRequest]:
    header = index_pb2.IndexHeader(index=index, resume=resume, sparse_top_k=top_k)
    yield index_pb2.IndexDocumentsRequest(header=header)
    for doc in documents:
        doc_id = str(doc.get("_id", doc.get("id", "")))
        text = {f: str(doc[f]) for f in text_fields if doc.get(f)}
        meta = {k: v for k, v in doc.items() if k not in ("_id", "id", *text_fields)}
        yield index_pb2.IndexDocumentsRequest(
            document=index_pb2.Document(
                id=doc_id, text=text, metadata_json=json.dumps(meta) if meta else ""
            )
        )


class TandemClient:
    """Talks to one sidecar. ``token`` is sent as a bearer token.

    TLS: ``tls_ca`` (a PEM CA bundle) verifies the sidecar's certificate; ``tls=True``
    alone verifies it against the system trust store. ``tls_cert`` and ``tls_key`` add a
    client certificate for mutual TLS. Paths may be ``str`` or ``Path``; a missing or
    non-PEM file fails here, naming the argument and the path. Every call has a
    deadline: ``timeout`` seconds for one request, ``stream_timeout`` for a whole
    ``index_documents`` stream."""

    def __init__(
        self,
        address: str = "localhost:50051",
        *,
        token: str | None = None,
        tls: bool = False,
        tls_ca: PathArg | None = None,
        tls_cert: PathArg | None = None,
        tls_key: PathArg | None = None,
        timeout: float = 60.0,
        stream_timeout: float = 3600.0,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.channel = open_channel(
            grpc.secure_channel,
            grpc.insecure_channel,
            address,
            channel_credentials(tls=tls, tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key),
            max_message_bytes,
        )
        self.timeout = timeout  # unary calls
        self.stream_timeout = stream_timeout  # a whole index_documents stream
        self._metadata = bearer(token)
        self._info = info_pb2_grpc.InfoServiceStub(self.channel)
        self._encode = encode_pb2_grpc.EncodeServiceStub(self.channel)
        self._index = index_pb2_grpc.IndexServiceStub(self.channel)
        self._search = search_pb2_grpc.SearchServiceStub(self.channel)
        self._rewrite = search_pb2_grpc.RewriteServiceStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> TandemClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def health(self, service: str = "") -> str:
        """``SERVING`` or ``NOT_SERVING`` for a service (``""``: the whole sidecar)."""
        response = _call(
            lambda: self._health.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=self.timeout
            )
        )
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    def info(self) -> dict[str, Any]:
        response = _call(
            lambda: self._info.GetInfo(
                info_pb2.GetInfoRequest(), timeout=self.timeout, metadata=self._metadata
            )
        )
        return MessageToDict(response, preserving_proto_field_name=True)

    def encode_dense(
        self,
        texts: Sequence[str],
        kind: Kind = "document",
        normalize: bool | None = None,
        truncate: bool = True,
    ) -> DenseResult:
        request = encode_pb2.EncodeDenseRequest(
            texts=list(texts), kind=_KINDS[kind], truncate=truncate, normalize=normalize
        )
        response = _call(
            lambda: self._encode.EncodeDense(request, timeout=self.timeout, metadata=self._metadata)
        )
        import numpy as np

        vectors = np.asarray([v.values for v in response.vectors], dtype=np.float32)
        return DenseResult(vectors, Metadata.of(response.metadata))

    def encode_sparse(
        self,
        texts: Sequence[str],
        kind: Kind = "document",
        top_k: int = 0,
        tokens: bool = True,
        normalize: bool = False,
        truncate: bool = True,
    ) -> SparseResult:
        request = encode_pb2.EncodeSparseRequest(
            texts=list(texts),
            kind=_KINDS[kind],
            truncate=truncate,
            normalize=normalize,
            return_tokens=tokens,
            top_k=top_k,
        )
        response = _call(
            lambda: self._encode.EncodeSparse(
                request, timeout=self.timeout, metadata=self._metadata
            )
        )
        vectors = [
            [
                SparseTerm(v.index, v.value, v.token if v.HasField("token") else None)
                for v in vector.values
            ]
            for vector in response.vectors
        ]
        return SparseResult(vectors, Metadata.of(response.metadata))

    def search(
        self,
        index: str,
        query: str,
        options: SearchOptions = SearchOptions(),
        dsl: Mapping[str, Any] | None = None,
        *,
        dense_field: str | None = None,
        sparse_field: str | None = None,
    ) -> SearchHits:
        """Hits for ``query``; ``options.explain`` adds each retriever's rank and score,
        ``options.document_fields`` each hit's stored fields (``hit.document``).

        ``dsl`` is your own engine query with a ``{"tandem": {"query": TEXT, ...}}`` clause
        (pass ``query=""``): the retrievers run inside it. ``dense_field`` and
        ``sparse_field`` name the index's vector fields (default ``embedding``, ``sparse``)."""
        request = search_request(index, query, options, dsl, dense_field, sparse_field)
        return search_hits(
            _call(
                lambda: self._search.Search(request, timeout=self.timeout, metadata=self._metadata)
            )
        )

    def rewrite(
        self,
        index: str,
        query: str,
        options: SearchOptions = SearchOptions(),
        dsl: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``{"mode", "index", "queries": {name: body}, "pipeline", "pipeline_body"}``: the DSL
        Search would run (native mode: one ``hybrid`` request and its search pipeline)."""
        request = search_request(index, query, options, dsl)
        response = _call(
            lambda: self._rewrite.Rewrite(request, timeout=self.timeout, metadata=self._metadata)
        )
        return {
            "mode": response.mode,
            "index": response.index,
            "queries": {q.retriever: json.loads(q.body_json) for q in response.queries},
            "pipeline": response.pipeline or None,
            "pipeline_body": json.loads(response.pipeline_body_json)
            if response.pipeline_body_json
            else None,
        }

    def create_index(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Create an index from an index spec; returns the mapping body that was sent."""
        request = index_pb2.CreateIndexRequest(spec_json=json.dumps(spec))
        response = _call(
            lambda: self._index.CreateIndex(request, timeout=self.timeout, metadata=self._metadata)
        )
        body: dict[str, Any] = json.loads(response.body_json)
        return body

    def delete_index(self, index: str) -> None:
        request = index_pb2.DeleteIndexRequest(index=index)
        _call(
            lambda: self._index.DeleteIndex(request, timeout=self.timeout, metadata=self._metadata)
        )

    def index_documents(
        self,
        index: str,
        documents: Iterable[Mapping[str, Any]],
        resume: bool = False,
        sparse_top_k: int = 0,
        text_fields: Sequence[str] = ("title", "text"),
        timeout: float | None = None,
        progress: Callable[[IndexProgress], None] | None = None,
    ) -> IndexResult:
        """Stream ``documents`` (``{"_id"|"id", "title", "text", ...}``) into ``index``;
        other keys are stored as metadata.

        Results come back while documents are still being sent; ``progress`` hears the
        running totals after each answer. ``timeout`` bounds the whole stream (default:
        the client's ``stream_timeout``). Interrupting (``KeyboardInterrupt``) cancels the
        stream: the sidecar stops writing, and what was written stays (resume skips it).
        """
        stream = _documents(index, documents, resume, sparse_top_k, text_fields)
        call = self._index.IndexDocuments(
            stream,
            timeout=timeout if timeout is not None else self.stream_timeout,
            metadata=self._metadata,
        )
        by_position: dict[int, tuple[str, str, str]] = {}
        last = index_pb2.IndexDocumentsResponse()
        try:
            for response in call:
                for r in response.results:
                    by_position[r.position] = (r.id, _STATUS.get(r.status, "unknown"), r.reason)
                last = response
                if progress is not None:
                    progress(IndexProgress(response.indexed, response.skipped, response.failed))
        except grpc.RpcError as err:
            raise ClientError(err.code(), err.details() or "") from None
        except BaseException:
            call.cancel()  # type: ignore[no-untyped-call]  # grpc-stubs leaves it untyped
            raise
        return IndexResult(
            [by_position[p] for p in sorted(by_position)],
            last.indexed,
            last.skipped,
            last.failed,
            Metadata.of(last.metadata),
        )

    def enrich_index(
        self,
        settings: EnrichSettings,
        progress: Callable[[EnrichResult], None] | None = None,
        timeout: float | None = None,
    ) -> EnrichResult:
        """Give the documents already in ``settings.index`` vectors (``tandem enrich``).

        ``progress`` hears the result so far after each answer: the plan first, then the
        running totals (``result.progress``, about twice a second).
        ``timeout`` bounds the call (default: the client's ``stream_timeout``; none with
        ``follow``, which runs until interrupted). The first ``KeyboardInterrupt`` asks
        the sidecar to stop where it is and waits for the report (how ``follow`` ends); a
        second one cancels the call. What was written stays either way, and
        ``resume=True`` carries on from the sidecar's checkpoint.
        """
        if timeout is None and not settings.follow:
            timeout = self.stream_timeout
        requests: queue.Queue[index_pb2.EnrichIndexRequest | None] = queue.Queue()
        requests.put(index_pb2.EnrichIndexRequest(start=settings.message()))
        call = self._index.EnrichIndex(
            iter(requests.get, None), timeout=timeout, metadata=self._metadata
        )
        # Answers are read on a thread: a Ctrl-C must not land inside the call's own
        # receive (it cannot be resumed), and after one the answers still come.
        answers: queue.Queue[index_pb2.EnrichIndexResponse | grpc.RpcError | None] = queue.Queue()
        threading.Thread(target=_pump, args=(call, answers), daemon=True).start()
        result = EnrichResult()
        try:
            while True:
                try:
                    answer = answers.get()
                except KeyboardInterrupt:
                    if result.interrupted:
                        raise
                    result.interrupted = True
                    requests.put(index_pb2.EnrichIndexRequest(stop=index_pb2.EnrichStop()))
                    continue
                if answer is None:
                    return result
                if isinstance(answer, grpc.RpcError):
                    raise ClientError(answer.code(), answer.details() or "") from None
                result.take(answer)
                if progress is not None:
                    progress(result)
        except BaseException:
            call.cancel()  # type: ignore[no-untyped-call]  # grpc-stubs leaves it untyped
            raise
        finally:
            requests.put(None)


def _pump(
    call: Iterable[index_pb2.EnrichIndexResponse],
    answers: queue.Queue[index_pb2.EnrichIndexResponse | grpc.RpcError | None],
) -> None:
    """Move a stream's answers into ``answers``; then ``None``, or the call's error."""
    try:
        for answer in call:
            answers.put(answer)
        answers.put(None)
    except grpc.RpcError as err:
        answers.put(err)
