"""Softmax, LogSoftmax and Hardmax.

Up to opset 12 the input is coerced to 2-D at ``axis`` (``[prod(d[:axis]), prod(d[axis:])]``,
default axis 1) and the op runs over the whole second dimension; from opset 13 the op runs
along the single ``axis`` (default -1). 16-bit floats are computed in float32.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.reduce import accumulation_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError


def _axis(axis: int, rank: int, op: str) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{op}: axis {axis} is out of range for a tensor of rank {rank}")
    return axis % rank if rank else 0


def log_softmax_along(x: np.ndarray, axis: int) -> np.ndarray:
    """log(softmax(x)) along ``axis`` in x's (widened) float dtype, without overflow."""
    xw = x.astype(accumulation_dtype(x.dtype), copy=False)
    if xw.size == 0:
        return xw.copy()
    # Max before exp: softmax of 1e4 must stay finite.
    shifted = xw - np.max(xw, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_along(x: np.ndarray, axis: int) -> np.ndarray:
    wide = accumulation_dtype(x.dtype)
    if x.size == 0:
        return x.astype(wide, copy=True)
    if wide == x.dtype:
        return _softmax_inplace(x, axis)
    # 16-bit floats follow the op's function body (Exp, ReduceSum, Div): each step computed in
    # float32 and its result rounded to the input type, as the expanded graph would run.
    e = np.exp(x.astype(wide) - np.max(x, axis=axis, keepdims=True).astype(wide))
    e = e.astype(x.dtype).astype(wide)
    total = np.sum(e, axis=axis, keepdims=True).astype(x.dtype).astype(wide)
    return e / total


# |x| <= this: exp(x) is a normal float32 number far from overflow (e**60 ~ 1e26), and a
# sum of up to 1e12 of them stays finite, so the max need not be subtracted.
_EXP_SAFE = 60.0


def _softmax_inplace(x: np.ndarray, axis: int) -> np.ndarray:
    """exp(x - max) / sum in one buffer: every step after the first writes in place, so the
    op makes one temporary of x's size instead of three.

    Subtracting the row max only keeps exp from overflowing or underflowing; when every
    value is within +-_EXP_SAFE (two whole-tensor reductions, far cheaper than a per-row
    max and a subtraction) exp(x) / sum is the same quotient, equal up to float rounding.
    NaN and infinities fail the test and take the shifted form.
    """
    if x.size and x.max() <= _EXP_SAFE and x.min() >= -_EXP_SAFE:
        e = np.exp(x)
    else:
        e = np.subtract(x, np.max(x, axis=axis, keepdims=True))
        np.exp(e, out=e)
    if axis == e.ndim - 1 and e.shape[-1] > 1:
        # A row sum as a matrix-vector product: BLAS beats NumPy's strided reduction here.
        total = np.matmul(e, np.ones((e.shape[-1], 1), dtype=e.dtype))
    else:
        total = np.sum(e, axis=axis, keepdims=True)
    np.divide(e, total, out=e)
    return e


def hardmax_along(x: np.ndarray, axis: int) -> np.ndarray:
    """1 at the first maximum along ``axis``, 0 elsewhere."""
    out = np.zeros(x.shape, dtype=x.dtype)
    if x.size == 0:
        return out
    first = np.argmax(x.astype(accumulation_dtype(x.dtype), copy=False), axis=axis)
    np.put_along_axis(out, np.expand_dims(first, axis), np.ones((), x.dtype), axis=axis)
    return out


def _coerced(fn, x: np.ndarray, axis: int, op: str) -> np.ndarray:
    """Opset < 13: run ``fn`` on x viewed as 2-D ``[prod(d[:axis]), prod(d[axis:])]``."""
    x = np.asarray(x)
    a = _axis(axis, x.ndim, op) if x.ndim else 0
    rows = int(np.prod(x.shape[:a], dtype=np.int64))
    flat = x.reshape(rows, int(np.prod(x.shape[a:], dtype=np.int64)))
    return fn(flat, 1).reshape(x.shape).astype(x.dtype, copy=False)


def _per_axis(fn, x: np.ndarray, axis: int, op: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 0:
        raise ShapeError(f"{op} needs a tensor of rank >= 1, got a scalar")
    return fn(x, _axis(axis, x.ndim, op)).astype(x.dtype, copy=False)


@kernel("Softmax", since=1, until=12)
def softmax_2d(input, *, axis=1):
    return _coerced(softmax_along, input, axis, "Softmax")


@kernel("Softmax", since=13)
def softmax(input, *, axis=-1):
    return _per_axis(softmax_along, input, axis, "Softmax")


@kernel("LogSoftmax", since=1, until=12)
def log_softmax_2d(input, *, axis=1):
    return _coerced(log_softmax_along, input, axis, "LogSoftmax")


@kernel("LogSoftmax", since=13)
def log_softmax(input, *, axis=-1):
    return _per_axis(log_softmax_along, input, axis, "LogSoftmax")


@kernel("Hardmax", since=1, until=12)
def hardmax_2d(input, *, axis=1):
    return _coerced(hardmax_along, input, axis, "Hardmax")


@kernel("Hardmax", since=13)
def hardmax(input, *, axis=-1):
    return _per_axis(hardmax_along, input, axis, "Hardmax")
