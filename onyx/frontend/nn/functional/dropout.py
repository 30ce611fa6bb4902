"""Dropout: a keep-mask drawn from onyx's default generator, applied with one ONNX Mul.

Eagerly the mask (scaled by ``1 / (1 - p)``) is a constant of the recorded op, so gradients
are masked exactly like the values, and ``onyx.manual_seed`` makes a run repeat. While
``onyx.compile`` traces, the same numbers are drawn for that call, but the draw is recorded
as a ``RandomUniformLike`` node and the mask as ops on it, so every compiled run draws a new
mask (from the runtime's generator: ``onyx.manual_seed`` does not replay compiled draws).
"""

from __future__ import annotations

import numpy as np

from onyx.frontend import dispatch
from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional.activation import _maybe_inplace
from onyx.frontend.random import rng
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise OnyxError(f"dropout probability has to be between 0 and 1, but got {p}")


def _uniform(input: Tensor, shape) -> Tensor:
    """Uniform [0, 1) float64 draws of ``shape`` (``input``'s shape, or 1 in some dims); a
    graph node when tracing."""
    tracer = dispatch._TRACER
    if tracer is None:
        return Tensor._wrap(rng(None).random(tuple(shape)))
    like = input
    ones = [d for d, n in enumerate(shape) if n == 1 and input.shape[d] != 1]
    if ones:  # a tensor of the mask's shape for RandomUniformLike to copy
        zeros = Tensor._wrap(np.zeros(len(ones), np.int64))
        like = apply("Slice", input, zeros, zeros + 1, Tensor._wrap(np.asarray(ones)))
    u = Tensor._wrap(rng(None).random(tuple(shape)))
    tracer.random_uniform(u, like)  # the draw becomes a graph op
    return u


def _keep(u: Tensor, p: float) -> Tensor:
    """The keep mask ``u >= p`` as float64 0/1."""
    if dispatch._TRACER is None:
        return Tensor._wrap((u._data >= p).astype(np.float64))
    keep = apply("GreaterOrEqual", u, Tensor._wrap(np.asarray(p, np.float64)))
    return apply("Cast", keep, to=11)


def _scaled_mask(input: Tensor, shape, p: float, dtype) -> Tensor:
    keep = _keep(_uniform(input, shape), p)
    scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    if dispatch._TRACER is None:
        return Tensor._wrap((keep._data * scale).astype(dtype))
    scaled = apply("Mul", keep, Tensor._wrap(np.asarray(scale, np.float64)))
    return apply("Cast", scaled, to=_onnx_type(dtype))


def _onnx_type(dtype) -> int:
    from onyx.ir.dtypes import DType
    return int(DType.from_numpy(np.dtype(dtype)))


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    mask = _scaled_mask(input, input.shape, p, input._data.dtype)
    return _maybe_inplace(input, inplace, lambda x: x * mask)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool, nd: int,
                     name: str) -> Tensor:
    """Zero whole channels: one draw per (batch, channel), broadcast over ``nd`` dims."""
    _check_p(p)
    if input.ndim not in (nd + 1, nd + 2):
        raise OnyxError(f"{name}: Expected {nd + 1}D or {nd + 2}D input, but received a "
                        f"{input.ndim}D input")
    if not training or p == 0.0:
        return input
    shape = list(input.shape[:input.ndim - nd]) + [1] * nd
    mask = _scaled_mask(input, shape, p, input._data.dtype)
    return _maybe_inplace(input, inplace, lambda x: x * mask)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    return _feature_dropout(input, p, training, inplace, 1, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    return _feature_dropout(input, p, training, inplace, 2, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    return _feature_dropout(input, p, training, inplace, 3, "dropout3d")


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """SELU-preserving dropout: dropped units take SELU's negative saturation value, and an
    affine map restores the mean and variance."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * Tensor._wrap(np.zeros((), input._data.dtype))
    alpha = 1.7580993408473766  # scale * alpha of SELU: dropped units sit at -alpha
    a = ((1 - p) * (1 + p * alpha ** 2)) ** -0.5
    keep = _keep(_uniform(input, input.shape), p)
    dt = input._data.dtype
    if dispatch._TRACER is None:
        keep = keep._data
        mul = Tensor._wrap((keep * a).astype(dt))
        add = Tensor._wrap(((keep - 1.0) * alpha * a + alpha * a * p).astype(dt))
    else:
        def f64(v):
            return Tensor._wrap(np.asarray(v, np.float64))
        mul = apply("Cast", apply("Mul", keep, f64(a)), to=_onnx_type(dt))
        add = apply("Add", apply("Mul", apply("Sub", keep, f64(1.0)), f64(alpha * a)),
                    f64(alpha * a * p))
        add = apply("Cast", add, to=_onnx_type(dt))
    return _maybe_inplace(input, inplace, lambda x: x * mul + add)
