"""Shape rules for ops that move data around: Shape, Reshape, Transpose, Concat, Split, Slice,
Squeeze, Unsqueeze, Flatten, Expand, Tile, Pad, DepthToSpace, SpaceToDepth, CenterCropPad.

These rules also carry small integer values (``PartialInts``) so that a Reshape fed by
Shape -> Gather -> Concat gets its concrete or symbolic target shape.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.shapes.dims import (
    add,
    broadcast_dim,
    check_dim,
    known,
    normalize_axes,
    normalize_axis,
    product,
    quotient,
    total_of,
)
from onyx.ir.shapes.folding import dim_mul, fold
from onyx.ir.shapes.registry import InferenceContext, PartialInts, shape_rule, tensor
from onyx.ir.types import Dim, Shape, format_shape


@shape_rule("Shape")
def _shape(ctx: InferenceContext):
    shape = ctx.input_shape(0)
    if shape is None:
        return tensor(DType.INT64, (None,))
    rank = len(shape)
    start, end = ctx.attr("start", 0), ctx.attr("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    dims = shape[start:end] if end > start else ()
    ctx.set_value(0, PartialInts(tuple(dims)))
    return tensor(DType.INT64, (len(dims),))


@shape_rule("Size")
def _size(ctx: InferenceContext):
    shape = ctx.input_shape(0)
    n = product(shape) if shape is not None else None
    if n is not None:
        ctx.set_value(0, PartialInts((n,), scalar=True))
    return tensor(DType.INT64, ())


# -- Reshape
def reshape_target(in_shape: Shape | None, target: tuple[Dim, ...], allowzero: bool) -> Shape:
    """Resolve a Reshape target's 0 (copy) and -1 (infer) entries against ``in_shape``."""
    out = list(target)
    for i, d in enumerate(out):
        if d == 0 and not allowzero:
            out[i] = in_shape[i] if in_shape is not None and i < len(in_shape) else None
            if in_shape is not None and i >= len(in_shape):
                raise ShapeError(f"target {format_shape(target)} copies dim {i} of "
                                 f"{format_shape(in_shape)}, which has no such dim")
        elif known(d) and d < -1:
            raise ShapeError(f"target shape {list(target)} has a negative entry")
    holes = [i for i, d in enumerate(out) if d == -1]
    if len(holes) > 1:
        raise ShapeError(f"target shape {list(target)} has more than one -1")
    if holes:
        i = holes[0]
        out[i] = None if in_shape is None else quotient(in_shape, out[:i] + out[i + 1:])
    if in_shape is not None:
        _check_same_size(in_shape, out, holes)
    return tuple(out)


def _check_same_size(in_shape: Shape, out: list, holes: list[int]) -> None:
    a, b = total_of(in_shape), total_of([d for i, d in enumerate(out) if i not in holes])
    if a is None or b is None or a[1] or b[1]:
        return
    if holes:
        bad = a[0] % b[0] != 0 if b[0] else a[0] != 0
    else:
        bad = a[0] != b[0]
    if bad:
        raise ShapeError(f"cannot reshape {format_shape(in_shape)} to {format_shape(out)}")


@shape_rule("Reshape", until=4)
def _reshape_v1(ctx: InferenceContext):
    target = ctx.attr("shape")
    shape = None if target is None else \
        reshape_target(ctx.input_shape(0), tuple(int(d) for d in target), False)
    return tensor(ctx.input_dtype(0), shape)


@shape_rule("Reshape", since=5)
def _reshape(ctx: InferenceContext):
    target = ctx.input_dims(1)
    in_shape = ctx.input_shape(0)
    shape = None if target is None else \
        reshape_target(in_shape, target, bool(ctx.attr("allowzero", 0)))
    if shape is not None:
        fold(ctx, lambda x, _: x.reshape(shape), shape, inputs=(0, 1))
        p = ctx.input_partial(0)
        if p is not None and ctx.input_value(0) is None and len(shape) <= 1:
            ctx.set_value(0, PartialInts(p.dims, len(shape) == 0))
    return tensor(ctx.input_dtype(0), shape)


@shape_rule("Transpose")
def _transpose(ctx: InferenceContext):
    shape = ctx.input_shape(0)
    perm = ctx.attr("perm")
    if perm is None:
        out = None if shape is None else tuple(reversed(shape))
    else:
        perm = [int(p) for p in perm]
        if shape is None:
            out = (None,) * len(perm)
        else:
            if sorted(normalize_axes(perm, len(shape), "perm")) != list(range(len(shape))):
                raise ShapeError(f"perm {perm} does not permute {format_shape(shape)}")
            out = tuple(shape[p] for p in perm)
    fold(ctx, lambda x: np.transpose(x, perm), out, inputs=(0,))
    return tensor(ctx.input_dtype(0), out)


@shape_rule("Concat")
def _concat(ctx: InferenceContext):
    idx = [i for i in range(ctx.num_inputs) if ctx.has_input(i)]
    shapes = [ctx.input_shape(i) for i in idx]
    dtype = next((ctx.input_dtype(i) for i in idx if ctx.input_dtype(i) is not None), None)
    known_shapes = [s for s in shapes if s is not None]
    if not known_shapes:
        return tensor(dtype, None)
    rank = len(known_shapes[0])
    if any(len(s) != rank for s in known_shapes):
        raise ShapeError("inputs differ in rank: " + ", ".join(map(format_shape, shapes)))
    axis = normalize_axis(ctx.attr("axis", 1), rank)
    out: list[Dim] = [None] * rank
    along: Dim = 0
    for s in shapes:
        if s is None:
            along = None
            continue
        for k in range(rank):
            if k != axis:
                out[k] = check_dim(out[k], s[k], f"Concat inputs {list(map(format_shape, shapes))}"
                                   f" differ in dim {k}")
        along = add(along, s[axis])
    out[axis] = along
    out = tuple(out)
    fold(ctx, lambda *xs: np.concatenate(xs, axis=axis), out)
    parts = [ctx.input_dims(i) for i in idx]
    if rank == 1 and all(p is not None for p in parts) and ctx.input_value(0) is None:
        ctx.set_value(0, PartialInts(tuple(d for p in parts for d in p)))
    return tensor(dtype, out)


# -- Split
def _split_sizes(ctx: InferenceContext) -> list[int] | None:
    if ctx.opset >= 13 or ctx.has_input(1):
        return ctx.input_ints(1) if ctx.has_input(1) else None
    split = ctx.attr("split")
    return None if split is None else [int(s) for s in split]


@shape_rule("Split")
def _split(ctx: InferenceContext):
    shape, dtype, n = ctx.input_shape(0), ctx.input_dtype(0), ctx.num_outputs
    if shape is None:
        return [tensor(dtype, None)] * n
    axis = normalize_axis(ctx.attr("axis", 0), len(shape))
    dim, sizes = shape[axis], _split_sizes(ctx)
    if sizes is not None:
        if len(sizes) != n or known(dim) and sum(sizes) != dim:
            raise ShapeError(f"split sizes {sizes} do not cut dim {axis} of "
                             f"{format_shape(shape)} into {n} outputs")
    elif ctx.has_input(1):
        sizes = [None] * n
    elif known(dim):
        sizes = _even_split(ctx, dim, n, shape, axis)
    else:
        sizes = [None] * n
    _fold_split(ctx, axis, sizes)
    return [tensor(dtype, shape[:axis] + (s,) + shape[axis + 1:]) for s in sizes]


def _fold_split(ctx: InferenceContext, axis: int, sizes: list) -> None:
    if not all(known(s) for s in sizes):
        return
    bounds = np.cumsum([0] + sizes)
    value, p = ctx.input_value(0), ctx.input_partial(0)
    for i in range(len(sizes)):
        if value is not None:
            ctx.set_value(i, np.take(value, np.arange(bounds[i], bounds[i + 1]), axis=axis))
        elif p is not None and not p.scalar:
            ctx.set_value(i, PartialInts(p.dims[bounds[i]:bounds[i + 1]]))


def _even_split(ctx: InferenceContext, dim: int, n: int, shape: Shape, axis: int) -> list[int]:
    if ctx.opset >= 18 and ctx.attr("num_outputs") is not None:
        chunk = -(-dim // n)  # the last output takes what remains
        if dim - chunk * (n - 1) < 0:
            raise ShapeError(f"dim {axis} of {format_shape(shape)} cannot be split into {n} "
                             f"chunks of {chunk}")
        return [chunk] * (n - 1) + [dim - chunk * (n - 1)]
    if dim % n:
        raise ShapeError(f"dim {axis} of {format_shape(shape)} does not split evenly into "
                         f"{n} outputs")
    return [dim // n] * n


# -- Slice
def slice_length(dim: int, start: int, end: int, step: int) -> int:
    """Elements ``range(start, end, step)`` takes from a dim of size ``dim`` (ONNX clamping)."""
    if step == 0:
        raise ShapeError("Slice step must not be 0")
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        return max(0, -(-(end - start) // step))
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return max(0, -(-(start - end) // -step))


def _slice_args(ctx: InferenceContext):
    if ctx.opset < 10:
        starts, ends, axes = ctx.attr("starts"), ctx.attr("ends"), ctx.attr("axes")
        return starts, ends, axes, None if starts is None else [1] * len(starts), False
    starts, ends = ctx.input_ints(1), ctx.input_ints(2)
    axes = ctx.input_ints(3) if ctx.has_input(3) else None
    steps = ctx.input_ints(4) if ctx.has_input(4) else None
    axes_unknown = ctx.has_input(3) and axes is None
    if steps is None and not ctx.has_input(4) and starts is not None:
        steps = [1] * len(starts)
    return starts, ends, axes, steps, axes_unknown


@shape_rule("Slice")
def _slice(ctx: InferenceContext):
    shape, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    if shape is None:
        return tensor(dtype, None)
    starts, ends, axes, steps, axes_unknown = _slice_args(ctx)
    if axes_unknown:
        return tensor(dtype, (None,) * len(shape))
    if axes is None:
        count = len(starts) if starts is not None else ctx.input_dims(1)
        count = len(count) if isinstance(count, tuple) else count
        if count is None:
            return tensor(dtype, (None,) * len(shape))
        axes = list(range(count))
    axes = normalize_axes(axes, len(shape))
    out = list(shape)
    if starts is None or ends is None or steps is None:
        for a in axes:
            out[a] = None
        return tensor(dtype, tuple(out))
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ShapeError(f"starts {starts}, ends {ends}, axes {axes} and steps {steps} "
                         f"differ in length")
    for a, s, e, st in zip(axes, starts, ends, steps, strict=True):
        out[a] = _slice_dim(shape[a], s, e, st)
    out = tuple(out)
    _fold_slice(ctx, shape, out, axes, starts, ends, steps)
    return tensor(dtype, out)


def _slice_dim(dim: Dim, start: int, end: int, step: int) -> Dim:
    if known(dim):
        return slice_length(dim, start, end, step)
    if step == 1 and start == 0 and end >= 2**31 - 1:
        return dim  # the whole dimension: a name passes through
    if step == 0:
        raise ShapeError("Slice step must not be 0")
    return None


def _fold_slice(ctx, shape, out, axes, starts, ends, steps) -> None:
    index = [slice(None)] * len(shape)
    for a, s, e, st in zip(axes, starts, ends, steps, strict=True):
        index[a] = slice(*_py_slice(shape[a], s, e, st)) if known(shape[a]) else None
    if any(i is None for i in index):
        return
    fold(ctx, lambda x: x[tuple(index)], out, inputs=(0,))
    p = ctx.input_partial(0)
    if p is not None and not p.scalar and ctx.input_value(0) is None and len(shape) == 1:
        ctx.set_value(0, PartialInts(tuple(p.dims[index[0]])))


def _py_slice(dim: int, start: int, end: int, step: int) -> tuple:
    n = slice_length(dim, start, end, step)
    if n == 0:
        return (0, 0, 1)
    start = start + dim if start < 0 else start
    first = min(max(start, 0), dim) if step > 0 else min(max(start, 0), dim - 1)
    stop = first + n * step
    return (first, stop if stop >= 0 else None, step)


# -- Squeeze / Unsqueeze / Flatten
def _axes_arg(ctx: InferenceContext, since: int):
    if ctx.opset >= since:
        return ctx.input_ints(1) if ctx.has_input(1) else None, ctx.has_input(1)
    axes = ctx.attr("axes")
    return (None if axes is None else [int(a) for a in axes]), axes is not None


def _axes_count(ctx: InferenceContext) -> int | None:
    """How many axes an axes input of unknown value lists (from its shape)."""
    if ctx.opset < 13 or not ctx.has_input(1):
        return None
    dims = ctx.input_dims(1)
    return None if dims is None else len(dims)


@shape_rule("Squeeze")
def _squeeze(ctx: InferenceContext):
    shape, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    axes, given = _axes_arg(ctx, 13)
    if shape is None or given and axes is None:
        count = _axes_count(ctx)
        return tensor(dtype, None if shape is None or count is None else
                      (None,) * (len(shape) - count))
    if axes is None:
        if not all(known(d) for d in shape):
            return tensor(dtype, None)
        axes = [i for i, d in enumerate(shape) if d == 1]
    axes = normalize_axes(axes, len(shape))
    for a in axes:
        if known(shape[a]) and shape[a] != 1:
            raise ShapeError(f"cannot squeeze dim {a} of {format_shape(shape)}: it is not 1")
    out = tuple(d for i, d in enumerate(shape) if i not in axes)
    fold(ctx, lambda x: x.reshape(out), out, inputs=(0,))
    p = ctx.input_partial(0)
    if p is not None and ctx.input_value(0) is None and out == ():
        ctx.set_value(0, PartialInts(p.dims, True))
    return tensor(dtype, out)


@shape_rule("Unsqueeze")
def _unsqueeze(ctx: InferenceContext):
    shape, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    axes, _ = _axes_arg(ctx, 13)
    if shape is None or axes is None:
        count = _axes_count(ctx)
        return tensor(dtype, None if shape is None or count is None else
                      (None,) * (len(shape) + count))
    rank = len(shape) + len(axes)
    axes = normalize_axes(axes, rank)
    rest = iter(shape)
    out = tuple(1 if i in axes else next(rest) for i in range(rank))
    fold(ctx, lambda x: x.reshape(out), out, inputs=(0,))
    p = ctx.input_partial(0)
    if p is not None and ctx.input_value(0) is None and len(out) == 1:
        ctx.set_value(0, PartialInts(p.dims))
    return tensor(dtype, out)


@shape_rule("Flatten")
def _flatten(ctx: InferenceContext):
    shape, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    if shape is None:
        return tensor(dtype, (None, None))
    rank = len(shape)
    axis = ctx.attr("axis", 1)
    if not -rank <= axis <= rank:
        raise ShapeError(f"axis {axis} is out of range for {format_shape(shape)}")
    axis = axis + rank if axis < 0 else axis
    return tensor(dtype, (product(shape[:axis]), product(shape[axis:])))


# -- Expand / Tile / Pad
@shape_rule("Expand")
def _expand(ctx: InferenceContext):
    shape, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    target = ctx.input_dims(1)
    if shape is None or target is None:
        return tensor(dtype, None)
    rank = max(len(shape), len(target))
    a = (1,) * (rank - len(shape)) + tuple(shape)
    b = (1,) * (rank - len(target)) + tuple(target)
    try:
        out = tuple(broadcast_dim(x, y) for x, y in zip(a, b, strict=True))
    except ValueError:
        raise ShapeError(f"cannot expand {format_shape(shape)} to {format_shape(target)}"
                         ) from None
    fold(ctx, lambda x, _: np.broadcast_to(x, out), out, inputs=(0, 1))
    return tensor(dtype, out)


@shape_rule("Tile")
def _tile(ctx: InferenceContext):
    shape, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    repeats = ctx.input_dims(1)
    if shape is None:
        return tensor(dtype, None if repeats is None else (None,) * len(repeats))
    if repeats is None:
        return tensor(dtype, (None,) * len(shape))
    if len(repeats) != len(shape):
        raise ShapeError(f"repeats {list(repeats)} do not match {format_shape(shape)}")
    out = tuple(dim_mul(d, r) for d, r in zip(shape, repeats, strict=True))
    fold(ctx, np.tile, out, inputs=(0, 1))
    return tensor(dtype, out)


def _pads_arg(ctx: InferenceContext):
    if ctx.opset < 11:
        pads = ctx.attr("pads" if ctx.opset >= 2 else "paddings")
        return None if pads is None else [int(p) for p in pads]
    return ctx.input_ints(1)


@shape_rule("Pad")
def _pad(ctx: InferenceContext):
    shape, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    if shape is None:
        return tensor(dtype, None)
    rank = len(shape)
    axes = list(range(rank))
    if ctx.opset >= 18 and ctx.has_input(3):
        given = ctx.input_ints(3)
        if given is None:
            return tensor(dtype, (None,) * rank)
        axes = normalize_axes(given, rank)
    pads = _pads_arg(ctx)
    out = list(shape)
    if pads is None:
        for a in axes:
            out[a] = None
        return tensor(dtype, tuple(out))
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"pads {pads} do not fit {len(axes)} axes of {format_shape(shape)}")
    for k, a in enumerate(axes):
        out[a] = add(add(shape[a], pads[k]), pads[k + len(axes)])
        if known(out[a]) and out[a] < 0:
            raise ShapeError(f"pads {pads} crop more than dim {a} of {format_shape(shape)}")
    return tensor(dtype, tuple(out))


# -- rearrangements by a block size
@shape_rule("DepthToSpace")
def _depth_to_space(ctx: InferenceContext):
    shape, b = ctx.input_shape(0), int(ctx.attr("blocksize", 1))
    if shape is None or len(shape) != 4:
        return tensor(ctx.input_dtype(0), None if shape is None else (None,) * 4)
    n, c, h, w = shape
    if known(c) and c % (b * b):
        raise ShapeError(f"channels of {format_shape(shape)} are not divisible by {b * b}")
    c = c // (b * b) if known(c) else None
    return tensor(ctx.input_dtype(0), (n, c, dim_mul(h, b), dim_mul(w, b)))


@shape_rule("SpaceToDepth")
def _space_to_depth(ctx: InferenceContext):
    shape, b = ctx.input_shape(0), int(ctx.attr("blocksize", 1))
    if shape is None or len(shape) != 4:
        return tensor(ctx.input_dtype(0), None if shape is None else (None,) * 4)
    n, c, h, w = shape
    for d in (h, w):
        if known(d) and d % b:
            raise ShapeError(f"spatial dims of {format_shape(shape)} are not divisible by {b}")
    return tensor(ctx.input_dtype(0), (n, dim_mul(c, b * b), h // b if known(h) else None,
                                       w // b if known(w) else None))


@shape_rule("CenterCropPad")
def _center_crop_pad(ctx: InferenceContext):
    shape, target = ctx.input_shape(0), ctx.input_dims(1)
    if shape is None:
        return tensor(ctx.input_dtype(0), None)
    axes = ctx.attr("axes")
    axes = list(range(len(shape))) if axes is None else normalize_axes(axes, len(shape))
    out = list(shape)
    for k, a in enumerate(axes):
        out[a] = target[k] if target is not None and k < len(target) else None
    return tensor(ctx.input_dtype(0), tuple(out))

