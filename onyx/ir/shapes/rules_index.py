"""Shape rules for indexing ops: Gather*, Scatter*, OneHot, NonZero, Compress, Unique,
ReverseSequence and Trilu.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.shapes.dims import known, normalize_axis, product
from onyx.ir.shapes.folding import fold, take_dims
from onyx.ir.shapes.registry import InferenceContext, shape_rule, tensor
from onyx.ir.shapes.rules_elementwise import same_as_input
from onyx.ir.types import format_shape


@shape_rule("Gather")
def _gather(ctx: InferenceContext):
    data, indices, dtype = ctx.input_shape(0), ctx.input_shape(1), ctx.input_dtype(0)
    if data is None or indices is None:
        return tensor(dtype, None)
    axis = normalize_axis(ctx.attr("axis", 0), len(data))
    out = data[:axis] + tuple(indices) + data[axis + 1:]
    idx = ctx.input_value(1)
    if idx is not None and known(data[axis]) and idx.size and \
            (idx.min() < -data[axis] or idx.max() >= data[axis]):
        raise ShapeError(f"indices {idx.reshape(-1).tolist()} are out of range for dim {axis} "
                         f"of {format_shape(data)}")
    fold(ctx, lambda x, i: np.take(x, i, axis=axis), out, inputs=(0, 1))
    p = ctx.input_partial(0)
    if p is not None and idx is not None and ctx.input_value(0) is None and len(data) == 1:
        picked = take_dims(p, idx)
        if picked is not None:
            ctx.set_value(0, picked)
    return tensor(dtype, out)


@shape_rule("GatherElements")
def _gather_elements(ctx: InferenceContext):
    data, indices = ctx.input_shape(0), ctx.input_shape(1)
    if data is not None and indices is not None and len(data) != len(indices):
        raise ShapeError(f"data {format_shape(data)} and indices {format_shape(indices)} "
                         f"differ in rank")
    return tensor(ctx.input_dtype(0), indices if indices is not None else
                  None if data is None else (None,) * len(data))


@shape_rule("GatherND")
def _gather_nd(ctx: InferenceContext):
    data, indices, dtype = ctx.input_shape(0), ctx.input_shape(1), ctx.input_dtype(0)
    if data is None or indices is None or not indices or not known(indices[-1]):
        return tensor(dtype, None)
    b, k = int(ctx.attr("batch_dims", 0)), indices[-1]
    if b + k > len(data):
        raise ShapeError(f"indices {format_shape(indices)} index past the rank of data "
                         f"{format_shape(data)} (batch_dims={b})")
    return tensor(dtype, tuple(indices[:-1]) + tuple(data[b + k:]))


for _op in ("Scatter", "ScatterElements", "ScatterND", "ReverseSequence", "Trilu"):
    shape_rule(_op)(same_as_input)


@shape_rule("OneHot")
def _one_hot(ctx: InferenceContext):
    indices, dtype = ctx.input_shape(0), ctx.input_dtype(2)
    if indices is None:
        return tensor(dtype, None)
    rank = len(indices) + 1
    axis = normalize_axis(ctx.attr("axis", -1), rank)
    depth = ctx.input_scalar(1)
    depth = int(depth) if depth is not None else None
    out = list(indices)
    out.insert(axis, depth)
    return tensor(dtype, tuple(out))


@shape_rule("NonZero")
def _non_zero(ctx: InferenceContext):
    rank = ctx.input_rank(0)
    return tensor(DType.INT64, (rank, None))


@shape_rule("Compress")
def _compress(ctx: InferenceContext):
    data, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    cond = ctx.input_value(1)
    kept = int(np.count_nonzero(cond)) if cond is not None else None
    axis = ctx.attr("axis")
    if axis is None:
        return tensor(dtype, (kept,))
    if data is None:
        return tensor(dtype, None)
    axis = normalize_axis(axis, len(data))
    return tensor(dtype, data[:axis] + (kept,) + data[axis + 1:])


@shape_rule("Unique")
def _unique(ctx: InferenceContext):
    data, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    axis = ctx.attr("axis")
    if axis is None:
        y = (None,)
        inverse = (None if data is None else product(data),)
    elif data is None:
        y, inverse = None, (None,)
    else:
        axis = normalize_axis(axis, len(data))
        y = data[:axis] + (None,) + data[axis + 1:]
        inverse = (data[axis],)
    i64 = DType.INT64
    return [tensor(dtype, y), tensor(i64, (None,)), tensor(i64, inverse), tensor(i64, (None,))]


@shape_rule("NonMaxSuppression")
def _non_max_suppression(ctx: InferenceContext):
    # One row (batch, class, box) per kept box: how many is data-dependent.
    return tensor(DType.INT64, (None, 3))
