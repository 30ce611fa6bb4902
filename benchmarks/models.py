"""The benchmark models, built node by node with ``onnx.helper`` from a seed.

Building the graphs by hand (no exporter in between) keeps each model exactly what its
docstring says: the ops listed there and nothing else. Weights are drawn like PyTorch's default
initialisation (uniform in +-1/sqrt(fan_in)) from ``numpy.random.default_rng(seed)``, so the
same seed gives byte-identical models on every machine.

    >>> from benchmarks import models
    >>> case = models.build("mlp", seed=0)
    >>> [n.op_type for n in case.model.graph.node]
    ['Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm']
    >>> case.inputs["x"].shape
    (256, 784)

Weight layouts: Gemm weights are stored ``(out, in)`` with ``transB=1`` as torch.nn.Linear
keeps them; MatMul weights (transformer) are stored ``(in, out)``, the transpose of torch's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # first opset with LayerNormalization
IR_VERSION = 8  # the IR version that goes with opset 17, readable by older runtimes too
FLOAT = TensorProto.FLOAT


@dataclass(frozen=True)
class BenchCase:
    """A checked model plus the inputs it is benchmarked on."""

    name: str
    description: str
    model: onnx.ModelProto
    inputs: dict[str, np.ndarray]

    @property
    def sha256(self) -> str:
        """Digest of the serialized model: equal digests mean the very same model."""
        return hashlib.sha256(self.model.SerializeToString()).hexdigest()


class _GraphBuilder:
    """Collects nodes and initializers; names intermediates ``t0, t1, ...``."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def uniform(self, name: str, shape: tuple[int, ...], fan_in: int) -> str:
        bound = 1.0 / np.sqrt(fan_in)
        return self.const(name, self.rng.uniform(-bound, bound, shape).astype(np.float32))

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        if out is None:
            out, self._count = f"t{self._count}", self._count + 1
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def finish(self, name: str, inputs: list, outputs: list) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="onyx-benchmarks")
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def build_mlp(seed: int = 0, batch: int = 256) -> onnx.ModelProto:
    """MLP 784-512-512-10: Gemm, Relu, Gemm, Relu, Gemm on ``x: float32[batch, 784]``."""
    b = _GraphBuilder(np.random.default_rng(seed))
    h = "x"
    sizes = [784, 512, 512, 10]
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        w = b.uniform(f"fc{i + 1}.weight", (fan_out, fan_in), fan_in)
        bias = b.uniform(f"fc{i + 1}.bias", (fan_out,), fan_in)
        last = i == len(sizes) - 2
        h = b.op("Gemm", h, w, bias, transB=1, out="logits" if last else None)
        if not last:
            h = b.op("Relu", h)
    return b.finish("mlp", [helper.make_tensor_value_info("x", FLOAT, [batch, 784])],
                    [helper.make_tensor_value_info("logits", FLOAT, [batch, 10])])


def build_cnn(seed: int = 0, batch: int = 64) -> onnx.ModelProto:
    """Small CNN on ``x: float32[batch, 1, 28, 28]``.

    Conv 1->16 3x3 pad 1, Relu, MaxPool 2, Conv 16->32 3x3 pad 1, Relu, MaxPool 2, Flatten,
    Gemm 32*7*7 -> 10.
    """
    b = _GraphBuilder(np.random.default_rng(seed))
    h = "x"
    for i, (cin, cout) in enumerate([(1, 16), (16, 32)]):
        fan_in = cin * 3 * 3
        w = b.uniform(f"conv{i + 1}.weight", (cout, cin, 3, 3), fan_in)
        bias = b.uniform(f"conv{i + 1}.bias", (cout,), fan_in)
        h = b.op("Conv", h, w, bias, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        h = b.op("Relu", h)
        h = b.op("MaxPool", h, kernel_shape=[2, 2], strides=[2, 2])
    h = b.op("Flatten", h, axis=1)
    fan_in = 32 * 7 * 7
    w = b.uniform("fc.weight", (10, fan_in), fan_in)
    bias = b.uniform("fc.bias", (10,), fan_in)
    b.op("Gemm", h, w, bias, transB=1, out="logits")
    return b.finish("cnn", [helper.make_tensor_value_info("x", FLOAT, [batch, 1, 28, 28])],
                    [helper.make_tensor_value_info("logits", FLOAT, [batch, 10])])


def _linear(b: _GraphBuilder, x: str, name: str, fan_in: int, fan_out: int) -> str:
    """``x @ W + bias`` with W stored (in, out), i.e. torch's weight transposed."""
    w = b.uniform(f"{name}.weight_t", (fan_in, fan_out), fan_in)
    bias = b.uniform(f"{name}.bias", (fan_out,), fan_in)
    return b.op("Add", b.op("MatMul", x, w), bias)


def _layer_norm(b: _GraphBuilder, x: str, name: str, d: int, out: str | None = None) -> str:
    # Scale and shift drawn away from (1, 0) so that a test would notice them being ignored.
    gamma = b.const(f"{name}.weight", b.rng.uniform(0.5, 1.5, d).astype(np.float32))
    beta = b.const(f"{name}.bias", b.rng.uniform(-0.5, 0.5, d).astype(np.float32))
    return b.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=1e-5, out=out)


def _self_attention(b: _GraphBuilder, x: str, d: int, heads: int) -> str:
    """Multi-head self-attention on ``x: [B, S, d]``, heads split with Reshape/Transpose."""
    head_dim = d // heads
    split = b.const("attn.split_heads", np.array([0, 0, heads, head_dim], np.int64))
    merge = b.const("attn.merge_heads", np.array([0, 0, d], np.int64))
    # Scaling q ([B, S, d]) costs less than scaling the [B, H, S, S] scores; same result.
    scale = b.const("attn.scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
    q = b.op("Mul", _linear(b, x, "attn.q_proj", d, d), scale)
    k = _linear(b, x, "attn.k_proj", d, d)
    v = _linear(b, x, "attn.v_proj", d, d)
    q = b.op("Transpose", b.op("Reshape", q, split), perm=[0, 2, 1, 3])  # [B, H, S, Dh]
    k = b.op("Transpose", b.op("Reshape", k, split), perm=[0, 2, 3, 1])  # [B, H, Dh, S]
    v = b.op("Transpose", b.op("Reshape", v, split), perm=[0, 2, 1, 3])  # [B, H, S, Dh]
    probs = b.op("Softmax", b.op("MatMul", q, k), axis=-1)  # [B, H, S, S]
    heads_out = b.op("Transpose", b.op("MatMul", probs, v), perm=[0, 2, 1, 3])
    return _linear(b, b.op("Reshape", heads_out, merge), "attn.out_proj", d, d)


def build_transformer_layer(seed: int = 0, batch: int = 8, seq: int = 128, d_model: int = 256,
                            heads: int = 4, d_ff: int = 1024) -> onnx.ModelProto:
    """One post-norm transformer encoder layer on ``x: float32[batch, seq, d_model]``.

    The defaults of torch.nn.TransformerEncoderLayer (norm_first=False, ReLU, eps 1e-5):
    ``h = LayerNorm(x + SelfAttention(x)); y = LayerNorm(h + Linear(Relu(Linear(h))))``.
    """
    if d_model % heads:
        raise ValueError(f"d_model {d_model} is not a multiple of heads {heads}")
    b = _GraphBuilder(np.random.default_rng(seed))
    h = _layer_norm(b, b.op("Add", "x", _self_attention(b, "x", d_model, heads)), "norm1",
                    d_model)
    ff = _linear(b, b.op("Relu", _linear(b, h, "linear1", d_model, d_ff)), "linear2", d_ff,
                 d_model)
    _layer_norm(b, b.op("Add", h, ff), "norm2", d_model, out="y")
    shape = [batch, seq, d_model]
    return b.finish("transformer_encoder_layer",
                    [helper.make_tensor_value_info("x", FLOAT, shape)],
                    [helper.make_tensor_value_info("y", FLOAT, shape)])


_BUILDERS: dict[str, tuple[Callable[..., onnx.ModelProto], str]] = {
    "mlp": (build_mlp, "MLP 784-512-512-10 (Gemm+Relu), batch 256"),
    "cnn": (build_cnn, "CNN conv16-pool-conv32-pool-fc10 on 1x28x28, batch 64"),
    "transformer": (build_transformer_layer,
                    "transformer encoder layer d=256 h=4 ff=1024 post-norm, seq 128, batch 8"),
}
NAMES = tuple(_BUILDERS)


def make_inputs(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal float32 feeds for every graph input, shaped as the model declares."""
    rng = np.random.default_rng(seed + 1_000_003)  # a stream apart from the weights'
    feeds = {}
    for value in model.graph.input:
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        feeds[value.name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def build(name: str, seed: int = 0) -> BenchCase:
    """The named benchmark model (one of ``NAMES``) at its benchmark size, with its inputs."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose from {list(NAMES)}")
    builder, description = _BUILDERS[name]
    model = builder(seed=seed)
    return BenchCase(name, description, model, make_inputs(model, seed))


def initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The model's weights by name, as NumPy arrays."""
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
