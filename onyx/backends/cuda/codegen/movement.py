"""Data movement: Transpose, Expand, Slice, Concat, Split, Gather, GatherElements, Pad, Tile,
DepthToSpace/SpaceToDepth, Trilu, and fills (ConstantOfShape, EyeLike).

Affine cases (Transpose, Expand, Slice) are one map kernel with baked strides. Concat copies
each input into its slot; Gather reads runtime indices (negative ones wrap; out-of-range ones
are clamped, since a kernel cannot raise); Pad and Tile map coordinates dimension by dimension.
"""

from __future__ import annotations

from math import prod

import numpy as np

from onyx.backends.cuda.codegen import dtypes as ct
from onyx.backends.cuda.codegen.elementwise import MAP_THREADS, MapBuilder, map_grid
from onyx.backends.cuda.codegen.indexing import (
    Access,
    broadcast_access,
    contiguous_strides,
    permute_access,
)
from onyx.backends.cuda.codegen.kernel import PLACEHOLDER, NodePlan
from onyx.backends.cuda.codegen.registry import NodeContext, planner
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError


def _copy(ctx: NodeContext, access: Access) -> NodePlan:
    mb = MapBuilder(ctx.out_shapes[0])
    mb.store("out0", mb.load("in0", ctx.in_dtypes[0], access), ctx.out_dtypes[0])
    src, n = mb.render()
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=MAP_THREADS, args=mb.args()),))


@planner("Transpose")
def plan_transpose(ctx: NodeContext) -> NodePlan | None:
    shape = ctx.in_shapes[0]
    perm = ctx.attr("perm") or list(range(len(shape)))[::-1]
    if sorted(perm) != list(range(len(shape))):
        raise ShapeError(f"Transpose: perm {perm} is not a permutation of {len(shape)} axes")
    return _copy(ctx, permute_access(Access(contiguous_strides(shape)), perm))


@planner("Expand")
def plan_expand(ctx: NodeContext) -> NodePlan | None:
    return _copy(ctx, broadcast_access(ctx.in_shapes[0], ctx.out_shapes[0]))


def _ints(ctx: NodeContext, i: int, attr: str) -> list[int] | None:
    if ctx.opset >= 10 and attr != "pads" or (attr == "pads" and ctx.opset >= 11):
        if not ctx.has_input(i):
            return None
        v = ctx.const(i)
        return None if v is None else [int(x) for x in v.reshape(-1)]
    v = ctx.attr(attr)
    return None if v is None else list(v)


@planner("Slice")
def plan_slice(ctx: NodeContext) -> NodePlan | None:
    shape = ctx.in_shapes[0]
    starts, ends = _ints(ctx, 1, "starts"), _ints(ctx, 2, "ends")
    if starts is None or ends is None:
        return None
    axes = _ints(ctx, 3, "axes") if ctx.has_input(3) or ctx.opset < 10 else None
    axes = axes if axes is not None else list(range(len(starts)))
    steps = _ints(ctx, 4, "steps") if ctx.has_input(4) else None
    steps = steps if steps is not None else [1] * len(starts)
    strides = list(contiguous_strides(shape))
    offset, out = 0, list(shape)
    base = list(strides)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a %= len(shape)
        if st == 0:
            raise ShapeError(f"Slice: step 0 on axis {a} of {list(shape)}")
        r = range(*slice(s, e, st).indices(shape[a]))
        out[a] = len(r)
        offset += (r.start if len(r) else 0) * base[a]
        strides[a] = base[a] * st
    if tuple(out) != ctx.out_shapes[0]:
        raise ShapeError(f"Slice of {list(shape)} gives {out}, node output says "
                         f"{list(ctx.out_shapes[0])}")
    return _copy(ctx, Access(tuple(strides), offset))


def _kernel_src(params: list[str], n: int, body: list[str]) -> str:
    return "\n".join([
        ct.PRELUDE,
        f"extern \"C\" __global__ void __launch_bounds__({MAP_THREADS}) "
        f"{PLACEHOLDER}({', '.join(params)}) {{",
        f"  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < {n}LL;"
        " i += (long long)gridDim.x * blockDim.x) {", *["    " + b for b in body], "  }", "}",
        ""])


def _ptr(dtype: DType, arg: str, const: bool = True) -> str:
    return f"{'const ' if const else ''}{ct.CTYPES[dtype].storage}* __restrict__ {arg}"


@planner("Concat")
def plan_concat(ctx: NodeContext) -> NodePlan | None:
    out = ctx.out_shapes[0]
    axis = ctx.attr("axis", 0) % len(out)
    post, total = prod(out[axis + 1:]), out[axis]
    kernels, start = [], 0
    for i, shape in enumerate(ctx.in_shapes):
        if shape is None:
            return None
        n = prod(shape)
        if n:
            mid = shape[axis]
            body = [f"const long long pre = i / {mid * post}LL, rem = i % {mid * post}LL;",
                    f"out0[pre * {total * post}LL + {start * post}LL + rem] = in{i}[i];"]
            src = _kernel_src([_ptr(ctx.in_dtypes[i], f"in{i}"),
                               _ptr(ctx.out_dtypes[0], "out0", False)], n, body)
            kernels.append(ctx.kernel(src, grid=map_grid(n), block=MAP_THREADS,
                                      args=(f"in{i}", "out0")))
        start += shape[axis]
    return NodePlan(tuple(kernels))


@planner("Gather")
def plan_gather(ctx: NodeContext) -> NodePlan | None:
    data, ind = ctx.in_shapes[0], ctx.in_shapes[1]
    if ctx.in_dtypes[1] not in (DType.INT32, DType.INT64) or not data:
        return None
    axis = ctx.attr("axis", 0) % len(data)
    dim, post, nj = data[axis], prod(data[axis + 1:]), prod(ind)
    n = prod(ctx.out_shapes[0])
    if dim == 0:
        return None
    body = [f"const long long pre = i / {nj * post}LL, j = (i / {post}LL) % {nj}LL, "
            f"post = i % {post}LL;",
            "long long idx = (long long)in1[j];",
            f"if (idx < 0) idx += {dim}LL;",
            f"idx = idx < 0 ? 0 : (idx >= {dim}LL ? {dim - 1}LL : idx);",
            f"out0[i] = in0[(pre * {dim}LL + idx) * {post}LL + post];"]
    src = _kernel_src([_ptr(ctx.in_dtypes[0], "in0"), _ptr(ctx.in_dtypes[1], "in1"),
                       _ptr(ctx.out_dtypes[0], "out0", False)], n, body)
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=MAP_THREADS,
                                args=("in0", "in1", "out0")),))


def _coord_kernel(ctx: NodeContext, fix, extra_params=(), extra_args=(), fill="") -> NodePlan:
    """Per-dimension coordinate mapping: ``fix(d, 'c')`` gives C lines turning output
    coordinate ``c`` of dim ``d`` into the input coordinate (may clear ``inside``)."""
    in_shape, out = ctx.in_shapes[0], ctx.out_shapes[0]
    strides = contiguous_strides(in_shape)
    body = ["long long rem = i, off = 0;", "bool inside = true;"]
    for d in range(len(out) - 1, -1, -1):
        body += [f"{{ long long c = rem % {out[d]}LL; rem /= {out[d]}LL;",
                 *["  " + ln for ln in fix(d, "c")], f"  off += c * {strides[d]}LL; }}"]
    body.append(f"out0[i] = inside ? in0[off] : {fill or 'in0[0]'};")
    params = [_ptr(ctx.in_dtypes[0], "in0"), *extra_params, _ptr(ctx.out_dtypes[0], "out0",
                                                                  False)]
    n = prod(out)
    src = _kernel_src(params, n, body)
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=MAP_THREADS,
                                args=("in0", *extra_args, "out0")),))


@planner("Tile")
def plan_tile(ctx: NodeContext) -> NodePlan | None:
    shape = ctx.in_shapes[0]
    if prod(shape) == 0:
        return None
    return _coord_kernel(ctx, lambda d, c: [f"{c} %= {shape[d]}LL;"])


@planner("Pad")
def plan_pad(ctx: NodeContext) -> NodePlan | None:
    shape, rank = ctx.in_shapes[0], len(ctx.in_shapes[0])
    pads = _ints(ctx, 1, "pads")
    if pads is None:
        return None
    axes = list(range(rank))
    if ctx.opset >= 18 and ctx.has_input(3):
        got = ctx.const(3)
        if got is None:
            return None
        axes = [int(a) % rank for a in got.reshape(-1)]
    begin = [0] * rank
    for j, a in enumerate(axes):
        begin[a] = pads[j]
    mode = ctx.attr("mode", "constant")
    if mode != "constant" and prod(shape) == 0:
        return None
    fill, params, args = _pad_value(ctx)
    if fill is None:
        return None

    def fix(d, c):
        lines, size = [f"{c} -= {begin[d]}LL;"], shape[d]
        if mode == "constant":
            return lines + [f"if ({c} < 0 || {c} >= {size}LL) {{ inside = false; {c} = 0; }}"]
        if mode == "edge":
            return lines + [f"{c} = {c} < 0 ? 0 : ({c} >= {size}LL ? {size - 1}LL : {c});"]
        if mode == "wrap":
            return lines + [f"{c} = (({c} % {size}LL) + {size}LL) % {size}LL;"]
        period = max(2 * size - 2, 1)     # reflect: mirror without repeating the edge
        return lines + [f"{c} = (({c} % {period}LL) + {period}LL) % {period}LL;",
                        f"if ({c} >= {size}LL) {c} = {period}LL - {c};"]
    if mode not in ("constant", "edge", "wrap", "reflect"):
        return None
    return _coord_kernel(ctx, fix, params, args, fill)


def _pad_value(ctx: NodeContext):
    dt = ctx.in_dtypes[0]
    if ctx.opset < 11:
        return ct.store(ct.literal(ctx.attr("value", 0.0), DType.DOUBLE), dt), [], []
    if not ctx.has_input(2):
        return ct.store("0", dt), [], []
    return "in2[0]", [_ptr(ctx.in_dtypes[2], "in2")], ["in2"]


@planner("Split")
def plan_split(ctx: NodeContext) -> NodePlan | None:
    """One copy kernel per output; the output shapes already say where each piece starts."""
    shape = ctx.in_shapes[0]
    axis = ctx.attr("axis", 0) % len(shape)
    if sum(s[axis] for s in ctx.out_shapes) != shape[axis]:
        raise ShapeError(f"Split: outputs {[list(s) for s in ctx.out_shapes]} do not tile "
                         f"{list(shape)} along axis {axis}")
    strides = contiguous_strides(shape)
    kernels, start = [], 0
    for j, out in enumerate(ctx.out_shapes):
        if prod(out):
            mb = MapBuilder(out)
            mb.store(f"out{j}", mb.load("in0", ctx.in_dtypes[0],
                                        Access(strides, start * strides[axis])),
                     ctx.out_dtypes[j])
            src, n = mb.render()
            kernels.append(ctx.kernel(src, grid=map_grid(n), block=MAP_THREADS,
                                      args=mb.args()))
        start += out[axis]
    return NodePlan(tuple(kernels))


def _fill(ctx: NodeContext, params: list[str], args: tuple, body: list[str]) -> NodePlan:
    n = prod(ctx.out_shapes[0])
    src = _kernel_src([*params, _ptr(ctx.out_dtypes[0], "out0", False)], n, body)
    return NodePlan((ctx.kernel(src, grid=map_grid(n), block=MAP_THREADS,
                                args=(*args, "out0")),))


def _row_col(shape) -> list[str]:
    rows, cols = shape[-2], shape[-1]
    return [f"const long long r = (i / {cols}LL) % {rows}LL, c = i % {cols}LL;"]


@planner("Trilu")
def plan_trilu(ctx: NodeContext) -> NodePlan | None:
    shape, dt = ctx.in_shapes[0], ctx.in_dtypes[0]
    if len(shape) < 2:
        return None
    k = 0
    if ctx.has_input(1):
        got = ctx.const(1)
        if got is None:
            return None
        k = int(got.reshape(-1)[0])
    keep = f"c - r >= {k}LL" if ctx.attr("upper", 1) else f"c - r <= {k}LL"
    return _fill(ctx, [_ptr(dt, "in0")], ("in0",), _row_col(shape) + [
        f"out0[i] = ({keep}) ? in0[i] : {ct.store('0', dt)};"])


@planner("EyeLike")
def plan_eye_like(ctx: NodeContext) -> NodePlan | None:
    out, dt = ctx.out_shapes[0], ctx.out_dtypes[0]
    if len(out) != 2:
        return None
    on_diagonal = f"(c - r == {int(ctx.attr('k', 0))}LL ? 1 : 0)"
    return _fill(ctx, [], (), _row_col(out) + [f"out0[i] = {ct.store(on_diagonal, dt)};"])


@planner("ConstantOfShape")
def plan_constant_of_shape(ctx: NodeContext) -> NodePlan | None:
    """A fill; the output shape is already known, so the shape input is never read."""
    value, dt = ctx.attr("value"), ctx.out_dtypes[0]
    if value is None:
        x = 0.0
    else:
        arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value).reshape(-1)
        if arr.size != 1:
            return None
        x = arr[0].item()
    lit = ct.literal(x, DType.DOUBLE) if dt in ct.FLOATS else ct.literal(x, dt)
    return _fill(ctx, [], (), [f"out0[i] = {ct.store(lit, dt)};"])


@planner("DepthToSpace", "SpaceToDepth")
def plan_depth_space(ctx: NodeContext) -> NodePlan | None:
    """A reshape-transpose-reshape: one strided copy over a 6-D view of the output."""
    x, b = ctx.in_shapes[0], ctx.attr("blocksize")
    if len(x) != 4 or not b:
        return None
    n, c, h, w = x
    if ctx.node.op_type == "DepthToSpace":
        cc = c // (b * b)
        view = (n, cc, h, b, w, b)
        if ctx.attr("mode", "DCR") == "CRD":
            strides = (c * h * w, b * b * h * w, w, b * h * w, 1, h * w)
        else:
            strides = (c * h * w, h * w, w, b * cc * h * w, 1, cc * h * w)
    else:
        view = (n, b, b, c, h // b, w // b)
        strides = (c * h * w, w, 1, h * w, b * w, b)
    mb = MapBuilder(view)
    mb.store("out0", mb.load("in0", ctx.in_dtypes[0], Access(strides)), ctx.out_dtypes[0])
    src, total = mb.render()
    return NodePlan((ctx.kernel(src, grid=map_grid(total), block=MAP_THREADS, args=mb.args()),))


@planner("GatherElements")
def plan_gather_elements(ctx: NodeContext) -> NodePlan | None:
    data, ind = ctx.in_shapes[0], ctx.in_shapes[1]
    if ctx.in_dtypes[1] not in (DType.INT32, DType.INT64) or not data:
        return None
    axis = ctx.attr("axis", 0) % len(data)
    dstrides = contiguous_strides(data)
    body = ["long long rem = i, off = 0;"]
    for d in range(len(ind) - 1, -1, -1):
        body.append(f"{{ const long long c = rem % {ind[d]}LL; rem /= {ind[d]}LL;")
        if d == axis:
            body += [f"  long long idx = (long long)in1[i]; if (idx < 0) idx += {data[d]}LL;",
                     f"  idx = idx < 0 ? 0 : (idx >= {data[d]}LL ? {data[d] - 1}LL : idx);",
                     f"  off += idx * {dstrides[d]}LL; (void)c; }}"]
        else:
            body.append(f"  off += c * {dstrides[d]}LL; }}")
    body.append("out0[i] = in0[off];")
    return _fill(ctx, [_ptr(ctx.in_dtypes[0], "in0"), _ptr(ctx.in_dtypes[1], "in1")],
                 ("in0", "in1"), body)
