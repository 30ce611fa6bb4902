"""Shape rules for neural-network ops: MatMul, Gemm, Einsum, Det, the normalizations, the
losses, Resize/Upsample, GridSample, AffineGrid and the quantization ops.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.shapes.dims import (
    broadcast_shapes,
    check_dim,
    known,
    merge_shapes,
    normalize_axes,
    normalize_axis,
)
from onyx.ir.shapes.registry import InferenceContext, shape_rule, tensor
from onyx.ir.shapes.rules_elementwise import same_as_input
from onyx.ir.types import Dim, Shape, format_shape


def matmul_shape(a: Shape | None, b: Shape | None) -> Shape | None:
    """numpy.matmul's result shape: 1-D operands are promoted then squeezed away."""
    if a is None or b is None:
        return None
    if not a or not b:
        raise ShapeError(f"cannot multiply {format_shape(a)} by {format_shape(b)}: "
                         f"MatMul needs at least 1-D operands")
    lhs = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    rhs = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    check_dim(lhs[-1], rhs[-2], f"cannot multiply {format_shape(a)} by {format_shape(b)}: "
                                f"inner dims differ")
    try:
        batch = broadcast_shapes(lhs[:-2], rhs[:-2])
    except ShapeError:
        raise ShapeError(f"cannot multiply {format_shape(a)} by {format_shape(b)}: batch dims "
                         f"do not broadcast") from None
    return batch + (() if len(a) == 1 else (lhs[-2],)) + (() if len(b) == 1 else (rhs[-1],))


@shape_rule("MatMul")
def _matmul(ctx: InferenceContext):
    return tensor(ctx.input_dtype(0), matmul_shape(ctx.input_shape(0), ctx.input_shape(1)))


@shape_rule("MatMulInteger")
def _matmul_integer(ctx: InferenceContext):
    return tensor(DType.INT32, matmul_shape(ctx.input_shape(0), ctx.input_shape(1)))


@shape_rule("QLinearMatMul")
def _qlinear_matmul(ctx: InferenceContext):
    return tensor(ctx.input_dtype(7), matmul_shape(ctx.input_shape(0), ctx.input_shape(3)))


@shape_rule("Gemm")
def _gemm(ctx: InferenceContext):
    a, b = ctx.input_shape(0), ctx.input_shape(1)
    for s in (a, b):
        if s is not None and len(s) != 2:
            raise ShapeError(f"Gemm operands {format_shape(a)} and {format_shape(b)} must "
                             f"be 2-D")
    m = k1 = k2 = n = None
    if a is not None:
        m, k1 = (a[1], a[0]) if ctx.attr("transA", 0) else a
    if b is not None:
        k2, n = (b[1], b[0]) if ctx.attr("transB", 0) else b
    check_dim(k1, k2, f"cannot multiply {format_shape(a)} by {format_shape(b)} "
                      f"(transA={ctx.attr('transA', 0)}, transB={ctx.attr('transB', 0)})")
    return tensor(ctx.input_dtype(0), (m, n))


@shape_rule("Einsum")
def _einsum(ctx: InferenceContext):
    eq = ctx.attr("equation", "")
    eq = (eq.decode() if isinstance(eq, bytes) else eq).replace(" ", "")
    shapes = [ctx.input_shape(i) for i in range(ctx.num_inputs)]
    dtype = ctx.input_dtype(0)
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"equation {eq!r} has {len(terms)} operands, the node {len(shapes)}")
    if any(s is None for s in shapes):
        return tensor(dtype, None if arrow and "..." in rhs else
                      (None,) * len(rhs) if arrow else None)
    letters: dict[str, Dim] = {}
    ellipsis = ()
    for term, shape in zip(terms, shapes, strict=True):
        ellipsis = broadcast_shapes(ellipsis, _bind_term(term, shape, letters, eq))
    if not arrow:
        counts = {c: lhs.count(c) for c in letters}
        rhs = "..." + "".join(sorted(c for c, k in counts.items() if k == 1))
    return tensor(dtype, _einsum_output(rhs, letters, ellipsis))


def _bind_term(term: str, shape: Shape, letters: dict, eq: str) -> Shape:
    """Record each letter's dim; return the dims the term's ``...`` covers."""
    head, dots, tail = term.partition("...")
    n_ell = len(shape) - len(head) - len(tail)
    if n_ell < 0 or n_ell and not dots:
        raise ShapeError(f"operand {format_shape(shape)} does not fit term {term!r} of {eq!r}")
    pairs = list(zip(head, shape[:len(head)], strict=True))
    pairs += zip(tail, shape[len(shape) - len(tail):], strict=True)
    for c, d in pairs:
        prev = letters.get(c)
        letters[c] = d if prev is None or prev == 1 else prev if d == 1 else \
            check_dim(prev, d, f"label {c!r} of {eq!r}")
    return tuple(shape[len(head):len(shape) - len(tail)])


def _einsum_output(rhs: str, letters: dict, ellipsis: Shape) -> Shape:
    head, dots, tail = rhs.partition("...")
    try:
        return tuple(letters[c] for c in head) + (tuple(ellipsis) if dots else ()) + \
            tuple(letters[c] for c in tail)
    except KeyError as exc:
        raise ShapeError(f"output label {exc.args[0]!r} appears in no operand") from None


@shape_rule("Det")
def _det(ctx: InferenceContext):
    s = ctx.input_shape(0)
    if s is not None:
        if len(s) < 2:
            raise ShapeError(f"Det needs a matrix, got {format_shape(s)}")
        check_dim(s[-1], s[-2], f"Det needs square matrices, got {format_shape(s)}")
    return tensor(ctx.input_dtype(0), None if s is None else s[:-2])


# -- normalizations
for _op in ("LpNormalization", "MeanVarianceNormalization", "LRN", "InstanceNormalization",
            "GroupNormalization", "RMSNormalization"):
    shape_rule(_op)(same_as_input)


@shape_rule("BatchNormalization")
def _batch_norm(ctx: InferenceContext):
    # Every statistic is one value per channel: dim 1 of X and the shape of scale, B, mean, var.
    x = ctx.input_shape(0)
    channels = (x[1],) if x is not None and len(x) > 1 else None
    for i in range(1, 5):
        channels = merge_shapes(channels, ctx.input_shape(i), "per-channel inputs")
    stats = tensor(ctx.input_dtype(3), channels)
    return [ctx.input_type(0)] + [stats] * (ctx.num_outputs - 1)


@shape_rule("LayerNormalization")
def _layer_norm(ctx: InferenceContext):
    x = ctx.input_shape(0)
    stash = DType(ctx.attr("stash_type", int(DType.FLOAT)))
    stats = None
    if x is not None:
        axis = normalize_axis(ctx.attr("axis", -1), len(x))
        stats = x[:axis] + (1,) * (len(x) - axis)
    return [ctx.input_type(0), tensor(stash, stats), tensor(stash, stats)]


# -- losses
def _reduction(ctx: InferenceContext) -> str:
    r = ctx.attr("reduction", "mean")
    return r.decode() if isinstance(r, bytes) else r


@shape_rule("NegativeLogLikelihoodLoss")
def _nll_loss(ctx: InferenceContext):
    x, target = ctx.input_shape(0), ctx.input_shape(1)
    if x is not None and target is not None and len(x) != len(target) + 1:
        raise ShapeError(f"input {format_shape(x)} and target {format_shape(target)} do not "
                         f"fit (input should have one more dim)")
    shape = target if _reduction(ctx) == "none" else ()
    return tensor(ctx.input_dtype(0), shape)


@shape_rule("SoftmaxCrossEntropyLoss")
def _softmax_cross_entropy(ctx: InferenceContext):
    labels = ctx.input_shape(1)
    shape = labels if _reduction(ctx) == "none" else ()
    return [tensor(ctx.input_dtype(0), shape), ctx.input_type(0)]


# -- resampling
def _scaled(shape: Shape, scales) -> tuple[Dim, ...]:
    """``floor(dim * scale)`` computed in float32, as the scales are float32 tensors."""
    if len(scales) != len(shape):
        raise ShapeError(f"scales {list(scales)} do not fit {format_shape(shape)}")
    out = []
    for d, s in zip(shape, scales, strict=True):
        if known(d):
            out.append(int(math.floor(np.float32(d) * np.float32(s))))
        else:
            out.append(d if s == 1 else None)
    return tuple(out)


@shape_rule("Upsample")
def _upsample(ctx: InferenceContext):
    x, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    if ctx.opset >= 9:
        scales = ctx.input_value(1)
        scales = None if scales is None else [float(s) for s in scales.reshape(-1)]
    elif ctx.opset >= 7:
        scales = ctx.attr("scales")
    else:
        scales = [1.0, 1.0, ctx.attr("height_scale", 1.0), ctx.attr("width_scale", 1.0)]
    if x is None or scales is None:
        return tensor(dtype, None if x is None else (None,) * len(x))
    return tensor(dtype, _scaled(x, scales))


@shape_rule("Resize")
def _resize(ctx: InferenceContext):
    x, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    if x is None:
        return tensor(dtype, None)
    if ctx.opset < 11:
        scales = ctx.input_value(1)
        return tensor(dtype, (None,) * len(x) if scales is None else
                      _scaled(x, [float(s) for s in scales.reshape(-1)]))
    axes = ctx.attr("axes") if ctx.opset >= 18 else None
    axes = list(range(len(x))) if axes is None else normalize_axes(axes, len(x))
    sizes = ctx.input_dims(3) if _given(ctx, 3) else None
    if sizes is not None:
        return tensor(dtype, _resize_to_sizes(ctx, x, axes, sizes))
    if not _given(ctx, 2) or _given(ctx, 3):
        out = list(x)
        for a in axes:
            out[a] = None
        return tensor(dtype, tuple(out))
    scales = ctx.input_value(2)
    if scales is None:
        return tensor(dtype, tuple(None if i in axes else d for i, d in enumerate(x)))
    sub = tuple(x[a] for a in axes)
    out = list(x)
    # The spec scales tf_crop_and_resize outputs by the roi extent too, but onnx's inference,
    # its reference and ONNX Runtime all size by the scales alone; the kernels follow them.
    for a, d in zip(axes, _scaled(sub, [float(s) for s in scales.reshape(-1)]), strict=True):
        out[a] = d
    return tensor(dtype, tuple(out))


def _given(ctx: InferenceContext, i: int) -> bool:
    # An optional input fed an empty tensor counts as absent (opset 11 Resize idiom).
    if not ctx.has_input(i):
        return False
    s = ctx.input_shape(i)
    return not (s is not None and len(s) == 1 and s[0] == 0)


def _resize_to_sizes(ctx: InferenceContext, x: Shape, axes: list[int], sizes) -> Shape:
    if len(sizes) != len(axes):
        raise ShapeError(f"sizes {list(sizes)} do not fit axes {axes} of {format_shape(x)}")
    out = list(x)
    policy = ctx.attr("keep_aspect_ratio_policy", "stretch") if ctx.opset >= 18 else "stretch"
    if policy == "stretch":
        for a, s in zip(axes, sizes, strict=True):
            out[a] = s
        return tuple(out)
    if not all(known(x[a]) and known(s) for a, s in zip(axes, sizes, strict=True)):
        return tuple(None if i in axes else d for i, d in enumerate(x))
    ratios = [s / x[a] for a, s in zip(axes, sizes, strict=True)]
    scale = min(ratios) if policy == "not_larger" else max(ratios)
    for a in axes:
        out[a] = int(math.floor(scale * x[a] + 0.5))
    return tuple(out)


@shape_rule("GridSample")
def _grid_sample(ctx: InferenceContext):
    x, grid = ctx.input_shape(0), ctx.input_shape(1)
    if x is None or grid is None:
        rank = x or grid
        return tensor(ctx.input_dtype(0), None if rank is None else (None,) * len(rank))
    if len(x) != len(grid):
        raise ShapeError(f"X {format_shape(x)} and grid {format_shape(grid)} differ in rank")
    n = check_dim(x[0], grid[0], f"batch of X {format_shape(x)} vs grid {format_shape(grid)}")
    return tensor(ctx.input_dtype(0), (n, x[1]) + tuple(grid[1:-1]))


@shape_rule("AffineGrid")
def _affine_grid(ctx: InferenceContext):
    size = ctx.input_dims(1)
    if size is None or len(size) not in (4, 5):
        return tensor(ctx.input_dtype(0), None)
    spatial = tuple(size[2:])
    return tensor(ctx.input_dtype(0), (size[0],) + spatial + (len(spatial),))


# -- quantization
@shape_rule("QuantizeLinear")
def _quantize(ctx: InferenceContext):
    dtype = ctx.input_dtype(2)
    if dtype is None:
        code = ctx.attr("output_dtype", 0) if ctx.opset >= 21 else 0
        dtype = DType(code) if code else DType.UINT8
    return tensor(dtype, ctx.input_shape(0))


@shape_rule("DequantizeLinear")
def _dequantize(ctx: InferenceContext):
    code = ctx.attr("output_dtype", 0) if ctx.opset >= 23 else 0
    if code:
        dtype = DType(code)
    else:
        dtype = ctx.input_dtype(1) if ctx.opset >= 19 else DType.FLOAT
    return tensor(dtype, ctx.input_shape(0))


@shape_rule("DynamicQuantizeLinear")
def _dynamic_quantize(ctx: InferenceContext):
    return [tensor(DType.UINT8, ctx.input_shape(0)), tensor(DType.FLOAT, ()),
            tensor(DType.UINT8, ())]

