from __future__ import annotations

import numpy as np
import pytest

from tandem.encoders.pooling import cls_pool, l2_normalize, mean_pool, splade_max
from tandem.encoders.registry import ModelKind, ModelSpec, WheelSource
from tandem.encoders.sparse import Pruning, to_sparse

HIDDEN = np.array(
    [
        [[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]],  # last token is padding
        [[2.0, 0.0], [0.0, 2.0], [4.0, 4.0]],
    ],
    dtype=np.float32,
)
MASK = np.array([[1, 1, 0], [1, 1, 1]], dtype=np.int64)


def test_mean_pool_ignores_padding() -> None:
    np.testing.assert_allclose(mean_pool(HIDDEN, MASK), [[2.0, 3.0], [2.0, 2.0]])


def test_cls_pool_takes_the_first_token() -> None:
    np.testing.assert_allclose(cls_pool(HIDDEN, MASK), [[1.0, 2.0], [2.0, 0.0]])


def test_l2_normalize() -> None:
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_splade_max_equals_the_naive_formula() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 7)).astype(np.float32)
    logits[0, 2] = 50.0  # padding must not win the max
    naive = np.log1p(np.maximum(logits, 0)) * MASK[:, :, None]
    np.testing.assert_allclose(splade_max(logits, MASK), naive.max(axis=1), rtol=1e-6)
    assert splade_max(logits, MASK)[0].max() < 50


VOCAB = ["[PAD]", "alpha", "beta", "gamma", "delta", "eps"]


def test_to_sparse_threshold_top_k_and_ties() -> None:
    row = np.array([0.0, 0.5, 2.0, 0.5, 0.04, 1.0], dtype=np.float32)
    everything = to_sparse(row, VOCAB, Pruning())
    assert everything.tokens == ("beta", "eps", "alpha", "gamma", "delta")  # ties by id
    assert to_sparse(row, VOCAB, Pruning(threshold=0.05)).tokens[-1] == "gamma"
    top2 = to_sparse(row, VOCAB, Pruning(top_k=2))
    assert top2.as_dict() == {"beta": 2.0, "eps": 1.0}
    assert list(top2.ids) == [2, 5]


@pytest.mark.parametrize("bad", [{"threshold": -1.0}, {"top_k": 0}])
def test_bad_pruning_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Pruning(**bad)  # type: ignore[arg-type]


def test_model_spec_validates_itself() -> None:
    with pytest.raises(ValueError, match="max_length"):
        ModelSpec("m", ModelKind.DENSE, WheelSource("x", "y"), max_length=1)
    with pytest.raises(ValueError, match="needs a name"):
        ModelSpec(" ", ModelKind.DENSE, WheelSource("x", "y"))


def test_chunked_splade_head_equals_full_logits() -> None:
    from tandem.encoders.splade_head import SpladeHead

    rng = np.random.default_rng(3)
    hidden, vocab = 8, 50
    decoder = rng.normal(size=(vocab, hidden)).astype(np.float32)
    bias = rng.normal(size=vocab).astype(np.float32)
    transformed = rng.normal(size=(4, 9, hidden)).astype(np.float32)
    mask = np.zeros((4, 9), dtype=np.int64)
    for row, n in enumerate([9, 3, 1, 6]):
        mask[row, :n] = 1
    transformed[mask == 0] = 100.0  # padding must never count
    logits = transformed @ decoder.T + bias
    expected = splade_max(logits, mask)
    head = SpladeHead(decoder, bias)
    np.testing.assert_allclose(head.weights(transformed, mask), expected, rtol=1e-5, atol=1e-5)


def test_splade_head_shapes_are_checked() -> None:
    from tandem.encoders.splade_head import SpladeHead

    with pytest.raises(ValueError, match="bias"):
        SpladeHead(np.zeros((10, 4), np.float32), np.zeros(9, np.float32))
