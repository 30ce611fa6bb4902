"""Comparison, logical and bitwise kernels, Where, IsInf and IsNaN.

Comparisons and logical ops return bool tensors; bitwise ops keep the integer type. Before
opset 7, And/Or/Xor/Equal/Greater/Less broadcast by the legacy ``broadcast``/``axis`` rules.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from onyx.backends.numpy.kernels.elementwise import (
    broadcasting,
    like,
    register_binary,
    widened,
)
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError


def _compare(fn: Callable) -> Callable:
    """A comparison on exact values: narrow floats widen to float32 without rounding."""
    def apply(a, b):
        if a.dtype == object or b.dtype == object:  # strings (Equal, opset 19)
            return like(fn(a, b), np.bool_)
        return like(fn(widened(a), widened(b)), np.bool_)
    return apply


for _op, _fn, _since in (("Equal", np.equal, 1), ("Greater", np.greater, 1),
                         ("Less", np.less, 1)):
    register_binary(_op, _compare(_fn), since=_since)
for _op, _fn in (("GreaterOrEqual", np.greater_equal), ("LessOrEqual", np.less_equal)):
    register_binary(_op, _compare(_fn), since=12, legacy_until=None)


def _logical(fn: Callable) -> Callable:
    def apply(a, b):
        return like(fn(a, b), np.bool_)
    return apply


for _op, _fn in (("And", np.logical_and), ("Or", np.logical_or), ("Xor", np.logical_xor)):
    register_binary(_op, _logical(_fn), since=1)


@kernel("Not", since=1)
def logical_not(x):
    return like(np.logical_not(x), np.bool_)


# ------------------------------------------------------------------ bitwise
def _bitwise(fn: Callable) -> Callable:
    def apply(a, b):
        return like(fn(a, b), a.dtype)
    return apply


for _op, _fn in (("BitwiseAnd", np.bitwise_and), ("BitwiseOr", np.bitwise_or),
                 ("BitwiseXor", np.bitwise_xor)):
    register_binary(_op, _bitwise(_fn), since=18, legacy_until=None)


@kernel("BitwiseNot", since=18)
def bitwise_not(x):
    return like(np.invert(x), x.dtype)


@kernel("BitShift", since=11)
def bit_shift(x, y, *, direction: str):
    """Shifts by a negative count or by the width or more leave only the sign fill."""
    if direction not in ("LEFT", "RIGHT"):
        raise ShapeError(f"direction must be 'LEFT' or 'RIGHT', got {direction!r}")
    if x.dtype.kind not in "iu":
        raise ShapeError(f"needs integer tensors, got {x.dtype}")
    bits = 8 * x.dtype.itemsize
    valid = (y >= 0) & (y < bits)
    count = np.where(valid, y, 0).astype(x.dtype)
    shift = np.left_shift if direction == "LEFT" else np.right_shift
    shifted = broadcasting(shift, x, count)
    if direction == "LEFT":
        fill = np.zeros((), x.dtype)
    else:
        fill = np.where(x < 0, -1, 0).astype(x.dtype) if x.dtype.kind == "i" else \
            np.zeros((), x.dtype)
    return like(np.where(valid, shifted, fill), x.dtype)


# ------------------------------------------------------------------ selection and tests
@kernel("Where", since=9)
def where(condition, x, y):
    cond = condition.astype(np.bool_, copy=False)
    if x.dtype == y.dtype and x.dtype.kind in "fiu" and x.dtype.itemsize in (1, 2, 4, 8) \
            and cond.size >= _BITWISE_SELECT_MIN:
        return broadcasting(_bitwise_select, cond, x, y)
    return like(broadcasting(np.where, cond, x, y), x.dtype)


# Below this many elements np.where's own loop is as fast as the few extra calls.
_BITWISE_SELECT_MIN = 4096


def _bitwise_select(cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """np.where(cond, x, y) as (x & mask) | (y & ~mask) on the values' bit patterns.

    Exact for every value (NaN payloads, -0.0 and infinities are copied bit for bit), and
    free of the per-element branch that makes np.where several times slower on masks
    without long runs, such as the ReLU mask of a backward pass.
    """
    bits = np.dtype(f"u{x.dtype.itemsize}")
    mask = np.negative(cond, dtype=bits, casting="unsafe")  # True -> all ones
    chosen = np.bitwise_and(np.asarray(x).view(bits), mask)
    other = np.bitwise_and(np.invert(mask, out=mask), np.asarray(y).view(bits))
    full = np.broadcast_shapes(chosen.shape, other.shape)
    return np.bitwise_or(chosen, other, out=chosen if chosen.shape == full else None) \
        .view(x.dtype)


@kernel("IsInf", since=10)
def is_inf(x, *, detect_negative=1, detect_positive=1):
    w = widened(x)
    if detect_negative and detect_positive:
        return like(np.isinf(w), np.bool_)
    if detect_positive:
        return like(np.isposinf(w), np.bool_)
    if detect_negative:
        return like(np.isneginf(w), np.bool_)
    return np.zeros(x.shape, np.bool_)


@kernel("IsNaN", since=9)
def is_nan(x):
    return like(np.isnan(widened(x)), np.bool_)
