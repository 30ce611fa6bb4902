"""Dropout: a keep-mask drawn from onyx's default generator, applied with one ONNX Mul.

The mask is a constant of the recorded graph (scaled by ``1 / (1 - p)``), so gradients are
masked exactly like the values, and ``onyx.manual_seed`` makes a run repeat.
"""

from __future__ import annotations

import numpy as np

from onyx.frontend.nn.functional.activation import _maybe_inplace
from onyx.frontend.random import rng
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise OnyxError(f"dropout probability has to be between 0 and 1, but got {p}")


def _scaled_mask(shape, p: float, dtype) -> Tensor:
    keep = rng(None).random(tuple(shape)) >= p
    scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    return Tensor._wrap((keep * scale).astype(dtype))


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    mask = _scaled_mask(input.shape, p, input._data.dtype)
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
    mask = _scaled_mask(shape, p, input._data.dtype)
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
    keep = (rng(None).random(tuple(input.shape)) >= p).astype(np.float64)
    dt = input._data.dtype
    mul = Tensor._wrap((keep * a).astype(dt))
    add = Tensor._wrap(((keep - 1.0) * alpha * a + alpha * a * p).astype(dt))
    return _maybe_inplace(input, inplace, lambda x: x * mul + add)
