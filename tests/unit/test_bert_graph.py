"""The torch-free BERT exporter against a pure-numpy forward pass on a tiny random checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

from tandem.encoders.bert_graph import (  # noqa: E402
    BertConfig,
    Head,
    build_bert_graph,
    canonical_key,
)
from tandem.encoders.export import export_bert  # noqa: E402
from tandem.encoders.quantize import quantize_int8  # noqa: E402

Array = NDArray[Any]

CONFIG: dict[str, Any] = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_act": "gelu",
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "vocab_size": 50,
    "max_position_embeddings": 24,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "position_embedding_type": "absolute",
}
LAYERS, HIDDEN, HEADS = CONFIG["num_hidden_layers"], CONFIG["hidden_size"], 2
OUTPUT = {"base": "last_hidden_state", "mlm": "logits"}


def _random_weights(seed: int = 0) -> dict[str, Array]:
    """Weights under canonical (BertModel) names, with LayerNorm weight/bias."""
    rng = np.random.default_rng(seed)
    hidden, inner, vocab = HIDDEN, CONFIG["intermediate_size"], CONFIG["vocab_size"]

    def normal(*shape: int, scale: float = 0.3) -> Array:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    weights: dict[str, Array] = {
        "embeddings.word_embeddings.weight": normal(vocab, hidden),
        "embeddings.position_embeddings.weight": normal(CONFIG["max_position_embeddings"], hidden),
        "embeddings.token_type_embeddings.weight": normal(CONFIG["type_vocab_size"], hidden),
    }

    def add_linear(prefix: str, fan_out: int, fan_in: int) -> None:
        weights[f"{prefix}.weight"] = normal(fan_out, fan_in)
        weights[f"{prefix}.bias"] = normal(fan_out, scale=0.1)

    def add_norm(prefix: str) -> None:
        weights[f"{prefix}.weight"] = 1.0 + normal(hidden, scale=0.1)
        weights[f"{prefix}.bias"] = normal(hidden, scale=0.1)

    add_norm("embeddings.LayerNorm")
    for i in range(LAYERS):
        layer = f"encoder.layer.{i}"
        for name in ("query", "key", "value"):
            add_linear(f"{layer}.attention.self.{name}", hidden, hidden)
        add_linear(f"{layer}.attention.output.dense", hidden, hidden)
        add_norm(f"{layer}.attention.output.LayerNorm")
        add_linear(f"{layer}.intermediate.dense", inner, hidden)
        add_linear(f"{layer}.output.dense", hidden, inner)
        add_norm(f"{layer}.output.LayerNorm")
    add_linear("cls.predictions.transform.dense", hidden, hidden)
    add_norm("cls.predictions.transform.LayerNorm")
    weights["cls.predictions.bias"] = normal(vocab, scale=0.1)
    return weights


def _write_checkpoint(folder: Path, weights: dict[str, Array], head: Head) -> Path:
    """Store the weights the way each real checkpoint does.

    ``base`` like MiniLM: no ``bert.`` prefix, no head, plus an unused pooler and position_ids
    buffer. ``mlm`` like splade-tiny: ``bert.`` prefix, TF-style ``gamma``/``beta`` LayerNorm
    names and no decoder weight (tied to the word embeddings).
    """
    folder.mkdir(parents=True, exist_ok=True)
    stored: dict[str, Array] = {}
    for key, value in weights.items():
        if key.startswith("cls."):
            if head == "base":
                continue
            name = key
        else:
            name = key if head == "base" else f"bert.{key}"
        if head == "mlm" and ".LayerNorm." in name:
            name = name.replace(".weight", ".gamma").replace(".bias", ".beta")
        stored[name] = value
    if head == "base":
        stored["pooler.dense.weight"] = np.zeros((HIDDEN, HIDDEN), np.float32)
        stored["pooler.dense.bias"] = np.zeros(HIDDEN, np.float32)
        stored["embeddings.position_ids"] = np.arange(CONFIG["max_position_embeddings"])[None]
    safetensors_numpy.save_file(stored, str(folder / "model.safetensors"))
    config = dict(CONFIG, architectures=["BertModel" if head == "base" else "BertForMaskedLM"])
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu(x: Array) -> Array:
    return np.asarray(0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))))


def _layer_norm(x: Array, weights: dict[str, Array], prefix: str) -> Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    normed = (x - mean) / np.sqrt(var + CONFIG["layer_norm_eps"])
    return np.asarray(normed * weights[f"{prefix}.weight"] + weights[f"{prefix}.bias"])


def _linear(x: Array, weights: dict[str, Array], prefix: str) -> Array:
    return np.asarray(
        x @ weights[f"{prefix}.weight"].T.astype(np.float64) + weights[f"{prefix}.bias"]
    )


def _reference(weights: dict[str, Array], feeds: dict[str, Array], head: Head) -> Array:
    """Hugging Face BertModel / BertForMaskedLM forward pass, float64, eval mode."""
    ids, mask, types = feeds["input_ids"], feeds["attention_mask"], feeds["token_type_ids"]
    batch, seq = ids.shape
    head_size = HIDDEN // HEADS
    x = (
        weights["embeddings.word_embeddings.weight"][ids].astype(np.float64)
        + weights["embeddings.token_type_embeddings.weight"][types]
        + weights["embeddings.position_embeddings.weight"][np.arange(seq)][None]
    )
    x = _layer_norm(x, weights, "embeddings.LayerNorm")
    additive = (1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min

    def heads(t: Array) -> Array:
        return np.asarray(t.reshape(batch, seq, HEADS, head_size).transpose(0, 2, 1, 3))

    for i in range(LAYERS):
        layer = f"encoder.layer.{i}"
        q = heads(_linear(x, weights, f"{layer}.attention.self.query"))
        k = heads(_linear(x, weights, f"{layer}.attention.self.key"))
        v = heads(_linear(x, weights, f"{layer}.attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_size) + additive
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, HIDDEN)
        attended = _linear(context, weights, f"{layer}.attention.output.dense")
        x = _layer_norm(attended + x, weights, f"{layer}.attention.output.LayerNorm")
        inner = _gelu(_linear(x, weights, f"{layer}.intermediate.dense"))
        outer = _linear(inner, weights, f"{layer}.output.dense")
        x = _layer_norm(outer + x, weights, f"{layer}.output.LayerNorm")
    if head == "base":
        return x
    t = _gelu(_linear(x, weights, "cls.predictions.transform.dense"))
    t = _layer_norm(t, weights, "cls.predictions.transform.LayerNorm")
    decoder = weights["embeddings.word_embeddings.weight"].T
    return np.asarray(t @ decoder + weights["cls.predictions.bias"])


def _feeds(batch: int, seq: int, seed: int) -> dict[str, Array]:
    """Random ids with right padding: the last row keeps only half its tokens."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, CONFIG["vocab_size"], size=(batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    mask[-1, seq // 2 :] = 0
    ids[mask == 0] = 0
    types = np.zeros((batch, seq), dtype=np.int64)
    types[0, seq // 2 :] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _session(model_path: Path) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def _assert_matches_reference(model_path: Path, weights: dict[str, Array], head: Head) -> None:
    session = _session(model_path)
    width = HIDDEN if head == "base" else CONFIG["vocab_size"]
    for batch, seq, seed in ((2, 7, 1), (3, 12, 2), (1, 3, 3)):  # dynamic batch and sequence
        feeds = _feeds(batch, seq, seed)
        (got,) = session.run([OUTPUT[head]], feeds)
        assert got.dtype == np.float32
        assert got.shape == (batch, seq, width)
        np.testing.assert_allclose(got, _reference(weights, feeds, head), atol=1e-4, rtol=0)


@pytest.mark.parametrize("head", ["base", "mlm"])
def test_raw_graph_matches_numpy_reference(tmp_path: Path, head: Head) -> None:
    weights = _random_weights()
    checkpoint = _write_checkpoint(tmp_path / "ckpt", weights, head)
    model = build_bert_graph(checkpoint, head)
    onnx.checker.check_model(model, full_check=True)
    inputs = {i.name: i.type.tensor_type for i in model.graph.input}
    assert list(inputs) == ["input_ids", "attention_mask", "token_type_ids"]
    for tensor_type in inputs.values():
        assert tensor_type.elem_type == onnx.TensorProto.INT64
        assert [d.dim_param for d in tensor_type.shape.dim] == ["batch", "sequence"]
    path = tmp_path / "raw.onnx"
    onnx.save_model(model, path)
    _assert_matches_reference(path, weights, head)


@pytest.mark.parametrize("head", ["base", "mlm"])
def test_optimized_export_is_fully_fused_and_matches(tmp_path: Path, head: Head) -> None:
    weights = _random_weights(seed=7)
    checkpoint = _write_checkpoint(tmp_path / "ckpt", weights, head)
    report = export_bert(checkpoint, tmp_path / "out", head)
    assert report.path == tmp_path / "out" / "model.onnx"
    assert report.size_bytes == report.path.stat().st_size
    assert report.fully_fused, dict(report.op_counts)
    assert report.op_counts["Attention"] == LAYERS
    assert report.op_counts["EmbedLayerNormalization"] == 1
    assert report.op_counts["SkipLayerNormalization"] == 2 * LAYERS
    assert report.op_counts["BiasGelu"] == LAYERS + (head == "mlm")
    _assert_matches_reference(report.path, weights, head)


def test_int8_model_runs_with_integer_matmuls(tmp_path: Path) -> None:
    checkpoint = _write_checkpoint(tmp_path / "ckpt", _random_weights(), "base")
    report = export_bert(checkpoint, tmp_path / "out", "base")
    quantized = tmp_path / "int8" / "model.onnx"
    quantize_int8(report.path, quantized)
    op_types = {node.op_type for node in onnx.load(quantized).graph.node}
    assert op_types & {"MatMulInteger", "DynamicQuantizeMatMul", "QAttention"}
    (got,) = _session(quantized).run(["last_hidden_state"], _feeds(2, 5, 0))
    assert got.shape == (2, 5, HIDDEN)
    assert np.isfinite(got).all()


def test_canonical_key_strips_prefix_and_tf_names() -> None:
    assert canonical_key("bert.embeddings.LayerNorm.gamma") == "embeddings.LayerNorm.weight"
    assert canonical_key("bert.encoder.layer.0.output.LayerNorm.beta") == (
        "encoder.layer.0.output.LayerNorm.bias"
    )
    assert canonical_key("embeddings.word_embeddings.weight") == "embeddings.word_embeddings.weight"
    assert canonical_key("cls.predictions.bias") == "cls.predictions.bias"


def test_unsupported_activation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(dict(CONFIG, hidden_act="gelu_new")), encoding="utf-8")
    with pytest.raises(ValueError, match="gelu_new"):
        BertConfig.from_file(path)


def test_failed_optimisation_leaves_no_model_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tandem.encoders.export as export_module

    def broken(path: Path, config: object) -> onnx.ModelProto:
        raise ImportError("sympy is required for symbolic shape inference")

    monkeypatch.setattr(export_module, "_optimize", broken)
    checkpoint = _write_checkpoint(tmp_path / "ckpt", _random_weights(), "base")
    with pytest.raises(ImportError, match="sympy"):
        export_bert(checkpoint, tmp_path / "out", "base")
    assert list((tmp_path / "out").iterdir()) == []  # no unfused model.onnx for the cache to reuse


def test_mlm_transform_head_outputs_hidden_width(tmp_path: Path) -> None:
    weights = _random_weights(seed=5)
    checkpoint = _write_checkpoint(tmp_path / "ckpt", weights, "mlm")
    report = export_bert(checkpoint, tmp_path / "out", "mlm_transform", filename="body.onnx")
    session = _session(report.path)
    feeds = _feeds(2, 5, 9)
    (transformed,) = session.run(["mlm_transform"], feeds)
    assert transformed.shape == (2, 5, HIDDEN)
    logits = _reference(weights, feeds, "mlm")
    decoder = weights["embeddings.word_embeddings.weight"].T
    np.testing.assert_allclose(
        transformed @ decoder + weights["cls.predictions.bias"], logits, atol=1e-4, rtol=0
    )
