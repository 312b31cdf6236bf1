"""Build an ONNX graph for a BERT checkpoint straight from safetensors, without torch.

The node layout deliberately mirrors what torch's legacy (TorchScript) exporter produced for
Hugging Face ``BertModel``: onnxruntime's transformer optimizer pattern-matches exactly that
layout when it fuses the embedding block, attention, residual layer norms and gelu into its
contrib ops (``EmbedLayerNormalization``, ``Attention``, ``SkipLayerNormalization``,
``BiasGelu``). Deviating from the layout still gives a correct graph, just a slow one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

Head = Literal["base", "mlm", "mlm_transform"]
"""``base``: BertModel, outputs ``last_hidden_state``; ``mlm``: BertForMaskedLM, ``logits``;
``mlm_transform``: BertForMaskedLM up to (not including) the vocabulary projection, outputs
``mlm_transform``, so the projection can run in token chunks outside the graph."""

OPSET = 17  # first opset with LayerNormalization, which the optimizer fuses directly
IR_VERSION = 8  # the IR version that goes with opset 17; keeps older onnxruntime releases happy
MASK_FILL = -10000.0  # additive mask for padding; the value the fused Attention op assumes
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")

Weights = dict[str, NDArray[Any]]


@dataclass(frozen=True)
class BertConfig:
    """The subset of a Hugging Face ``config.json`` that defines the BERT forward pass."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    layer_norm_eps: float

    @property
    def head_size(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        """Read ``config.json``; refuse settings this exporter does not implement.

        Refusing early beats exporting a graph that silently computes something else.
        """
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        act = raw.get("hidden_act", "gelu")
        if act != "gelu":
            raise ValueError(f"hidden_act {act!r} is not supported (only exact erf 'gelu')")
        position = raw.get("position_embedding_type", "absolute")
        if position != "absolute":
            raise ValueError(f"position_embedding_type {position!r} is not supported")
        config = cls(
            vocab_size=int(raw["vocab_size"]),
            hidden_size=int(raw["hidden_size"]),
            num_hidden_layers=int(raw["num_hidden_layers"]),
            num_attention_heads=int(raw["num_attention_heads"]),
            intermediate_size=int(raw["intermediate_size"]),
            max_position_embeddings=int(raw["max_position_embeddings"]),
            layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
        )
        if config.hidden_size % config.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        return config


def canonical_key(key: str) -> str:
    """Map a checkpoint tensor name to the ``BertModel`` naming used by the builder.

    Checkpoints differ: a bare BertModel has ``embeddings.…``, BertForMaskedLM has ``bert.…``,
    and old TF-converted files call LayerNorm parameters ``gamma``/``beta``.
    """
    key = key.removeprefix("bert.")
    stem, _, leaf = key.rpartition(".")
    if stem.endswith("LayerNorm"):
        leaf = {"gamma": "weight", "beta": "bias"}.get(leaf, leaf)
        key = f"{stem}.{leaf}"
    return key


def load_weights(checkpoint: Path) -> Weights:
    """Load every tensor of ``model.safetensors`` (or its shards) under canonical names."""
    index = checkpoint / "model.safetensors.index.json"
    if index.is_file():
        shard_names = sorted(
            set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        )
        files = [checkpoint / name for name in shard_names]
    else:
        files = [checkpoint / "model.safetensors"]
    weights: Weights = {}
    for file in files:
        for key, value in load_file(str(file)).items():
            if np.issubdtype(value.dtype, np.floating):
                value = value.astype(np.float32, copy=False)
            weights[canonical_key(key)] = value
    return weights


def mlm_decoder(weights: Weights) -> tuple[NDArray[Any], NDArray[Any]]:
    """The MLM vocabulary projection ``[vocab, hidden]`` and its bias ``[vocab]``.

    The decoder is usually tied to the word embeddings and not stored; the
    bias lives at ``cls.predictions.bias`` in most checkpoints.
    """
    decoder = weights.get("cls.predictions.decoder.weight")
    if decoder is None:
        decoder = weights.get("embeddings.word_embeddings.weight")
    bias = weights.get("cls.predictions.decoder.bias")
    if bias is None:
        bias = weights.get("cls.predictions.bias")
    if decoder is None or bias is None:
        raise ValueError("the checkpoint has no MLM decoder weights: is it a BertForMaskedLM?")
    return decoder, bias


def build_bert_graph(checkpoint: Path, head: Head = "base") -> onnx.ModelProto:
    """Build the ONNX model for the checkpoint folder (``config.json`` + safetensors)."""
    config = BertConfig.from_file(checkpoint / "config.json")
    return build_bert_model(config, load_weights(checkpoint), head)


def build_bert_model(config: BertConfig, weights: Weights, head: Head = "base") -> onnx.ModelProto:
    """Build the ONNX model from an already loaded config and canonical-named weights.

    Inputs are ``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64, ``[batch,
    sequence]``); the output is ``last_hidden_state`` or, for ``mlm``, ``logits``.
    """
    graph = _BertGraph(config, weights)
    hidden = graph.encoder(graph.embeddings())
    if head == "base":
        output, width = graph.b.rename(hidden, "last_hidden_state"), config.hidden_size
    elif head == "mlm":
        output, width = graph.mlm_head(hidden), config.vocab_size
    elif head == "mlm_transform":
        output, width = (
            graph.b.rename(graph.mlm_transform(hidden), "mlm_transform"),
            config.hidden_size,
        )
    else:
        raise ValueError(f"unknown head {head!r}")
    dims: list[str | int] = ["batch", "sequence"]
    model = helper.make_model(
        helper.make_graph(
            graph.b.nodes,
            f"bert_{head}",
            [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in INPUT_NAMES],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, [*dims, width])],
            graph.b.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="tandem.encoders.bert_graph",
    )
    model.ir_version = IR_VERSION
    return model


class _Builder:
    """Accumulates nodes and initializers with unique, readable names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._scalars: dict[tuple[str, float], str] = {}
        self._count = 0

    def tensor(self, name: str, value: NDArray[Any]) -> str:
        # not np.ascontiguousarray: it turns 0-d scalars into shape [1]
        array = value if value.flags.c_contiguous else value.copy(order="C")
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def scalar(self, value: float, dtype: type[np.generic] = np.float32) -> str:
        key = (np.dtype(dtype).name, value)
        if key not in self._scalars:
            name = f"const_{key[0]}_{len(self._scalars)}"
            self._scalars[key] = self.tensor(name, np.array(value, dtype=dtype))
        return self._scalars[key]

    def ints(self, name: str, values: list[int]) -> str:
        return self.tensor(name, np.array(values, dtype=np.int64))

    def rename(self, old: str, new: str) -> str:
        """Rename a node output that nothing consumes yet (used to name graph outputs)."""
        for node in self.nodes:
            for i, name in enumerate(node.output):
                if name == old:
                    node.output[i] = new
                    return new
        raise KeyError(old)

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs: Any) -> str:
        self._count += 1
        name = f"{op_type}_{self._count}"
        output = out or f"{name}_out"
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output


class _BertGraph:
    """Emits the BERT sub-graphs in the torch legacy exporter's shape."""

    def __init__(self, config: BertConfig, weights: Weights) -> None:
        self.config = config
        self.weights = weights
        self.b = _Builder()

    def weight(self, name: str) -> NDArray[Any]:
        try:
            return self.weights[name]
        except KeyError:
            raise KeyError(f"checkpoint has no tensor {name!r} (names are canonicalised)") from None

    def linear(self, x: str, prefix: str) -> str:
        """``x @ W.T + b``; W is stored pre-transposed so MatMul takes it as is."""
        matrix = self.weight(f"{prefix}.weight")
        product = self.b.op("MatMul", [x, self.b.tensor(f"{prefix}.weight_t", matrix.T)])
        return self.b.op(
            "Add", [product, self.b.tensor(f"{prefix}.bias", self.weight(f"{prefix}.bias"))]
        )

    def layer_norm(self, x: str, prefix: str) -> str:
        gamma = self.b.tensor(f"{prefix}.weight", self.weight(f"{prefix}.weight"))
        beta = self.b.tensor(f"{prefix}.bias", self.weight(f"{prefix}.bias"))
        eps = self.config.layer_norm_eps
        return self.b.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)

    def gelu(self, x: str) -> str:
        """Exact gelu as ``(x * 0.5) * (1 + erf(x / sqrt 2))``, the form FusionGelu matches."""
        erf = self.b.op("Erf", [self.b.op("Div", [x, self.b.scalar(math.sqrt(2.0))])])
        one_plus = self.b.op("Add", [erf, self.b.scalar(1.0)])
        half = self.b.op("Mul", [x, self.b.scalar(0.5)])
        return self.b.op("Mul", [half, one_plus])

    def embeddings(self) -> str:
        """word + token type + position embeddings, then LayerNorm (EmbedLayerNormalization)."""
        b, cfg = self.b, self.config
        words = b.op(
            "Gather",
            [
                b.tensor(
                    "embeddings.word_embeddings.weight",
                    self.weight("embeddings.word_embeddings.weight"),
                ),
                "input_ids",
            ],
        )
        types = b.op(
            "Gather",
            [
                b.tensor(
                    "embeddings.token_type_embeddings.weight",
                    self.weight("embeddings.token_type_embeddings.weight"),
                ),
                "token_type_ids",
            ],
        )
        # position ids = buffer[:, :seq_len], the Slice the optimizer expects for BERT
        index_one = b.tensor("const_index_1", np.array(1, dtype=np.int64))
        seq_len = b.op("Gather", [b.op("Shape", ["input_ids"]), index_one])
        ends = b.op("Unsqueeze", [seq_len, b.ints("const_axes_0", [0])])
        buffer = np.arange(cfg.max_position_embeddings, dtype=np.int64)[None, :]
        position_ids = b.op(
            "Slice",
            [
                b.tensor("embeddings.position_ids", buffer),
                b.ints("slice_starts", [0]),
                ends,
                b.ints("slice_axes", [1]),
                b.ints("slice_steps", [1]),
            ],
        )
        positions = b.op(
            "Gather",
            [
                b.tensor(
                    "embeddings.position_embeddings.weight",
                    self.weight("embeddings.position_embeddings.weight"),
                ),
                position_ids,
            ],
        )
        summed = b.op("Add", [b.op("Add", [words, types]), positions])
        return self.layer_norm(summed, "embeddings.LayerNorm")

    def encoder(self, hidden: str) -> str:
        b = self.b
        mask = b.op("Unsqueeze", ["attention_mask", b.ints("const_axes_1", [1])])
        mask = b.op("Unsqueeze", [mask, b.ints("const_axes_2", [2])])
        mask = b.op("Cast", [mask], to=TensorProto.FLOAT)
        mask = b.op("Sub", [b.scalar(1.0), mask])
        mask = b.op("Mul", [mask, b.scalar(MASK_FILL)])
        for index in range(self.config.num_hidden_layers):
            hidden = self.layer(hidden, mask, f"encoder.layer.{index}")
        return hidden

    def layer(self, hidden: str, mask: str, prefix: str) -> str:
        b, cfg = self.b, self.config
        heads = b.ints(f"{prefix}.heads_shape", [0, 0, cfg.num_attention_heads, cfg.head_size])

        def split(name: str, perm: list[int]) -> str:
            projected = self.linear(hidden, f"{prefix}.attention.self.{name}")
            return b.op("Transpose", [b.op("Reshape", [projected, heads])], perm=perm)

        query = split("query", [0, 2, 1, 3])
        key = split("key", [0, 2, 3, 1])
        value = split("value", [0, 2, 1, 3])
        scores = b.op("Div", [b.op("MatMul", [query, key]), b.scalar(math.sqrt(cfg.head_size))])
        probs = b.op("Softmax", [b.op("Add", [scores, mask])], axis=-1)
        context = b.op("Transpose", [b.op("MatMul", [probs, value])], perm=[0, 2, 1, 3])
        merged_shape = b.ints(f"{prefix}.merged_shape", [0, 0, cfg.hidden_size])
        context = b.op("Reshape", [context, merged_shape])
        attended = self.linear(context, f"{prefix}.attention.output.dense")
        hidden = self.layer_norm(
            b.op("Add", [attended, hidden]), f"{prefix}.attention.output.LayerNorm"
        )
        inner = self.gelu(self.linear(hidden, f"{prefix}.intermediate.dense"))
        outer = self.linear(inner, f"{prefix}.output.dense")
        return self.layer_norm(b.op("Add", [outer, hidden]), f"{prefix}.output.LayerNorm")

    def mlm_transform(self, hidden: str) -> str:
        """cls.predictions.transform: dense + gelu + LayerNorm."""
        transformed = self.gelu(self.linear(hidden, "cls.predictions.transform.dense"))
        return self.layer_norm(transformed, "cls.predictions.transform.LayerNorm")

    def mlm_head(self, hidden: str) -> str:
        """cls.predictions: the transform, then the decoder tied to word embeddings."""
        transformed = self.mlm_transform(hidden)
        decoder, bias = mlm_decoder(self.weights)
        product = self.b.op(
            "MatMul", [transformed, self.b.tensor("cls.predictions.decoder.weight_t", decoder.T)]
        )
        return self.b.op(
            "Add", [product, self.b.tensor("cls.predictions.decoder.bias", bias)], out="logits"
        )
