"""A pool of encoder workers on Ray (a local Ray, or a cluster's), in chunk order.

Each worker is a Ray actor holding the models (:class:`~.worker.EncoderWorker`)
on the CPUs Ray reserved for it. :meth:`EncoderPool.encode_chunks` hands each
chunk to the next idle worker and returns the results in the chunks' order, so
ingest and enrich write what a single process would, document for document.

A worker that dies (its process killed, its node lost) is restarted by Ray,
which loads the models again and retries the chunk it was encoding: encoding
has no side effects and only the calling process writes, so a retried chunk is
never written twice, and none is lost.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from tandem.encoders.loader import text_batcher
from tandem.encoders.pooling import FloatArray
from tandem.encoders.registry import InputKind, ModelSpec
from tandem.encoders.sources import pull
from tandem.encoders.sparse import Pruning, SparseVector
from tandem.encoders.text import TextBatcher
from tandem.plugin.ingest.vectors import Chunk, Encoded

from .errors import PoolError, RayMissing
from .worker import EncoderWorker

Progress = Callable[[str], None]
RAY_EXTRA = "pip install 'tandem-search[ray]'"
# A local Ray's shared object store: chunks are a few hundred kB, so Ray's default
# (30% of the machine's memory) would only take memory from the engines.
LOCAL_OBJECT_STORE = 512 * 1024 * 1024
CONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class PoolOptions:
    """``address``: a Ray cluster (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``);
    ``None`` starts a local Ray (or joins ``RAY_ADDRESS`` when it is set).
    ``workers``: how many encoder workers (default: as many as the cluster's CPUs
    hold at ``worker_cpus`` each). ``restarts``: how often Ray restarts a dead
    worker and retries its chunk before the run fails."""

    address: str | None = None
    workers: int | None = None
    worker_cpus: int = 1
    restarts: int = 3
    ready_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be positive, got {self.workers}")
        if self.worker_cpus < 1:
            raise ValueError(f"worker CPUs must be positive, got {self.worker_cpus}")
        if self.restarts < 0:
            raise ValueError(f"restarts must be >= 0, got {self.restarts}")


def _quiet(_: str) -> None:
    return None


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise RayMissing(f"--ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


class PoolModel:
    """One model as the calling process sees it: its spec and tokenizer (texts are split
    here) and an ``encode`` that runs on the pool."""

    def __init__(self, pool: EncoderPool, spec: ModelSpec, dense: bool) -> None:
        self.pool = pool
        self.spec = spec
        self.batcher: TextBatcher = text_batcher(spec)
        self._dense = dense

    def _one(self, texts: Sequence[str]) -> Encoded:
        chunk = Chunk(list(texts), None) if self._dense else Chunk(None, list(texts))
        return self.pool.encode_chunks([chunk], Pruning())[0]


class PoolDense(PoolModel):
    def encode(self, texts: Sequence[str], kind: InputKind = InputKind.DOCUMENT) -> FloatArray:
        if kind is not InputKind.DOCUMENT:
            raise ValueError("the encoder pool encodes documents, not queries")
        return np.asarray(self._one(texts).dense, dtype=np.float32)


class PoolSparse(PoolModel):
    def encode(self, texts: Sequence[str], pruning: Pruning = Pruning()) -> list[SparseVector]:
        chunk = Chunk(None, list(texts))
        return self.pool.encode_chunks([chunk], pruning)[0].sparse or []


class EncoderPool:
    """Encoder workers on Ray; ``dense`` and ``sparse`` are the models as ingest and
    enrich take them (``None`` for a model not in use)."""

    def __init__(
        self,
        ray: ModuleType,
        workers: list[Any],
        options: PoolOptions,
        owns_ray: bool,
        dense: ModelSpec | None,
        sparse: ModelSpec | None,
    ) -> None:
        self.ray = ray
        self.workers = workers
        self.options = options
        self.owns_ray = owns_ray
        self.dense = PoolDense(self, dense, True) if dense is not None else None
        self.sparse = PoolSparse(self, sparse, False) if sparse is not None else None

    @classmethod
    def start(
        cls,
        dense: ModelSpec | None,
        sparse: ModelSpec | None,
        int8: bool = False,
        options: PoolOptions = PoolOptions(),
        progress: Progress = _quiet,
    ) -> EncoderPool:
        """Join (or start) Ray and start the workers; returns once every worker has
        loaded its models. Raises :class:`RayMissing`, and :class:`PoolError` for a
        cluster that does not answer, workers that find no room on it within
        ``options.ready_seconds`` or models they cannot load."""
        if dense is None and sparse is None:
            raise ValueError("the encoder pool needs a dense or a sparse model (or both)")
        ray = import_ray()
        for spec in (dense, sparse):
            if spec is not None:
                pull(spec)  # the tokenizers, here; each worker loads its own models
        owns_ray = not ray.is_initialized()
        if owns_ray:
            join_ray(ray, options.address, progress)
        cpus = float(ray.cluster_resources().get("CPU", 0))
        count = options.workers or max(1, int(cpus // options.worker_cpus))
        progress(
            f"starting {count} encoder worker(s) of {options.worker_cpus} CPU each "
            f"on Ray ({cpus:g} CPUs)"
        )
        remote = ray.remote(EncoderWorker).options(
            num_cpus=options.worker_cpus,
            max_restarts=options.restarts,
            max_task_retries=options.restarts,
        )
        workers = [remote.remote(dense, sparse, int8, options.worker_cpus) for _ in range(count)]
        pool = cls(ray, workers, options, owns_ray, dense, sparse)
        try:
            started = time.monotonic()
            pool._ready(cpus)
            progress(f"{count} encoder worker(s) ready in {time.monotonic() - started:.1f} s")
        except BaseException:
            pool.close()
            raise
        return pool

    def _ready(self, cpus: float) -> None:
        ray = self.ray
        try:
            ray.get([w.pid.remote() for w in self.workers], timeout=self.options.ready_seconds)
        except ray.exceptions.GetTimeoutError:
            need = len(self.workers) * self.options.worker_cpus
            raise PoolError(
                f"{len(self.workers)} encoder worker(s) of {self.options.worker_cpus} CPU each "
                f"({need} CPUs) did not start within {self.options.ready_seconds:g} s; the Ray "
                f"cluster has {cpus:g} CPUs: ask for fewer (--ray-workers, --ray-worker-cpus)"
            ) from None
        except ray.exceptions.RayActorError as err:
            raise PoolError(f"an encoder worker could not load the models: {err}") from None

    @property
    def width(self) -> int:
        """Chunks to hand over at once: two per worker, so none waits between chunks."""
        return 2 * len(self.workers)

    def encode_chunks(self, chunks: Sequence[Chunk], pruning: Pruning) -> list[Encoded]:
        """Each chunk encoded by the next idle worker; the results in ``chunks``' order.
        An error of the models (bad input) is raised as the models raised it."""
        ray = self.ray
        pool = ray.util.ActorPool(self.workers)
        try:
            return list(pool.map(lambda w, c: w.encode.remote(c, pruning), list(chunks)))
        except ray.exceptions.RayTaskError as err:
            cause = err.cause
            if isinstance(cause, Exception):
                raise cause from None
            raise
        except ray.exceptions.RayActorError as err:
            raise PoolError(
                f"an encoder worker died {self.options.restarts + 1} times on one chunk "
                f"(Ray restarts it {self.options.restarts} times): {err}"
            ) from None

    def pids(self) -> list[int]:
        """Each worker's process id, in worker order."""
        return list(self.ray.get([w.pid.remote() for w in self.workers]))

    def close(self) -> None:
        """Stop the workers, and the local Ray this pool started."""
        for worker in self.workers:
            self.ray.kill(worker)
        self.workers = []
        if self.owns_ray and self.ray.is_initialized():
            self.ray.shutdown()

    def __enter__(self) -> EncoderPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def join_ray(ray: ModuleType, address: str | None, progress: Progress = _quiet) -> None:
    """Start a local Ray (``address`` ``None`` and no ``RAY_ADDRESS``), or join one."""
    quiet: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "log_to_driver": False,
    }
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        progress("starting a local Ray")
        ray.init(object_store_memory=LOCAL_OBJECT_STORE, **quiet)
        return
    progress(f"joining the Ray cluster at {address}")
    _reachable(address)
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise PoolError(
            f"cannot join a Ray cluster at {address}: {err}. Start one with 'ray start "
            "--head' there, or pass --ray with no address for a local Ray"
        ) from None


def _reachable(address: str) -> None:
    """Fail at once, not after Ray's own minutes of retries, when nothing listens at a
    ``HOST:PORT`` (or ``ray://HOST:PORT``) address."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise PoolError(f"--ray {address}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as err:
        raise PoolError(
            f"cannot join a Ray cluster at {address}: {err}. Start one with 'ray start "
            "--head' there, or pass --ray with no address for a local Ray"
        ) from None
