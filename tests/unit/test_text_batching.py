from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from tandem.encoders.idf import IdfQueryEncoder, IdfTable
from tandem.encoders.registry import KNOWN_MODELS, ModelKind, Pooling, resolve_spec
from tandem.encoders.text import TextBatcher

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "d", "e", "f"]


@pytest.fixture
def tokenizer_file(tmp_path: Path) -> Path:
    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    # Like MiniLM's file: padding and truncation pinned in the JSON.
    tok.enable_padding(length=16)
    tok.enable_truncation(max_length=16)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def test_batches_pad_to_their_own_longest_and_keep_positions(tokenizer_file: Path) -> None:
    batcher = TextBatcher(tokenizer_file, max_length=6)
    texts = ["a", "a b c d e f", "b c", "d"]
    batches = list(batcher.batches(texts, batch_size=2))
    assert [b.indices for b in batches] == [(1, 2), (0, 3)]
    first, second = batches
    # Truncated at 6 (with [CLS]/[SEP]), not padded to the file's 16.
    assert first.input_ids.shape == (2, 6)
    assert second.input_ids.shape == (2, 3)
    assert first.input_ids[0].tolist() == [2, 4, 5, 6, 7, 3]
    assert first.attention_mask[1].tolist() == [1, 1, 1, 1, 0, 0]
    assert set(first.arrays) == {"input_ids", "attention_mask", "token_type_ids"}
    assert first.tokens == 10


def test_unsorted_batches_keep_input_order(tokenizer_file: Path) -> None:
    batcher = TextBatcher(tokenizer_file, max_length=8)
    assert [b.indices for b in batcher.batches(["a", "b c", "d"], 2, sort=False)] == [(0, 1), (2,)]


@pytest.mark.parametrize("bad", [[""], ["ok", "   "]])
def test_empty_texts_are_refused(tokenizer_file: Path, bad: list[str]) -> None:
    with pytest.raises(ValueError, match="is empty"):
        list(TextBatcher(tokenizer_file, 8).batches(bad, 2))


def test_a_bare_string_is_refused(tokenizer_file: Path) -> None:
    with pytest.raises(TypeError, match="list of texts"):
        TextBatcher(tokenizer_file, 8).encode("abc")


def test_idf_from_corpus_and_query_weights(tokenizer_file: Path, tmp_path: Path) -> None:
    batcher = TextBatcher(tokenizer_file, 16)
    table = IdfTable.from_corpus(batcher, ["a b", "a c", "a d", "b"])
    assert table.idf["b"] > table.idf["a"]  # rarer term, higher weight
    assert "[CLS]" not in table.idf
    path = tmp_path / "idf.json"
    table.save(path)
    assert IdfTable.from_json(path) == table

    (vec,) = IdfQueryEncoder(batcher, table).encode(["a b b zz"])
    assert vec.tokens[0] == "b"
    assert set(vec.tokens) == {"a", "b"}  # [UNK] has no IDF, specials never count
    np.testing.assert_allclose(vec.weights[0], table.idf["b"], rtol=1e-6)


def test_idf_json_must_be_token_numbers(tmp_path: Path) -> None:
    path = tmp_path / "idf.json"
    path.write_text(json.dumps({"a": "high"}))
    with pytest.raises(ValueError, match="token -> idf"):
        IdfTable.from_json(path)


def test_resolve_spec(tmp_path: Path) -> None:
    assert resolve_spec("minilm") is KNOWN_MODELS["minilm"]
    with pytest.raises(ValueError, match="not dense"):
        resolve_spec("splade-tiny", ModelKind.DENSE)
    with pytest.raises(ValueError, match="minilm, splade-tiny"):
        resolve_spec("no-such-model")
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    local = resolve_spec(str(tmp_path))
    assert (local.pooling, local.max_length) == (Pooling.CLS, 128)
    hub = resolve_spec("BAAI/bge-small-en-v1.5")
    assert hub.cache_name == "BAAI--bge-small-en-v1.5"


def test_token_budget_caps_rows_times_longest(tokenizer_file: Path) -> None:
    batcher = TextBatcher(tokenizer_file, max_length=16)
    texts = ["a b c d e f", "a", "b c", "a b c d e", "d", "e f"]  # 8, 3, 4, 7, 3, 4 tokens
    batches = list(batcher.batches(texts, batch_size=32, max_tokens=12))
    for batch in batches:
        rows, width = batch.input_ids.shape
        assert rows * width <= 12 or rows == 1
    assert sorted(i for b in batches for i in b.indices) == list(range(len(texts)))
    # The 8-token text exceeds any pair: it travels alone; short ones share.
    assert [len(b.indices) for b in batches] == [1, 1, 3, 1]
    with pytest.raises(ValueError, match="max_tokens"):
        list(batcher.batches(texts, batch_size=4, max_tokens=0))


@pytest.mark.parametrize("bad", [{"rows": 0}, {"max_tokens": 0}])
def test_bad_batching_is_refused(bad: dict[str, int]) -> None:
    from tandem.encoders.text import Batching

    with pytest.raises(ValueError, match="must be positive"):
        Batching(**bad)  # type: ignore[arg-type]
