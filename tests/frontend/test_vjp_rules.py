"""Every VJP rule, one or more single-node samples each: gradcheck and gradgradcheck in float64,
and values and gradients against PyTorch where it has the op."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper

from onyx import ir
from onyx.backends.numpy import Executor
from onyx.backends.numpy.registry import lookup
from onyx.frontend import dispatch
from onyx.frontend.autograd import grad, grad_graph, gradcheck, gradgradcheck, registered_rules
from onyx.frontend.autograd.vjp_rules.nondifferentiable import NOT_DIFFERENTIABLE
from onyx.frontend.tensor import Tensor


class Fixed:
    """An input that does not require grad (float parameters held constant, shapes, ...)."""

    def __init__(self, value):
        self.value = np.asarray(value)


@dataclass
class S:
    op: str
    inputs: list            # float arrays require grad; Fixed(...) / int arrays / None do not
    attrs: dict = field(default_factory=dict)
    outputs: int = 1
    torch: Callable | None = None    # the same computation on torch tensors
    tag: str = ""
    opset: int = 21
    gradgrad: bool = True
    torch_grads: tuple | None = None     # inputs whose gradients torch has (default: all)
    tolerance: dict = field(default_factory=lambda: dict(eps=1e-6, atol=1e-6, rtol=1e-4))

    @property
    def id(self) -> str:
        return f"{self.op}-{self.tag}" if self.tag else self.op


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def U(*shape, lo=-1.0, hi=1.0):
    return _rng("U", shape, lo, hi).uniform(lo, hi, shape)


def P(*shape):  # positive, away from 0
    return U(*shape, lo=0.5, hi=2.0)


def Away(*shape):  # both signs, away from kinks at 0
    u = U(*shape, lo=0.2, hi=1.0)
    return u * np.where(_rng("sign", shape).random(shape) < 0.5, -1, 1)


def I(*values, shape=None):  # noqa: E743
    a = np.asarray(values, dtype=np.int64)
    return a if shape is None else a.reshape(shape)


def Perm(*shape):  # distinct values, so max/min/sort have no ties
    n = int(np.prod(shape))
    return (_rng("perm", shape).permutation(n).reshape(shape) - n / 2) / n * 2 + 0.01


# ------------------------------------------------------------------------------- samples
_COARSE = dict(eps=1e-3, atol=1e-4, rtol=1e-3)  # for kernels that compute in float32
def _unary(op, tf, x=None, **kw):
    return S(op, [Away(2, 3) if x is None else x], torch=tf, **kw)


def _flip_cumsum(x, axis, exclusive, reverse):
    t = x.flip(axis) if reverse else x
    y = t.cumsum(axis)
    if exclusive:
        y = y - t
    return y.flip(axis) if reverse else y


SAMPLES: list[S] = [
    # elementwise arithmetic
    S("Add", [U(2, 3), U(3)], torch=torch.add),
    S("Sub", [U(2, 1, 3), U(4, 1)], torch=torch.sub),
    S("Mul", [U(2, 3), U(1, 3)], torch=torch.mul),
    S("Div", [U(2, 3), P(3)], torch=torch.div),
    S("Pow", [P(2, 3), U(3)], torch=torch.pow),
    S("Pow", [P(2, 3), I(2)], torch=lambda x, p: x ** p, tag="int-exponent"),
    S("Mod", [U(2, 3, lo=-3, hi=3), P(3)], {"fmod": 1}, torch=torch.fmod),
    S("Max", [Perm(2, 3), Perm(3) + 0.003, Perm(2, 1) - 0.002],
      torch=lambda *t: functools.reduce(torch.maximum, t)),
    S("Min", [Perm(2, 3), Perm(3) + 0.003], torch=lambda *t: functools.reduce(torch.minimum, t)),
    S("Sum", [U(2, 3), U(3), U(2, 1)], torch=lambda *t: functools.reduce(torch.add, t)),
    S("Mean", [U(2, 3), U(3)], torch=lambda a, b: (a + b) / 2),
    S("Neg", [U(2, 3)], torch=torch.neg),
    S("Identity", [U(2, 3)], torch=lambda x: x),
    S("Abs", [Away(2, 3)], torch=torch.abs),
    S("Cast", [U(2, 3)], {"to": 11}, torch=lambda x: x * 1),
    S("CastLike", [U(2, 3), Fixed(np.zeros(1))], torch=lambda x, t: x * 1),
    S("Where", [np.array([[True, False, True]]), U(2, 3), U(2, 1)],
      torch=lambda c, x, y: torch.where(c, x, y)),
    S("Clip", [Away(2, 3), np.array(-0.5), np.array(0.6)], torch=torch.clamp),
    S("Clip", [Away(2, 3), None, np.array(0.3)],
      torch=lambda x, lo, hi: torch.clamp(x, max=hi), tag="max-only"),
    S("Clip", [Away(2, 3)], torch=lambda x: x * 1, tag="no-bounds"),
    S("Clip", [Away(2, 3)], {"min": -0.4, "max": 0.5}, opset=6,
      torch=lambda x: torch.clamp(x, -0.4, 0.5), tag="attributes"),
    S("Sign", [Away(2, 3)], torch=torch.sign),
    S("Ceil", [U(2, 3) + 0.05], torch=torch.ceil),
    S("Floor", [U(2, 3) + 0.05], torch=torch.floor),
    S("Round", [U(2, 3) + 0.05], torch=torch.round),
    # math
    _unary("Exp", torch.exp), _unary("Log", torch.log, P(2, 3)), _unary("Sqrt", torch.sqrt, P(4)),
    _unary("Reciprocal", torch.reciprocal), _unary("Sin", torch.sin), _unary("Cos", torch.cos),
    _unary("Tan", torch.tan), _unary("Asin", torch.asin, U(5, lo=-0.9, hi=0.9)),
    _unary("Acos", torch.acos, U(5, lo=-0.9, hi=0.9)), _unary("Atan", torch.atan),
    _unary("Sinh", torch.sinh), _unary("Cosh", torch.cosh), _unary("Tanh", torch.tanh),
    _unary("Asinh", torch.asinh), _unary("Acosh", torch.acosh, P(5) + 1),
    _unary("Atanh", torch.atanh, U(5, lo=-0.9, hi=0.9)), _unary("Erf", torch.erf),
    # activations
    _unary("Sigmoid", torch.sigmoid), _unary("Relu", torch.relu),
    _unary("HardSigmoid", lambda x: torch.clamp(0.3 * x + 0.4, 0, 1), U(6, lo=-4, hi=3),
           attrs={"alpha": 0.3, "beta": 0.4}),
    _unary("HardSwish", F.hardswish, U(8, lo=-4, hi=4) + 0.01),
    _unary("LeakyRelu", lambda x: F.leaky_relu(x, 0.2), attrs={"alpha": 0.2}),
    S("PRelu", [Away(2, 3, 2), U(3, 1)], torch=lambda x, s: torch.where(x > 0, x, s * x)),
    _unary("ThresholdedRelu", lambda x: torch.where(x > 0.5, x, 0), attrs={"alpha": 0.5}),
    _unary("Elu", lambda x: F.elu(x, 0.7), attrs={"alpha": 0.7}),
    _unary("Selu", F.selu),
    _unary("Celu", lambda x: F.celu(x, 1.5), attrs={"alpha": 1.5}),
    _unary("Softplus", F.softplus), _unary("Softsign", F.softsign), _unary("Mish", F.mish),
    _unary("Gelu", F.gelu),
    _unary("Gelu", lambda x: F.gelu(x, approximate="tanh"), attrs={"approximate": "tanh"},
           tag="tanh"),
    _unary("Swish", lambda x: x * torch.sigmoid(1.5 * x), attrs={"alpha": 1.5}, opset=24),
    _unary("Shrink", lambda x: F.softshrink(x, 0.4), attrs={"lambd": 0.4, "bias": 0.4}),
    S("Softmax", [U(2, 3, 4)], {"axis": 1}, torch=lambda x: torch.softmax(x, 1)),
    S("LogSoftmax", [U(2, 3)], torch=lambda x: torch.log_softmax(x, -1)),
    S("Hardmax", [Perm(2, 3)], {"axis": 0}),
    # reductions
    S("ReduceSum", [U(2, 3, 2), I(1, -1)], {"keepdims": 0},
      torch=lambda x, a: x.sum((1, -1))),
    S("ReduceSum", [U(2, 3), I()], {"noop_with_empty_axes": 1}, torch=lambda x, a: x * 1,
      tag="noop"),
    S("ReduceSum", [U(2, 3)], torch=lambda x: x.sum().reshape(1, 1), tag="all"),
    S("ReduceMean", [U(2, 3, 2), I(-2)], torch=lambda x, a: x.mean(-2, keepdim=True)),
    S("ReduceSumSquare", [U(2, 3), I(0)], {"keepdims": 0}, torch=lambda x, a: (x * x).sum(0)),
    S("ReduceL1", [Away(2, 3), I(1)], torch=lambda x, a: x.abs().sum(1, keepdim=True)),
    S("ReduceL2", [U(2, 3), I(1)], {"keepdims": 0},
      torch=lambda x, a: torch.linalg.vector_norm(x, 2, 1)),
    S("ReduceLogSum", [P(2, 3), I(0)], torch=lambda x, a: x.sum(0, keepdim=True).log()),
    S("ReduceLogSumExp", [U(2, 3), I(1)], {"keepdims": 0},
      torch=lambda x, a: torch.logsumexp(x, 1)),
    S("ReduceMax", [Perm(2, 3, 2), I(0, 2)], {"keepdims": 0}, torch=lambda x, a: x.amax((0, 2))),
    S("ReduceMin", [Perm(2, 3)], torch=lambda x: x.amin((0, 1), keepdim=True)),
    S("ReduceProd", [Away(2, 3), I(1)], {"keepdims": 0}, torch=lambda x, a: x.prod(1)),
    S("ReduceProd", [np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5]]), I(1)],
      torch=lambda x, a: x.prod(1, keepdim=True), tag="zeros", gradgrad=False),
    S("CumSum", [U(2, 3), I(1)], torch=lambda x, a: x.cumsum(1)),
    S("CumSum", [U(2, 3), I(-1)], {"exclusive": 1, "reverse": 1},
      torch=lambda x, a: _flip_cumsum(x, 1, True, True), tag="exclusive-reverse"),
    S("TopK", [Perm(2, 5), I(3)], {"axis": 1}, outputs=2,
      torch=lambda x, k: torch.topk(x, 3, 1)[0]),
    S("TopK", [Perm(4, 2), I(2)], {"axis": 0, "largest": 0}, outputs=2,
      torch=lambda x, k: torch.topk(x, 2, 0, largest=False)[0], tag="smallest"),
]


def _gather_nd(x, idx, batch_dims=0):
    if batch_dims == 0:
        return x[tuple(idx.unbind(-1))]
    return torch.stack([_gather_nd(xb, ib) for xb, ib in zip(x, idx)])


def _d2s_dcr(x, bs):
    n, c, h, w = x.shape
    t = x.reshape(n, bs, bs, c // bs**2, h, w).permute(0, 3, 4, 1, 5, 2)
    return t.reshape(n, c // bs**2, h * bs, w * bs)


def _s2d(x, bs):
    n, c, h, w = x.shape
    t = x.reshape(n, c, h // bs, bs, w // bs, bs).permute(0, 3, 5, 1, 2, 4)
    return t.reshape(n, c * bs * bs, h // bs, w // bs)


SAMPLES += [
    # shape
    S("Reshape", [U(2, 3), I(3, -1)], torch=lambda x, s: x.reshape(3, 2)),
    S("Flatten", [U(2, 3, 2)], {"axis": 2}, torch=lambda x: x.reshape(6, 2)),
    S("Squeeze", [U(2, 1, 3), I(1)], torch=lambda x, a: x.squeeze(1)),
    S("Unsqueeze", [U(2, 3), I(0, -1)], torch=lambda x, a: x[None, ..., None]),
    S("Transpose", [U(2, 3, 4)], {"perm": [1, 2, 0]}, torch=lambda x: x.permute(1, 2, 0)),
    S("Transpose", [U(2, 3)], torch=lambda x: x.T, tag="default"),
    S("Expand", [U(3, 1), I(2, 3, 4)], torch=lambda x, s: x.expand(2, 3, 4)),
    S("Concat", [U(2, 3), U(2, 1), U(2, 2)], {"axis": -1}, torch=lambda *t: torch.cat(t, -1)),
    S("Split", [U(5, 2), I(2, 3)], outputs=2, torch=lambda x, s: torch.split(x, [2, 3])),
    S("Split", [U(2, 6), I(1, 1, 4)], {"axis": 1}, outputs=3,
      torch=lambda x, s: torch.split(x, [1, 1, 4], 1), tag="axis"),
    S("Tile", [U(2, 3), I(2, 1)], torch=lambda x, r: x.tile(2, 1)),
    S("DepthToSpace", [U(1, 8, 2, 1)], {"blocksize": 2}, torch=lambda x: _d2s_dcr(x, 2)),
    S("DepthToSpace", [U(1, 8, 2, 1)], {"blocksize": 2, "mode": "CRD"},
      torch=lambda x: F.pixel_shuffle(x, 2), tag="CRD"),
    S("SpaceToDepth", [U(1, 2, 4, 2)], {"blocksize": 2}, torch=lambda x: _s2d(x, 2)),
    S("Trilu", [U(3, 4), I(1)], torch=lambda x, k: x.triu(1)),
    S("Trilu", [U(3, 4)], {"upper": 0}, torch=lambda x: x.tril(), tag="lower"),
    S("CenterCropPad", [U(4, 3), I(2, 5)], torch=lambda x, s: F.pad(x[1:3], (1, 1))),
    # indexing
    S("Gather", [U(4, 3), I(2, -1, 2, shape=(3, 1))], {"axis": 0},
      torch=lambda x, i: x[i % 4]),
    S("Gather", [U(2, 4, 3), I(3, 0, -4, 1, shape=(2, 2))], {"axis": 1},
      torch=lambda x, i: x[:, i % 4], tag="axis1"),
    S("Gather", [U(3, 4), I(2, shape=())], {"axis": -1}, torch=lambda x, i: x[:, 2], tag="scalar"),
    S("GatherElements", [U(3, 2), I(0, 2, 2, -1, 1, 2, shape=(3, 2))], {"axis": 0},
      torch=lambda x, i: torch.gather(x, 0, i % 3)),
    S("GatherND", [U(3, 2, 2), I(0, 1, 2, 1, 0, 1, shape=(3, 2))],
      torch=lambda x, i: _gather_nd(x, i)),
    S("GatherND", [U(2, 3, 2), I(1, 0, 2, 2, shape=(2, 2, 1))], {"batch_dims": 1},
      torch=lambda x, i: _gather_nd(x, i, 1), tag="batch"),
    S("ScatterElements", [U(3, 3), I(1, 0, 2, 0, 2, 1, shape=(2, 3)), U(2, 3)],
      torch=lambda x, i, u: torch.scatter(x, 0, i, u)),
    S("ScatterElements", [U(3, 3), I(1, 1, 2, 0, shape=(2, 2)), U(2, 2)],
      {"axis": 1, "reduction": "add"},
      torch=lambda x, i, u: torch.scatter_add(x, 1, i, u), tag="add"),
    S("ScatterElements", [Away(3, 2), I(1, 1, 0, 1, shape=(2, 2)), Away(2, 2)],
      {"reduction": "mul"},
      torch=lambda x, i, u: torch.scatter_reduce(x, 0, i, u, "prod"), tag="mul"),
    S("ScatterElements", [Perm(3, 2), I(1, 1, 0, 1, shape=(2, 2)), Perm(2, 2) + 0.003],
      {"reduction": "max"},
      torch=lambda x, i, u: torch.scatter_reduce(x, 0, i, u, "amax"), tag="max"),
    S("ScatterND", [U(3, 2), I(2, 0, shape=(2, 1)), U(2, 2)],
      torch=lambda x, i, u: x.index_put((i[:, 0],), u)),
    S("ScatterND", [U(3, 2), I(2, 2, shape=(2, 1)), U(2, 2)], {"reduction": "add"},
      torch=lambda x, i, u: x.index_put((i[:, 0],), u, accumulate=True), tag="add"),
    S("ScatterND", [Perm(3, 2), I(1, 0, 1, 1, shape=(2, 2)), Perm(2) - 0.003],
      {"reduction": "min"}, tag="min"),
    S("Slice", [U(4, 5), I(1, -4), I(3, 100), I(0, 1)], torch=lambda x, *a: x[1:3, 1:]),
    S("Slice", [U(5, 3), I(-1), I(-6), I(0), I(-2)], torch=lambda x, *a: x.flip(0)[::2],
      tag="negative-step"),
    S("Pad", [U(2, 3), I(1, 0, 0, 2)], {"mode": "constant"},
      torch=lambda x, p: F.pad(x, (0, 2, 1, 0))),
    S("Pad", [U(2, 3), I(0, 1, 1, 0), np.array(0.5)],
      torch=lambda x, p, c: F.pad(x, (1, 0, 0, 1), value=float(c)), tag="value",
      torch_grads=(0,)),
    S("Pad", [U(1, 2, 4), I(2, 1), None, I(-1)], {"mode": "reflect"},
      torch=lambda x, p, c, a: F.pad(x, (2, 1), "reflect"), tag="reflect"),
    S("Pad", [U(1, 2, 3), I(0, 2, 1, 0), None, I(1, 2)], {"mode": "edge"},
      torch=lambda x, p, c, a: F.pad(x, (2, 0, 0, 1), "replicate"), tag="edge"),
    S("Pad", [U(1, 2, 3), I(0, 0, 2, 0, 0, 1)], {"mode": "wrap"},
      torch=lambda x, p: F.pad(x, (2, 1), "circular"), tag="wrap"),
    S("Pad", [U(2, 4), I(0, -1, 1, 0)], torch=lambda x, p: F.pad(x, (-1, 0, 0, 1)),
      tag="crop"),
    S("Slice", [U(3, 4)], {"starts": [1, 0], "ends": [3, -1]}, opset=9,
      torch=lambda x: x[1:3, :-1], tag="attributes"),
    S("Pad", [U(2, 3)], {"pads": [0, 1, 1, 0], "value": 0.5}, opset=10,
      torch=lambda x: F.pad(x, (1, 0, 0, 1), value=0.5), tag="attributes"),
    S("Compress", [U(3, 2), np.array([True, False, True])], {"axis": 0},
      torch=lambda x, c: x[c]),
    S("Compress", [U(2, 3), np.array([False, True, True, False, True])],
      torch=lambda x, c: x.reshape(-1)[:5][c], tag="flat"),
    S("ReverseSequence", [U(3, 2, 2), I(2, 3)], {"batch_axis": 1, "time_axis": 0}),
    S("OneHot", [I(1, 0, 2), I(3), U(2)], {"axis": 0},
      torch=lambda i, d, v: torch.where(F.one_hot(i, 3).T.bool(), v[1], v[0])),
    # linalg
    S("MatMul", [U(2, 3, 4), U(4, 2)], torch=torch.matmul),
    S("MatMul", [U(4), U(2, 4, 3)], torch=torch.matmul, tag="vector-left"),
    S("MatMul", [U(2, 3, 4), U(4)], torch=torch.matmul, tag="vector-right"),
    S("MatMul", [U(3), U(3)], torch=torch.matmul, tag="dot"),
    S("Gemm", [U(3, 2), U(4, 3), U(4)], {"alpha": 0.5, "beta": 2.0, "transA": 1, "transB": 1},
      torch=lambda a, b, c: 0.5 * a.T @ b.T + 2 * c),
    S("Gemm", [U(2, 3), U(3, 4)], torch=lambda a, b: a @ b, tag="no-c"),
    S("Einsum", [U(2, 3), U(3, 4)], {"equation": "ij,jk->ik"},
      torch=lambda a, b: torch.einsum("ij,jk->ik", a, b)),
    S("Einsum", [U(3, 3), U(2, 3)], {"equation": "ii,bi"},
      torch=lambda a, b: torch.einsum("ii,bi", a, b), tag="diagonal-implicit"),
    S("Einsum", [U(1, 2, 3), U(4, 3, 2)], {"equation": "...ij,...jk->...k"},
      torch=lambda a, b: torch.einsum("...ij,...jk->...k", a, b), tag="ellipsis"),
    S("Det", [U(2, 3, 3)], torch=torch.linalg.det),
    S("Det", [U(1, 1)], torch=torch.linalg.det, tag="1x1"),
]


def _layer_norm(x, s, b, axis=-1):
    return F.layer_norm(x, x.shape[axis:], s, b, 1e-5)


def _nll(reduction="mean", ignore_index=-100, weighted=False, softmax=False):
    def f(x, t, w=None):
        x = torch.log_softmax(x, 1) if softmax else x
        return F.nll_loss(x, t, w if weighted else None, ignore_index=ignore_index,
                          reduction=reduction)
    return f


SAMPLES += [
    # convolution
    S("Conv", [U(2, 2, 5, 4), U(3, 2, 2, 2), U(3)], {"pads": [1, 0, 1, 0], "strides": [2, 1]},
      torch=lambda x, w, b: F.conv2d(x, w, b, (2, 1), (1, 0))),
    S("Conv", [U(1, 4, 6), U(2, 2, 3)], {"group": 2, "dilations": [2], "pads": [2, 1]},
      torch=lambda x, w: F.conv1d(F.pad(x, (2, 1)), w, None, 1, 0, 2, 2), tag="group-dilation"),
    S("Conv", [U(1, 1, 5, 5), U(2, 1, 3, 2)], {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
      tag="same-lower"),
    S("ConvTranspose", [U(1, 2, 3, 3), U(2, 3, 2, 2), U(3)],
      {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
      torch=lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1)),
    S("ConvTranspose", [U(1, 4, 3), U(4, 1, 3)], {"group": 2, "dilations": [2]},
      torch=lambda x, w: F.conv_transpose1d(x, w, None, 1, 0, 0, 2, 2), tag="group-dilation"),
    S("ConvTranspose", [U(1, 1, 3), U(1, 2, 3)], {"strides": [2], "output_shape": [6]},
      tag="output-shape"),
    S("Col2Im", [U(1, 4, 6), I(3, 4), I(2, 2)], {"strides": [1, 1]},
      torch=lambda x, i, b: F.fold(x, (3, 4), (2, 2))),
    # pooling
    S("MaxPool", [Perm(1, 2, 4, 5)], {"kernel_shape": [2, 2], "strides": [2, 2],
                                      "pads": [0, 1, 0, 1]},
      torch=lambda x: F.max_pool2d(x, 2, 2, (0, 1))),
    S("MaxPool", [Perm(1, 1, 7)], {"kernel_shape": [3], "strides": [2], "dilations": [2],
                                   "ceil_mode": 1}, outputs=2,
      torch=lambda x: F.max_pool1d(x, 3, 2, 0, 2, True), tag="dilated-ceil"),
    S("AveragePool", [U(1, 2, 4, 5)], {"kernel_shape": [2, 3], "pads": [1, 1, 1, 1],
                                       "strides": [2, 2]},
      torch=lambda x: F.avg_pool2d(x, (2, 3), 2, 1, count_include_pad=False)),
    S("AveragePool", [U(1, 1, 6)], {"kernel_shape": [3], "pads": [1, 1], "strides": [2],
                                    "count_include_pad": 1, "ceil_mode": 1},
      torch=lambda x: F.avg_pool1d(x, 3, 2, 1, True, True), tag="include-pad-ceil"),
    S("AveragePool", [U(1, 1, 5, 5)], {"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER",
                                       "dilations": [2, 1]}, tag="same-dilated"),
    S("LpPool", [Away(1, 2, 4, 4)], {"kernel_shape": [2, 2], "strides": [2, 2]},
      torch=lambda x: F.lp_pool2d(x, 2, 2, 2)),
    S("LpPool", [Away(1, 1, 5)], {"kernel_shape": [2], "p": 3, "pads": [1, 0]}, tag="p3"),
    S("GlobalAveragePool", [U(2, 3, 2, 2)],
      torch=lambda x: F.adaptive_avg_pool2d(x, 1)),
    S("GlobalMaxPool", [Perm(2, 2, 3)], torch=lambda x: F.adaptive_max_pool1d(x, 1)),
    S("GlobalLpPool", [Away(1, 2, 3)], {"p": 2},
      torch=lambda x: torch.linalg.vector_norm(x, 2, -1, keepdim=True)),
    S("MaxUnpool", [U(1, 1, 2, 2), I(1, 2, 9, 15, shape=(1, 1, 2, 2))],
      {"kernel_shape": [2, 2], "strides": [2, 2]},
      torch=lambda x, i: F.max_unpool2d(x, i, 2, 2)),
    # normalization
    S("BatchNormalization", [U(3, 2, 2), P(2), U(2), Fixed(U(2)), Fixed(P(2))],
      {"epsilon": 1e-3},
      torch=lambda x, s, b, m, v: F.batch_norm(x, m, v, s, b, False, 0.0, 1e-3), tag="eval"),
    S("BatchNormalization", [U(3, 2, 2), P(2), U(2), U(2), P(2)], tag="eval-stats"),
    S("BatchNormalization", [U(3, 2, 2), P(2), U(2), Fixed(U(2)), Fixed(P(2))],
      {"training_mode": 1}, tag="train",
      torch=lambda x, s, b, m, v: F.batch_norm(x, None, None, s, b, True, 0.0, 1e-5)),
    S("BatchNormalization", [U(3, 2, 2), P(2), U(2), Fixed(U(2)), Fixed(P(2))],
      {"momentum": 0.8}, outputs=5, opset=9, tag="train-opset9"),
    S("BatchNormalization", [U(4, 2), P(2), U(2), U(2), P(2)], {"training_mode": 1,
                                                                "momentum": 0.7},
      outputs=3, tag="train-running"),
    S("InstanceNormalization", [U(2, 2, 3), P(2), U(2)],
      torch=lambda x, s, b: F.instance_norm(x, weight=s, bias=b)),
    # stash_type 11: statistics in float64 (the default float32 is too coarse for gradcheck)
    S("LayerNormalization", [U(2, 3, 2), P(3, 2), U(2)], {"axis": 1, "stash_type": 11},
      torch=lambda x, s, b: F.layer_norm(x, (3, 2), s, b.expand(3, 2))),
    S("LayerNormalization", [U(2, 4), P(4)], {"stash_type": 11}, outputs=3, tag="stats"),
    S("GroupNormalization", [U(2, 4, 3), P(4), U(4)], {"num_groups": 2, "stash_type": 11},
      torch=lambda x, s, b: F.group_norm(x, 2, s, b)),
    S("MeanVarianceNormalization", [U(2, 3, 2, 2)]),
    S("MeanVarianceNormalization", [U(3, 4)], {"axes": [1]}, tag="axes"),
    S("LpNormalization", [U(2, 3)], {"axis": 0},
      torch=lambda x: F.normalize(x, 2.0, 0)),
    S("LpNormalization", [Away(2, 3)], {"p": 1}, torch=lambda x: F.normalize(x, 1.0, -1),
      tag="p1"),
    S("LRN", [U(1, 5, 2)], {"size": 3, "alpha": 0.2, "beta": 0.6, "bias": 1.5},
      torch=lambda x: F.local_response_norm(x, 3, 0.2, 0.6, 1.5)),
    S("LRN", [U(1, 4, 1, 2)], {"size": 2, "alpha": 0.3}, tag="even"),
    S("Dropout", [U(2, 3)], torch=lambda x: x * 1),
    S("Dropout", [U(3, 4), Fixed(np.array(0.0)), np.array(True)], outputs=2,
      torch=lambda x, r, t: x * 1, tag="train-ratio0"),
    S("Dropout", [U(3, 4), Fixed(np.array(0.5)), np.array(True)], {"seed": 3}, outputs=2,
      tag="train-seed"),
    S("Dropout", [U(3, 4), Fixed(np.array(0.25)), np.array(True)], {"seed": 3},
      tag="train-no-mask"),
    # losses
    S("NegativeLogLikelihoodLoss", [U(3, 4), I(1, 0, 3)], torch=_nll()),
    S("NegativeLogLikelihoodLoss", [U(2, 3, 2), I(2, 0, 1, 1, shape=(2, 2)), P(3)],
      {"reduction": "sum", "ignore_index": 1}, torch=_nll("sum", 1, True), tag="sum-weight",
      torch_grads=(0,)),
    S("NegativeLogLikelihoodLoss", [U(3, 4), I(1, 3, 3), P(4)], {"ignore_index": 1},
      torch=_nll("mean", 1, True), tag="mean-weight", torch_grads=(0,)),
    S("NegativeLogLikelihoodLoss", [U(3, 4), I(1, -1, 3)], {"reduction": "none",
                                                           "ignore_index": -1},
      torch=_nll("none", -1), tag="none"),
    S("SoftmaxCrossEntropyLoss", [U(3, 4), I(1, 0, 3)], torch=_nll(softmax=True)),
    S("SoftmaxCrossEntropyLoss", [U(2, 3, 2), I(2, 0, 1, 1, shape=(2, 2)), P(3)],
      {"ignore_index": 0}, outputs=2, tag="weight-logprob"),
    # resampling and signal
    S("Resize", [U(1, 1, 3, 4), None, Fixed(np.array([1.0, 1.0, 2.0, 1.5], dtype=np.float32))],
      {"mode": "linear"},
      torch=lambda x, r, s: F.interpolate(x, (6, 6), mode="bilinear", align_corners=False)),
    S("Resize", [U(1, 1, 4, 4), None, None, I(1, 1, 3, 2)],
      {"mode": "cubic", "coordinate_transformation_mode": "align_corners"}, tag="cubic-sizes"),
    S("Resize", [U(2, 5), None, Fixed(np.array([0.6], dtype=np.float32))],
      {"mode": "linear", "antialias": 1, "axes": [1]}, tag="antialias-axes"),
    S("Resize", [U(1, 3, 4), Fixed(np.array([0.2, 0.8], dtype=np.float32)), None, I(5)],
      {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
       "extrapolation_value": 3.0, "axes": [2]}, tag="crop"),
    S("Resize", [U(1, 1, 2, 3), None, Fixed(np.array([1.0, 1.0, 2.0, 3.0], dtype=np.float32))],
      torch=lambda x, r, s: F.interpolate(x, scale_factor=(2, 3), mode="nearest-exact"),
      tag="nearest"),
    S("Upsample", [U(1, 1, 2, 3), Fixed(np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32))],
      torch=lambda x, s: F.interpolate(x, scale_factor=2, mode="nearest")),
    S("AffineGrid", [U(2, 2, 3), I(2, 1, 3, 4)],
      torch=lambda t, s: F.affine_grid(t, (2, 1, 3, 4), align_corners=False)),
    S("AffineGrid", [U(1, 3, 4), I(1, 1, 2, 3, 2)], {"align_corners": 1},
      torch=lambda t, s: F.affine_grid(t, (1, 1, 2, 3, 2), align_corners=True), tag="3d"),
    S("DFT", [U(2, 5, 2)], torch=lambda x: torch.view_as_real(
        torch.fft.fft(torch.view_as_complex(x), dim=-1))),
    S("DFT", [U(2, 4, 1), I(6), I(1)], {"onesided": 1}, tag="real-onesided-length",
      torch=lambda x, n, a: torch.view_as_real(torch.fft.rfft(x[..., 0], 6, dim=1))),
    S("DFT", [U(3, 2, 2), I(2), I(0)], {"inverse": 1}, tag="inverse-truncated",
      torch=lambda x, n, a: torch.view_as_real(torch.fft.ifft(
          torch.view_as_complex(x.contiguous()), 2, dim=0))),
    S("DFT", [U(2, 3, 2), I(5), I(1)], {"inverse": 1, "onesided": 1}, tag="irfft",
      torch=lambda x, n, a: torch.fft.irfft(torch.view_as_complex(x.contiguous()), 5,
                                            dim=1)[..., None]),
    # recurrent (T=3, batch 2, input 2, hidden 2)
    S("RNN", [U(3, 2, 2), U(1, 2, 2), U(1, 2, 2), U(1, 4), None, U(1, 2, 2)],
      {"hidden_size": 2}, outputs=2),
    S("RNN", [U(2, 3, 2), U(2, 2, 2), U(2, 2, 2), None, np.array([3, 1], dtype=np.int32)],
      {"direction": "bidirectional", "layout": 1, "activations": ["Relu", "Affine"],
       "activation_alpha": [0.5], "activation_beta": [0.2]}, outputs=2,
      tag="bidirectional-lens-layout"),
    S("RNN", [U(3, 2, 2), U(1, 2, 2), U(1, 2, 2)], {"direction": "reverse"}, tag="reverse"),
    S("GRU", [U(3, 2, 2), U(1, 6, 2), U(1, 6, 2), U(1, 12), None, U(1, 2, 2)], outputs=2),
    S("GRU", [U(3, 2, 2), U(1, 6, 2), U(1, 6, 2), U(1, 12), np.array([2, 3], dtype=np.int32)],
      {"direction": "reverse", "linear_before_reset": 1, "clip": 0.8}, outputs=2,
      tag="reverse-lens-clip", gradgrad=False),
    S("LSTM", [U(3, 2, 2), U(1, 8, 2), U(1, 8, 2), U(1, 16), None, U(1, 2, 2), U(1, 2, 2),
               U(1, 6)], outputs=3),
    S("LSTM", [U(3, 2, 1), U(2, 8, 1), U(2, 8, 2), None, np.array([1, 3], dtype=np.int32)],
      {"direction": "bidirectional", "input_forget": 1,
       "activations": ["HardSigmoid", "Softsign", "ScaledTanh"] * 2,
       "activation_alpha": [0.3, 1.5, 0.25, 1.2], "activation_beta": [0.4, 0.7, 0.5, 0.9]},
      outputs=3, tag="bidirectional-lens-activations", gradgrad=False),
    S("STFT", [U(2, 9, 1), I(2), U(4)], torch=lambda x, s, w: torch.view_as_real(torch.stft(
        x[..., 0], 4, 2, window=w, center=False, return_complex=True)).transpose(1, 2)),
    S("STFT", [U(1, 6, 2), I(3), None, I(3)], {"onesided": 0}, tag="complex-no-window"),
    # quantization (the kernel computes in float32) and the odd ones out
    S("DequantizeLinear", [np.array([[-3, 5, 7], [2, 0, -8]], np.int8), P(3),
                           np.array([1, -2, 0], np.int8)],
      torch=lambda x, s, z: (x.double() - z.double()) * s, tolerance=_COARSE),
    S("DequantizeLinear", [np.array([4, -1, 9], np.int8), np.array(0.25)],
      torch=lambda x, s: x.double() * s, tag="per-tensor", tolerance=_COARSE),
    S("DequantizeLinear", [np.arange(10, dtype=np.uint8).reshape(2, 5), P(2, 2)],
      {"axis": 1, "block_size": 3}, tag="blocked", tolerance=_COARSE),
    S("Unique", [np.array([0.3, -1.2, 0.7, 2.5, -0.4])], {"sorted": 1}, outputs=4),
    S("Unique", [np.array([[0.5, 1.5], [-2.0, 0.25], [0.75, -1.0]])], {"axis": 0, "sorted": 1},
      outputs=2, tag="axis"),
    S("CausalConvWithState", [U(2, 3, 4), U(3, 1, 2), U(3), U(2, 3, 1)],
      {"activation": "silu"}, outputs=2, opset=27),
    S("CausalConvWithState", [U(1, 2, 3), U(2, 1, 3)], outputs=2, opset=27, tag="no-state"),
    # opsets 23 and later, and the odd ones out
    S("Range", [np.array(0.5), Fixed(np.array(3.0)), np.array(0.75)],
      torch=lambda a, lim, d: a + d * torch.arange(4.0, dtype=torch.float64)),
    S("Scatter", [U(3, 3), I(1, 0, 2, 0, 2, 1, shape=(2, 3)), U(2, 3)],
      torch=lambda x, i, u: torch.scatter(x, 0, i, u)),
    S("CumProd", [Away(2, 4), I(1)], opset=26, torch=lambda x, a: x.cumprod(1)),
    S("CumProd", [np.array([[1.5, 0.0, 2.0, 0.0, 3.0], [0.5, 2.0, 0.0, 1.5, 1.2]]), I(1)],
      opset=26, torch=lambda x, a: x.cumprod(1), tag="zeros", gradgrad=False),
    S("CumProd", [Away(3, 2), I(0)], {"exclusive": 1, "reverse": 1}, opset=26, tag="excl-rev"),
    S("RMSNormalization", [U(2, 3, 2), P(3, 2)], {"axis": 1, "stash_type": 11}, opset=23,
      torch=lambda x, s: F.rms_norm(x, (3, 2), s, 1e-5)),
    # the RotaryEmbedding kernel rotates in float32 even for float64 input: coarser steps
    S("RotaryEmbedding", [U(1, 2, 3, 4), Fixed(U(1, 3, 2)), Fixed(P(1, 3, 2))], opset=23,
      tolerance=_COARSE),
    S("RotaryEmbedding", [U(2, 3, 4), Fixed(U(5, 1)), Fixed(P(5, 1)), I(0, 4, 2, 1, 3, 0,
                                                                        shape=(2, 3))],
      {"num_heads": 2, "interleaved": 1}, opset=23, tag="ids-interleaved", tolerance=_COARSE),
    S("Attention", [U(1, 2, 3, 2), U(1, 2, 3, 2), U(1, 2, 3, 2)], {"is_causal": 1}, opset=23,
      torch=lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
    S("Attention", [U(2, 4, 2, 2), U(2, 2, 3, 2), U(2, 2, 3, 3), U(2, 3)],
      {"softcap": 0.7, "qk_matmul_output_mode": 1, "scale": 0.4}, outputs=4, opset=23,
      tag="gqa-softcap-float-mask"),
    S("Attention", [U(1, 2, 4), U(1, 1, 4), U(1, 1, 2), np.array([[True, False, True]]),
                    U(1, 2, 2, 2), U(1, 2, 2, 1)],
      {"q_num_heads": 2, "kv_num_heads": 2, "is_causal": 1, "qk_matmul_output_mode": 3},
      outputs=4, opset=23, tag="3d-past-bool-mask"),
    S("Attention", [U(2, 2, 2, 2), U(2, 2, 4, 2), U(2, 2, 4, 2), None, None, None, I(3, 4)],
      {"is_causal": 1, "left_window_size": 1, "qk_matmul_output_mode": 1}, outputs=4,
      opset=24, tag="nonpad-window"),
    S("SwiGLU", [U(2, 3), U(2, 3)], {"alpha": 1.2}, opset=28,
      torch=lambda a, v: a * torch.sigmoid(1.2 * a) * v),
    S("TensorScatter", [U(2, 5, 2), U(2, 2, 2), I(1, 4, shape=(2,))],
      {"axis": 1, "mode": "circular"}, opset=24),
    S("TensorScatter", [U(1, 2, 4, 2), U(1, 2, 3, 2)], opset=24, tag="prefill"),
    # constant outputs: no gradient passes
    S("EyeLike", [U(3, 3)], {"k": 1}),
    S("RandomNormalLike", [U(2, 3)], {"seed": 1.0}),
    S("RandomUniformLike", [U(2, 3)], {"seed": 1.0}),
    S("Bernoulli", [U(2, 3, lo=0.0)], {"seed": 1.0}),
]


# ---------------------------------------------------------------------------------- harness
def _inputs(sample: S) -> list:
    out = []
    for v in sample.inputs:
        if v is None:
            out.append(None)
        elif isinstance(v, Fixed):
            out.append(Tensor._wrap(v.value.copy()))
        else:
            v = np.asarray(v)
            out.append(Tensor._wrap(v.copy(), requires_grad=v.dtype.kind == "f"))
    return out


def _func(sample: S) -> Callable:
    def run(*tensors):
        return dispatch.apply(sample.op, *tensors, num_outputs=sample.outputs, **sample.attrs)
    return run


def _old_form_kernels(sample: S) -> Callable:
    """dispatch._kernel that runs the sample's own call (exactly its attributes) with the
    kernel of its opset, and everything else, the rules' ops included, at opset 21."""
    old, plain = lookup(sample.op, "", sample.opset), dispatch._kernel

    def kernel_for(op_type, domain):
        if (op_type, domain) != (sample.op, ""):
            return plain(op_type, domain)
        new = lookup(op_type, domain, dispatch.OPSET)

        def run(ctx, *arrays, **attrs):
            entry = old if attrs == sample.attrs else new
            return entry.fn(ctx, *arrays, **attrs) if entry.wants_ctx else \
                entry.fn(*arrays, **attrs)
        return run, True
    return kernel_for


@pytest.fixture
def opset(monkeypatch):
    """Run a sample's op at the sample's opset. A newer op moves the whole default domain
    there; an older form (attributes that later became inputs) is run for that op alone, as
    the rules' own ops are opset-21 forms."""
    def use(sample: S):
        if sample.opset > dispatch.OPSET:
            monkeypatch.setitem(dispatch.DOMAIN_OPSETS, "", sample.opset)
            monkeypatch.setattr(dispatch, "_kernels", {})
        elif sample.opset < dispatch.OPSET:
            monkeypatch.setattr(dispatch, "_kernel", _old_form_kernels(sample))
    return use


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_gradcheck(sample, opset):
    opset(sample)
    inputs = _inputs(sample)
    if sample.op in NOT_DIFFERENTIABLE:
        return
    assert gradcheck(_func(sample), inputs, **sample.tolerance)
    if sample.gradgrad:
        assert gradgradcheck(_func(sample), inputs, **sample.tolerance)


def _float_outputs(out) -> list:
    outs = out if isinstance(out, tuple | list) else (out,)
    return [o for o in outs if o is not None and (o.dtype.is_floating_point)]


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.torch is not None],
                         ids=lambda s: s.id)
def test_matches_torch(sample, opset):
    opset(sample)
    inputs = _inputs(sample)
    t_inputs = [None if t is None else torch.tensor(
        t.detach().numpy(), requires_grad=t.requires_grad and (
            sample.torch_grads is None or i in sample.torch_grads))
        for i, t in enumerate(inputs)]
    outs = _float_outputs(_func(sample)(*inputs))
    t_outs = _float_outputs(sample.torch(*t_inputs))
    assert len(outs) == len(t_outs), "torch reference returns a different number of outputs"
    rng = np.random.default_rng(7)
    cots = [rng.standard_normal(tuple(o.shape)) for o in outs]
    for o, t in zip(outs, t_outs):
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), atol=1e-6, rtol=1e-3)
    wrt = [i for i, t in enumerate(inputs) if t is not None and t.requires_grad
           and (sample.torch_grads is None or i in sample.torch_grads)]
    grads = grad([o for o in outs if o.requires_grad],
                 [inputs[i] for i in wrt],
                 [Tensor._wrap(c) for c, o in zip(cots, outs) if o.requires_grad],
                 allow_unused=True)
    t_used = [t for t in t_outs if t.requires_grad]
    t_grads = torch.autograd.grad(t_used, [t_inputs[i] for i in wrt],
                                  [torch.tensor(c) for c, t in zip(cots, t_outs)
                                   if t.requires_grad], allow_unused=True)
    for i, g, tg in zip(wrt, grads, t_grads):
        a = np.zeros(inputs[i].shape) if g is None else g.detach().numpy()
        b = np.zeros(inputs[i].shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3, err_msg=f"input {i}")


def test_every_rule_has_a_sample():
    covered = {s.op for s in SAMPLES}
    missing = sorted(op for (domain, op) in registered_rules() if op not in covered)
    assert not missing, f"VJP rules without a sample in SAMPLES: {missing}"


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.op in NOT_DIFFERENTIABLE],
                         ids=lambda s: s.id)
def test_constant_output_rules_pass_no_gradient(sample):
    inputs = _inputs(sample)
    out = dispatch.apply("ReduceSum", _func(sample)(*inputs))
    wrt = [t for t in inputs if t is not None and t.requires_grad]
    assert all(g is None for g in grad(out, wrt, allow_unused=True))


# ------------------------------------------------------------------------- graph builder
def _graph_model(sample: S, inputs: list, outs: list, cots: list) -> onnx.ModelProto:
    """The sample's node in a graph whose output is sum(out_k * cot_k)."""
    graph_inputs, inits, names = [], [], []
    for i, t in enumerate(inputs):
        if t is None:
            names.append("")
            continue
        names.append(f"in{i}")
        arr = t.detach().numpy()
        if t.requires_grad:
            graph_inputs.append(helper.make_tensor_value_info(
                f"in{i}", helper.np_dtype_to_tensor_dtype(arr.dtype), arr.shape))
        else:
            inits.append(numpy_helper.from_array(arr, f"in{i}"))
    while names and names[-1] == "":
        names.pop()
    out_names = [f"out{k}" for k in range(sample.outputs)]
    nodes = [helper.make_node(sample.op, names, out_names, **sample.attrs)]
    terms = []
    for k, c in enumerate(cots):
        if c is None:
            continue
        inits.append(numpy_helper.from_array(c, f"cot{k}"))
        nodes += [helper.make_node("Mul", [f"out{k}", f"cot{k}"], [f"prod{k}"]),
                  helper.make_node("ReduceSum", [f"prod{k}"], [f"term{k}"], keepdims=0)]
        terms.append(f"term{k}")
    nodes.append(helper.make_node("Sum", terms, ["loss"]))
    graph = helper.make_graph(nodes, "g", graph_inputs,
                              [helper.make_tensor_value_info("loss", 11, [])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", sample.opset)])


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.op not in NOT_DIFFERENTIABLE
                                    and s.opset >= dispatch.OPSET], ids=lambda s: s.id)
def test_graph_builder_matches_eager(sample, opset):
    """The same rule run by grad_graph (emitting ir.Nodes) gives the eager gradients. (Rules
    emit opset-21 forms, so older-opset samples are left to the eager tests.)"""
    opset(sample)
    inputs = _inputs(sample)
    out = _func(sample)(*inputs)
    outs = list(out) if isinstance(out, tuple) else [out]
    rng = np.random.default_rng(3)
    cots = [rng.standard_normal(tuple(o.shape)) if o.requires_grad else None for o in outs]
    wrt = [i for i, t in enumerate(inputs) if t is not None and t.requires_grad]
    want = grad([o for o, c in zip(outs, cots) if c is not None], [inputs[i] for i in wrt],
                [Tensor._wrap(c) for c in cots if c is not None], allow_unused=True)
    model = ir.load(_graph_model(sample, inputs, outs, cots).SerializeToString())
    gmodel = grad_graph(model, wrt=[f"in{i}" for i in wrt], of="loss")
    got = Executor(gmodel).run({f"in{i}": inputs[i].detach().numpy() for i in wrt})
    for i, g, w in zip(wrt, got[1:], want):
        expected = np.zeros(inputs[i].shape) if w is None else w.detach().numpy()
        np.testing.assert_allclose(g, expected, atol=1e-8, rtol=1e-6, err_msg=f"input {i}")
