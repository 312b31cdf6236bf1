"""The encoder pool's pure parts: options, addresses, the missing extra, the CLI's flag
checks, and chunked encoding giving what chunk-by-chunk encoding gives."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
import pytest

from tandem.encoders.registry import InputKind
from tandem.encoders.sparse import Pruning, SparseVector
from tandem.plugin.cli.encoding import add_ray_arguments, check_ray_flags
from tandem.plugin.distributed import PoolError, RayMissing
from tandem.plugin.distributed.pool import PoolOptions, _reachable, import_ray
from tandem.plugin.ingest.vectors import FieldMap, VectorBuilder

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("bad", [{"workers": 0}, {"worker_cpus": 0}, {"restarts": -1}], ids=str)
def test_bad_pool_options_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        PoolOptions(**bad)


@pytest.mark.parametrize("address", ["nohost", "host:", "ray://:10001", "host:port"])
def test_a_malformed_address_says_what_is_expected(address: str) -> None:
    with pytest.raises(PoolError, match="expected HOST:PORT, ray://HOST:PORT or auto"):
        _reachable(address)


def test_an_address_where_nothing_listens_fails_at_once_with_what_to_do() -> None:
    with pytest.raises(PoolError, match="ray start --head"):
        _reachable("127.0.0.1:1")


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(RayMissing, match=r"tandem-search\[ray\]"):
        import_ray()


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    add_ray_arguments(parser)
    return parser.parse_args(list(argv))


def test_ray_flags() -> None:
    assert _args("--ray").ray == ""  # a local Ray
    assert _args("--ray", "head:6379").ray == "head:6379"
    assert _args().ray is None
    with pytest.raises(ValueError, match="pick one"):
        check_ray_flags(_args("--ray", "--server", "localhost:50051"))
    with pytest.raises(ValueError, match="need --ray"):
        check_ray_flags(_args("--ray-workers", "4"))
    check_ray_flags(_args("--ray", "--ray-workers", "4", "--ray-worker-cpus", "2"))


class Dense:
    """Deterministic stand-in: a text's vector is its length and its first letter."""

    def encode(self, texts: Sequence[str], kind: InputKind = InputKind.DOCUMENT) -> np.ndarray:
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


class Sparse:
    def encode(self, texts: Sequence[str], pruning: Pruning = Pruning()) -> list[SparseVector]:
        return [
            SparseVector(np.array([1]), np.array([float(len(t))], dtype=np.float32), (t[:3],))
            for t in texts
        ]


def test_chunks_encoded_together_equal_chunks_encoded_alone() -> None:
    builder = VectorBuilder(FieldMap(), Dense(), Sparse())
    chunks = [["alpha beta", "gamma"], ["delta"], [], ["epsilon zeta eta"]]
    together = builder.fields_for_chunks(chunks)
    alone = [builder.fields_for(chunk) for chunk in chunks]
    assert together == alone
    assert together[0][0] == {"embedding": [10.0, 97.0], "sparse": {"alp": 10.0}}
