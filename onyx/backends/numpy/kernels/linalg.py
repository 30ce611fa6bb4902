"""Linear-algebra kernels: Einsum and Det.

Narrow floats (float16, bfloat16) are computed in float32 and cast back, so a long
contraction does not lose precision at every partial sum.
"""

from __future__ import annotations

import re

import numpy as np

from onyx.backends.numpy.kernels.shape_ops import wide_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError

_EQUATION = re.compile(r"^[A-Za-z.,]*(->[A-Za-z.]*)?$")


@kernel("Einsum", since=12)
def einsum(*inputs, equation):
    eq = equation.replace(" ", "")
    if not _EQUATION.match(eq):
        raise ShapeError(f"malformed equation {equation!r}")
    terms = eq.split("->")[0].split(",")
    if len(terms) != len(inputs):
        raise ShapeError(f"equation {equation!r} names {len(terms)} operands, the node "
                         f"has {len(inputs)} inputs")
    dtype = inputs[0].dtype
    work = wide_dtype(dtype)
    operands = [np.asarray(x).astype(work, copy=False) for x in inputs]
    try:
        # optimize=True picks a pairwise order and BLAS contractions for 2+ operands.
        out = np.einsum(eq, *operands, optimize=len(operands) > 1)
    except ValueError as exc:
        shapes = [list(x.shape) for x in inputs]
        raise ShapeError(f"equation {equation!r} does not fit shapes {shapes}: "
                         f"{exc}") from None
    return np.asarray(out).astype(dtype, copy=False)


@kernel("Det", since=11)
def det(x):
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"expects [..., M, M], got shape {list(x.shape)}")
    work = wide_dtype(x.dtype)
    return np.asarray(np.linalg.det(x.astype(work, copy=False))).astype(x.dtype, copy=False)
