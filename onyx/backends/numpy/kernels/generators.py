"""Kernels that make tensors from attributes or small inputs: Constant, ConstantOfShape, Range,
EyeLike, OneHot, Trilu.

Every size that comes from an input *value* (a shape tensor, a range bound, a depth) is checked
with ``check_elements`` before anything is allocated: a model must not be able to ask for
terabytes with one int64.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.shape_ops import bits_of, int_list, int_scalar, wide_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.limits import check_elements

# ------------------------------------------------------------------ Constant
_CONSTANT_ATTRS = ("value", "sparse_value", "value_float", "value_floats", "value_int",
                   "value_ints", "value_string", "value_strings")


@kernel("Constant")
def constant(**attrs):
    given = {k: v for k, v in attrs.items() if v is not None}
    if len(given) != 1 or next(iter(given)) not in _CONSTANT_ATTRS:
        raise ShapeError(f"needs exactly one of {', '.join(_CONSTANT_ATTRS)}; got "
                         f"{sorted(given) or 'none'}")
    name, v = next(iter(given.items()))
    if name in ("value", "sparse_value"):
        return np.asarray(v)
    if name in ("value_float", "value_floats"):
        return np.asarray(v, dtype=np.float32)
    if name in ("value_int", "value_ints"):
        return np.asarray(v, dtype=np.int64)
    if name == "value_string":
        return np.asarray(v, dtype=object)
    out = np.empty(len(v), dtype=object)  # a list of str would become a 2-D char array
    out[:] = v
    return out


@kernel("ConstantOfShape", since=9)
def constant_of_shape(shape, *, value=None):
    dims = int_list(shape, "shape")
    if value is None:
        value = np.zeros(1, dtype=np.float32)
    value = np.asarray(value)
    if value.size != 1:
        raise ShapeError(f"value must hold one element, got shape "
                         f"{list(value.shape)}")
    check_elements(dims, bits_of(value.dtype), "output")
    return np.full(dims, value.reshape(-1)[0], dtype=value.dtype)


# ------------------------------------------------------------------ Range
def _range_count(start, limit, delta) -> int:
    """max(ceil((limit - start) / delta), 0), exact for ints, in the working dtype for floats."""
    if delta == 0:
        raise ShapeError("delta is 0")
    if isinstance(start, int):
        return max(-((start - limit) // delta), 0)
    count = np.ceil((limit - start) / delta)
    if not np.isfinite(count):
        raise ShapeError(f"start {start}, limit {limit}, delta {delta} give no finite "
                         f"element count")
    return max(int(count), 0)


@kernel("Range", since=11)
def range_(start, limit, delta, *, stash_type=1):
    dtype = np.asarray(start).dtype
    if any(np.asarray(t).size != 1 for t in (start, limit, delta)):
        raise ShapeError("start, limit and delta must be scalars, got shapes "
                         f"{[list(np.shape(t)) for t in (start, limit, delta)]}")
    if dtype.kind in "iu":
        s, lim, d = (int(np.asarray(t).reshape(())) for t in (start, limit, delta))
        n = _range_count(s, lim, d)
        check_elements([n], bits_of(dtype), "output")
        return (s + np.arange(n, dtype=np.int64) * d).astype(dtype)
    # float16/bfloat16 with stash_type=1 compute in float32, as the opset-27 spec asks.
    work = wide_dtype(dtype) if stash_type == 1 else dtype
    s, lim, d = (np.asarray(t).astype(work).reshape(()) for t in (start, limit, delta))
    n = _range_count(s, lim, d)
    check_elements([n], bits_of(dtype), "output")
    return (s + np.arange(n).astype(work) * d).astype(dtype)


# ------------------------------------------------------------------ EyeLike, Trilu
@kernel("EyeLike", since=9)
def eye_like(x, *, dtype=None, k=0):
    if x.ndim != 2:
        raise ShapeError(f"expects a 2-D input, got shape {list(x.shape)}")
    out_dtype = x.dtype if dtype is None else DType(dtype).numpy
    check_elements(x.shape, bits_of(out_dtype), "output")
    out = np.zeros(x.shape, dtype=out_dtype)
    rows = np.arange(max(0, -k), min(x.shape[0], x.shape[1] - k))
    out[rows, rows + k] = np.ones((), dtype=out_dtype)
    return out


@kernel("Trilu", since=14)
def trilu(x, k=None, *, upper=1):
    if x.ndim < 2:
        raise ShapeError(f"expects rank >= 2, got shape {list(x.shape)}")
    shift = 0 if k is None else int_scalar(k, "k")
    n, m = x.shape[-2:]
    # Clamp the diagonal offset: an int64 extreme must not overflow the index arithmetic.
    shift = min(max(shift, -n - 1), m + 1)
    rows = np.arange(n)[:, None]
    cols = np.arange(m)[None, :]
    keep = cols - rows >= shift if upper else cols - rows <= shift
    zero = "" if x.dtype.kind == "O" else np.zeros((), dtype=x.dtype)
    return np.where(keep, x, zero).astype(x.dtype, copy=False)


# ------------------------------------------------------------------ OneHot
@kernel("OneHot", since=9)
def one_hot(indices, depth, values, *, axis=-1):
    depth_arr = np.asarray(depth)
    if depth_arr.size != 1:
        raise ShapeError(f"depth must be a scalar, got shape {list(depth_arr.shape)}")
    d = int(depth_arr.reshape(-1)[0])
    if d < 1:
        raise ShapeError(f"depth must be positive, got {d}")
    if np.asarray(values).size != 2:
        raise ShapeError(f"values must be [off, on], got shape {list(values.shape)}")
    off, on = np.asarray(values).reshape(-1)
    rank = indices.ndim + 1
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for output rank {rank}")
    axis = axis + rank if axis < 0 else axis
    out_shape = list(indices.shape)
    out_shape.insert(axis, d)
    check_elements(out_shape, bits_of(values.dtype), "output")
    idx = indices.astype(np.int64) if indices.dtype.kind != "f" else np.trunc(
        indices).astype(np.int64)
    idx = np.where(idx < 0, idx + d, idx)
    hot = idx[..., None] == np.arange(d)  # out-of-range indices match nothing: all 'off'
    out = np.where(hot, on, off).astype(values.dtype, copy=False)
    return np.moveaxis(out, -1, axis)
