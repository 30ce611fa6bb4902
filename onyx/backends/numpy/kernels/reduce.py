"""Reduction kernels: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
ReduceLogSum, ReduceLogSumExp and ReduceSumSquare.

Every op has two forms: ``axes`` as an attribute (ReduceSum up to opset 12, the others up to 17)
and ``axes`` as an optional second input with ``noop_with_empty_axes`` (afterwards). Reducing an
empty set gives the op's identity: 0 for sums, 1 for products, -inf (or the type's minimum) for
max, +inf (or the type's maximum) for min, -inf for the log-sums.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError

ReduceFn = Callable[[np.ndarray, tuple, bool], np.ndarray]


def accumulation_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype sums are accumulated in: float32 for 16-bit and narrower floats."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize >= 4 or dtype.kind in "iub":
        return dtype
    try:
        if DType.from_numpy(dtype).is_float:
            return np.dtype(np.float32)
    except ValueError:
        pass
    return dtype


def normalize_axes(axes, rank: int, op: str) -> tuple[int, ...]:
    """``axes`` made non-negative and checked against ``rank`` (no duplicates, in range)."""
    out = []
    for a in np.asarray(axes, dtype=np.int64).reshape(-1).tolist():
        if not -rank <= a < rank:
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor of rank {rank}")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: axes {list(np.asarray(axes).reshape(-1))} repeat an axis "
                         f"(rank {rank})")
    return tuple(sorted(out))


def _as_ints(axes) -> list[int] | None:
    if axes is None:
        return None
    arr = np.asarray(axes)
    if arr.dtype.kind not in "iu":
        raise ShapeError(f"axes must be integers, got {arr.dtype}")
    return arr.reshape(-1).tolist()


def _reduce(op: str, fn: ReduceFn, x: np.ndarray, axes, keepdims: int,
            noop_with_empty_axes: int = 0) -> np.ndarray:
    x = np.asarray(x)
    axes = _as_ints(axes)
    if not axes:
        # noop_with_empty_axes reduces over no axes: each output element is the reduction of
        # the one-element set {x}, e.g. x**2 for ReduceSumSquare (the ops' function bodies).
        axes_t = () if noop_with_empty_axes else tuple(range(x.ndim))
    else:
        axes_t = normalize_axes(axes, x.ndim, op) if x.ndim else ()
    out = fn(x, axes_t, bool(keepdims))
    return np.asarray(out).astype(x.dtype, copy=False)


# ----------------------------------------------------------------------------- reductions
def _sum(x, axes, keepdims):
    return np.sum(x, axis=axes, keepdims=keepdims, dtype=accumulation_dtype(x.dtype))


def _mean(x, axes, keepdims):
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    if x.dtype.kind in "iu":
        total = np.sum(x, axis=axes, keepdims=keepdims, dtype=np.int64)
        # Integer division that truncates toward zero, as C integer arithmetic does.
        q = np.abs(total) // max(count, 1)
        return np.where(total < 0, -q, q)
    if x.dtype == np.bool_:
        raise ShapeError("ReduceMean does not take bool tensors")
    return _sum(x, axes, keepdims) / np.asarray(count, dtype=accumulation_dtype(x.dtype))


def _extreme_identity(dtype: np.dtype, largest: bool):
    """The value an empty max (``largest``) or min reduction gives."""
    if dtype == np.bool_:
        return not largest
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if largest else info.max
    return -np.inf if largest else np.inf


def _max(x, axes, keepdims):
    xw = x.astype(accumulation_dtype(x.dtype), copy=False)
    return np.max(xw, axis=axes, keepdims=keepdims, initial=_extreme_identity(x.dtype, True))


def _min(x, axes, keepdims):
    xw = x.astype(accumulation_dtype(x.dtype), copy=False)
    return np.min(xw, axis=axes, keepdims=keepdims, initial=_extreme_identity(x.dtype, False))


def _prod(x, axes, keepdims):
    return np.prod(x, axis=axes, keepdims=keepdims, dtype=accumulation_dtype(x.dtype))


def _l1(x, axes, keepdims):
    return _sum(np.abs(x), axes, keepdims)


def _sum_square(x, axes, keepdims):
    xw = x.astype(accumulation_dtype(x.dtype), copy=False)
    return np.sum(xw * xw, axis=axes, keepdims=keepdims)


def _float_of(x: np.ndarray) -> np.ndarray:
    """Float copy for the ops that take roots and logs (integers go through float64)."""
    if x.dtype.kind in "iub":
        return x.astype(np.float64)
    return x.astype(accumulation_dtype(x.dtype), copy=False)


def _l2(x, axes, keepdims):
    return np.sqrt(_sum_square(_float_of(x), axes, keepdims))


def _log_sum(x, axes, keepdims):
    return np.log(_sum(_float_of(x), axes, keepdims))


def _log_sum_exp(x, axes, keepdims):
    xf = _float_of(x)
    peak = np.max(xf, axis=axes, keepdims=True, initial=-np.inf)
    # Shift by the max so exp cannot overflow; an infinite or NaN max shifts by 0 instead so
    # all -inf rows give -inf and +inf/NaN propagate.
    peak = np.where(np.isfinite(peak), peak, 0).astype(xf.dtype)
    total = np.sum(np.exp(xf - peak), axis=axes, keepdims=True)
    out = np.log(total) + peak
    return out if keepdims else np.squeeze(out, axis=axes)


_OPS: dict[str, tuple[ReduceFn, int]] = {
    # op: (reduction, first opset where axes is an input)
    "ReduceSum": (_sum, 13),
    "ReduceMean": (_mean, 18),
    "ReduceMax": (_max, 18),
    "ReduceMin": (_min, 18),
    "ReduceProd": (_prod, 18),
    "ReduceL1": (_l1, 18),
    "ReduceL2": (_l2, 18),
    "ReduceLogSum": (_log_sum, 18),
    "ReduceLogSumExp": (_log_sum_exp, 18),
    "ReduceSumSquare": (_sum_square, 18),
}


def _register(op: str, fn: ReduceFn, input_since: int) -> None:
    def with_axes_attribute(data, *, axes=None, keepdims=1):
        return _reduce(op, fn, data, axes, keepdims)

    def with_axes_input(data, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        return _reduce(op, fn, data, axes, keepdims, noop_with_empty_axes)

    for f, form in ((with_axes_attribute, "attribute"), (with_axes_input, "input")):
        f.__name__ = f.__qualname__ = f"{op}_axes_{form}"
        f.__doc__ = f"{op} with ``axes`` as an {form}."
    kernel(op, since=1, until=input_since - 1)(with_axes_attribute)
    kernel(op, since=input_since)(with_axes_input)


for _op, (_fn, _since) in _OPS.items():
    _register(_op, _fn, _since)
