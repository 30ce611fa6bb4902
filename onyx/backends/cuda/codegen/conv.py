"""Conv as an implicit GEMM on the tiled GEMM template (one GEMM per group, blockIdx.z), and
ConvTranspose in direct form.

Rows: output channels of the group; columns: (batch, output position); K: (input channel of
the group, kernel position). The B-operand loader rebuilds the input coordinate from the
column and K index and reads zero in the padding, so no im2col buffer is materialised.
"""

from __future__ import annotations

from math import prod

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.dtypes import FLOATS
from onyx.backends.cuda.codegen.elementwise import MAP_THREADS, map_grid
from onyx.backends.cuda.codegen.gemm import GemmSpec, _store_elem, choose_mode, render_gemm
from onyx.backends.cuda.codegen.indexing import contiguous_strides
from onyx.backends.cuda.codegen.kernel import PLACEHOLDER, NodePlan
from onyx.backends.cuda.codegen.movement import _kernel_src, _ptr
from onyx.backends.cuda.codegen.pool import window
from onyx.backends.cuda.codegen.registry import NodeContext, planner
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError


def _loader(ctx: NodeContext, acc: str, cg: int, kern, out_sp, strides, dil, begin) -> str:
    """``<name>_xb(x, g, k, col)``: the input element the implicit GEMM needs, 0 in pads."""
    x_shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    in_sp = x_shape[2:]
    lines = [f"__device__ __forceinline__ {acc} {PLACEHOLDER}_xb(const "
             f"{ct.CTYPES[dt].storage}* __restrict__ x, long long g, long long k, "
             "long long col) {"]
    lines.append("  long long rk = k, rc = col;")
    for d in range(len(kern) - 1, -1, -1):
        lines.append(f"  const long long k{d} = rk % {kern[d]}LL; rk /= {kern[d]}LL;")
    for d in range(len(out_sp) - 1, -1, -1):
        lines.append(f"  const long long o{d} = rc % {out_sp[d]}LL; rc /= {out_sp[d]}LL;")
    lines.append(f"  const long long c = g * {cg}LL + rk, nb = rc;")
    sp_strides = contiguous_strides(in_sp)
    off = []
    for d in range(len(in_sp)):
        lines.append(f"  const long long x{d} = o{d} * {strides[d]}LL - {begin[d]}LL + "
                     f"k{d} * {dil[d]}LL;")
        lines.append(f"  if (x{d} < 0 || x{d} >= {in_sp[d]}LL) return ({acc})0;")
        off.append(f"x{d} * {sp_strides[d]}LL")
    base = f"(nb * {x_shape[1]}LL + c) * {prod(in_sp)}LL"
    index = " + ".join([base, *off])
    lines.append(f"  return ({acc}){ct.load(f'x[{index}]', dt)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


@planner("Conv")
def plan_conv(ctx: NodeContext) -> NodePlan | None:
    xs, ws, dt = ctx.in_shapes[0], ctx.in_shapes[1], ctx.in_dtypes[0]
    if dt not in FLOATS or ctx.in_dtypes[1] != dt or len(xs) < 3 or len(ws) != len(xs):
        return None
    group = ctx.attr("group", 1)
    out = ctx.out_shapes[0]
    n, c, m = xs[0], xs[1], ws[0]
    if c != ws[1] * group or m % group:
        raise ShapeError(f"Conv: input {list(xs)} and weight {list(ws)} do not fit group={group}")
    kern = list(ctx.attr("kernel_shape") or ws[2:])
    strides, dil, begin, _ = window(ctx, xs[2:], out[2:], kern)
    mg, cg, osp = m // group, c // group, prod(out[2:])
    kg = cg * prod(kern)
    mode = choose_mode(ctx, dt)
    acc = "float" if mode != "simt" else ("double" if dt is DType.DOUBLE else "float")
    conv = _store_elem(dt, mode)
    wrap = (lambda v: f"{conv}({v})") if conv else (lambda v: v)
    out_t = ctx.out_dtypes[0]
    has_bias = ctx.has_input(2)

    def epilogue(b, m_, n_, a):
        y = f"({a} + {ct.load(f'in2[{b} * {mg}LL + {m_}]', ctx.in_dtypes[2])})" if has_bias \
            else a
        return [f"out0[(({n_} / {osp}LL) * {m}LL + {b} * {mg}LL + {m_}) * {osp}LL + "
                f"{n_} % {osp}LL] = {ct.store(y, out_t)};"]
    params = [f"const {ct.CTYPES[dt].storage}* __restrict__ in0",
              f"const {ct.CTYPES[dt].storage}* __restrict__ in1"]
    args = ["in0", "in1"]
    if has_bias:
        params.append(f"const {ct.CTYPES[ctx.in_dtypes[2]].storage}* __restrict__ in2")
        args.append("in2")
    params.append(f"{ct.CTYPES[out_t].storage}* __restrict__ out0")
    spec = GemmSpec(
        group, mg, n * osp, kg,
        lambda b, m_, k_: wrap(f"({acc})" + ct.load(f"in1[({b} * {mg}LL + {m_}) * {kg}LL + "
                                                     f"{k_}]", dt)),
        lambda b, k_, n_: wrap(f"{PLACEHOLDER}_xb(in0, {b}, {k_}, {n_})"),
        epilogue, tuple(params), (*args, "out0"), acc, mode,
        helpers=_loader(ctx, acc, cg, kern, out[2:], strides, dil, begin))
    src, grid, threads = render_gemm(spec)
    return NodePlan((ctx.kernel(src, grid=grid, block=threads, args=spec.args,
                                op=f"Conv[{mode}]"),))


def _transpose_pads(ctx: NodeContext, in_sp, out_sp, kern, strides, dil) -> list[int] | None:
    """Begin pads of a ConvTranspose; derived from the known output size when the model gives
    ``output_shape`` or ``auto_pad`` instead of explicit pads."""
    auto = ctx.attr("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    k = len(in_sp)
    if auto == "VALID":
        return [0] * k
    if auto == "NOTSET" and ctx.attr("output_shape") is None:
        return list(ctx.attr("pads") or [0] * (2 * k))[:k]
    opad = list(ctx.attr("output_padding") or [0] * k)
    begin = []
    for d in range(k):
        total = strides[d] * (in_sp[d] - 1) + opad[d] + (kern[d] - 1) * dil[d] + 1 - out_sp[d]
        begin.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
    return begin


@planner("ConvTranspose")
def plan_conv_transpose(ctx: NodeContext) -> NodePlan | None:
    """Direct form, one thread per output: sum over the input positions that scatter into it
    (``o + pad - k * dilation`` divisible by the stride)."""
    xs, ws, dt = ctx.in_shapes[0], ctx.in_shapes[1], ctx.in_dtypes[0]
    if dt not in FLOATS or ctx.in_dtypes[1] != dt or len(xs) < 3 or len(ws) != len(xs):
        return None
    group, out = ctx.attr("group", 1), ctx.out_shapes[0]
    c, mg = xs[1], ws[1]
    if ws[0] != c or c % group or out[1] != mg * group:
        raise ShapeError(f"ConvTranspose: input {list(xs)}, weight {list(ws)} and output "
                         f"{list(out)} do not fit group={group}")
    in_sp, out_sp, kern = xs[2:], out[2:], list(ctx.attr("kernel_shape") or ws[2:])
    k = len(in_sp)
    strides = list(ctx.attr("strides") or [1] * k)
    dil = list(ctx.attr("dilations") or [1] * k)
    begin = _transpose_pads(ctx, in_sp, out_sp, kern, strides, dil)
    acc = "double" if dt is DType.DOUBLE else "float"
    body = _transpose_body(ctx, acc, group, kern, strides, dil, begin)
    params = [_ptr(dt, "in0"), _ptr(dt, "in1")]
    args = ["in0", "in1"]
    if ctx.has_input(2):
        body.append(f"acc += ({acc})({ct.load('in2[m]', ctx.in_dtypes[2])});")
        params.append(_ptr(ctx.in_dtypes[2], "in2"))
        args.append("in2")
    body.append(f"out0[i] = {ct.store('acc', ctx.out_dtypes[0])};")
    n = prod(out)
    src = _kernel_src([*params, _ptr(ctx.out_dtypes[0], "out0", False)], n, body)
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=MAP_THREADS,
                                args=(*args, "out0")),))


def _transpose_body(ctx: NodeContext, acc: str, group: int, kern, strides, dil, begin):
    """Loop nest of one ConvTranspose output element ``i`` (bias and store excluded)."""
    xs, out, dt = ctx.in_shapes[0], ctx.out_shapes[0], ctx.in_dtypes[0]
    c, mg, in_sp, out_sp = xs[1], ctx.in_shapes[1][1], xs[2:], out[2:]
    k = len(in_sp)
    cg, isz, ksz = c // group, prod(in_sp), prod(kern)
    body = ["long long rem = i;"]
    for d in range(k - 1, -1, -1):
        body.append(f"const long long o{d} = rem % {out_sp[d]}LL; rem /= {out_sp[d]}LL;")
    body += [f"const long long m = rem % {out[1]}LL, nb = rem / {out[1]}LL, "
             f"g = m / {mg}LL;", f"{acc} acc = 0;",
             f"for (long long c = g * {cg}LL; c < (g + 1) * {cg}LL; ++c) {{"]
    in_off, k_off = [], []
    in_st, k_st = contiguous_strides(in_sp), contiguous_strides(kern)
    for d in range(k):
        body += [f"for (int k{d} = 0; k{d} < {kern[d]}; ++k{d}) {{",
                 f"const long long t{d} = o{d} + {begin[d]}LL - k{d} * {dil[d]}LL;",
                 f"if (t{d} < 0 || t{d} % {strides[d]}LL) continue;",
                 f"const long long x{d} = t{d} / {strides[d]}LL;",
                 f"if (x{d} >= {in_sp[d]}LL) continue;"]
        in_off.append(f"x{d} * {in_st[d]}LL")
        k_off.append(f"k{d} * {k_st[d]}LL")
    xv = ct.load(f"in0[(nb * {c}LL + c) * {isz}LL + {' + '.join(in_off)}]", dt)
    wv = ct.load(f"in1[(c * {mg}LL + m % {mg}LL) * {ksz}LL + {' + '.join(k_off)}]", dt)
    body.append(f"acc += ({acc})({xv}) * ({acc})({wv});")
    return body + ["}"] * (k + 1)
