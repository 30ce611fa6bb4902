"""Triangles and diagonals: ``tril``, ``triu``, ``diag``, ``diagonal``, ``tril_indices``."""

from __future__ import annotations

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import as_view, int64s, method, wrap_dim
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _trilu(input: Tensor, diagonal: int, upper: int, name: str) -> Tensor:
    if input.ndim < 2:
        raise OnyxError(f"{name}: input tensor must have at least 2 dimensions")
    return apply("Trilu", input, int64s(int(diagonal)), upper=upper)


@method("tril")
def tril(input, diagonal: int = 0) -> Tensor:
    return _trilu(input, diagonal, 0, "tril")


@method("triu")
def triu(input, diagonal: int = 0) -> Tensor:
    return _trilu(input, diagonal, 1, "triu")


def _diagonal(input: Tensor, offset: int, d1: int, d2: int) -> Tensor:
    """Move ``d1, d2`` last, flatten them, and step through the flat matrix by ``cols + 1``."""
    rest = [d for d in range(input.ndim) if d not in (d1, d2)]
    perm = rest + [d1, d2]
    x = input if perm == list(range(input.ndim)) else apply("Transpose", input, perm=perm)
    r, c = input.shape[d1], input.shape[d2]
    length = max(0, min(r, c - offset) if offset >= 0 else min(r + offset, c))
    lead = [input.shape[d] for d in rest]
    flat = apply("Reshape", x, int64s(lead + [r * c]))
    start = offset if offset >= 0 else -offset * c
    stop = start + length * (c + 1) if length else start
    return apply("Slice", flat, int64s([start]), int64s([stop]), int64s([-1]),
                 int64s([c + 1]))


@method("diagonal")
def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise OnyxError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return as_view(_diagonal(input, offset, d1, d2), input,
                   lambda t: _diagonal(t, offset, d1, d2))


@method("diag")
def diag(input, diagonal: int = 0) -> Tensor:
    """The ``diagonal``-th diagonal of a matrix, or a matrix with a vector on it."""
    if input.ndim == 2:
        return _diagonal(input, diagonal, 0, 1)
    if input.ndim != 1:
        raise OnyxError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    k = abs(int(diagonal))
    n = input.shape[0] + k
    x = input
    if k:
        pad = Tensor._wrap(np.zeros((k,), input._data.dtype))
        x = apply("Concat", input, pad, axis=0)
    # row i holds x[i] at column i + k (k >= 0); column j holds x[j] at row j + k (k < 0)
    x = apply("Unsqueeze", x, int64s([1 if diagonal >= 0 else 0]))
    mask = Tensor._wrap(np.eye(n, n, k=int(diagonal), dtype=np.bool_))
    zero = Tensor._wrap(np.zeros((), input._data.dtype))
    return apply("Where", mask, x, zero)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    rows, cols = np.tril_indices(row, offset, col)
    return Tensor._wrap(np.stack([rows, cols]).astype((dtype or dtypes.int64).np))


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    rows, cols = np.triu_indices(row, offset, col)
    return Tensor._wrap(np.stack([rows, cols]).astype((dtype or dtypes.int64).np))
