"""Single elementwise nodes (the expression table, Cast, Where, inference BatchNormalization)
and no-copy view ops (Reshape, Squeeze, ..., inference Dropout)."""

from __future__ import annotations

import numpy as np

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.dtypes import FLOATS
from onyx.backends.cuda.codegen.elementwise import (
    ELEMENTWISE,
    SPECIAL,
    MapBuilder,
    map_grid,
    supports,
)
from onyx.backends.cuda.codegen.indexing import (
    Access,
    broadcast_access,
    contiguous_strides,
    numel,
)
from onyx.backends.cuda.codegen.kernel import NodePlan
from onyx.backends.cuda.codegen.registry import ALIAS_OPS, NodeContext, planner
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError


def _attrs(ctx: NodeContext) -> dict:
    return {k: a.value for k, a in ctx.node.attributes.items()}


@planner(*ELEMENTWISE, *SPECIAL)
def plan_elementwise(ctx: NodeContext) -> NodePlan | None:
    op = ctx.node.op_type
    if op == "Identity":
        return plan_alias(ctx)
    if op == "Clip" and ctx.opset < 11 and len(ctx.in_shapes) > 1:
        return None
    if not supports(op, ctx.in_dtypes, ctx.out_dtypes) or len(ctx.out_shapes) != 1:
        return None
    shape = ctx.out_shapes[0]
    mb = MapBuilder(shape)
    args = []
    for i, (s, t) in enumerate(zip(ctx.in_shapes, ctx.in_dtypes)):
        args.append(None if s is None else (mb.load(f"in{i}", t, broadcast_access(s, shape)), t))
    mb.store("out0", mb.apply(op, _attrs(ctx), args, ctx.out_dtypes[0]), ctx.out_dtypes[0])
    src, n = mb.render()
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=256, args=mb.args()),))


@planner(*(op for op in ALIAS_OPS if op != "Identity"))
def plan_alias(ctx: NodeContext) -> NodePlan | None:
    """Reshape-like ops: the output is the input's bytes with a new shape."""
    if ctx.in_shapes[0] is None or len(ctx.out_shapes) != 1:
        return None
    if numel(ctx.in_shapes[0]) != numel(ctx.out_shapes[0]):
        raise ShapeError(f"{ctx.node.op_type}: input {list(ctx.in_shapes[0])} and output "
                         f"{list(ctx.out_shapes[0])} differ in element count")
    if ctx.in_dtypes[0] != ctx.out_dtypes[0]:
        return None
    return NodePlan(kernels=(), aliases=((0, 0),))


@planner("Dropout")
def plan_dropout(ctx: NodeContext) -> NodePlan | None:
    """Inference Dropout is the identity; training mode or a requested mask falls back."""
    training = ctx.const(2) if ctx.has_input(2) else np.zeros((), bool)
    wants_mask = len(ctx.node.outputs) > 1 and ctx.node.outputs[1].name != ""
    if training is None or bool(np.asarray(training).reshape(-1)[0]) or wants_mask:
        return None
    return plan_alias(ctx)


@planner("BatchNormalization")
def plan_batchnorm(ctx: NodeContext) -> NodePlan | None:
    """Inference form: ``(x - mean) / sqrt(var + eps) * scale + bias``, per channel (axis 1)."""
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    if ctx.attr("training_mode", 0) or len(ctx.out_shapes) != 1 or dt not in FLOATS or \
            len(shape) < 2 or ctx.opset < 9 or not all(ctx.has_input(i) for i in range(5)):
        return None
    channel = Access(tuple(1 if k == 1 else 0 for k in range(len(shape))))
    mb = MapBuilder(shape)
    x = mb.load("in0", dt, Access(contiguous_strides(shape)))
    scale, bias, mean, var = (mb.load(f"in{i}", ctx.in_dtypes[i], channel) for i in range(1, 5))
    t = DType.DOUBLE if dt is DType.DOUBLE else DType.FLOAT
    eps = ct.literal(ctx.attr("epsilon", 1e-5), t)
    y = mb._new(f"(({x}) - ({mean})) / {ct.math_fn('sqrt', t)}(({var}) + {eps}) * ({scale}) + "
                f"({bias})", t)
    mb.store("out0", y, ctx.out_dtypes[0])
    src, n = mb.render()
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=256, args=mb.args()),))


@planner("CastLike")
def plan_cast_like(ctx: NodeContext) -> NodePlan | None:
    """Cast to the second input's dtype (its values are never read)."""
    shape, dt, to = ctx.in_shapes[0], ctx.in_dtypes[0], ctx.out_dtypes[0]
    mb = MapBuilder(shape)
    mb.store("out0", mb.apply("Cast", {}, [(mb.load("in0", dt, Access(contiguous_strides(shape))),
                                           dt)], to), to)
    src, n = mb.render()
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=256, args=mb.args()),))
