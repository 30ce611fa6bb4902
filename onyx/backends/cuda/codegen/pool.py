"""Pooling: MaxPool / AveragePool (one thread per output, static window loops) and the global
pools as reductions over the spatial axes."""

from __future__ import annotations

from math import prod

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.dtypes import FLOATS
from onyx.backends.cuda.codegen.elementwise import MAP_THREADS, map_grid
from onyx.backends.cuda.codegen.indexing import Access, contiguous_strides
from onyx.backends.cuda.codegen.kernel import NodePlan
from onyx.backends.cuda.codegen.movement import _kernel_src, _ptr
from onyx.backends.cuda.codegen.reduce import _plan_reduction
from onyx.backends.cuda.codegen.registry import NodeContext, planner


def window(ctx: NodeContext, in_sp, out_sp, kernel):
    """Strides, dilations and begin/end pads per spatial dim (auto_pad resolved)."""
    k = len(in_sp)
    strides = list(ctx.attr("strides") or [1] * k)
    dil = list(ctx.attr("dilations") or [1] * k)
    auto = ctx.attr("auto_pad", "NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for d in range(k):
            total = max((out_sp[d] - 1) * strides[d] + (kernel[d] - 1) * dil[d] + 1 - in_sp[d], 0)
            small = total // 2
            begin.append(small if auto == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
    elif auto == "VALID":
        begin, end = [0] * k, [0] * k
    else:
        pads = list(ctx.attr("pads") or [0] * (2 * k))
        begin, end = pads[:k], pads[k:]
    return strides, dil, begin, end


@planner("MaxPool", "AveragePool")
def plan_pool(ctx: NodeContext) -> NodePlan | None:
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    if dt not in FLOATS or len(shape) < 3 or len(ctx.out_shapes) > 1:
        return None
    out = ctx.out_shapes[0]
    kernel = list(ctx.attr("kernel_shape"))
    in_sp, out_sp = shape[2:], out[2:]
    strides, dil, begin, end = window(ctx, in_sp, out_sp, kernel)
    is_max = ctx.node.op_type == "MaxPool"
    acc = "double" if ct.CTYPES[dt].compute == "double" else "float"
    body = ["long long rem = i;"]
    for d in range(len(out_sp) - 1, -1, -1):
        body.append(f"const long long o{d} = rem % {out_sp[d]}LL; rem /= {out_sp[d]}LL;")
    body.append(f"const long long base = rem * {prod(in_sp)}LL;")
    body.append(f"{acc} acc = -ONYX_INF;" if is_max else f"{acc} acc = 0; long long cnt = 0;")
    strides_in = contiguous_strides(in_sp)
    close = []
    for d in range(len(in_sp)):
        body.append(f"for (int k{d} = 0; k{d} < {kernel[d]}; ++k{d}) {{")
        body.append(f"const long long x{d} = o{d} * {strides[d]}LL - {begin[d]}LL + "
                    f"k{d} * {dil[d]}LL;")
        if not is_max and ctx.attr("count_include_pad", 0):
            body.append(f"if (x{d} >= {in_sp[d] + end[d]}LL) continue;")
        close.append("}")
    inside = " && ".join(f"x{d} >= 0 && x{d} < {in_sp[d]}LL" for d in range(len(in_sp)))
    off = " + ".join(f"x{d} * {strides_in[d]}LL" for d in range(len(in_sp)))
    fn = "onyx_maxd" if acc == "double" else "onyx_maxf"
    v = ct.load(f"in0[base + {off}]", dt)
    if is_max:
        body.append(f"if ({inside}) acc = {fn}(acc, ({acc}){v});")
    elif ctx.attr("count_include_pad", 0):
        body.append(f"++cnt; if ({inside}) acc += {v};")
    else:
        body.append(f"if ({inside}) {{ acc += {v}; ++cnt; }}")
    body += close
    res = "acc" if is_max else f"(cnt ? acc / ({acc})cnt : ({acc})0)"
    body.append(f"out0[i] = {ct.store(res, ctx.out_dtypes[0])};")
    n = prod(out)
    src = _kernel_src([_ptr(dt, "in0"), _ptr(ctx.out_dtypes[0], "out0", False)], n, body)
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=MAP_THREADS,
                                args=("in0", "out0")),))


@planner("GlobalAveragePool", "GlobalMaxPool")
def plan_global_pool(ctx: NodeContext) -> NodePlan | None:
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    if dt not in FLOATS or len(shape) < 3:
        return None
    op = "ReduceMean" if ctx.node.op_type == "GlobalAveragePool" else "ReduceMax"
    return _plan_reduction(ctx, op, shape, tuple(range(2, len(shape))), dt,
                           lambda mb: mb.load("in0", dt, Access(contiguous_strides(shape))),
                           ctx.node.op_type)
