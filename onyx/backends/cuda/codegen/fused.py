"""A fused group (an ``onyx.fused`` local function) rendered as ONE kernel.

The body may hold elementwise ops of the expression table, Cast, Where, scalar Constants, and
views of group inputs (Transpose, Expand, Reshape/Squeeze/Unsqueeze/Flatten/Identity of an
input, composed as index arithmetic, no copy). Every output has the group's one element shape;
or the group ends in one reduction, whose per-element input is the chain (``reduce.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.elementwise import ELEMENTWISE, SPECIAL, MapBuilder, map_grid
from onyx.backends.cuda.codegen.elementwise import supports as elementwise_supports
from onyx.backends.cuda.codegen.indexing import (
    Access,
    broadcast_shapes,
    contiguous_strides,
    permute_access,
    static_shape,
    view_access,
)
from onyx.backends.cuda.codegen.kernel import NodePlan
from onyx.backends.cuda.codegen.registry import NodeContext
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError

VIEW_OPS = ("Transpose", "Expand", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity")


@dataclass(frozen=True)
class View:
    """A group input read through index arithmetic."""

    arg: str
    access: Access
    shape: tuple[int, ...]
    dtype: DType


@dataclass(frozen=True)
class Scalar:
    value: float | int | bool
    dtype: DType
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Computed:
    node: object      # the body node that produced it
    shape: tuple[int, ...]
    dtype: DType


def plan_fused(ctx: NodeContext) -> NodePlan | None:
    node = ctx.node
    fn = ctx.functions.get((node.domain, node.op_type, node.overload))
    if fn is None or len(fn.graph.inputs) != len(ctx.in_shapes):
        return None
    vals = _bind_inputs(ctx, fn.graph)
    body = list(fn.graph)
    if not body:
        return None
    last = body[-1]
    from onyx.backends.cuda.codegen import reduce as red
    if last.op_type in red.REDUCE_OPS and len(fn.graph.outputs) == 1 and \
            fn.graph.outputs[0] is last.outputs[0]:
        if _trace(body[:-1], vals) is None:
            return None
        return red.plan_fused_reduce(ctx, last, vals, lambda mb, v, shape: _emit(mb, v, vals,
                                                                                 shape))
    if _trace(body, vals) is None:
        return None
    shapes = {vals[o].shape for o in fn.graph.outputs if o in vals}
    if len(shapes) != 1 or len(fn.graph.outputs) != len(ctx.out_shapes):
        return None
    shape = shapes.pop()
    if shape != ctx.out_shapes[0]:
        raise ShapeError(f"fused {node.op_type}: body computes {list(shape)}, node output "
                         f"is {list(ctx.out_shapes[0])}")
    mb = MapBuilder(shape)
    memo: dict = {}
    for j, out in enumerate(fn.graph.outputs):
        var = _emit(mb, out, vals, shape, memo)
        src_t = vals[out].dtype
        mb.store(f"out{j}", ct.convert(var, src_t, ctx.out_dtypes[j])
                 if src_t != ctx.out_dtypes[j] else var, ctx.out_dtypes[j])
    src, n = mb.render()
    ops = ",".join(dict.fromkeys(b.op_type for b in body))
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=256, args=mb.args(),
                                op=f"fused({ops})"),))


def _bind_inputs(ctx: NodeContext, graph) -> dict:
    vals: dict = {}
    for i, v in enumerate(graph.inputs):
        shape, dtype = ctx.in_shapes[i], ctx.in_dtypes[i]
        if shape is None:
            continue
        vals[v] = View(f"in{i}", Access(contiguous_strides(shape)), shape, dtype)
    return vals


def _trace(body, vals: dict) -> dict | None:
    """Shapes and kinds of every body value, ``None`` if some op cannot be fused."""
    for n in body:
        if n.domain not in ("", "ai.onnx") or len(n.outputs) != 1:
            return None
        got = _trace_node(n, vals)
        if got is None:
            if n.op_type == "Constant":
                continue    # e.g. a reduction's axes; only fatal if an element op reads it
            return None
        vals[n.outputs[0]] = got
    return vals


def _trace_node(n, vals):
    if n.op_type == "Constant":
        return _scalar_constant(n)
    ins = [None if v is None else vals.get(v) for v in n.inputs]
    if n.op_type in VIEW_OPS:
        return _trace_view(n, ins)
    if n.op_type not in ELEMENTWISE and n.op_type not in SPECIAL:
        return None
    if any(v is None and x is not None for v, x in zip(ins, n.inputs)):
        return None
    present = [v for v in ins if v is not None]
    dts = [v.dtype if v is not None else None for v in ins]
    out_dt = _out_dtype(n, dts)
    if out_dt is None or not elementwise_supports(n.op_type, dts, [out_dt]):
        return None
    return Computed(n, broadcast_shapes(*(v.shape for v in present)), out_dt)


def _out_dtype(n, dts) -> DType | None:
    if n.op_type == "Cast":
        to = DType(n.attr("to"))
        return to if to in ct.CTYPES else None
    if n.op_type == "Where":
        return dts[1]
    rule = ELEMENTWISE[n.op_type]
    return DType.BOOL if rule.bool_out else dts[0]


def _scalar_constant(n):
    t = n.attr("value")
    if t is None:
        for name in ("value_float", "value_int"):
            if n.attr(name) is not None:
                x = n.attr(name)
                return Scalar(x, DType.FLOAT if name == "value_float" else DType.INT64, ())
        return None
    arr = np.asarray(t.numpy() if hasattr(t, "numpy") else t)
    dtype = DType.from_numpy(arr.dtype)
    if arr.size != 1 or dtype not in ct.CTYPES:
        return None
    return Scalar(arr.reshape(-1)[0].item(), dtype, tuple(arr.shape))


def _trace_view(n, ins):
    src = ins[0] if ins else None
    if not isinstance(src, View):
        return None     # only views of group inputs are index arithmetic; others need a copy
    if n.op_type == "Transpose":
        perm = n.attr("perm") or list(range(len(src.shape)))[::-1]
        return View(src.arg, permute_access(src.access, perm),
                    tuple(src.shape[p] for p in perm), src.dtype)
    out_shape = static_shape(n.outputs[0].type)
    if n.op_type == "Expand" and out_shape is not None:
        return View(src.arg, view_access(src.access, src.shape, out_shape), out_shape, src.dtype)
    if n.op_type == "Identity":
        return src
    contiguous = src.access == Access(contiguous_strides(src.shape))
    if out_shape is None or not contiguous or np.prod(out_shape) != np.prod(src.shape):
        return None
    return View(src.arg, Access(contiguous_strides(out_shape)), out_shape, src.dtype)


def _emit(mb: MapBuilder, value, vals: dict, shape, memo: dict | None = None) -> str:
    """The C variable holding ``value`` at element ``i`` of the ``shape`` index space."""
    memo = memo if memo is not None else {}
    if value in memo:
        return memo[value]
    info = vals[value]
    if isinstance(info, View):
        var = mb.load(info.arg, info.dtype, view_access(info.access, info.shape, shape))
    elif isinstance(info, Scalar):
        var = mb._new(ct.literal(info.value, info.dtype), info.dtype)
    else:
        n = info.node
        args = [None if v is None else (_emit(mb, v, vals, shape, memo), vals[v].dtype)
                for v in n.inputs]
        attrs = {k: a.value for k, a in n.attributes.items()}
        var = mb.apply(n.op_type, attrs, args, info.dtype)
    memo[value] = var
    return var
