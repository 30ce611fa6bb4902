"""Activation functions, each one ONNX op where ONNX has it (Relu, LeakyRelu, Elu, Gelu, Mish,
HardSwish, PRelu, Softplus, ...) and a short composition of ops otherwise (SiLU = x * Sigmoid).

    >>> import onyx.nn.functional as F
    >>> F.relu(onyx.tensor([-1.0, 2.0]))                  # doctest: +SKIP
    tensor([0., 2.])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import ints, scalar
from onyx.frontend.ops import activation as _softmax_ops
from onyx.frontend.ops.inplace import inplace as _write_inplace
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _maybe_inplace(input: Tensor, inplace: bool, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """``fn(input)``, written back into ``input`` when ``inplace`` (autograd sees the write)."""
    if inplace:
        return _write_inplace(input, fn)
    return fn(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, lambda x: apply("Relu", x))


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace,
                          lambda x: apply("LeakyRelu", x, alpha=float(negative_slope)))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, lambda x: apply("Elu", x, alpha=float(alpha)))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    # torch's constants in full (ONNX's defaults are them rounded to float32)
    return _maybe_inplace(input, inplace, lambda x: apply(
        "Selu", x, alpha=1.6732632423543772, gamma=1.0507009873554805))


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, lambda x: apply("Celu", x, alpha=float(alpha)))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise OnyxError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return apply("Gelu", input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, lambda x: x * apply("Sigmoid", x))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, lambda x: apply("Mish", x))


def sigmoid(input: Tensor) -> Tensor:
    return apply("Sigmoid", input)


def tanh(input: Tensor) -> Tensor:
    return apply("Tanh", input)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    if min_val > max_val:
        raise OnyxError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, inplace, lambda x: apply(
        "Clip", x, scalar(min_val, x), scalar(max_val, x)))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, lambda x: apply("HardSwish", x))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    # torch: relu6(x + 3) / 6, which is ONNX HardSigmoid with alpha 1/6 and beta 1/2
    return _maybe_inplace(input, inplace,
                          lambda x: apply("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.5))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``."""
    scaled = input if beta == 1 else input * scalar(beta, input)
    soft = apply("Softplus", scaled)
    if beta != 1:
        soft = soft / scalar(beta, input)
    linear = apply("Greater", scaled, scalar(threshold, input))
    return apply("Where", linear, input, soft)


def softsign(input: Tensor) -> Tensor:
    return apply("Softsign", input)


def logsigmoid(input: Tensor) -> Tensor:
    # -softplus(-x): no exp of a large positive number, so logits of 1e4 stay finite
    return apply("Neg", apply("Softplus", apply("Neg", input)))


def tanhshrink(input: Tensor) -> Tensor:
    return input - apply("Tanh", input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, lambda x: apply(
        "Where", apply("Greater", x, scalar(threshold, x)), x, scalar(value, x)))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return apply("Shrink", input, lambd=float(lambd), bias=0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    if lambd < 0:
        raise OnyxError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return apply("Shrink", input, lambd=float(lambd), bias=float(lambd))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    if input.ndim == 0 or input.shape[dim] % 2:
        raise OnyxError(f"Halving dimension must be even, but dimension {dim} is size "
                        f"{input.shape[dim] if input.ndim else 0}")
    a, b = input.chunk(2, dim)
    return a * apply("Sigmoid", b)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Leaky ReLU with a learned slope per channel (dim 1), or one slope for all."""
    slope = weight
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.numel() != channels:
            raise OnyxError(f"Mismatch of parameter numbers and input channel size. Found "
                            f"parameter numbers = {weight.numel()} and channel size = "
                            f"{channels}.")
        slope = apply("Reshape", weight, ints([channels] + [1] * (input.ndim - 2)))
    return apply("PRelu", input, slope)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    return _softmax_ops.softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    return _softmax_ops.log_softmax(input, dim, dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    return _softmax_ops.softmax(apply("Neg", input), dim, dtype)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """Softmax of ``(logits + Gumbel noise) / tau``; with ``hard``, one-hot values whose
    gradient is the soft sample's (straight-through)."""
    from onyx.frontend.random import rng
    noise = -np.log(rng(None).exponential(1.0, tuple(logits.shape)))
    y = _softmax_ops.softmax((logits + Tensor._wrap(noise.astype(logits._data.dtype))) / tau,
                             dim)
    if not hard:
        return y
    index = y.argmax(dim, keepdim=True)
    one_hot = Tensor._wrap(np.zeros(tuple(y.shape), y._data.dtype)).scatter(dim, index, 1.0)
    return one_hot - y.detach() + y


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Leaky ReLU with a random slope in [lower, upper) per element while training, and the
    mean slope otherwise."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from onyx.frontend.random import rng
    slopes = rng(None).uniform(lower, upper, tuple(input.shape)).astype(input._data.dtype)
    slope = Tensor._wrap(slopes)
    return _maybe_inplace(input, inplace, lambda x: apply(
        "Where", apply("Less", x, scalar(0.0, x)), x * slope, x))
