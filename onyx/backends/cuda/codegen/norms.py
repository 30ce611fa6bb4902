"""Normalizations and row-wise ops on the row-program template: RMSNormalization,
InstanceNormalization, GroupNormalization, LpNormalization, Hardmax; and CumSum as a
sequential scan, one thread per line."""

from __future__ import annotations

from math import prod

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.dtypes import FLOATS, NUMERIC
from onyx.backends.cuda.codegen.elementwise import MAP_THREADS, map_grid
from onyx.backends.cuda.codegen.indexing import Access, broadcast_access, contiguous_strides
from onyx.backends.cuda.codegen.kernel import NodePlan
from onyx.backends.cuda.codegen.movement import _kernel_src, _ptr
from onyx.backends.cuda.codegen.reduce import _convert_to, _fn, acc_type
from onyx.backends.cuda.codegen.registry import NodeContext, planner
from onyx.backends.cuda.codegen.rows import Pass, RowProgram, max_pass, render_rows, sum_pass
from onyx.ir.dtypes import DType


def _x(shape, dtype, acc):
    return _convert_to(lambda mb: mb.load("in0", dtype, Access(contiguous_strides(shape))),
                       ct.CTYPES[dtype].compute, acc)


def _run(ctx: NodeContext, prog: RowProgram) -> NodePlan:
    src, args, grid, block = render_rows(prog)
    return NodePlan((ctx.kernel(src, grid=grid, block=block, args=args),))


def _mean_rstd(acc: str, count: int, eps: float, centered: bool) -> list[Pass]:
    """Mean, then mean squared deviation (or mean square), then 1/sqrt(. + eps)."""
    e = ct.literal(eps, DType.DOUBLE if acc == "double" else DType.FLOAT)
    passes = [sum_pass("mean", acc, lambda x: x, lambda t: f"{t} / ({acc}){count}")] \
        if centered else []
    dev = (lambda x: f"(({x}) - mean) * (({x}) - mean)") if centered else \
        (lambda x: f"({x}) * ({x})")
    passes.append(sum_pass("var", acc, dev, lambda t: f"{t} / ({acc}){count}"))
    passes.append(Pass("rstd", acc, "", None, None,
                       lambda t: f"({acc})1 / {_fn('sqrt', acc)}(var + {e})"))
    return passes


@planner("RMSNormalization")
def plan_rms_norm(ctx: NodeContext) -> NodePlan | None:
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    axis = ctx.attr("axis", -1)
    if dt not in FLOATS or not shape or not -len(shape) <= axis < len(shape):
        return None
    axes = tuple(range(axis % len(shape), len(shape)))
    norm = tuple(shape[k] for k in axes)
    acc = "double" if dt is DType.DOUBLE else "float"

    def write(mb, x):
        s = mb.load("in1", ctx.in_dtypes[1], broadcast_access(ctx.in_shapes[1], norm),
                    index="r", shape=norm)
        return f"({x}) * rstd * ({s})"
    return _run(ctx, RowProgram(shape, axes, _x(shape, dt, acc), acc,
                                _mean_rstd(acc, prod(norm), ctx.attr("epsilon", 1e-5), False),
                                elem_writes=[("out0", write, ctx.out_dtypes[0])]))


@planner("InstanceNormalization")
def plan_instance_norm(ctx: NodeContext) -> NodePlan | None:
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    if dt not in FLOATS or len(shape) < 3:
        return None
    acc = "double" if dt is DType.DOUBLE else "float"
    per_channel = Access((0, 1))

    def write(mb, x):
        s, b = (mb.load(f"in{i}", ctx.in_dtypes[i], per_channel, index="o", shape=shape[:2])
                for i in (1, 2))
        return f"(({x}) - mean) * rstd * ({s}) + ({b})"
    return _run(ctx, RowProgram(shape, tuple(range(2, len(shape))), _x(shape, dt, acc), acc,
                                _mean_rstd(acc, prod(shape[2:]), ctx.attr("epsilon", 1e-5),
                                           True),
                                elem_writes=[("out0", write, ctx.out_dtypes[0])]))


@planner("GroupNormalization")
def plan_group_norm(ctx: NodeContext) -> NodePlan | None:
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    groups = ctx.attr("num_groups")
    if dt not in FLOATS or len(shape) < 2 or not groups or shape[1] % groups:
        return None
    n, c = shape[0], shape[1]
    spatial = prod(shape[2:])
    view = (n, groups, c // groups * spatial)     # same bytes as x, one row per (n, group)
    acc = "double" if dt is DType.DOUBLE else "float"
    per_group = ctx.in_shapes[1] == (groups,) and groups != c
    if per_group and ctx.opset >= 21:
        return None
    chan = f"(o % {groups}LL)" if per_group else \
        f"((o % {groups}LL) * {c // groups}LL + r / {spatial}LL)"

    def write(mb, x):
        vals = []
        for i in (1, 2):
            mb.params[f"in{i}"] = ctx.in_dtypes[i]
            vals.append(mb._new(ct.load(f"in{i}[{chan}]", ctx.in_dtypes[i]), ctx.in_dtypes[i]))
        return f"(({x}) - mean) * rstd * ({vals[0]}) + ({vals[1]})"
    return _run(ctx, RowProgram(view, (2,), _x(view, dt, acc), acc,
                                _mean_rstd(acc, view[2], ctx.attr("epsilon", 1e-5), True),
                                elem_writes=[("out0", write, ctx.out_dtypes[0])]))


@planner("LpNormalization")
def plan_lp_norm(ctx: NodeContext) -> NodePlan | None:
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    p, axis = ctx.attr("p", 2), ctx.attr("axis", -1)
    if dt not in FLOATS or p not in (1, 2) or not shape or not -len(shape) <= axis < len(shape):
        return None
    acc = "double" if dt is DType.DOUBLE else "float"
    term = (lambda x: f"(({x}) < 0 ? -({x}) : ({x}))") if p == 1 else (lambda x: f"({x}) * ({x})")
    finish = (lambda t: t) if p == 1 else (lambda t: f"{_fn('sqrt', acc)}({t})")
    return _run(ctx, RowProgram(shape, (axis % len(shape),), _x(shape, dt, acc), acc,
                                [sum_pass("norm", acc, term, finish)],
                                elem_writes=[("out0", lambda mb, x: f"({x}) / norm",
                                              ctx.out_dtypes[0])]))


@planner("Hardmax")
def plan_hardmax(ctx: NodeContext) -> NodePlan | None:
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    axis = ctx.attr("axis", -1 if ctx.opset >= 13 else 1)
    if dt not in FLOATS or not shape or not -len(shape) <= axis < len(shape):
        return None
    axis %= len(shape)
    axes = (axis,) if ctx.opset >= 13 else tuple(range(axis, len(shape)))
    acc = acc_type(dt)
    first = Pass("p", "long long", "0x7fffffffffffffffLL",
                 lambda a, x: f"(({x}) == m && r < {a} ? r : {a})",
                 lambda a, b: f"({b} < {a} ? {b} : {a})")
    return _run(ctx, RowProgram(shape, axes, _x(shape, dt, acc), acc, [max_pass("m", acc), first],
                                elem_writes=[("out0", lambda mb, x: "(r == p ? 1 : 0)",
                                              ctx.out_dtypes[0])]))


@planner("CumSum")
def plan_cumsum(ctx: NodeContext) -> NodePlan | None:
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    axis = ctx.const(1)
    if dt not in NUMERIC or not shape or axis is None:
        return None
    a = int(axis.reshape(-1)[0]) % len(shape)
    dim, inner = shape[a], prod(shape[a + 1:])
    lines_n = prod(shape) // max(dim, 1)
    acc = acc_type(dt)
    rev, excl = bool(ctx.attr("reverse", 0)), bool(ctx.attr("exclusive", 0))
    j = f"({dim - 1}LL - t)" if rev else "t"
    step = [f"const long long at = (pre * {dim}LL + {j}) * {inner}LL + post;"]
    value = f"({acc})({ct.load('in0[at]', dt)})"
    if excl:
        step += [f"out0[at] = {ct.store('acc', dt)};", f"acc += {value};"]
    else:
        step += [f"acc += {value};", f"out0[at] = {ct.store('acc', dt)};"]
    body = [f"const long long pre = i / {inner}LL, post = i % {inner}LL;", f"{acc} acc = 0;",
            f"for (long long t = 0; t < {dim}LL; ++t) {{", *["  " + s for s in step], "}"]
    src = _kernel_src([_ptr(dt, "in0"), _ptr(ctx.out_dtypes[0], "out0", False)], lines_n, body)
    return NodePlan((ctx.kernel(src, grid=map_grid(lines_n), block=MAP_THREADS,
                                args=("in0", "out0")),))

