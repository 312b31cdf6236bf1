"""Passages: splitting on MiniLM's real tokenizer, pooling, the source layout, and the
mapping reader that finds a passage index."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from tokenizers import Tokenizer

from tandem.encoders.passages import Lengths, PassageWindow, Splitter
from tandem.encoders.sparse import Pruning, SparseVector
from tandem.plugin.cli.passages import add_passage_arguments, passages_from
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.index.fields import vector_fields
from tandem.plugin.index.spec import Passages
from tandem.plugin.index.terms import encode_term
from tandem.plugin.ingest.documents import Document
from tandem.plugin.ingest.passages import flatten, length_lines, max_pool, regroup
from tandem.plugin.ingest.pipeline import FieldMap, SourceBuilder
from tandem.plugin.search.layout import holds_passages

WORDS = (
    "Hybrid retrieval fuses lexical and dense scores. Long abstracts exceed the window of "
    "small encoders, and whatever follows the limit is invisible to them. Splitting keeps "
    "every sentence: overlapping passages each fit the model, and a document scores as its "
    "best passage. Unbelievably-hyphenated-compound-words and tokenisation edge cases stay "
    "whole at the cuts. "
)
# Numbered sentences: every passage occurs once in the text, so its place can be found.
LONG = WORDS + " ".join(f"Claim {i} links gene-{i} to outcome {i * 7}." for i in range(60))


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    from tandem.encoders.loader import text_batcher
    from tandem.encoders.registry import KNOWN_MODELS
    from tandem.encoders.sources import pull

    pull(KNOWN_MODELS["minilm"])  # a fresh cache: the checkpoint is not there until pulled
    return text_batcher(KNOWN_MODELS["minilm"]).tokenizer


def _content(tokenizer: Tokenizer, text: str) -> list[str]:
    whole = Tokenizer.from_str(tokenizer.to_str())
    whole.no_truncation()
    return whole.encode(text, add_special_tokens=False).tokens


def test_a_text_that_fits_is_one_passage(tokenizer: Tokenizer) -> None:
    (split,) = Splitter(tokenizer, PassageWindow(64, 32)).split(["a short abstract"])
    assert split.passages == ("a short abstract",)
    assert split.past_window == 0


def test_long_texts_split_into_overlapping_windows_on_word_starts(tokenizer: Tokenizer) -> None:
    window = PassageWindow(60, 30)
    (split,) = Splitter(tokenizer, window).split([LONG])
    tokens = _content(tokenizer, LONG)
    assert split.tokens == len(tokens)
    assert split.past_window == len(tokens) - 60
    assert len(split.passages) >= (len(tokens) - 60) // 30 + 1
    for passage in split.passages:
        pieces = _content(tokenizer, passage)
        # A passage re-tokenizes to about its window (a cut word's pieces may differ).
        assert len(pieces) <= 60 + 2
        assert not pieces[0].startswith("##"), passage  # never starts inside a word
        assert passage in LONG
    # Together the passages cover the whole text: its first and last words included.
    assert split.passages[0].startswith("Hybrid")
    assert split.passages[-1].endswith("outcome 413.")
    starts = [LONG.index(p) for p in split.passages]
    assert starts == sorted(starts)
    for before, after in zip(split.passages, split.passages[1:], strict=False):
        assert LONG.index(after) < LONG.index(before) + len(before)  # they overlap


def test_measuring_only_keeps_the_text_whole_and_counts_what_is_past(
    tokenizer: Tokenizer,
) -> None:
    (split,) = Splitter(tokenizer, PassageWindow(60, 30), split=False).split([LONG])
    assert split.passages == (LONG,)
    assert split.past_window == len(_content(tokenizer, LONG)) - 60
    lengths = Lengths()
    lengths.add(split)
    lengths.add(Splitter(tokenizer, PassageWindow(60, 30)).split(["short"])[0])
    assert lengths.as_dict() == {
        "texts": 2,
        "long": 1,
        "tokens_past_window": split.past_window,
        "passages": 2,
    }


def test_the_window_fits_the_model() -> None:
    assert PassageWindow.for_model(256) == PassageWindow(254, 127)
    assert PassageWindow.for_model(512, window=100, stride=100) == PassageWindow(100, 100)
    with pytest.raises(ValueError, match="longer than the model reads \\(254 tokens"):
        PassageWindow.for_model(256, window=300)
    with pytest.raises(ValueError, match="stride 50 is longer than its window 40"):
        PassageWindow(40, 50)
    with pytest.raises(ValueError, match="window must be a positive integer"):
        PassageWindow(0, 1)


def _vector(weights: dict[str, float]) -> SparseVector:
    tokens = tuple(weights)
    return SparseVector(
        np.arange(len(tokens), dtype=np.int64),
        np.array([weights[t] for t in tokens], dtype=np.float32),
        tokens,
    )


def test_sparse_weights_are_max_pooled_over_passages() -> None:
    pooled = max_pool([_vector({"heart": 1.0, "attack": 0.5}), _vector({"attack": 2.0})], Pruning())
    assert pooled == {"heart": 1.0, "attack": 2.0}
    top = max_pool([_vector({"a": 1.0, "b": 0.25}), _vector({"c": 3.0})], Pruning(top_k=2))
    assert top == {"c": 3.0, "a": 1.0}


def test_flatten_and_regroup_round_trip() -> None:
    from tandem.encoders.passages import Split

    splits = [Split(("a", "b"), 0, 0), Split(("c",), 0, 0), Split(("d", "e", "f"), 0, 0)]
    flat, counts = flatten(splits)
    assert flat == ["a", "b", "c", "d", "e", "f"]
    assert regroup(flat, counts) == [["a", "b"], ["c"], ["d", "e", "f"]]


class _Dense:
    """Encodes a text as [its length, 1.0]: passages are told apart by their vectors."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str], kind: Any = None) -> Any:
        self.seen.extend(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


class _Sparse:
    def encode(self, texts: Sequence[str], pruning: Pruning = Pruning()) -> list[SparseVector]:
        return [_vector({"shared": float(len(t)), f"first-{t.split()[0]}": 1.0}) for t in texts]


def test_a_passage_index_gets_one_vector_per_passage(tokenizer: Tokenizer) -> None:
    from tandem.plugin.ingest.passages import Splitters

    window = PassageWindow(60, 30)
    splitters = Splitters(Splitter(tokenizer, window), Splitter(tokenizer, window))
    dense = _Dense()
    builder = SourceBuilder(FieldMap(passages=True), dense, _Sparse(), splitters=splitters)
    docs = [Document("long", {"text": LONG}, {}), Document("short", {"text": "Short one"}, {})]
    long, short = (p.source for p in builder.build(docs))
    passages = Splitter(tokenizer, window).split([LONG])[0].passages
    assert long["embedding"] == [{"vector": [float(len(p)), 1.0]} for p in passages]
    assert short["embedding"] == [{"vector": [9.0, 1.0]}]
    # Sparse: one weight per term, its largest over the passages.
    assert long["sparse"]["shared"] == max(len(p) for p in passages)
    assert {t for t in long["sparse"] if t.startswith("first-")} == {
        encode_term(f"first-{p.split()[0]}") for p in passages
    }
    assert (
        builder.lengths["dense"].long == 1
        and builder.lengths["sparse"].passages == len(passages) + 1
    )


def test_a_flat_index_truncates_and_says_what_it_dropped(tokenizer: Tokenizer) -> None:
    from tandem.plugin.ingest.passages import Splitters

    measure = Splitter(tokenizer, PassageWindow(60, 30), split=False)
    dense = _Dense()
    builder = SourceBuilder(FieldMap(sparse=None), dense, None, splitters=Splitters(measure))
    (pending,) = builder.build([Document("long", {"text": LONG}, {})])
    assert pending.source["embedding"] == [float(len(LONG.strip())), 1.0]
    assert dense.seen == [LONG.strip()]
    lines = length_lines(builder.lengths)
    assert lines == [
        f"dense: 1 of 1 texts are longer than the model's window, "
        f"{builder.lengths['dense'].tokens_past_window:,} tokens past it; truncated "
        "(--passages keeps them)"
    ]


def test_the_mapping_says_which_indices_hold_passages() -> None:
    nested = {
        "properties": {
            "title": {"type": "text"},
            "chunks": {
                "type": "nested",
                "properties": {"vector": {"type": "knn_vector", "dimension": 384}},
            },
        }
    }
    found = vector_fields("docs", nested, EngineKind.OPENSEARCH)
    assert (found.dense, found.dims, found.passages) == ("chunks", 384, Passages())
    assert holds_passages(nested, "chunks")
    assert not holds_passages(nested, "title")
    flat = {"properties": {"embedding": {"type": "dense_vector", "dims": 3}}}
    assert vector_fields("docs", flat, EngineKind.ELASTICSEARCH).passages is None
    assert not holds_passages(flat, "embedding")
    tandem = {
        "_meta": {
            "tandem": {"dense": "chunks", "sparse": None, "passages": {"window": 100}},
        },
        **nested,
    }
    assert vector_fields("docs", tandem, EngineKind.OPENSEARCH).passages == Passages(window=100)


def _flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_passage_arguments(parser)
    return parser.parse_args(argv)


def test_passage_flags() -> None:
    assert passages_from(_flags()) is None
    assert passages_from(_flags("--no-passages")) is None
    assert passages_from(_flags("--passages")) == Passages()
    assert passages_from(_flags("--passages", "--passage-window", "100")) == Passages(100)
    assert passages_from(_flags("--passages", "--sparse-passages")) == Passages(sparse=True)
    with pytest.raises(ValueError, match="need --passages"):
        passages_from(_flags("--sparse-passages"))
    with pytest.raises(ValueError, match="need --passages"):
        passages_from(_flags("--passage-window", "100"))
    with pytest.raises(ValueError, match="--passage-stride: stride 200 is longer"):
        passages_from(_flags("--passages", "--passage-window", "100", "--passage-stride", "200"))
