"""Where ``tandem index`` and ``tandem enrich`` run their models: in this process, or
on a pool of encoder workers on Ray (``--ray [ADDRESS]``).

Either way the run itself (reading, resume, markers, writes, the report) stays in
this process; only the encoding moves (:mod:`tandem.plugin.distributed`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tandem.encoders.dense import DenseEncoder
from tandem.encoders.loader import load_dense, load_sparse
from tandem.encoders.registry import ModelSpec
from tandem.encoders.sparse import SpladeEncoder

if TYPE_CHECKING:
    from tandem.plugin.distributed.pool import EncoderPool, PoolDense, PoolSparse

LOCAL_RAY = ""  # --ray with no address: a local Ray


@dataclass
class Encoders:
    """The models as ingest and enrich take them, and the pool running them (if any)."""

    dense: DenseEncoder | PoolDense | None
    sparse: SpladeEncoder | PoolSparse | None
    pool: EncoderPool | None = None

    def dims(self) -> int | None:
        """The dense model's dimension (one probe encoding), ``None`` without one."""
        if self.dense is None:
            return None
        return int(self.dense.encode(["dimension probe"]).shape[1])


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("encoding on Ray (the 'ray' extra)")
    group.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL_RAY,
        metavar="ADDRESS",
        help="encode on a pool of workers on Ray: the cluster at ADDRESS (HOST:PORT, "
        "ray://HOST:PORT or auto), or a local Ray when none is given; not with --server",
    )
    group.add_argument(
        "--ray-workers",
        type=int,
        metavar="N",
        help="--ray: encoder workers (default: as many as the cluster's CPUs hold)",
    )
    group.add_argument(
        "--ray-worker-cpus",
        type=int,
        default=1,
        metavar="C",
        help="--ray: CPUs (onnxruntime threads) per worker (default 1)",
    )


def check_ray_flags(args: argparse.Namespace) -> None:
    """Refuse ``--ray`` with ``--server``, and the pool's flags without ``--ray``."""
    if args.ray is not None and args.server:
        raise ValueError(
            "--ray runs the models on a Ray cluster from this process, --server runs them "
            "in a sidecar: pick one"
        )
    if args.ray is None and (args.ray_workers is not None or args.ray_worker_cpus != 1):
        raise ValueError("--ray-workers and --ray-worker-cpus need --ray")


@contextmanager
def encoders_for(
    args: argparse.Namespace,
    dense: ModelSpec | None,
    sparse: ModelSpec | None,
    say: Callable[[str], None],
) -> Iterator[Encoders]:
    """The models of ``args``: loaded here, or (``--ray``) on a pool that is closed on
    the way out."""
    if args.ray is None:
        yield Encoders(
            load_dense(dense, args.int8, progress=say) if dense is not None else None,
            load_sparse(sparse, args.int8, progress=say) if sparse is not None else None,
        )
        return
    from tandem.plugin.distributed.pool import EncoderPool, PoolOptions

    options = PoolOptions(args.ray or None, args.ray_workers, args.ray_worker_cpus)
    with EncoderPool.start(dense, sparse, args.int8, options, say) as pool:
        yield Encoders(pool.dense, pool.sparse, pool)
