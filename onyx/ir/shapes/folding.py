"""Value propagation for shape rules: small known tensors and partially known int vectors.

Shape arithmetic in exported models is a chain of tiny integer ops (Shape -> Gather ->
Unsqueeze -> Concat -> Reshape, Div of a dimension by a head count, ...). A rule that knows its
inputs' values computes its output's value here so the Reshape at the end of the chain gets a
concrete shape. Only outputs of at most ``MAX_COMPUTED_ELEMENTS`` elements are ever computed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from onyx.ir.dtypes import DType
from onyx.ir.shapes.dims import known, product
from onyx.ir.shapes.registry import MAX_COMPUTED_ELEMENTS, InferenceContext, PartialInts
from onyx.ir.types import Dim, Shape

# Folding never raises: a value it cannot compute is simply not propagated.
_FOLD_ERRORS = (ValueError, TypeError, ArithmeticError, IndexError, OverflowError)


def small(shape: Shape | None) -> bool:
    """True when a tensor of ``shape`` is known to be small enough to compute."""
    if shape is None:
        return False
    n = product(shape)
    return known(n) and n <= MAX_COMPUTED_ELEMENTS


def fold(ctx: InferenceContext, fn: Callable, out_shape: Shape | None,
         dtype: DType | None = None, inputs: tuple[int, ...] | None = None) -> None:
    """Compute output 0 from known input values with ``fn`` when the result is small."""
    if not small(out_shape):
        return
    idx = range(ctx.num_inputs) if inputs is None else inputs
    args = []
    for i in idx:
        if not ctx.has_input(i):
            args.append(None)
            continue
        v = ctx.input_value(i)
        if v is None:
            return
        args.append(v)
    try:
        with np.errstate(all="ignore"):
            result = np.asarray(fn(*args))
        if dtype is not None and dtype is not DType.STRING:
            result = result.astype(dtype.numpy)
    except _FOLD_ERRORS:
        return
    if result.shape == tuple(out_shape):
        ctx.set_value(0, result)


def fold_dims(ctx: InferenceContext, fn: Callable[[Dim, Dim], Dim], a: int = 0, b: int = 1
              ) -> None:
    """Combine two partially known int vectors entry by entry (broadcasting a scalar)."""
    pa, pb = ctx.input_partial(a), ctx.input_partial(b)
    if pa is None or pb is None or ctx.input_value(a) is not None and \
            ctx.input_value(b) is not None:
        return
    da, db = pa.dims, pb.dims
    if len(da) == 1 and len(db) != 1:
        da = da * len(db)
    if len(db) == 1 and len(da) != 1:
        db = db * len(da)
    if len(da) != len(db):
        return
    out = tuple(fn(x, y) for x, y in zip(da, db, strict=True))
    ctx.set_value(0, PartialInts(out, pa.scalar and pb.scalar))


def dim_add(a: Dim, b: Dim) -> Dim:
    if known(a) and known(b):
        return a + b
    return a if b == 0 else b if a == 0 else None


def dim_sub(a: Dim, b: Dim) -> Dim:
    if known(a) and known(b):
        return a - b
    return a if b == 0 else None


def dim_mul(a: Dim, b: Dim) -> Dim:
    if known(a) and known(b):
        return a * b
    if a == 0 or b == 0:
        return 0
    return a if b == 1 else b if a == 1 else None


def dim_div(a: Dim, b: Dim) -> Dim:
    if known(a) and known(b) and b != 0:
        q = abs(a) // abs(b)
        return q if (a < 0) == (b < 0) else -q
    return a if b == 1 else None


def take_dims(p: PartialInts, indices: np.ndarray) -> PartialInts | None:
    """Gather entries of a partial vector by known indices."""
    n = len(p.dims)
    if p.scalar or indices.ndim > 1:
        return None
    picked = []
    for i in indices.reshape(-1):
        i = int(i)
        if not -n <= i < n:
            return None
        picked.append(p.dims[i])
    return PartialInts(tuple(picked), indices.ndim == 0)
