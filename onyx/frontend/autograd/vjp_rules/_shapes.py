"""Shape plumbing the rules share: axes, static shapes and index constants, through the builder.

Every function takes the builder ``b`` first and only calls builder methods, so it works the same
under the eager builder (shapes are ints) and the graph builder (dims may be symbolic names).
Where a rule needs a dimension as a number, ``static_shape`` says whether it is known and
``require_static`` raises a clear error where it is not.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.dtypes import DType
from onyx.ir.errors import OnyxError


def arg(node, i: int):
    """Input ``i`` of ``node``, or ``None`` when it is missing (trailing inputs may be absent)."""
    return node.inputs[i] if i < len(node.inputs) else None


def ints(b, values):
    """An int64 constant."""
    return b.const(np.asarray(values, dtype=np.int64).reshape(-1), dtype=np.int64)


def scalar(b, value, like):
    """A 0-d constant of ``like``'s element type."""
    return b.const(value, like=like)


def rank(b, x) -> int:
    return len(b.shape(x))


def static_shape(b, x) -> tuple[int, ...] | None:
    """``x``'s shape as ints, or ``None`` when a dim is symbolic."""
    shape = tuple(b.shape(x))
    return shape if all(isinstance(d, int | np.integer) for d in shape) else None


def require_static(b, x, op: str, what: str = "input", only=None) -> tuple:
    """``x``'s shape, whose dims (or the dims at axes ``only``) must be known numbers."""
    shape = tuple(b.shape(x))
    axes = range(len(shape)) if only is None else [a % len(shape) for a in only]
    if not all(isinstance(shape[a], int | np.integer) for a in axes):
        which = "" if only is None else f" (axes {list(only)})"
        raise OnyxError(f"gradient of {op}: the {what} needs a static shape{which} here, got "
                        f"{list(shape)}")
    return tuple(int(d) if isinstance(d, int | np.integer) else d for d in shape)


def shape_of(b, x):
    """``x``'s shape as an int64 tensor: a constant when static, else a Shape node."""
    shape = static_shape(b, x)
    return ints(b, shape) if shape is not None else b.Shape(x)


def reshape_like(b, g, x):
    return b.Reshape(g, shape_of(b, x))


def expand_like(b, g, x):
    return b.Expand(g, shape_of(b, x))


def normalize_axis(axis: int, r: int) -> int:
    return int(axis) % max(r, 1) if r else 0


def const_ints(b, x, op: str, what: str) -> list[int] | None:
    """The values of an optional int input (axes, repeats, ...), which must be constant."""
    if x is None:
        return None
    try:
        values = b.constant_value(x)
    except OnyxError as err:
        raise OnyxError(f"gradient of {op}: {what} must be a constant ({err})") from None
    return [int(v) for v in np.asarray(values).reshape(-1)]


def is_float(b, x) -> bool:
    dt = b.dtype(x)
    return dt.kind in "fc" or dt.name in ("bfloat16",) or dt.name.startswith("float")


def onnx_type(b, x) -> int:
    return int(DType.from_numpy(b.dtype(x)))


def cast_like(b, v, x):
    """``v`` in ``x``'s element type (a no-op when they already agree)."""
    return v if b.dtype(v) == b.dtype(x) else b.Cast(v, to=onnx_type(b, x))


def as_float(b, mask, like):
    """A boolean mask as 0/1 in ``like``'s element type."""
    return b.Cast(mask, to=onnx_type(b, like))


def restore_reduced(b, g, x, axes: list[int], keepdims: bool):
    """Broadcast ``g``, the gradient of a reduction of ``x`` over ``axes``, back to ``x``."""
    if not keepdims and axes:
        g = b.Unsqueeze(g, ints(b, axes))
    return expand_like(b, g, x)


def element_ratio(b, x, y, like):
    """numel(x) / numel(y) as a scalar of ``like``'s type (the count a mean divides by)."""
    xs, ys = static_shape(b, x), static_shape(b, y)
    if xs is not None and ys is not None:
        ny = int(np.prod(ys)) if ys else 1
        return scalar(b, float(np.prod(xs)) / max(ny, 1), like)
    t = onnx_type(b, like)
    return b.Div(b.Cast(b.Size(x), to=t), b.Cast(b.Size(y), to=t))


def flat_iota(b, x):
    """Int64 positions 0..numel-1 laid out in ``x``'s shape."""
    n = b.Size(x)
    seq = b.Range(b.const(0, dtype=np.int64), n, b.const(1, dtype=np.int64))
    return reshape_like(b, seq, x)


def scatter_flat(b, x, positions, g):
    """Zeros shaped like ``x`` with ``g`` added at flat ``positions`` (same shape as ``g``).

    A negative position drops its value: it lands in one extra slot that is cut off.
    """
    flat_zeros = b.Reshape(b.zeros_like(x), ints(b, [-1]))
    padded = b.Concat(flat_zeros, b.const([0], like=x), axis=0)
    n = b.Size(x)
    pos = b.Where(b.Less(positions, b.const(0, dtype=np.int64)), n, positions)
    out = b.ScatterElements(padded, b.Reshape(pos, ints(b, [-1])),
                            b.Reshape(g, ints(b, [-1])), axis=0, reduction="add")
    out = b.Slice(out, ints(b, [0]), b.Reshape(n, ints(b, [1])), ints(b, [0]))
    return reshape_like(b, out, x)
