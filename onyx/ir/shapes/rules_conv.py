"""Shape rules for convolutions and pooling: Conv, ConvInteger, QLinearConv, DeformConv,
ConvTranspose, MaxPool, AveragePool, LpPool, the global pools, MaxRoiPool, RoiAlign,
MaxUnpool and Col2Im.

Spatial sizes follow the spec's formulas: explicit pads give
``floor((in + pads - dilated_kernel) / stride) + 1`` (``ceil`` with ``ceil_mode``, where a
last window that would start in the end padding is dropped), ``SAME_*`` gives
``ceil(in / stride)`` and ``VALID`` gives ``ceil((in - dilated_kernel + 1) / stride)``.
"""

from __future__ import annotations

from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.shapes.dims import check_dim, known, product
from onyx.ir.shapes.folding import dim_mul
from onyx.ir.shapes.registry import InferenceContext, shape_rule, tensor
from onyx.ir.types import Dim, Shape, format_shape


def _ints(ctx: InferenceContext, name: str, n: int, fill: int) -> list[int]:
    v = ctx.attr(name)
    want = 2 * n if name == "pads" else n
    if not v:
        return [fill] * want
    v = [int(x) for x in v]
    if len(v) != want:
        raise ShapeError(f"{name} {v} should have {want} entries for {n} spatial dims")
    return v


def _auto_pad(ctx: InferenceContext) -> str:
    pad = ctx.attr("auto_pad", "NOTSET")
    return pad.decode() if isinstance(pad, bytes) else str(pad)


def spatial_out(ctx: InferenceContext, spatial: Shape, kernel: list, *, ceil_mode: bool = False
                ) -> tuple[Dim, ...]:
    """Output spatial dims of a strided window op (Conv and the pools)."""
    n = len(kernel)
    strides, dilations = _ints(ctx, "strides", n, 1), _ints(ctx, "dilations", n, 1)
    pads, auto_pad = _ints(ctx, "pads", n, 0), _auto_pad(ctx)
    out: list[Dim] = []
    for i in range(n):
        size, k, s = spatial[i], kernel[i], strides[i]
        if s <= 0:
            raise ShapeError(f"strides {strides} must be positive")
        if not known(size) or not known(k):
            out.append(None)
            continue
        dk = (k - 1) * dilations[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-size // s)
        elif auto_pad == "VALID":
            o = -(-(size - dk + 1) // s)
        else:
            span = size + pads[i] + pads[i + n] - dk
            o = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (o - 1) * s >= size + pads[i]:
                o -= 1  # the last window would start inside the end padding
        if o < 0 or o == 0 and size > 0:
            raise ShapeError(f"window {kernel} (dilations {dilations}, pads {pads}) does not "
                             f"fit the spatial dims {format_shape(spatial)}")
        out.append(o)
    return tuple(out)


def _conv_shape(ctx: InferenceContext, x: int, w: int) -> Shape | None:
    xs, ws = ctx.input_shape(x), ctx.input_shape(w)
    if xs is None or len(xs) < 3:
        return None if xs is None and ws is None else \
            (None,) * len(xs if xs is not None else ws)
    n = len(xs) - 2
    kernel = ctx.attr("kernel_shape")
    kernel = [int(k) for k in kernel] if kernel else \
        list(ws[2:]) if ws is not None and len(ws) == n + 2 else [None] * n
    if len(kernel) != n:
        raise ShapeError(f"kernel {kernel} does not fit input {format_shape(xs)}")
    group = int(ctx.attr("group", 1))
    m = None
    if ws is not None:
        if len(ws) != len(xs):
            raise ShapeError(f"input {format_shape(xs)} and weight {format_shape(ws)} differ "
                             f"in rank")
        m = ws[0]
        if known(ws[1]):
            check_dim(xs[1], ws[1] * group,
                      f"input {format_shape(xs)} channels vs weight {format_shape(ws)} "
                      f"x group {group}")
    return (xs[0], m) + spatial_out(ctx, xs[2:], kernel)


@shape_rule("Conv")
def _conv(ctx: InferenceContext):
    return tensor(ctx.input_dtype(0), _conv_shape(ctx, 0, 1))


@shape_rule("DeformConv")
def _deform_conv(ctx: InferenceContext):
    return tensor(ctx.input_dtype(0), _conv_shape(ctx, 0, 1))


@shape_rule("ConvInteger")
def _conv_integer(ctx: InferenceContext):
    return tensor(DType.INT32, _conv_shape(ctx, 0, 1))


@shape_rule("QLinearConv")
def _qlinear_conv(ctx: InferenceContext):
    return tensor(ctx.input_dtype(7), _conv_shape(ctx, 0, 3))


@shape_rule("ConvTranspose")
def _conv_transpose(ctx: InferenceContext):
    xs, ws, dtype = ctx.input_shape(0), ctx.input_shape(1), ctx.input_dtype(0)
    if xs is None or len(xs) < 3:
        return tensor(dtype, None)
    n = len(xs) - 2
    kernel = ctx.attr("kernel_shape")
    kernel = [int(k) for k in kernel] if kernel else \
        list(ws[2:]) if ws is not None and len(ws) == n + 2 else [None] * n
    group = int(ctx.attr("group", 1))
    m = dim_mul(ws[1], group) if ws is not None and len(ws) > 1 else None
    if ws is not None:
        check_dim(xs[1], ws[0], f"input {format_shape(xs)} channels vs weight "
                                f"{format_shape(ws)}")
    output_shape = ctx.attr("output_shape")
    if output_shape:
        return tensor(dtype, (xs[0], m) + tuple(int(d) for d in output_shape[-n:]))
    strides, dilations = _ints(ctx, "strides", n, 1), _ints(ctx, "dilations", n, 1)
    pads, extra = _ints(ctx, "pads", n, 0), _ints(ctx, "output_padding", n, 0)
    auto_pad = _auto_pad(ctx)
    out: list[Dim] = []
    for i in range(n):
        size, k = xs[2 + i], kernel[i]
        if not known(size) or not known(k):
            out.append(None)
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(size * strides[i])
        else:
            full = strides[i] * (size - 1) + extra[i] + (k - 1) * dilations[i] + 1
            out.append(full - pads[i] - pads[i + n])
    return tensor(dtype, (xs[0], m) + tuple(out))


def _pool_shape(ctx: InferenceContext) -> Shape | None:
    xs = ctx.input_shape(0)
    if xs is None:
        return None
    kernel = [int(k) for k in ctx.attr("kernel_shape", [])]
    if len(kernel) != len(xs) - 2:
        raise ShapeError(f"kernel_shape {kernel} does not fit input {format_shape(xs)}")
    ceil_mode = bool(ctx.attr("ceil_mode", 0))
    return tuple(xs[:2]) + spatial_out(ctx, xs[2:], kernel, ceil_mode=ceil_mode)


@shape_rule("MaxPool")
def _max_pool(ctx: InferenceContext):
    shape = _pool_shape(ctx)
    return [tensor(ctx.input_dtype(0), shape), tensor(DType.INT64, shape)]


@shape_rule("AveragePool")
@shape_rule("LpPool")
def _pool(ctx: InferenceContext):
    return tensor(ctx.input_dtype(0), _pool_shape(ctx))


@shape_rule("GlobalAveragePool")
@shape_rule("GlobalMaxPool")
@shape_rule("GlobalLpPool")
def _global_pool(ctx: InferenceContext):
    xs = ctx.input_shape(0)
    return tensor(ctx.input_dtype(0), None if xs is None else xs[:2] + (1,) * (len(xs) - 2))


@shape_rule("MaxRoiPool")
def _max_roi_pool(ctx: InferenceContext):
    xs, rois = ctx.input_shape(0), ctx.input_shape(1)
    pooled = tuple(int(d) for d in ctx.attr("pooled_shape", []))
    n = rois[0] if rois is not None and rois else None
    c = xs[1] if xs is not None and len(xs) > 1 else None
    return tensor(ctx.input_dtype(0), (n, c) + pooled)


@shape_rule("RoiAlign")
def _roi_align(ctx: InferenceContext):
    xs, rois, idx = ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2)
    n = rois[0] if rois is not None and rois else None
    if idx is not None and idx:
        n = check_dim(n, idx[0], "rois vs batch_indices")
    c = xs[1] if xs is not None and len(xs) > 1 else None
    return tensor(ctx.input_dtype(0), (n, c, int(ctx.attr("output_height", 1)),
                                       int(ctx.attr("output_width", 1))))


@shape_rule("MaxUnpool")
def _max_unpool(ctx: InferenceContext):
    xs, dtype = ctx.input_shape(0), ctx.input_dtype(0)
    if ctx.has_input(2):
        dims = ctx.input_dims(2)
        return tensor(dtype, dims)
    if xs is None:
        return tensor(dtype, None)
    kernel = [int(k) for k in ctx.attr("kernel_shape", [])]
    n = len(kernel)
    if n != len(xs) - 2:
        raise ShapeError(f"kernel_shape {kernel} does not fit input {format_shape(xs)}")
    strides, pads = _ints(ctx, "strides", n, 1), _ints(ctx, "pads", n, 0)
    out = [None if not known(xs[2 + i]) else
           (xs[2 + i] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n] for i in range(n)]
    return tensor(dtype, tuple(xs[:2]) + tuple(out))


@shape_rule("Col2Im")
def _col2im(ctx: InferenceContext):
    xs, image, block = ctx.input_shape(0), ctx.input_dims(1), ctx.input_dims(2)
    if image is None:
        # The spatial rank also shows in block_shape's length or the window attributes.
        n = len(block) if block is not None else _window_rank(ctx)
        image = None if n is None else (None,) * n
    if xs is None or len(xs) != 3 or image is None:
        return tensor(ctx.input_dtype(0), None if image is None else (None,) * (2 + len(image)))
    c = None
    if block is not None and known(xs[1]) and known(product(block)):
        if xs[1] % product(block):
            raise ShapeError(f"dim 1 of {format_shape(xs)} is not divisible by the block "
                             f"{list(block)}")
        c = xs[1] // product(block)
    return tensor(ctx.input_dtype(0), (xs[0], c) + tuple(image))


def _window_rank(ctx: InferenceContext) -> int | None:
    for name, per_dim in (("dilations", 1), ("strides", 1), ("pads", 2)):
        v = ctx.attr(name)
        if v:
            return len(v) // per_dim
    return None
