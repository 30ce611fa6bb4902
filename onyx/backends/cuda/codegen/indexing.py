"""Index arithmetic baked into kernels: a contiguous output index mapped to an input offset.

An access is a list of per-output-dimension strides (0 for a broadcast dimension, permuted for
a Transpose, scaled for a stepped Slice) plus a constant offset. Rendering merges dimensions
that stay contiguous and drops those that do not move the offset, so a plain same-shape read is
just ``i``. The expressions use only ``+ * / %`` on non-negative integers and parenthesise
every step, so tests can evaluate them in Python with ``/`` read as ``//``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

from onyx.ir.errors import ShapeError


@dataclass(frozen=True)
class Access:
    """Element at output coordinate ``c`` lives at ``offset + sum(c[k] * strides[k])``."""

    strides: tuple[int, ...]
    offset: int = 0


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """NumPy broadcasting of static shapes; ``ShapeError`` when they do not fit."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(rank):
        dims = {s[k - rank + len(s)] for s in shapes if k - rank + len(s) >= 0} - {1}
        if len(dims) > 1:
            raise ShapeError(f"shapes {[list(s) for s in shapes]} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def broadcast_access(in_shape: Sequence[int], out_shape: Sequence[int]) -> Access:
    """Reading a contiguous ``in_shape`` tensor broadcast to ``out_shape``."""
    if len(in_shape) > len(out_shape):
        raise ShapeError(f"cannot broadcast {list(in_shape)} to {list(out_shape)}")
    pad = len(out_shape) - len(in_shape)
    src = contiguous_strides(in_shape)
    strides = [0] * pad
    for k, d in enumerate(in_shape):
        if d != 1 and d != out_shape[pad + k]:
            raise ShapeError(f"cannot broadcast {list(in_shape)} to {list(out_shape)}")
        strides.append(0 if d == 1 else src[k])
    return Access(tuple(strides))


def view_access(base: Access, base_shape: Sequence[int], out_shape: Sequence[int]) -> Access:
    """A view (``base`` over ``base_shape``) broadcast further to ``out_shape``."""
    pad = len(out_shape) - len(base_shape)
    if pad < 0:
        raise ShapeError(f"cannot broadcast {list(base_shape)} to {list(out_shape)}")
    strides = [0] * pad
    for k, d in enumerate(base_shape):
        if d != 1 and d != out_shape[pad + k]:
            raise ShapeError(f"cannot broadcast {list(base_shape)} to {list(out_shape)}")
        strides.append(0 if d == 1 else base.strides[k])
    return Access(tuple(strides), base.offset)


def permute_access(base: Access, perm: Sequence[int]) -> Access:
    """The access of ``transpose(view, perm)`` given the view's access."""
    return Access(tuple(base.strides[p] for p in perm), base.offset)


def _coalesce(shape: Sequence[int], strides: Sequence[int]) -> list[tuple[int, int]]:
    """(size, stride) pairs, outermost first, with size-1 dims dropped and mergeable dims
    (inner stride * inner size == outer stride) merged."""
    dims = [(d, s) for d, s in zip(shape, strides) if d != 1]
    merged: list[tuple[int, int]] = []
    for d, s in reversed(dims):
        if merged and merged[-1][1] * merged[-1][0] == s:
            merged[-1] = (merged[-1][0] * d, merged[-1][1])
        elif merged and merged[-1][1] == 0 and s == 0:
            merged[-1] = (merged[-1][0] * d, 0)
        else:
            merged.append((d, s))
    return list(reversed(merged))


def render_offset(index: str, shape: Sequence[int], access: Access) -> str:
    """C expression of the input offset for contiguous output index ``index`` (a ``long long``
    that is ``< prod(shape)``)."""
    dims = _coalesce(shape, access.strides)
    terms, inner = [], 1
    for pos in range(len(dims) - 1, -1, -1):
        size, stride = dims[pos]
        if stride != 0:
            coord = index if inner == 1 else f"({index} / {inner}LL)"
            if pos != 0:
                coord = f"({coord} % {size}LL)"
            terms.append(coord if stride == 1 else f"({coord} * {stride}LL)")
        inner *= size
    if access.offset:
        terms.append(f"{access.offset}LL")
    return "(" + " + ".join(reversed(terms)) + ")" if terms else "0LL"


def numel(shape: Sequence[int]) -> int:
    return prod(shape)


def static_shape(t) -> tuple[int, ...] | None:
    """The shape of a TensorType when every dimension is a known non-negative int."""
    shape = getattr(t, "shape", None)
    if shape is None or any(not isinstance(d, int) or d < 0 for d in shape):
        return None
    return tuple(shape)
