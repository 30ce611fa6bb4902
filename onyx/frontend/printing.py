"""``repr`` of tensors in torch's layout.

    tensor([[1.0000, 2.5000],
            [3.0000, 4.0000]], requires_grad=True)

Every element is printed at one width; floats are whole (``1.``), fixed (``1.5000``) or
scientific (``1.0000e-05``) depending on the magnitudes shown; tensors of more than 1000
elements are summarised with ``...`` around the first and last three of each dimension; lines
wrap at 80 columns.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.frontend import dtypes

LINEWIDTH, THRESHOLD, EDGEITEMS, PRECISION = 80, 1000, 3, 4
_PREFIX = "tensor("


def _summarized(arr: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows (edges of every dimension)."""
    for axis, n in enumerate(arr.shape):
        if n > 2 * EDGEITEMS:
            keep = np.r_[0:EDGEITEMS, n - EDGEITEMS:n]
            arr = np.take(arr, keep, axis=axis)
    return arr


def _float_format(shown: np.ndarray):
    """``(format, width)`` for floats: whole (``1.``), fixed or scientific, as torch picks."""
    values = shown.astype(np.float64).reshape(-1)
    finite = values[np.isfinite(values)]
    nonzero = np.abs(finite[finite != 0])
    whole = bool(np.all(finite == np.floor(finite)))
    big = nonzero.max() if nonzero.size else 0.0
    small = nonzero.min() if nonzero.size else 0.0
    sci = nonzero.size > 0 and (big / small > 1000.0 or big > 1e8 or
                                (not whole and small < 1e-4))

    def fmt(v: float) -> str:
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if sci:
            return f"{v:.{PRECISION}e}"
        return f"{v:.0f}." if whole else f"{v:.{PRECISION}f}"
    # whole numbers size the column by the finite non-zero values only, as torch does
    counted = values if sci or not whole else nonzero * np.sign(finite[finite != 0])
    width = max([1] + [len(fmt(v)) for v in counted.tolist()])
    return fmt, width


def _element_format(t, shown: np.ndarray):
    d = t.dtype
    if d.is_floating_point:
        return _float_format(shown)
    if d.is_complex:
        real, _ = _float_format(shown.real)
        imag, _ = _float_format(np.abs(shown.imag))

        def fmt(v) -> str:
            return f"{real(v.real)}{'-' if v.imag < 0 else '+'}{imag(abs(v.imag))}j"
    elif d is dtypes.bool_:
        def fmt(v) -> str:
            return "True" if v else "False"
    else:
        fmt = str
    return fmt, max(len(fmt(v)) for v in shown.reshape(-1).tolist())


def _vector(items: list[str], indent: int, width: int) -> str:
    per_line = max(1, (LINEWIDTH - indent) // (width + 2))
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _body(arr: np.ndarray, indent: int, cell, summarize: bool) -> str:
    n = arr.shape[0]
    cut = summarize and n > 2 * EDGEITEMS
    rows = list(range(EDGEITEMS)) + [None] + list(range(n - EDGEITEMS, n)) if cut \
        else list(range(n))
    if arr.ndim == 1:
        return _vector([" ..." if i is None else cell(arr[i]) for i in rows], indent,
                       len(cell(arr[0])))
    parts = ["..." if i is None else _body(arr[i], indent + 1, cell, summarize) for i in rows]
    sep = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def _implicit(d: dtypes.dtype) -> bool:
    default = dtypes.get_default_dtype()
    return d in (default, default.to_complex(), dtypes.int64, dtypes.bool_)


def format_tensor(t) -> str:
    data = t._data
    summarize = data.size > THRESHOLD
    extras = []
    if data.size == 0:
        body = "[]"
        if data.ndim != 1:
            extras.append(f"size={tuple(data.shape)}")
    else:
        if t.dtype.is_floating_point:
            data = data.astype(np.float64)  # bfloat16 and half print through doubles
        shown = _summarized(data) if summarize else data
        fmt, width = _element_format(t, shown)

        def cell(v) -> str:
            return fmt(v.item()).rjust(width)
        body = cell(data.reshape(())) if data.ndim == 0 else \
            _body(data, len(_PREFIX), cell, summarize)
    if not _implicit(t.dtype):
        extras.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.op_type}Backward0>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return _PREFIX + _with_suffixes(body, extras) + ")"


def _with_suffixes(body: str, extras: list[str]) -> str:
    out = body
    last = len(body) - body.rfind("\n") - 1 if "\n" in body else len(_PREFIX) + len(body)
    for extra in extras:
        if last + len(extra) + 2 > LINEWIDTH:
            out += ",\n" + " " * len(_PREFIX) + extra
            last = len(_PREFIX) + len(extra)
        else:
            out += ", " + extra
            last += len(extra) + 2
    return out
