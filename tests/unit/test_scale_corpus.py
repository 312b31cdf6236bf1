"""The scale benchmark's pure parts: the derived corpus, exact top-k, recall, the texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.scale.corpus import Encoded, Texts, query_text
from benchmarks.scale.exact import SparseIndex, dense_top_k, recall, top_k
from benchmarks.scale.grow import SPARSE_DECIMALS, Grower
from tandem.plugin.demo.corpus import python_documents


def _encoded(rng: np.random.Generator, count: int = 6, dims: int = 8) -> Encoded:
    dense = rng.standard_normal((count, dims)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    ids, weights, offsets = [], [], [0]
    for _ in range(count):
        terms = np.sort(rng.choice(40, size=5, replace=False)).astype(np.int32)
        ids.append(terms)
        weights.append(rng.uniform(0.01, 2.0, size=5).astype(np.float32))
        offsets.append(offsets[-1] + 5)
    return Encoded(
        dense,
        np.array(offsets, dtype=np.int64),
        np.concatenate(ids),
        np.concatenate(weights),
        [f"t{i}" for i in range(40)],
    )


def _grower(seed: int = 0) -> Grower:
    encoded = _encoded(np.random.default_rng(1))
    words = [" ".join(f"w{d}x{k}" for k in range(12)) for d in range(encoded.count)]
    texts = Texts([f"title {d}" for d in range(encoded.count)], words, ["a query"])
    return Grower(texts, encoded, seed)


def test_a_derived_document_is_the_same_in_every_run_and_differs_by_seed() -> None:
    first, again, other = _grower().doc(40), _grower().doc(40), _grower(seed=1).doc(40)
    assert first.text == again.text and np.array_equal(first.dense, again.dense)
    assert np.array_equal(first.term_ids, again.term_ids)
    assert not np.array_equal(first.dense, other.dense)


def test_real_documents_pass_through_and_derived_ones_mix_two_of_them() -> None:
    grower = _grower()
    real = grower.doc(2)
    assert real.title == "title 2" and real.text == grower.texts.texts[2]
    assert np.allclose(real.dense, grower.encoded.dense[2], atol=1e-6)
    derived = grower.doc(1000)
    assert derived.title.endswith("~1000")
    sources = {w.split("x")[0] for w in derived.text.split()}
    assert 1 <= len(sources) <= 2  # words of the parent, some replaced by the donor's
    assert np.linalg.norm(derived.dense) == pytest.approx(1.0, abs=1e-5)
    cosines = grower.encoded.dense @ derived.dense
    assert cosines.max() > 0.5  # close to its parent, not noise


def test_derived_sparse_vectors_are_positive_unique_and_rounded() -> None:
    for i in range(100, 140):
        doc = _grower().doc(i)
        assert len(doc.term_ids) == len(set(doc.term_ids.tolist())) > 0
        assert doc.weights.min() >= 10.0**-SPARSE_DECIMALS
        assert np.array_equal(doc.weights, np.round(doc.weights, SPARSE_DECIMALS))
        assert set(doc.term_ids.tolist()) <= set(_grower().encoded.term_ids.tolist())


def test_exact_top_k_orders_by_score_then_row() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.1, 0.9], dtype=np.float32)
    assert top_k(scores, 3) == [1, 4, 0]
    assert top_k(scores, 10) == [1, 4, 0, 2, 3]


def test_exact_dense_and_sparse_agree_with_brute_force() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((50, 4)).astype(np.float32)
    query = rng.standard_normal(4).astype(np.float32)
    assert dense_top_k(vectors, query, 30, 5) == top_k(vectors[:30] @ query, 5)

    rows = [
        (
            np.sort(rng.choice(20, size=4, replace=False)).astype(np.int32),
            rng.uniform(0.1, 1.0, size=4).astype(np.float32),
        )
        for _ in range(50)
    ]
    matrix = np.zeros((50, 20), dtype=np.float32)
    for r, (ids, weights) in enumerate(rows):
        matrix[r, ids] = weights
    terms = {2: 0.7, 5: 1.3, 19: 0.2, 60: 4.0}  # 60: a term no document holds
    weights = np.zeros(20, dtype=np.float32)
    for t, w in terms.items():
        if t < 20:
            weights[t] = w
    index = SparseIndex.of(rows)
    assert index.top_k(terms, 40, 7) == top_k(matrix[:40] @ weights, 7)


def test_recall_is_the_share_of_the_exact_top_k_found() -> None:
    assert recall(["3", "1", "9"], [1, 2, 3, 4]) == 0.5
    assert recall([], [1]) == 0.0


def test_a_query_is_the_first_sentence_in_at_most_24_words() -> None:
    assert query_text("Return the value. Raises otherwise.") == "Return the value."
    assert len(query_text(" ".join(["word"] * 40)).split()) == 24


def test_python_documents_read_docstrings_and_comment_blocks_once(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    licence = "# " + "Licensed under the same long licence text for every file. " * 2
    for name in ("a", "b"):
        (package / f"{name}.py").write_text(
            f'{licence}\n"""Module {name} docstring that is long enough to be a document '
            'of its own, well past eighty characters."""\n\n'
            f"# first line of a comment block that explains {name}\n"
            "# and its second line, which belongs to the same block\n"
            "x = 1  # a trailing note\n"
        )
    docs = python_documents(roots=[tmp_path])
    texts = [d.text["text"] for d in docs]
    assert sum("Licensed under" in t for t in texts) == 1  # the same text is kept once
    assert sum(t.startswith("Module ") for t in texts) == 2
    blocks = [t for t in texts if t.startswith("first line")]
    assert len(blocks) == 2 and "second line" in blocks[0]
    assert {d.metadata["kind"] for d in docs} == {"module", "comment"}
    assert len(python_documents(2, roots=[tmp_path])) == 2
    assert not any(
        d.metadata["kind"] == "comment" for d in python_documents(roots=[tmp_path], comments=False)
    )
