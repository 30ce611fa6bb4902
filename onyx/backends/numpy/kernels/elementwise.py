"""Elementwise arithmetic and math kernels: unary math, Add/Sub/Mul/Div/Pow/Mod, the variadic
Sum/Mean/Max/Min, and Identity.

Outputs keep the input's element type. Narrow floats (float16, bfloat16, float8) are computed
in float32 and rounded back once. Binary ops broadcast as NumPy does from opset 7; before
that they carry ``broadcast``/``axis`` attributes (``legacy_broadcast``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from onyx.backends.numpy.kernels.erf import erf as erf_values
from onyx.backends.numpy.kernels.shape_ops import wide_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError


# ------------------------------------------------------------------ shared helpers
def like(value, dtype) -> np.ndarray:
    """``value`` as an array of ``dtype`` (ufuncs on 0-d arrays return NumPy scalars)."""
    return np.asarray(value).astype(dtype, copy=False)


def widened(x: np.ndarray) -> np.ndarray:
    """``x`` in the dtype to compute in: float32 for the narrow floats, else unchanged."""
    return x.astype(wide_dtype(x.dtype), copy=False)


def broadcast_check(*arrays: np.ndarray) -> tuple[int, ...]:
    """The NumPy-broadcast shape of ``arrays``; ShapeError naming the shapes otherwise."""
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(str(list(a.shape)) for a in arrays)
        raise ShapeError(f"shapes {shapes} cannot be broadcast together") from None


def broadcasting(fn: Callable, *arrays: np.ndarray):
    """``fn(*arrays)``; a failure to broadcast becomes a ShapeError naming the shapes.

    Checked only on failure: the check costs more than a small elementwise op.
    """
    try:
        return fn(*arrays)
    except ValueError:
        broadcast_check(*arrays)
        raise


def legacy_broadcast(a: np.ndarray, b: np.ndarray, broadcast: int,
                     axis: int | None) -> np.ndarray:
    """``b`` reshaped so NumPy broadcasting follows the opset < 7 rules.

    With ``broadcast=0`` the shapes must be equal. With ``broadcast=1`` ``b`` is a single
    element, or its shape is a run of ``a``'s dims starting at ``axis`` (default: a suffix).
    """
    if not broadcast:
        if a.shape != b.shape:
            raise ShapeError(f"shapes {list(a.shape)} and {list(b.shape)} differ and "
                             f"broadcast=0 (before opset 7 broadcasting must be asked for)")
        return b
    if b.size == 1 and b.ndim <= a.ndim:
        return b.reshape(())
    start = a.ndim - b.ndim if axis is None else (axis + a.ndim if axis < 0 else axis)
    dims = a.shape[start:start + b.ndim]
    if start < 0 or len(dims) != b.ndim or any(d not in (s, 1) for d, s in zip(b.shape, dims)):
        raise ShapeError(f"shape {list(b.shape)} does not match the dims of "
                         f"{list(a.shape)} from axis {start} (legacy broadcast)")
    return b.reshape(b.shape + (1,) * (a.ndim - start - b.ndim))


def register_binary(op: str, fn: Callable, *, since: int, legacy_until: int | None = 6) -> None:
    """Register ``fn(a, b)`` for ``op``: legacy broadcasting up to ``legacy_until``."""
    def numpy_broadcast(a, b):
        return broadcasting(fn, a, b)

    def legacy(a, b, *, broadcast=0, axis=None, consumed_inputs=None):
        return fn(a, legacy_broadcast(a, b, broadcast, axis))

    if legacy_until is None:
        kernel(op, since=since)(_named(numpy_broadcast, op))
        return
    kernel(op, since=since, until=legacy_until)(_named(legacy, op + "_legacy"))
    kernel(op, since=legacy_until + 1)(_named(numpy_broadcast, op))


def _named(fn: Callable, name: str) -> Callable:
    fn.__name__ = fn.__qualname__ = name.lower()
    return fn


# ------------------------------------------------------------------ unary math
def _keep_type(fn: Callable) -> Callable:
    """``fn`` computed in the wide dtype, the result in ``x``'s dtype."""
    def apply(x, *, consumed_inputs=None):
        return like(fn(widened(x)), x.dtype)
    return apply


def _erf(x: np.ndarray) -> np.ndarray:
    return erf_values(x, single=x.dtype != np.float64)


def _reciprocal(x: np.ndarray) -> np.ndarray:
    return np.divide(np.ones((), x.dtype), x)


UNARY = {  # op: (first opset, function on the widened input)
    "Abs": (1, np.abs), "Neg": (1, np.negative), "Sign": (9, np.sign),
    "Ceil": (1, np.ceil), "Floor": (1, np.floor), "Round": (11, np.round),
    "Reciprocal": (1, _reciprocal), "Sqrt": (1, np.sqrt), "Exp": (1, np.exp),
    "Log": (1, np.log), "Erf": (9, _erf), "Tanh": (1, np.tanh),
    "Sin": (7, np.sin), "Cos": (7, np.cos), "Tan": (7, np.tan),
    "Asin": (7, np.arcsin), "Acos": (7, np.arccos), "Atan": (7, np.arctan),
    "Sinh": (9, np.sinh), "Cosh": (9, np.cosh),
    "Asinh": (9, np.arcsinh), "Acosh": (9, np.arccosh), "Atanh": (9, np.arctanh),
}
for _op, (_since, _fn) in UNARY.items():
    kernel(_op, since=_since)(_named(_keep_type(_fn), _op))


# ------------------------------------------------------------------ binary arithmetic
_NATIVE = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))


def _arith(fn: Callable) -> Callable:
    def apply(a, b):
        if a.dtype == b.dtype and a.dtype in _NATIVE and fn is not _divide:
            r = fn(a, b)  # fast path: no widening needed, result already in a's dtype
            return r if type(r) is np.ndarray else np.asarray(r)
        w = wide_dtype(a.dtype)
        return like(fn(a.astype(w, copy=False), b.astype(w, copy=False)), a.dtype)
    return apply


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind not in "iu":
        return np.true_divide(a, b)
    # Integer division truncates toward zero as in C; NumPy's // floors.
    q, r = np.divmod(a, b)
    if a.dtype.kind == "i":
        q = q + ((r != 0) & ((a < 0) != (b < 0)))
    return q


for _op, _fn in (("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply),
                 ("Div", _divide)):
    register_binary(_op, _arith(_fn), since=1)


def _int_power(base: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """Integer ``base ** exponent`` wrapping in ``base``'s width; negative powers truncate."""
    wide = np.uint64 if base.dtype.kind == "u" else np.int64
    e = exponent.astype(np.int64) if exponent.dtype != np.uint64 else \
        np.minimum(exponent, np.iinfo(np.int64).max).astype(np.int64)
    negative = e < 0
    b = base.astype(wide)
    r = np.power(b, np.where(negative, 0, e).astype(wide))
    if negative.any():  # 1/b**k truncates to 0 unless |b| == 1
        odd = (np.abs(e) % 2).astype(bool)
        inv = np.where(b == 1, 1, 0) if wide is np.uint64 else \
            np.where(b == 1, 1, np.where(b == -1, np.where(odd, -1, 1), 0))
        r = np.where(negative, inv.astype(wide), r)
    return r


def power(base: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """Pow: the result has the base's type (opset 12+ allows another exponent type)."""
    if base.dtype.kind in "iu" and exponent.dtype.kind in "iub":
        return like(_int_power(base, exponent), base.dtype)
    if base.dtype.kind in "iu":
        return like(np.power(base.astype(np.float64), exponent.astype(np.float64)), base.dtype)
    w = wide_dtype(base.dtype)
    if exponent.dtype.kind == "f" or wide_dtype(exponent.dtype) != exponent.dtype:
        w = np.promote_types(w, wide_dtype(exponent.dtype))
    return like(np.power(base.astype(w, copy=False), exponent.astype(w)), base.dtype)


register_binary("Pow", power, since=1)


@kernel("Mod", since=10)
def mod(a, b, *, fmod=0):
    """fmod=0: sign of the divisor (floor), fmod=1: sign of the dividend (C fmod)."""
    fn = np.fmod if fmod else np.mod
    w = wide_dtype(a.dtype)
    return like(broadcasting(fn, a.astype(w, copy=False), b.astype(w, copy=False)),
                a.dtype)


# ------------------------------------------------------------------ variadic
def _fold(fn: Callable, inputs: tuple) -> tuple[np.ndarray, np.dtype]:
    """``fn`` folded over the (broadcast) inputs in the wide dtype, and the output dtype."""
    if not inputs:
        raise ShapeError("needs at least one input")
    dtype = inputs[0].dtype
    w = wide_dtype(dtype)
    acc = inputs[0].astype(w, copy=False)
    for x in inputs[1:]:
        acc = broadcasting(fn, acc, x.astype(w, copy=False))
    return acc, dtype


@kernel("Max", since=1)
def maximum(*inputs, consumed_inputs=None):
    acc, dtype = _fold(np.maximum, inputs)
    return like(acc, dtype)


@kernel("Min", since=1)
def minimum(*inputs, consumed_inputs=None):
    acc, dtype = _fold(np.minimum, inputs)
    return like(acc, dtype)


@kernel("Sum", since=1)
def sum_(*inputs, consumed_inputs=None):
    acc, dtype = _fold(np.add, inputs)
    return like(acc, dtype)


@kernel("Mean", since=1)
def mean(*inputs, consumed_inputs=None):
    acc, dtype = _fold(np.add, inputs)
    return like(acc // len(inputs) if acc.dtype.kind in "iu" else acc / len(inputs), dtype)


# ------------------------------------------------------------------ Identity
@kernel("Identity", since=1)
def identity(x=None):
    """The input itself: a tensor, a sequence (a new list) or an optional (maybe None)."""
    return list(x) if isinstance(x, list) else x
