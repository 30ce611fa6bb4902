"""Shape-manipulation kernels: Reshape, Transpose, Concat, Split, Slice, Squeeze, Unsqueeze,
Flatten, Expand, Tile, Shape, Size, DepthToSpace, SpaceToDepth, Pad, CenterCropPad, Col2Im.

Ops that only reinterpret the layout (Reshape, Squeeze, Unsqueeze, Flatten, Slice, Split,
Transpose) return NumPy views, as PyTorch does; ops whose output is new data (Expand, Tile,
Pad, ...) allocate, after checking the size computed from input values.

The small helpers at the top (``normalize_axis``, ``int_list``, ``wide_dtype``) are shared by
the other kernel modules of this op family.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError
from onyx.ir.limits import check_elements


# ------------------------------------------------------------------ shared helpers
def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` made non-negative for a tensor of ``rank``; ShapeError when out of range."""
    axis = int(axis)
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range for rank {rank} "
                         f"(valid: {-rank}..{rank - 1})")
    return axis + rank if axis < 0 else axis


def normalize_axes(axes, rank: int, what: str = "axes") -> list[int]:
    """Each axis made non-negative; repeated axes are an error."""
    out = [normalize_axis(a, rank, what) for a in axes]
    if len(set(out)) != len(out):
        raise ShapeError(f"{what} {list(axes)} repeat an axis (rank {rank})")
    return out


def int_list(t, what: str) -> list[int]:
    """A 1-D (or scalar) integer tensor as Python ints, named ``what`` in errors."""
    a = np.asarray(t)
    if a.ndim > 1:
        raise ShapeError(f"{what} must be a 1-D tensor, got shape {list(a.shape)}")
    if a.dtype.kind not in "iub":
        raise ShapeError(f"{what} must be an integer tensor, got {a.dtype}")
    return [int(v) for v in a.reshape(-1)]


def int_scalar(t, what: str) -> int:
    """A scalar (or one-element) integer tensor as a Python int."""
    values = int_list(t, what)
    if len(values) != 1:
        raise ShapeError(f"{what} must hold one value, got shape {list(np.shape(t))}")
    return values[0]


def wide_dtype(dtype) -> np.dtype:
    """The dtype to compute in: float32 for the narrow floats (float16, bfloat16, float8)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fV" and dtype.itemsize < 4:
        try:
            if DType.from_numpy(dtype).is_float:
                return np.dtype(np.float32)
        except ValueError:
            pass
    return dtype


def bits_of(dtype) -> int:
    """Bits per element for size checks (object arrays counted as pointers)."""
    return 64 if np.dtype(dtype).kind == "O" else 8 * np.dtype(dtype).itemsize


# ------------------------------------------------------------------ Reshape
def _reshape_target(shape_in: tuple, shape: list[int], allowzero: int) -> list[int]:
    target = list(shape)
    if target.count(-1) > 1:
        raise ShapeError(f"shape {shape} has more than one -1")
    if allowzero and 0 in target and -1 in target:
        raise ShapeError(f"shape {shape} has both 0 and -1 with allowzero=1")
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(shape_in):
                raise ShapeError(f"shape {shape} copies dimension {i} (0) but the "
                                 f"input {list(shape_in)} has rank {len(shape_in)}")
            target[i] = shape_in[i]
        elif d < -1:
            raise ShapeError(f"invalid dimension {d} in shape {shape}")
    total = math.prod(shape_in)
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape {list(shape_in)} into {shape}")
        target[target.index(-1)] = total // known
    if math.prod(target) != total:
        raise ShapeError(f"cannot reshape {list(shape_in)} ({total} elements) into "
                         f"{shape} ({math.prod(target)} elements)")
    return target


@kernel("Reshape", since=5)
def reshape(data, shape, *, allowzero=0):
    return data.reshape(_reshape_target(data.shape, int_list(shape, "shape"), allowzero))


@kernel("Reshape", since=1, until=4)
def reshape_v1(data, *, shape=(), consumed_inputs=None):
    return data.reshape(_reshape_target(data.shape, [int(d) for d in shape], 0))


# ------------------------------------------------------------------ Transpose, Flatten
@kernel("Transpose")
def transpose(data, *, perm=None):
    if perm is None:
        return data.transpose()
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(data.ndim)):
        raise ShapeError(f"perm {perm} is not a permutation of the axes of "
                         f"shape {list(data.shape)}")
    return data.transpose(perm)


@kernel("Flatten")
def flatten(x, *, axis=1):
    r = x.ndim
    if not -r <= axis <= r:
        raise ShapeError(f"axis {axis} is out of range for shape {list(x.shape)}")
    axis = axis + r if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


# ------------------------------------------------------------------ Concat, Split
@kernel("Concat")
def concat(*inputs, axis=1):  # opset 1-3 defaulted axis to 1; later opsets require it
    if not inputs:
        raise ShapeError("needs at least one input")
    first = inputs[0]
    axis = normalize_axis(axis, first.ndim)
    for x in inputs[1:]:
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(
                zip(x.shape, first.shape)) if i != axis):
            raise ShapeError(f"on axis {axis}: shapes "
                             f"{[list(t.shape) for t in inputs]} differ off that axis")
    dtype = first.dtype
    return np.concatenate([np.asarray(x, dtype) for x in inputs], axis=axis)


def _split(x, sizes: list[int], axis: int, n_out: int) -> tuple:
    axis = normalize_axis(axis, x.ndim)
    if len(sizes) != n_out or any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
        raise ShapeError(f"sizes {sizes} do not split dimension {axis} "
                         f"({x.shape[axis]}) of shape {list(x.shape)} into {n_out} outputs")
    bounds = np.cumsum([0] + sizes)
    index = [slice(None)] * x.ndim
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        index[axis] = slice(int(lo), int(hi))
        out.append(x[tuple(index)])
    return tuple(out)


def _equal_sizes(dim: int, n: int, exact: bool) -> list[int]:
    if n <= 0:
        raise ShapeError(f"cannot split into {n} outputs")
    if exact:
        if dim % n:
            raise ShapeError(f"dimension {dim} does not split evenly into {n} outputs")
        return [dim // n] * n
    # Opset 18: parts of ceil(dim / n), the last one smaller.
    chunk = -(-dim // n)
    sizes = [min(chunk, max(dim - i * chunk, 0)) for i in range(n)]
    return sizes


@kernel("Split", since=1, until=12)
def split_v1(ctx, x, split_input=None, *, axis=0, split=None):
    if split is not None:
        sizes = [int(s) for s in split]
    elif split_input is not None:  # opset 1's split input has the data's (float) type
        sizes = int_list(np.asarray(split_input).astype(np.int64), "split")
    else:
        sizes = _equal_sizes(x.shape[normalize_axis(axis, x.ndim)], ctx.num_outputs, exact=True)
    return _split(x, sizes, axis, ctx.num_outputs)


@kernel("Split", since=13)
def split(ctx, x, split=None, *, axis=0, num_outputs=None):
    n = ctx.num_outputs
    dim = x.shape[normalize_axis(axis, x.ndim)]
    if split is not None:
        if num_outputs is not None:
            raise ShapeError("give either the split input or num_outputs, not both")
        sizes = int_list(split, "split")
    elif num_outputs is not None:
        if num_outputs != n:
            raise ShapeError(f"num_outputs={num_outputs} but the node has {n} outputs")
        sizes = _equal_sizes(dim, n, exact=False)
    else:
        sizes = _equal_sizes(dim, n, exact=ctx.opset < 18)
    return _split(x, sizes, axis, n)


# ------------------------------------------------------------------ Slice
def _slice_bounds(dim: int, start: int, end: int, step: int) -> slice:
    if step == 0:
        raise ShapeError("steps cannot be 0")
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        return slice(min(max(start, 0), dim), min(max(end, 0), dim), step)
    start = min(max(start, 0), dim - 1)
    end = min(max(end, -1), dim - 1)
    # -1 means "one before the first element" here; Python's slice needs None for that.
    return slice(start, None if end < 0 else end, step)


def slice_tensor(x, starts, ends, axes=None, steps=None):
    """``x[starts:ends:steps]`` on ``axes`` with ONNX's clamping rules (a view)."""
    if axes is None:
        axes = list(range(len(starts)))
    if steps is None:
        steps = [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ShapeError(f"starts {starts}, ends {ends}, axes {axes} and steps {steps} "
                         f"differ in length")
    index = [slice(None)] * x.ndim
    for axis, s, e, st in zip(normalize_axes(axes, x.ndim, "axes"), starts, ends, steps):
        index[axis] = _slice_bounds(x.shape[axis], s, e, st)
    return x[tuple(index)]


@kernel("Slice", since=10)
def slice_(data, starts, ends, axes=None, steps=None):
    return slice_tensor(data, int_list(starts, "starts"), int_list(ends, "ends"),
                        None if axes is None else int_list(axes, "axes"),
                        None if steps is None else int_list(steps, "steps"))


@kernel("Slice", since=1, until=9)
def slice_v1(data, *, starts=(), ends=(), axes=None):
    return slice_tensor(data, list(starts), list(ends), None if axes is None else list(axes))


# ------------------------------------------------------------------ Squeeze, Unsqueeze
def _squeeze(data, axes):
    if axes is None:
        return data.reshape([d for d in data.shape if d != 1])
    axes = normalize_axes(axes, data.ndim, "axes")
    for a in axes:
        if data.shape[a] != 1:
            raise ShapeError(f"dimension {a} of shape {list(data.shape)} is not 1")
    return data.reshape([d for i, d in enumerate(data.shape) if i not in axes])


def _unsqueeze(data, axes):
    rank = data.ndim + len(axes)
    axes = normalize_axes(axes, rank, "axes")
    dims = iter(data.shape)
    return data.reshape([1 if i in axes else next(dims) for i in range(rank)])


@kernel("Squeeze", since=13)
def squeeze(data, axes=None):
    return _squeeze(data, None if axes is None else int_list(axes, "axes"))


@kernel("Squeeze", since=1, until=12)
def squeeze_v1(data, *, axes=None):
    return _squeeze(data, axes)


@kernel("Unsqueeze", since=13)
def unsqueeze(data, axes):
    return _unsqueeze(data, int_list(axes, "axes"))


@kernel("Unsqueeze", since=1, until=12)
def unsqueeze_v1(data, *, axes=()):
    return _unsqueeze(data, list(axes))


# ------------------------------------------------------------------ Expand, Tile
def _broadcast_shape(shape_a, shape_b) -> list[int] | None:
    """The NumPy broadcast of two shapes, or None when they do not broadcast.

    Computed by hand: NumPy's own helper refuses shapes whose product overflows, and those
    must reach ``check_elements`` to get a size error.
    """
    rank = max(len(shape_a), len(shape_b))
    a = [1] * (rank - len(shape_a)) + list(shape_a)
    b = [1] * (rank - len(shape_b)) + list(shape_b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            return None
        out.append(x if y == 1 else y)
    return out


@kernel("Expand", since=8)
def expand(x, shape):
    dims = int_list(shape, "shape")
    out_shape = _broadcast_shape(x.shape, dims)
    if out_shape is None:
        raise ShapeError(f"input {list(x.shape)} does not broadcast with shape {dims}")
    check_elements(out_shape, bits_of(x.dtype), "output")
    return np.broadcast_to(x, out_shape).copy()


def _tile(x, repeats: list[int]):
    if len(repeats) != x.ndim or any(r < 0 for r in repeats):
        raise ShapeError(f"repeats {repeats} do not fit input shape {list(x.shape)}")
    check_elements([d * r for d, r in zip(x.shape, repeats)], bits_of(x.dtype), "output")
    return np.tile(x, repeats)


@kernel("Tile", since=6)
def tile(x, repeats):
    return _tile(x, int_list(repeats, "repeats"))


@kernel("Tile", since=1, until=5)
def tile_v1(x, tiles, axis):
    # Opset 1 typed tiles and axis like the data (float): read them as integers.
    tiles, axis = (np.asarray(t).astype(np.int64) for t in (tiles, axis))
    reps = [1] * x.ndim
    reps[normalize_axis(int_scalar(axis, "axis"), x.ndim)] = int_scalar(tiles, "tiles")
    return _tile(x, reps)


# ------------------------------------------------------------------ Shape, Size
@kernel("Shape", since=15)
def shape(data, *, start=0, end=None):
    return np.array(data.shape[start:end], dtype=np.int64)  # Python slicing clamps as ONNX


@kernel("Shape", since=1, until=14)
def shape_v1(data):
    return np.array(data.shape, dtype=np.int64)


@kernel("Size")
def size(data):
    return np.asarray(data.size, dtype=np.int64)


# ------------------------------------------------------------------ DepthToSpace, SpaceToDepth
def _check_4d(x, blocksize: int) -> tuple:
    if x.ndim != 4:
        raise ShapeError(f"expects a 4-D input, got shape {list(x.shape)}")
    if blocksize <= 0:
        raise ShapeError(f"blocksize must be positive, got {blocksize}")
    return x.shape


@kernel("DepthToSpace")
def depth_to_space(x, *, blocksize, mode="DCR"):
    b, c, h, w = _check_4d(x, blocksize)
    bs = blocksize
    if c % (bs * bs):
        raise ShapeError(f"channels {c} of shape {list(x.shape)} are not a "
                         f"multiple of blocksize^2 = {bs * bs}")
    if mode == "DCR":
        t = x.reshape(b, bs, bs, c // (bs * bs), h, w).transpose(0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        t = x.reshape(b, c // (bs * bs), bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        raise ShapeError(f"unknown mode {mode!r} (DCR or CRD)")
    return t.reshape(b, c // (bs * bs), h * bs, w * bs)


@kernel("SpaceToDepth")
def space_to_depth(x, *, blocksize, mode="DCR"):
    b, c, h, w = _check_4d(x, blocksize)
    bs = blocksize
    if h % bs or w % bs:
        raise ShapeError(f"spatial dims of {list(x.shape)} are not multiples of "
                         f"blocksize {bs}")
    t = x.reshape(b, c, h // bs, bs, w // bs, bs)
    if mode == "DCR":
        t = t.transpose(0, 3, 5, 1, 2, 4)
    elif mode == "CRD":
        t = t.transpose(0, 1, 3, 5, 2, 4)
    else:
        raise ShapeError(f"unknown mode {mode!r} (DCR or CRD)")
    return t.reshape(b, c * bs * bs, h // bs, w // bs)


# ------------------------------------------------------------------ Pad
_PAD_MODES = ("constant", "reflect", "edge", "wrap")  # the same names as numpy.pad


def pad_tensor(x, pads: list[int], mode: str = "constant", value=None, axes=None):
    """``x`` padded by ONNX ``pads`` ([begins..., ends...] over ``axes``); negative pads crop."""
    axes = list(range(x.ndim)) if axes is None else normalize_axes(axes, x.ndim, "axes")
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"pads {pads} must hold 2 values per axis ({len(axes)} axes) "
                         f"for input shape {list(x.shape)}")
    if mode not in _PAD_MODES:
        raise ShapeError(f"unknown mode {mode!r} (constant, reflect, edge or wrap)")
    widths = [(0, 0)] * x.ndim
    for i, a in enumerate(axes):
        widths[a] = (pads[i], pads[i + len(axes)])
    out_shape = [d + b + e for d, (b, e) in zip(x.shape, widths)]
    if any(d < 0 for d in out_shape):
        raise ShapeError(f"pads {pads} crop more than the input shape {list(x.shape)}")
    check_elements(out_shape, bits_of(x.dtype), "output")
    # Negative pads crop first; the remaining (positive) pads then grow the cropped tensor.
    x = x[tuple(slice(max(-b, 0), d - max(-e, 0)) for d, (b, e) in zip(x.shape, widths))]
    widths = [(max(b, 0), max(e, 0)) for b, e in widths]
    if not any(b or e for b, e in widths):
        return x.copy()
    if mode == "constant":
        fill = _pad_fill(x.dtype, value)
        out = np.full(out_shape, fill, dtype=x.dtype)
        out[tuple(slice(b, b + d) for d, (b, _) in zip(x.shape, widths))] = x
        return out
    for d, (b, e) in zip(x.shape, widths):
        if d == 0 and (b or e):
            raise ShapeError(f"mode {mode!r} cannot pad an empty axis of shape "
                             f"{list(x.shape)}")
        if mode == "reflect" and max(b, e) > d - 1:
            # A mirror of d elements has d - 1 to offer; more is undefined (ORT, torch reject).
            raise ShapeError(f"reflect pads {pads} exceed dimension - 1 of (cropped) shape "
                             f"{list(x.shape)}")
    return np.pad(x, widths, mode=mode)


def _pad_fill(dtype, value):
    if value is not None and np.asarray(value).size:
        return np.asarray(value).reshape(-1)[0]
    return "" if np.dtype(dtype).kind == "O" else np.zeros((), dtype=dtype)


@kernel("Pad", since=11)
def pad(data, pads, constant_value=None, axes=None, *, mode="constant"):
    return pad_tensor(data, int_list(pads, "pads"), mode, constant_value,
                      None if axes is None else int_list(axes, "axes"))


@kernel("Pad", since=2, until=10)
def pad_v2(data, *, pads=(), mode="constant", value=0.0):
    return pad_tensor(data, list(pads), mode, np.asarray(value, dtype=data.dtype))


@kernel("Pad", since=1, until=1)
def pad_v1(data, *, paddings=(), mode="constant", value=0.0):
    return pad_tensor(data, list(paddings), mode, np.asarray(value, dtype=data.dtype))


# ------------------------------------------------------------------ CenterCropPad
@kernel("CenterCropPad", since=18)
def center_crop_pad(input_data, shape, *, axes=None):
    x = input_data
    sizes = int_list(shape, "shape")
    axes = list(range(x.ndim)) if axes is None else normalize_axes(axes, x.ndim)
    if len(sizes) != len(axes) or any(s < 0 for s in sizes):
        raise ShapeError(f"shape {sizes} does not fit axes {axes} of input "
                         f"{list(x.shape)}")
    out_shape = list(x.shape)
    src = [slice(None)] * x.ndim
    dst = [slice(None)] * x.ndim
    for a, size in zip(axes, sizes):
        dim = x.shape[a]
        out_shape[a] = size
        if dim >= size:  # crop; an odd surplus leaves the extra element on the right
            lo = (dim - size) // 2
            src[a] = slice(lo, lo + size)
        else:  # pad; an odd deficit puts the extra zero on the right
            lo = (size - dim) // 2
            dst[a] = slice(lo, lo + dim)
    check_elements(out_shape, bits_of(x.dtype), "output")
    out = np.zeros(out_shape, dtype=x.dtype)
    out[tuple(dst)] = x[tuple(src)]
    return out


# ------------------------------------------------------------------ Col2Im
@kernel("Col2Im", since=18)
def col2im(x, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    image = int_list(image_shape, "image_shape")
    block = int_list(block_shape, "block_shape")
    nd = len(image)
    dil = list(dilations or [1] * nd)
    stride = list(strides or [1] * nd)
    pad_ = list(pads or [0] * (2 * nd))
    if len(block) != nd or len(dil) != nd or len(stride) != nd or len(pad_) != 2 * nd \
            or x.ndim != 3 or min(block + dil + stride, default=1) <= 0 \
            or min(pad_ + image, default=0) < 0:
        raise ShapeError(f"input {list(x.shape)}, image_shape {image}, block_shape "
                         f"{block}, dilations {dil}, strides {stride}, pads {pad_} are "
                         f"inconsistent or not positive")
    n, ck, length = x.shape
    kprod = math.prod(block)
    padded = [image[i] + pad_[i] + pad_[i + nd] for i in range(nd)]
    counts = [(padded[i] - dil[i] * (block[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    if kprod == 0 or ck % kprod or any(c <= 0 for c in counts) or math.prod(counts) != length:
        raise ShapeError(f"input {list(x.shape)} does not hold blocks {block} of "
                         f"image {image} (expected {math.prod(counts)} blocks)")
    c = ck // kprod
    check_elements([n, c] + padded, bits_of(x.dtype), "output")
    cols = x.reshape([n, c] + block + counts)
    out = np.zeros([n, c] + padded, dtype=wide_dtype(x.dtype))
    # One strided add per block offset: every block puts that element at the same offset.
    for offset in np.ndindex(*block):
        dst = tuple(slice(o * d, o * d + s * (cnt - 1) + 1, s)
                    for o, d, s, cnt in zip(offset, dil, stride, counts))
        out[(slice(None), slice(None)) + dst] += cols[(slice(None), slice(None)) + offset]
    crop = tuple(slice(pad_[i], pad_[i] + image[i]) for i in range(nd))
    return out[(slice(None), slice(None)) + crop].astype(x.dtype)
