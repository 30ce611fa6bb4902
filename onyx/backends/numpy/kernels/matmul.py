"""Matrix products: MatMul, Gemm, MatMulInteger and QLinearMatMul.

MatMul follows ``numpy.matmul`` (1-D operands are promoted and the added dimension removed,
batch dimensions broadcast). 16-bit floats multiply in float32 and round once at the end.
The integer products run through float64, which is exact for every 8-bit product sum of
fewer than 2**37 terms, and wrap to int32 as the spec allows for the accumulator.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.quantize import (
    broadcast_params,
    is_integer_dtype,
    saturate_cast,
    to_float,
)
from onyx.backends.numpy.kernels.reduce import accumulation_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir import limits
from onyx.ir.errors import ShapeError


def matmul_shape(a_shape: tuple, b_shape: tuple, op: str = "MatMul") -> tuple:
    """The shape of ``a @ b``; raises ``ShapeError`` naming both shapes when they do not fit."""
    if not a_shape or not b_shape:
        raise ShapeError(f"{op}: operands must have rank >= 1, got {list(a_shape)} and "
                         f"{list(b_shape)}")
    a2 = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b2 = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    if a2[-1] != b2[-2]:
        raise ShapeError(f"{op}: inner dimensions differ: {list(a_shape)} @ {list(b_shape)} "
                         f"({a2[-1]} != {b2[-2]})")
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise ShapeError(f"{op}: batch dimensions of {list(a_shape)} and {list(b_shape)} do "
                         f"not broadcast") from None
    out = batch + (a2[-2], b2[-1])
    if len(a_shape) == 1:
        out = out[:-2] + out[-1:]
    if len(b_shape) == 1:
        out = out[:-1]
    return out


def _checked_matmul(a: np.ndarray, b: np.ndarray, op: str) -> np.ndarray:
    out = matmul_shape(a.shape, b.shape, op)
    limits.check_elements(out, 8 * max(a.dtype.itemsize, b.dtype.itemsize, 4), op)
    return np.matmul(a, b)


_FAST = frozenset(np.dtype(t) for t in (np.float32, np.float64))


@kernel("MatMul", since=1)
def matmul(A, B):
    a, b = np.asarray(A), np.asarray(B)
    if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in _FAST \
            and a.shape[1] == b.shape[0] \
            and a.shape[0] * b.shape[1] * a.dtype.itemsize <= limits.max_tensor_bytes:
        return np.matmul(a, b)  # fast path: plain 2-D product, size already bounded
    if a.ndim > 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in _FAST \
            and a.shape[-1] == b.shape[0]:
        out = _rows_matmul(a, b)
        if out is not None:
            return out
    if a.dtype != b.dtype:
        raise ShapeError(f"MatMul: operand types differ: {a.dtype} and {b.dtype}")
    wide = accumulation_dtype(a.dtype)
    out = _checked_matmul(a.astype(wide, copy=False), b.astype(wide, copy=False), "MatMul")
    return np.asarray(out).astype(a.dtype, copy=False)


def _rows_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """(..., K) @ (K, N) as ONE 2-D product over all leading rows, or None if it can't be.

    NumPy's matmul makes one BLAS call per batch entry, which is slow for many small
    entries. When ``a``'s leading axes are a permutation of a contiguous layout (``a`` is
    contiguous, or a transposed view such as seq-first attention inputs), the rows are
    multiplied in memory order and the result is handed out in the same permuted layout.
    """
    lead = a.ndim - 1
    order = sorted(range(lead), key=lambda i: -a.strides[i])
    rows = a.transpose(order + [lead])
    if not rows.flags.c_contiguous:
        return None
    limits.check_elements(a.shape[:-1] + b.shape[1:], 8 * a.dtype.itemsize, "MatMul")
    out = np.matmul(rows.reshape(-1, a.shape[-1]), b).reshape(rows.shape[:-1] + b.shape[1:])
    return out.transpose(list(np.argsort(order)) + [lead])


# ----------------------------------------------------------------------------- Gemm
def _check_c(c: np.ndarray, mn: tuple, strict: bool) -> None:
    try:
        fits = np.broadcast_shapes(c.shape, mn) == mn
    except ValueError:
        fits = False
    if not fits or strict and c.shape != mn:
        how = "is not the result shape" if fits else "does not broadcast to the result shape"
        raise ShapeError(f"Gemm: C of shape {list(c.shape)} {how} {list(mn)}")


def _times(y: np.ndarray, k: float) -> np.ndarray:
    """y * k, in float64 for integer y (the spec's alpha and beta are floats)."""
    if k == 1.0:
        return y
    return y * (np.float64(k) if y.dtype.kind in "iu" else y.dtype.type(k))


def _gemm(a, b, c, alpha: float, beta: float, trans_a: int, trans_b: int,
          strict_c: bool = False) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"Gemm: A and B must be 2-D, got {list(a.shape)} and {list(b.shape)}")
    at = a.T if trans_a else a
    bt = b.T if trans_b else b
    if at.shape[1] != bt.shape[0]:
        raise ShapeError(f"Gemm: A{list(a.shape)} (transA={trans_a}) and B{list(b.shape)} "
                         f"(transB={trans_b}) have different inner dimensions")
    mn = (at.shape[0], bt.shape[1])
    limits.check_elements(mn, 64, "Gemm")
    wide = accumulation_dtype(a.dtype)
    y = np.matmul(at.astype(wide, copy=False), bt.astype(wide, copy=False))
    y = _scaled_inplace(y, alpha) if y.dtype.kind == "f" else _times(y, alpha)
    # beta == 0 drops C entirely (as BLAS does), so a NaN in C cannot leak into Y.
    if c is not None and beta != 0.0:
        c = np.asarray(c)
        _check_c(c, mn, strict_c)
        c = _times(c.astype(wide, copy=False), beta)
        if y.dtype.kind == "f" and np.result_type(y, c) == y.dtype:
            np.add(y, c, out=y)  # y is our own fresh product: add C in place
        else:
            y = y + c
    return np.asarray(y).astype(a.dtype, copy=False)


def _scaled_inplace(y: np.ndarray, k: float) -> np.ndarray:
    if k != 1.0:
        np.multiply(y, y.dtype.type(k), out=y)
    return y


@kernel("Gemm", since=1, until=6)
def gemm_broadcast_attribute(A, B, C, *, alpha=1.0, beta=1.0, broadcast=0, transA=0, transB=0):
    """Opsets 1-6: C is broadcast only when ``broadcast`` is set, else it must be (M, N)."""
    return _gemm(A, B, C, alpha, beta, transA, transB, strict_c=not broadcast)


@kernel("Gemm", since=7)
def gemm(A, B, C=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    """Y = alpha * A' @ B' + beta * C with C unidirectionally broadcast to (M, N)."""
    if isinstance(A, np.ndarray) and isinstance(B, np.ndarray) and A.ndim == B.ndim == 2 \
            and A.dtype in _FAST and B.dtype == A.dtype:
        y = _gemm_float(A, B, C, alpha, beta, transA, transB)
        if y is not None:
            return y
    return _gemm(A, B, C, alpha, beta, transA, transB)


def _gemm_float(a: np.ndarray, b: np.ndarray, c, alpha: float, beta: float, trans_a: int,
                trans_b: int) -> np.ndarray | None:
    """The common case (float32/float64 of one dtype, C a bias row or a full matrix) with the
    fewest steps: this runs once per Linear layer, where the general path's checks cost more
    than the product of a small batch. None when the case is not that one."""
    at = a.T if trans_a else a
    bt = b.T if trans_b else b
    m, n = at.shape[0], bt.shape[1]
    if at.shape[1] != bt.shape[0] or m * n * a.dtype.itemsize > limits.max_tensor_bytes:
        return None
    use_c = c is not None and beta != 0.0
    if use_c and not (isinstance(c, np.ndarray) and c.dtype == a.dtype
                      and c.shape in ((n,), (1, n), (m, n))):
        return None
    y = np.matmul(at, bt)
    if alpha != 1.0:
        np.multiply(y, a.dtype.type(alpha), out=y)
    if use_c:
        np.add(y, c if beta == 1.0 else c * a.dtype.type(beta), out=y)
    return y


# ----------------------------------------------------------------------------- quantized
def _row_param(p, x: np.ndarray, op: str, what: str) -> np.ndarray:
    """A zero point/scale of the left operand: a vector is per row (one value per M)."""
    p = np.asarray(p)
    if p.ndim == 1 and p.size > 1 and x.ndim >= 2:
        if p.shape[0] != x.shape[-2]:
            raise ShapeError(f"{op}: per-row {what} of length {p.shape[0]} does not match "
                             f"{x.shape[-2]} rows of {list(x.shape)}")
        return p.reshape(-1, 1)
    return p


def _col_param(p, x: np.ndarray, op: str, what: str) -> np.ndarray:
    """A zero point/scale of the right operand: a vector is per column (one value per N)."""
    p = np.asarray(p)
    if p.ndim == 1 and p.size > 1 and p.shape[0] != x.shape[-1]:
        raise ShapeError(f"{op}: per-column {what} of length {p.shape[0]} does not match "
                         f"{x.shape[-1]} columns of {list(x.shape)}")
    return p


def _centered(x: np.ndarray, zp, per_row: bool, op: str) -> np.ndarray:
    xf = x.astype(np.float64)
    if zp is None:
        return xf
    if np.dtype(zp.dtype) != x.dtype:
        raise ShapeError(f"{op}: zero point type {zp.dtype} differs from its input's {x.dtype}")
    zp = (_row_param if per_row else _col_param)(zp, x, op, "zero point")
    try:
        np.broadcast_shapes(zp.shape, x.shape)
    except ValueError:
        raise ShapeError(f"{op}: zero point of shape {list(zp.shape)} does not broadcast to "
                         f"{list(x.shape)}") from None
    return xf - zp.astype(np.float64)


@kernel("MatMulInteger", since=10)
def matmul_integer(A, B, a_zero_point=None, b_zero_point=None):
    a = _centered(np.asarray(A), a_zero_point, True, "MatMulInteger")
    b = _centered(np.asarray(B), b_zero_point, False, "MatMulInteger")
    acc = _checked_matmul(a, b, "MatMulInteger")
    # The int32 accumulator may wrap: go through int64 and keep the low 32 bits.
    return np.asarray(acc).astype(np.int64).astype(np.int32)


def _dequantized(x, scale, zp, per_row: bool, op: str) -> np.ndarray:
    x = np.asarray(x)
    fix = _row_param if per_row else _col_param
    s = fix(np.asarray(scale), x, op, "scale").astype(np.float64)
    if is_integer_dtype(x.dtype):
        return _centered(x, zp, per_row, op) * s
    return (to_float(x) - to_float(fix(zp, x, op, "zero point"))) * s


@kernel("QLinearMatMul", since=10)
def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    op = "QLinearMatMul"
    real = _checked_matmul(_dequantized(a, a_scale, a_zero_point, True, op),
                           _dequantized(b, b_scale, b_zero_point, False, op), op)
    out_dtype = np.dtype(y_zero_point.dtype)
    ys = np.asarray(y_scale)
    ys = ys.reshape(()) if ys.size == 1 else broadcast_params(ys, real.shape, -1, 0, op,
                                                               "y_scale")
    q = real / ys.astype(np.float64)
    if is_integer_dtype(out_dtype):
        q = np.rint(q)
    zp = np.asarray(y_zero_point)
    zp = zp.reshape(()) if zp.size == 1 else zp
    return saturate_cast(q + to_float(zp), out_dtype)
