"""Shape rules for reductions and ops along one axis: Reduce*, ArgMax/ArgMin, TopK, the
Softmax family and cumulative sums/products.

``axes`` moved from an attribute to an input at opset 13 for ReduceSum and at opset 18 for
the other reductions; ``noop_with_empty_axes`` came with that input.
"""

from __future__ import annotations

import numpy as np

from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.shapes.dims import known, normalize_axes, normalize_axis
from onyx.ir.shapes.folding import fold
from onyx.ir.shapes.registry import InferenceContext, shape_rule, tensor
from onyx.ir.shapes.rules_elementwise import same_as_input
from onyx.ir.types import format_shape

_REDUCE_FOLD = {"ReduceSum": np.sum, "ReduceProd": np.prod, "ReduceMax": np.max,
                "ReduceMin": np.min}
_REDUCE = ["ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
           "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare"]


def _axes(ctx: InferenceContext) -> tuple[list[int] | None, bool]:
    """(axes, known): axes is [] when none are given."""
    input_since = 13 if ctx.node.op_type == "ReduceSum" else 18
    if ctx.opset >= input_since:
        if not ctx.has_input(1):
            return [], True
        axes = ctx.input_ints(1)
        if axes is None and ctx.input_dims(1) == ():
            axes = []  # an axes input of shape [0]: no axes, whatever feeds it
        return axes, axes is not None
    axes = ctx.attr("axes")
    return ([] if axes is None else [int(a) for a in axes]), True


def _reduce(ctx: InferenceContext):
    shape, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    keep = bool(ctx.attr("keepdims", 1))
    axes, axes_known = _axes(ctx)
    if shape is None:
        return tensor(dtype, None)
    if not axes_known:
        return tensor(dtype, _unknown_axes(ctx, shape, keep))
    if not axes:
        if ctx.attr("noop_with_empty_axes", 0):
            return tensor(dtype, shape)
        axes = list(range(len(shape)))
    axes = normalize_axes(axes, len(shape))
    out = tuple(1 if i in axes else d for i, d in enumerate(shape) if keep or i not in axes)
    fn = _REDUCE_FOLD.get(ctx.node.op_type)
    if fn is not None:
        fold(ctx, lambda x, *_: fn(x, axis=tuple(axes), keepdims=keep), out, dtype)
    return tensor(dtype, out)


def _unknown_axes(ctx: InferenceContext, shape, keep: bool):
    # Axes of unknown value: a kept dim is itself or 1; without keepdims only the rank is
    # known, and only when the axes input's length is (and no axis repeats, as the spec says).
    if keep:
        return tuple(1 if d == 1 else None for d in shape)
    count = ctx.input_dims(1)
    if count is None:
        return None
    if not count:
        return () if not ctx.attr("noop_with_empty_axes", 0) else shape
    return (None,) * (len(shape) - len(count))


for _op in _REDUCE:
    shape_rule(_op)(_reduce)


@shape_rule("ArgMax")
@shape_rule("ArgMin")
def _arg_reduce(ctx: InferenceContext):
    shape = ctx.input_shape(0)
    if shape is None:
        return tensor(DType.INT64, None)
    axis = normalize_axis(ctx.attr("axis", 0), len(shape))
    keep = bool(ctx.attr("keepdims", 1))
    out = tuple(1 if i == axis else d for i, d in enumerate(shape) if keep or i != axis)
    return tensor(DType.INT64, out)


@shape_rule("TopK")
def _top_k(ctx: InferenceContext):
    shape, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    if shape is None:
        return [tensor(dtype, None), tensor(DType.INT64, None)]
    axis = normalize_axis(ctx.attr("axis", -1), len(shape))
    k = ctx.attr("k") if ctx.opset < 10 else ctx.input_scalar(1)
    if k is not None:
        k = int(k)
        if k < 0 or known(shape[axis]) and k > shape[axis]:
            raise ShapeError(f"k={k} is out of range for dim {axis} of {format_shape(shape)}")
    out = shape[:axis] + (k,) + shape[axis + 1:]
    return [tensor(dtype, out), tensor(DType.INT64, out)]


for _op in ("Softmax", "LogSoftmax", "Hardmax", "CumSum", "CumProd"):
    shape_rule(_op)(same_as_input)
