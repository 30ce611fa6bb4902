"""Reductions with torch's ``dim`` / ``keepdim`` arguments, and the cumulative scans.

``dim=None`` (or an empty tuple) reduces every dimension. Integer and bool sums and products
accumulate in int64 as in torch; ``mean``, ``std`` and ``var`` need floating inputs.
"""

from __future__ import annotations

import math as _math

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops import return_types
from onyx.frontend.ops._common import (
    cast,
    const,
    copy_of,
    floating,
    int64s,
    method,
    wrap_dim,
    wrap_dims,
)
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _axes(input: Tensor, dim) -> list[int]:
    """The dims to reduce, non-negative; every dim for ``None`` or ``()``."""
    if input.ndim == 0:
        if dim is not None:
            wrap_dims(dim, 0)  # range check: 0 and -1 are the only dims of a scalar
        return []
    if dim is None or (not isinstance(dim, int | np.integer) and len(dim) == 0):
        return list(range(input.ndim))
    return sorted(wrap_dims(dim, input.ndim))


def reduce(op_type: str, input: Tensor, dim, keepdim: bool) -> Tensor:
    axes = _axes(input, dim)
    if not axes:  # a scalar: the reduction of one element
        return apply(op_type, input, None, keepdims=1, noop_with_empty_axes=1)
    return apply(op_type, input, int64s(axes), keepdims=int(keepdim))


def _accumulating(input: Tensor, dtype) -> Tensor:
    if dtype is not None:
        return cast(input, dtypes.as_dtype(dtype))
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        return cast(input, dtypes.int64)
    return input


def _check_nonempty(input: Tensor, dim, name: str, error=OnyxError) -> None:
    if input.numel():
        return
    if dim is None:
        raise error(f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
                    f" Specify the reduction dim with the 'dim' argument.")
    for d in _axes(input, dim):
        if input.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


@method("sum")
def sum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return reduce("ReduceSum", _accumulating(input, dtype), dim, keepdim)


@method("nansum")
def nansum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = _accumulating(input, dtype)
    if x.dtype.is_floating_point:
        x = apply("Where", apply("IsNaN", x), const(0, x.dtype), x)
    return reduce("ReduceSum", x, dim, keepdim)


def _floating_input(input: Tensor, dtype, name: str) -> Tensor:
    if dtype is not None:
        input = cast(input, dtypes.as_dtype(dtype))
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise OnyxError(f"{name}(): could not infer output dtype. Input dtype must be either a "
                        f"floating point or complex dtype. Got: {input.dtype.name.capitalize()}")
    return input


@method("mean")
def mean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return reduce("ReduceMean", _floating_input(input, dtype, "mean"), dim, keepdim)


@method("nanmean")
def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = _floating_input(input, dtype, "nanmean")
    valid = apply("Not", apply("IsNaN", x))
    total = reduce("ReduceSum", apply("Where", valid, x, const(0, x.dtype)), dim, keepdim)
    return apply("Div", total, reduce("ReduceSum", cast(valid, x.dtype), dim, keepdim))


@method("prod")
def prod(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return reduce("ReduceProd", _accumulating(input, dtype), dim, keepdim)


# ------------------------------------------------------------------ extremes
def _extreme(op_type: str, arg_op: str, name: str, input, dim, keepdim: bool):
    if isinstance(dim, Tensor):  # max(input, other): the elementwise form
        from onyx.frontend.ops.comparison import maximum, minimum
        return (maximum if name == "max" else minimum)(input, dim)
    if dim is None:
        _check_nonempty(input, None, name)
        return reduce(op_type, input, None, False)
    d = wrap_dim(dim, input.ndim)
    _check_nonempty(input, d, name)
    if input.ndim == 0:
        return getattr(return_types, name)(copy_of(input), int64s(0))
    idx = apply(arg_op, input, axis=d, keepdims=1)
    # the values are gathered at the indices, so the gradient goes to that one element
    values = apply("GatherElements", input, idx, axis=d)
    if not keepdim:
        values = apply("Squeeze", values, int64s([d]))
        idx = apply("Squeeze", idx, int64s([d]))
    return getattr(return_types, name)(values, idx)


@method("max")
def max(input, dim=None, keepdim: bool = False):
    """The largest element; with ``dim``, ``(values, indices)`` along it."""
    return _extreme("ReduceMax", "ArgMax", "max", input, dim, keepdim)


@method("min")
def min(input, dim=None, keepdim: bool = False):
    return _extreme("ReduceMin", "ArgMin", "min", input, dim, keepdim)


@method("amax")
def amax(input, dim=(), keepdim: bool = False) -> Tensor:
    _check_nonempty(input, dim if dim != () else None, "amax")
    return reduce("ReduceMax", input, dim, keepdim)


@method("amin")
def amin(input, dim=(), keepdim: bool = False) -> Tensor:
    _check_nonempty(input, dim if dim != () else None, "amin")
    return reduce("ReduceMin", input, dim, keepdim)


@method("aminmax")
def aminmax(input, *, dim=None, keepdim: bool = False):
    return return_types.aminmax(amin(input, () if dim is None else dim, keepdim),
                                amax(input, () if dim is None else dim, keepdim))


def _arg(op_type: str, name: str, input, dim, keepdim: bool) -> Tensor:
    if input.dtype is dtypes.bool_:
        raise OnyxError(f"\"{name}_cpu\" not implemented for 'Bool'")
    _check_nonempty(input, dim, name, IndexError)
    if dim is None:
        flat = apply("Reshape", input, int64s([-1]))
        out = apply(op_type, flat, axis=0, keepdims=0)
        return apply("Reshape", out, int64s([1] * input.ndim)) if keepdim else out
    d = wrap_dim(dim, input.ndim)
    if input.ndim == 0:
        return int64s(0)
    return apply(op_type, input, axis=d, keepdims=int(keepdim))


@method("argmax")
def argmax(input, dim=None, keepdim: bool = False) -> Tensor:
    return _arg("ArgMax", "argmax", input, dim, keepdim)


@method("argmin")
def argmin(input, dim=None, keepdim: bool = False) -> Tensor:
    return _arg("ArgMin", "argmin", input, dim, keepdim)


# ------------------------------------------------------------------ moments
def _correction(dim, unbiased, correction) -> tuple:
    if isinstance(dim, bool):  # std(input, unbiased): the old positional form
        dim, unbiased = None, dim
    if correction is not None and unbiased is not None:
        raise OnyxError("std/var: cannot pass both unbiased and correction")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _var(input, dim, correction, keepdim: bool) -> tuple[Tensor, Tensor]:
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise OnyxError(f"std and var only support floating point and complex dtypes, got "
                        f"{input.dtype.name}")
    axes = _axes(input, dim)
    count = int(np.prod([input.shape[a] for a in axes])) if axes else 1
    centre = reduce("ReduceMean", input, axes or None, True)
    dev = apply("Sub", input, centre)
    total = reduce("ReduceSum", apply("Mul", dev, dev), axes or None, keepdim)
    var = apply("Div", total, const(count - correction if count > correction else 0,
                                   input.dtype))
    if not keepdim and axes:
        centre = apply("Squeeze", centre, int64s(axes))
    return var, centre


@method("var")
def var(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    dim, c = _correction(dim, unbiased, correction)
    return _var(input, dim, c, keepdim)[0]


@method("std")
def std(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    dim, c = _correction(dim, unbiased, correction)
    return _sqrt_zero_safe(_var(input, dim, c, keepdim)[0])


def _sqrt_zero_safe(var: Tensor) -> Tensor:
    """``sqrt(var)`` whose gradient is 0 (not ``0/0``) where ``var`` is 0, as torch's std."""
    zero = const(0, var.dtype)
    is_zero = apply("Equal", var, zero)
    root = apply("Sqrt", apply("Where", is_zero, const(1, var.dtype), var))
    return apply("Where", is_zero, zero, root)


def var_mean(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:
    dim, c = _correction(dim, unbiased, correction)
    return _var(input, dim, c, keepdim)


def std_mean(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None) -> tuple[Tensor, Tensor]:
    dim, c = _correction(dim, unbiased, correction)
    v, m = _var(input, dim, c, keepdim)
    return _sqrt_zero_safe(v), m


@method("norm")
def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The vector p-norm over ``dim`` (every element by default)."""
    x = cast(input, dtypes.as_dtype(dtype)) if dtype is not None else input
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise OnyxError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                        f"input. Got {x.dtype.name.capitalize()}")
    if p is None or p == "fro" or p == 2:
        return reduce("ReduceL2", x, dim, keepdim)
    if p == 1:
        return reduce("ReduceL1", x, dim, keepdim)
    if isinstance(p, str):
        raise OnyxError(f"norm: p={p!r} is not supported; use a number or 'fro'")
    if p == _math.inf:
        return reduce("ReduceMax", apply("Abs", x), dim, keepdim)
    if p == -_math.inf:
        return reduce("ReduceMin", apply("Abs", x), dim, keepdim)
    if p == 0:
        return reduce("ReduceSum", cast(apply("Not", apply("Equal", x, const(0, x.dtype))),
                                        x.dtype), dim, keepdim)
    powered = apply("Pow", apply("Abs", x), const(p, x.dtype))
    total = reduce("ReduceSum", powered, dim, keepdim)
    # the root's gradient at a zero vector is 0 in torch, not 0 * inf
    zero = const(0, x.dtype)
    is_zero = apply("Equal", total, zero)
    safe = apply("Where", is_zero, const(1, x.dtype), total)
    return apply("Where", is_zero, zero, apply("Pow", safe, const(1.0 / p, x.dtype)))


@method("logsumexp")
def logsumexp(input, dim, keepdim: bool = False) -> Tensor:
    return reduce("ReduceLogSumExp", floating(input), dim, keepdim)


# ------------------------------------------------------------------ truth
def _truth(op_type: str, input, dim, keepdim: bool) -> Tensor:
    out = reduce(op_type, cast(input, dtypes.bool_), dim, keepdim)
    return cast(out, dtypes.uint8) if input.dtype is dtypes.uint8 else out


@method("all")
def all(input, dim=None, keepdim: bool = False) -> Tensor:
    return _truth("ReduceMin", input, dim, keepdim)


@method("any")
def any(input, dim=None, keepdim: bool = False) -> Tensor:
    return _truth("ReduceMax", input, dim, keepdim)


@method("count_nonzero")
def count_nonzero(input, dim=None) -> Tensor:
    nonzero = apply("Not", apply("Equal", input, const(0, input.dtype)))
    return reduce("ReduceSum", cast(nonzero, dtypes.int64), dim, False)


# ------------------------------------------------------------------ scans
@method("cumsum")
def cumsum(input, dim, *, dtype=None) -> Tensor:
    x = _accumulating(input, dtype)
    if x.ndim == 0:
        wrap_dim(dim, 0)
        return copy_of(x) if x is input else x
    return apply("CumSum", x, int64s(wrap_dim(dim, x.ndim)))


@method("cumprod")
def cumprod(input, dim, *, dtype=None) -> Tensor:
    """Running product: a log-step scan of ``Mul`` over shifted copies (CumProd is opset 26).

    Each step multiplies by the partial products ``shift`` places back, so ``log2(n)`` steps
    of ``Slice``/``Concat``/``Mul`` cover an axis of ``n``; zeros need no special case.
    """
    x = _accumulating(input, dtype)
    if x.ndim == 0:
        wrap_dim(dim, 0)
        return copy_of(x) if x is input else x
    d = wrap_dim(dim, x.ndim)
    n = x.shape[d]
    shift = 1
    while shift < n:
        pad_shape = list(x.shape)
        pad_shape[d] = shift
        ones = Tensor._wrap(np.ones(pad_shape, x._data.dtype))
        head = apply("Slice", x, int64s([0]), int64s([n - shift]), int64s([d]))
        x = apply("Mul", x, apply("Concat", ones, head, axis=d))
        shift *= 2
    return copy_of(x) if x is input else x
