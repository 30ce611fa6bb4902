"""Reductions, ArgMax/ArgMin, Softmax, LogSoftmax and LayerNormalization as row programs.

Accumulation: float for float16/bfloat16/float32, double for double, 64-bit for integers.
LogSumExp, Softmax and LogSoftmax subtract the row max first; LayerNormalization takes the
mean, then the mean squared deviation (two passes, no catastrophic cancellation).
"""

from __future__ import annotations

import dataclasses
from math import prod

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.dtypes import FLOATS, NUMERIC, SIGNED
from onyx.backends.cuda.codegen.elementwise import MapBuilder
from onyx.backends.cuda.codegen.indexing import Access, broadcast_access, contiguous_strides
from onyx.backends.cuda.codegen.kernel import NodePlan
from onyx.backends.cuda.codegen.registry import NodeContext, planner
from onyx.backends.cuda.codegen.rows import (
    BLOCK,
    Pass,
    RowProgram,
    axes_of,
    max_pass,
    render_rows,
    render_two_stage,
    scratch_size,
    splits_for,
    sum_pass,
)
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError

REDUCE_OPS = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
              "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")
# Opset from which ``axes`` is an input rather than an attribute.
_AXES_INPUT_SINCE = {op: (13 if op == "ReduceSum" else 18) for op in REDUCE_OPS}


def acc_type(dtype: DType) -> str:
    if dtype in FLOATS:
        return ct.CTYPES[dtype].compute
    return "long long" if dtype in SIGNED else "unsigned long long"


def _fn(name: str, acc: str) -> str:
    return name if acc == "double" else f"{name}f"


def reduce_passes(op: str, dtype: DType, count: int) -> tuple[list[Pass], str] | None:
    """Passes and the final expression of ``op`` over rows of ``count`` elements."""
    acc = acc_type(dtype)
    if op in ("ReduceMax", "ReduceMin"):
        sign = 1 if op == "ReduceMax" else -1
        p = max_pass("m", acc, sign)
        if dtype not in FLOATS:
            init = ct.min_value(dtype) if sign > 0 else ct.max_value(dtype)
            p = dataclasses.replace(p, init=f"(({acc}){init})")
        return ([p], "m") if count else None   # the max of nothing is undefined
    if op == "ReduceProd":
        return [Pass("p", acc, f"({acc})1", lambda a, x: f"{a} * ({x})",
                     lambda a, b: f"{a} * {b}")], "p"
    if op == "ReduceLogSumExp":
        if dtype not in FLOATS:
            return None
        e = _fn("exp", acc)
        return [max_pass("m", acc),
                sum_pass("s", acc, lambda x: f"{e}(({x}) - m)")], \
            f"(m == -ONYX_INF || m == ONYX_INF ? m : m + {_fn('log', acc)}(s))"
    terms = {"ReduceSum": lambda x: x, "ReduceMean": lambda x: x,
             "ReduceLogSum": lambda x: x, "ReduceSumSquare": lambda x: f"({x}) * ({x})",
             "ReduceL2": lambda x: f"({x}) * ({x})",
             "ReduceL1": lambda x: f"(({x}) < 0 ? -({x}) : ({x}))"}
    final = {"ReduceMean": f"s / ({acc}){count}", "ReduceL2": f"{_fn('sqrt', acc)}(s)",
             "ReduceLogSum": f"{_fn('log', acc)}(s)"}.get(op, "s")
    if op in ("ReduceMean", "ReduceL2", "ReduceLogSum") and dtype not in FLOATS:
        if op != "ReduceMean":
            return None
    return [sum_pass("s", acc, terms[op])], final


def reduce_axes(ctx: NodeContext) -> tuple[int, ...] | None | str:
    """The reduced axes; ``"noop"`` for an identity; ``None`` when unknown at plan time."""
    rank = len(ctx.in_shapes[0])
    if ctx.opset >= _AXES_INPUT_SINCE.get(ctx.node.op_type, 99):
        if ctx.has_input(1):
            axes = ctx.const(1)
            if axes is None:
                return None
            axes = [int(a) for a in axes.reshape(-1)]
        else:
            axes = []
    else:
        axes = list(ctx.attr("axes") or [])
    if not axes:
        if ctx.attr("noop_with_empty_axes", 0):
            return "noop"
        return tuple(range(rank))
    return axes_of(axes, rank)


@planner(*REDUCE_OPS)
def plan_reduce(ctx: NodeContext) -> NodePlan | None:
    shape, dtype = ctx.in_shapes[0], ctx.in_dtypes[0]
    if dtype not in NUMERIC or ctx.out_dtypes[0] != dtype:
        return None
    axes = reduce_axes(ctx)
    if axes is None:
        return None
    if axes == "noop":
        return NodePlan((), aliases=((0, 0),))

    def element(mb: MapBuilder) -> str:
        return mb.load("in0", dtype, Access(contiguous_strides(shape)))
    return _plan_reduction(ctx, ctx.node.op_type, shape, axes, dtype, element, ctx.node.op_type)


def _plan_reduction(ctx, op, shape, axes, dtype, element, label) -> NodePlan | None:
    kept = prod(d for k, d in enumerate(shape) if k not in axes)
    if kept != prod(ctx.out_shapes[0]):
        raise ShapeError(f"{label}: reducing {list(shape)} over axes {list(axes)} gives {kept} "
                         f"elements, the output {list(ctx.out_shapes[0])} holds "
                         f"{prod(ctx.out_shapes[0])}")
    got = reduce_passes(op, dtype, prod(shape[k] for k in axes))
    if got is None:
        return None
    passes, final = got
    acc = acc_type(dtype)
    elem = _convert_to(element, ct.CTYPES[dtype].compute, acc)
    prog = RowProgram(shape, axes, elem, acc, passes,
                      row_stores=[("out0", final, ctx.out_dtypes[0])])
    splits = splits_for(prog)
    if splits > 1:
        stages = render_two_stage(prog, splits)
        return NodePlan(tuple(ctx.kernel(src, grid=grid, block=BLOCK, args=args,
                                         op=f"{label}[stage {n + 1}/2]")
                              for n, (src, args, grid) in enumerate(stages)),
                        scratch_bytes=(scratch_size(prog, splits),))
    src, args, grid, block = render_rows(prog)
    return NodePlan((ctx.kernel(src, grid=grid, block=block, args=args, op=label),))


def _convert_to(element, src: str, dst: str):
    if src == dst:
        return element
    return lambda mb: mb._new_typed(f"(({dst})({element(mb)}))", dst)


def plan_fused_reduce(ctx: NodeContext, last, vals, emit) -> NodePlan | None:
    """A fused group ending in a reduction: the chain is the reduction's element."""
    src_val = last.inputs[0]
    info = vals.get(src_val)
    if info is None or info.dtype not in NUMERIC:
        return None
    shape, dtype = info.shape, info.dtype
    has_axes = len(last.inputs) > 1 and last.inputs[1] is not None
    sub = dataclasses.replace(ctx, in_shapes=(shape, (1,) if has_axes else None), node=last,
                              consts=_body_consts(last, vals))
    axes = reduce_axes(sub)
    if axes is None or axes == "noop":
        return None
    ops = ",".join(dict.fromkeys(n.op_type for n in _producers(last)))
    return _plan_reduction(ctx, last.op_type, shape, axes, dtype,
                           lambda mb: emit(mb, src_val, shape), f"fused({ops})")


def _body_consts(last, vals) -> dict:
    import numpy as np
    if len(last.inputs) > 1 and last.inputs[1] is not None:
        v = last.inputs[1]
        if v.const is not None:
            return {1: np.asarray(v.const.numpy())}
        producer = v.producer
        if producer is not None and producer.op_type == "Constant" and producer.attr("value"):
            return {1: np.asarray(producer.attr("value").numpy())}
    return {}


def _producers(last):
    seen, stack, out = set(), [last], []
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        out.append(n)
        stack += [v.producer for v in n.inputs if v is not None and v.producer is not None]
    return reversed(out)


@planner("ArgMax", "ArgMin")
def plan_argmax(ctx: NodeContext) -> NodePlan | None:
    shape, dtype = ctx.in_shapes[0], ctx.in_dtypes[0]
    if dtype not in NUMERIC or ctx.out_dtypes[0] is not DType.INT64:
        return None
    axes = axes_of([ctx.attr("axis", 0)], len(shape))
    if axes is None or shape[axes[0]] == 0:
        return None
    acc = acc_type(dtype)
    sign = 1 if ctx.node.op_type == "ArgMax" else -1
    best = max_pass("m", acc, sign)
    if dtype not in FLOATS:
        best = dataclasses.replace(best, init=f"(({acc})"
                                   f"{ct.min_value(dtype) if sign > 0 else ct.max_value(dtype)})")
    # Second pass: the first (or last) position holding the extreme; NaN counts as extreme.
    last = bool(ctx.attr("select_last_index", 0))
    hit = "(({x}) == m || (({x}) != ({x}) && m != m))"
    pick = ("(" + hit + " ? (r > {a} ? r : {a}) : {a})" if last
            else "(" + hit + " && r < {a} ? r : {a})")
    where = Pass("p", "long long", "-1LL" if last else "0x7fffffffffffffffLL",
                 lambda a, x: pick.format(x=x, a=a),
                 lambda a, b: f"({b} > {a} ? {b} : {a})" if last else f"({b} < {a} ? {b} : {a})")
    prog = RowProgram(shape, axes, _convert_to(
        lambda mb: mb.load("in0", dtype, Access(contiguous_strides(shape))),
        ct.CTYPES[dtype].compute, acc), acc, [best, where],
        row_stores=[("out0", "p", DType.INT64)])
    src, args, grid, block = render_rows(prog)
    return NodePlan((ctx.kernel(src, grid=grid, block=block, args=args),))


@planner("Softmax", "LogSoftmax")
def plan_softmax(ctx: NodeContext) -> NodePlan | None:
    shape, dtype = ctx.in_shapes[0], ctx.in_dtypes[0]
    if dtype not in FLOATS or not shape:
        return None
    rank = len(shape)
    axis = ctx.attr("axis", -1 if ctx.opset >= 13 else 1)
    if not -rank <= axis < rank:
        return None
    axis %= rank
    axes = (axis,) if ctx.opset >= 13 else tuple(range(axis, rank))
    acc = acc_type(dtype)
    e, lg = _fn("exp", acc), _fn("log", acc)
    passes = [max_pass("m", acc), sum_pass("s", acc, lambda x: f"{e}(({x}) - m)")]
    if ctx.node.op_type == "Softmax":
        def write(mb, x):
            return f"{e}(({x}) - m) / s"
    else:
        def write(mb, x):
            return f"(({x}) - m) - {lg}(s)"
    prog = RowProgram(shape, axes, _convert_to(
        lambda mb: mb.load("in0", dtype, Access(contiguous_strides(shape))),
        ct.CTYPES[dtype].compute, acc), acc, passes,
        elem_writes=[("out0", write, ctx.out_dtypes[0])])
    src, args, grid, block = render_rows(prog)
    return NodePlan((ctx.kernel(src, grid=grid, block=block, args=args),))


@planner("LayerNormalization")
def plan_layernorm(ctx: NodeContext) -> NodePlan | None:
    shape, dtype = ctx.in_shapes[0], ctx.in_dtypes[0]
    if dtype not in FLOATS or not shape or ctx.attr("stash_type", 1) != 1:
        return None
    rank = len(shape)
    axis = ctx.attr("axis", -1)
    if not -rank <= axis < rank:
        return None
    axes = tuple(range(axis % rank, rank))
    norm_shape = tuple(shape[k] for k in axes)
    count = prod(norm_shape)
    acc = "double" if dtype is DType.DOUBLE else "float"
    eps = ct.literal(ctx.attr("epsilon", 1e-5), DType.DOUBLE if acc == "double" else DType.FLOAT)
    passes = [sum_pass("mean", acc, lambda x: x, lambda t: f"{t} / ({acc}){count}"),
              sum_pass("var", acc, lambda x: f"(({x}) - mean) * (({x}) - mean)",
                       lambda t: f"{t} / ({acc}){count}"),
              Pass("rstd", acc, "", None, None,
                   lambda t: f"({acc})1 / {_fn('sqrt', acc)}(var + {eps})")]

    def param(mb: MapBuilder, i: int) -> str | None:
        if not ctx.has_input(i):
            return None
        return mb.load(f"in{i}", ctx.in_dtypes[i], broadcast_access(ctx.in_shapes[i], norm_shape),
                       index="r", shape=norm_shape)

    def write(mb, x):
        y = f"(({x}) - mean) * rstd"
        scale, bias = param(mb, 1), param(mb, 2)
        y = f"({y}) * ({scale})" if scale else y
        return f"({y}) + ({bias})" if bias else y
    stores = [(f"out{j}", name, ctx.out_dtypes[j]) for j, name in ((1, "mean"), (2, "rstd"))
              if j < len(ctx.out_shapes) and ctx.node.outputs[j].name != ""]
    prog = RowProgram(shape, axes, _convert_to(
        lambda mb: mb.load("in0", dtype, Access(contiguous_strides(shape))),
        ct.CTYPES[dtype].compute, acc), acc, passes, row_stores=stores,
        elem_writes=[("out0", write, ctx.out_dtypes[0])])
    src, args, grid, block = render_rows(prog)
    return NodePlan((ctx.kernel(src, grid=grid, block=block, args=args),))
