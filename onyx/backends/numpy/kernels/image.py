"""Sampling and detection kernels: GridSample, AffineGrid, DeformConv, NonMaxSuppression and
ImageDecoder.

GridSample and DeformConv read an input at fractional positions. Both enumerate the
interpolation taps per spatial axis (2 for linear, 4 for cubic, 1 for nearest) and gather all
positions of one tap combination with a single fancy index, so the work is vectorised over
batch, channels and output positions; only the 2**r (or 4**r) tap combinations loop.
"""

from __future__ import annotations

import io
import itertools
import math

import numpy as np

from onyx.backends.numpy.kernels.conv import check_conv_shapes, window_geometry
from onyx.backends.numpy.kernels.shape_ops import bits_of, int_list, wide_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import LimitError, ModelError, ShapeError, UnsupportedOpError
from onyx.ir.limits import check_elements

CUBIC_A = -0.75  # GridSample's bicubic coefficient (PyTorch's)


# ------------------------------------------------------------------ shared tap helpers
def _reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold coordinates outside [lo, hi] back in by repeated reflection at the borders."""
    span = hi - lo
    if span <= 0:
        return np.full_like(x, lo)
    below, above = x < lo, x > hi
    dist = np.where(below, lo - x, np.where(above, x - hi, 0.0))
    flips = np.floor(dist / span)
    rest = dist - flips * span
    even = flips % 2 == 0
    from_lo = np.where(even, lo + rest, hi - rest)
    from_hi = np.where(even, hi - rest, lo + rest)
    return np.where(below, from_lo, np.where(above, from_hi, x))


def _linear_weights(frac: np.ndarray) -> list[np.ndarray]:
    return [1.0 - frac, frac]


def _cubic_weights(frac: np.ndarray) -> list[np.ndarray]:
    a = CUBIC_A

    def near(t):
        return ((a + 2) * t - (a + 3)) * t * t + 1

    def far(t):
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return [far(frac + 1), near(frac), near(1 - frac), far(2 - frac)]


def _gather(xt: np.ndarray, batch: np.ndarray, idx: list[np.ndarray]) -> np.ndarray:
    """xt (N, spatial..., C) read at integer positions ``idx``: (N, out..., C)."""
    return xt[(batch,) + tuple(idx)]


# ------------------------------------------------------------------ GridSample
def _grid_taps(coord, size, mode, padding, bounds):
    """Per-axis taps: list of (index, weight, inside) for one spatial axis."""
    if mode == "nearest":
        offsets, weights = [0], [np.ones_like(coord)]
        base = coord
    else:
        base = np.floor(coord)
        frac = coord - base
        offsets = [0, 1] if mode == "linear" else [-1, 0, 1, 2]
        weights = _linear_weights(frac) if mode == "linear" else _cubic_weights(frac)
    taps = []
    for off, w in zip(offsets, weights):
        i = base + off
        if padding == "zeros":
            inside = (i >= 0) & (i <= size - 1)
        else:
            if padding == "reflection":
                i = np.trunc(_reflect(i, *bounds))
            inside = None
        taps.append((np.clip(i, 0, size - 1).astype(np.intp), w, inside))
    return taps


def _grid_coords(grid, dims, mode, padding, align_corners):
    """Pixel coordinates per spatial axis (grid's last dim is x, y, z: reversed axes)."""
    r = len(dims)
    coords, bounds = [], []
    for i, d in enumerate(dims):
        g = grid[..., r - 1 - i].astype(np.float64)
        c = (g + 1) / 2 * (d - 1) if align_corners else ((g + 1) * d - 1) / 2
        if mode == "nearest":
            c = np.rint(c)  # halfway points go to the even index
        lo, hi = (0.0, d - 1.0) if align_corners else (-0.5, d - 0.5)
        outside = (c < lo) | (c > hi)
        # Cubic pads each of its four taps instead of the coordinate (PyTorch, ONNX Runtime).
        if padding == "border" and mode != "cubic":
            c = np.where(outside, np.clip(c, 0, d - 1), c)
        elif padding == "reflection" and mode != "cubic":
            c = np.where(outside, _reflect(c, lo, hi), c)
        coords.append(c)
        bounds.append((lo, hi))
    return coords, bounds


def _zero_of(dtype: np.dtype):
    return "" if dtype.kind == "O" else np.zeros((), dtype=dtype)


def _combine_taps(xt: np.ndarray, taps: list, nearest: bool, fill) -> np.ndarray:
    """Sum over every combination of per-axis taps of weight * xt[position]: (N, out..., C).

    ``taps`` holds, per spatial axis, (index, weight, inside) triples; ``inside`` is None
    unless out-of-range taps must read as zero (padding_mode zeros).
    """
    batch = np.arange(xt.shape[0]).reshape((-1,) + (1,) * (xt.ndim - 2))
    acc = None
    for combo in itertools.product(*taps):
        vals = _gather(xt, batch, [t[0] for t in combo])
        inside = [t[2] for t in combo if t[2] is not None]
        if nearest:
            if inside:
                vals = np.where(np.logical_and.reduce(inside)[..., None], vals, fill)
            return vals
        weight = np.prod([t[1] for t in combo], axis=0)
        if inside:
            weight = weight * np.logical_and.reduce(inside)
        term = vals * weight[..., None].astype(vals.dtype if vals.dtype.kind != "c" else float)
        acc = term if acc is None else acc + term
    return acc


def grid_sample_nd(x, grid, mode: str, padding: str, align_corners: int) -> np.ndarray:
    op = "GridSample"
    r = x.ndim - 2
    if r < 1 or grid.ndim != x.ndim or grid.shape[0] != x.shape[0] or grid.shape[-1] != r:
        raise ShapeError(f"{op}: X {list(x.shape)} and grid {list(grid.shape)} must be "
                         f"(N, C, d1..dr) and (N, D1..Dr, r)")
    if padding not in ("zeros", "border", "reflection"):
        raise ModelError(f"{op}: padding_mode {padding!r} must be zeros, border or reflection")
    out_shape = x.shape[:2] + grid.shape[1:-1]
    check_elements(out_shape, bits_of(x.dtype), f"{op} output")
    if math.prod(out_shape) == 0:
        return np.zeros(out_shape, dtype=x.dtype)
    if any(d == 0 for d in x.shape[2:]):
        raise ShapeError(f"{op}: cannot sample the empty input {list(x.shape)}")
    if mode != "nearest" and x.dtype.kind not in "fiucV":
        raise ShapeError(f"{op}: mode {mode!r} needs a numeric X, got {x.dtype}")
    coords, bounds = _grid_coords(grid, x.shape[2:], mode, padding, align_corners)
    taps = [_grid_taps(c, d, mode, padding, b) for c, d, b in zip(coords, x.shape[2:], bounds)]
    xt = np.moveaxis(x, 1, -1)
    if mode != "nearest":
        xt = xt.astype(np.complex128 if x.dtype.kind == "c" else wide_dtype(x.dtype)
                       if x.dtype.kind in "fV" else np.float64, copy=False)
    acc = _combine_taps(xt, taps, mode == "nearest", _zero_of(x.dtype))
    y = np.moveaxis(acc, -1, 1)
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        return np.clip(np.rint(y), info.min, info.max).astype(x.dtype)
    return y.astype(x.dtype, copy=False)


@kernel("GridSample", since=20)
def grid_sample(x, grid, *, align_corners=0, mode="linear", padding_mode="zeros"):
    if mode not in ("linear", "nearest", "cubic"):
        raise ModelError(f"GridSample: mode {mode!r} must be linear, nearest or cubic")
    return grid_sample_nd(x, grid, mode, padding_mode, align_corners)


@kernel("GridSample", since=16, until=19)
def grid_sample_v16(x, grid, *, align_corners=0, mode="bilinear", padding_mode="zeros"):
    modes = {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"}
    if mode not in modes:
        raise ModelError(f"GridSample-16: mode {mode!r} must be bilinear, nearest or bicubic")
    if x.ndim != 4:
        raise ShapeError(f"GridSample-16: X {list(x.shape)} must be 4-D (N, C, H, W)")
    return grid_sample_nd(x, grid, modes[mode], padding_mode, align_corners)


# ------------------------------------------------------------------ AffineGrid
def _base_axis(d: int, align_corners: int) -> np.ndarray:
    if d <= 1:
        return np.zeros(d)
    if align_corners:
        return np.linspace(-1.0, 1.0, d)
    return (np.arange(d) * 2.0 + 1.0) / d - 1.0


@kernel("AffineGrid", since=20)
def affine_grid(theta, size, *, align_corners=0):
    op = "AffineGrid"
    dims = int_list(size, "size")
    if len(dims) not in (4, 5):
        raise ShapeError(f"{op}: size {dims} must be (N, C, H, W) or (N, C, D, H, W)")
    r = len(dims) - 2
    n, spatial = dims[0], dims[2:]
    if theta.shape != (n, r, r + 1):
        raise ShapeError(f"{op}: theta {list(theta.shape)} must be [{n}, {r}, {r + 1}] for "
                         f"size {dims}")
    check_elements([n] + spatial + [r], bits_of(theta.dtype), f"{op} output")
    axes = [_base_axis(d, align_corners) for d in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    # homogeneous base points ordered (x, y[, z], 1): x runs along the last axis
    base = np.stack(list(mesh)[::-1] + [np.ones(spatial)], axis=-1).reshape(-1, r + 1)
    dt = wide_dtype(theta.dtype)
    grid = np.einsum("pk,njk->npj", base.astype(dt), theta.astype(dt, copy=False))
    return grid.reshape([n] + spatial + [r]).astype(theta.dtype, copy=False)


# ------------------------------------------------------------------ DeformConv
def _deform_positions(offset, g, kernel, out, n, og):
    """Sampling position per spatial axis, each (N, og, kernel..., out...)."""
    r = len(kernel)
    off = offset.reshape((n, og) + tuple(kernel) + (r,) + tuple(out)).astype(np.float64)
    positions = []
    for i in range(r):
        tap = np.arange(kernel[i]) * g.dilations[i]
        start = np.arange(out[i]) * g.strides[i] - g.begin[i]
        tap = tap.reshape((-1,) + (1,) * (r - 1 - i) + (1,) * r)
        start = start.reshape((-1,) + (1,) * (r - 1 - i))
        positions.append(off[(slice(None), slice(None)) + (slice(None),) * r + (i,)]
                         + tap + start)
    return positions


def _bilinear_zeros(xt, positions, batch, group_idx):
    """xt (N, og, spatial..., Cog) sampled bilinearly, zero outside: (N, og, K..., out..., Cog)."""
    dims = xt.shape[2:-1]
    acc = None
    bases = [np.floor(p) for p in positions]
    for corner in itertools.product((0, 1), repeat=len(dims)):
        idx, weight, inside = [], 1.0, True
        for p, b, c, d in zip(positions, bases, corner, dims):
            i = b + c
            weight = weight * (1.0 - np.abs(p - i))
            inside = inside & (i >= 0) & (i <= d - 1)
            idx.append(np.clip(i, 0, d - 1).astype(np.intp))
        vals = xt[(batch, group_idx) + tuple(idx)]
        term = vals * (weight * inside)[..., None].astype(xt.dtype)
        acc = term if acc is None else acc + term
    return acc


def _check_deform(op, x, w, offset, b, mask, og, g) -> None:
    n, c = x.shape[:2]
    taps, r, m = math.prod(g.kernel), x.ndim - 2, w.shape[0]
    if og < 1 or c % og:
        raise ShapeError(f"{op}: C={c} of X {list(x.shape)} must be divisible by offset_group"
                         f"={og}")
    if offset.shape != (n, og * taps * r) + g.out:
        raise ShapeError(f"{op}: offset {list(offset.shape)} must be "
                         f"{[n, og * taps * r] + list(g.out)}")
    if mask is not None and mask.shape != (n, og * taps) + g.out:
        raise ShapeError(f"{op}: mask {list(mask.shape)} must be "
                         f"{[n, og * taps] + list(g.out)}")
    if b is not None and b.shape != (m,):
        raise ShapeError(f"{op}: bias B {list(b.shape)} must be 1-D of length {m}")
    check_elements((n, m) + g.out, bits_of(x.dtype), f"{op} output")
    check_elements((n, c, taps) + g.out, 64, f"{op} columns")


@kernel("DeformConv", since=19)
def deform_conv(x, w, offset, b=None, mask=None, *, dilations=None, group=1,
                kernel_shape=None, offset_group=1, pads=None, strides=None):
    op = "DeformConv"
    kernel = check_conv_shapes(op, x, w, group, kernel_shape)
    g = window_geometry(op, x.shape[2:], kernel_shape=kernel, strides=strides,
                        dilations=dilations, pads=pads)
    _check_deform(op, x, w, offset, b, mask, offset_group, g)
    (n, c), r, og, m = x.shape[:2], x.ndim - 2, offset_group, w.shape[0]
    dt = wide_dtype(x.dtype)
    y = np.zeros((n, m) + g.out, dtype=dt)
    if y.size == 0 or c == 0:
        return y.astype(x.dtype)
    xt = np.moveaxis(x.astype(dt, copy=False).reshape((n, og, c // og) + x.shape[2:]), 2, -1)
    lead = (1,) * (2 * r)
    vals = _bilinear_zeros(xt, _deform_positions(offset, g, kernel, g.out, n, og),
                           np.arange(n).reshape((n, 1) + lead),
                           np.arange(og).reshape((1, og) + lead))
    if mask is not None:
        vals = vals * mask.reshape((n, og) + kernel + g.out + (1,)).astype(dt)
    # (N, og, K..., out..., C/og) -> columns (N, group, C/group * K, out) -> W @ columns
    taps, rows = math.prod(kernel), math.prod(g.out)
    cols = vals.reshape(n, og, taps, rows, c // og).transpose(0, 1, 4, 2, 3)
    cols = cols.reshape(n, group, (c // group) * taps, rows)
    y = np.matmul(w.astype(dt).reshape(group, m // group, -1), cols).reshape(y.shape)
    if b is not None:
        y = y + b.astype(dt).reshape((m,) + (1,) * r)
    return y.astype(x.dtype, copy=False)


# ------------------------------------------------------------------ NonMaxSuppression
def _corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """Boxes as (y_min, x_min, y_max, x_max), whatever corner order they came in."""
    b = boxes.astype(np.float64)
    if center_point_box:
        xc, yc, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1)
    return np.stack([np.minimum(b[..., 0], b[..., 2]), np.minimum(b[..., 1], b[..., 3]),
                     np.maximum(b[..., 0], b[..., 2]), np.maximum(b[..., 1], b[..., 3])],
                    axis=-1)


def _suppressed(box: np.ndarray, others: np.ndarray, threshold: float) -> np.ndarray:
    """Whether each column of ``others`` (y0, x0, y1, x1, area rows) has IoU with ``box``
    strictly above ``threshold``; empty boxes and disjoint pairs never suppress."""
    ih = np.minimum(box[2], others[2]) - np.maximum(box[0], others[0])
    iw = np.minimum(box[3], others[3]) - np.maximum(box[1], others[1])
    inter = np.maximum(ih, 0.0) * np.maximum(iw, 0.0)
    union = box[4] + others[4] - inter
    ok = (inter > 0) & (box[4] > 0) & (others[4] > 0) & (union > 0)
    return ok & (inter / np.where(ok, union, 1.0) > threshold)


def _select_class(boxes, scores, limit, iou_threshold, score_threshold) -> list[int]:
    candidates = np.arange(scores.shape[0])
    if score_threshold is not None:
        candidates = candidates[scores > score_threshold]
    # highest score first; equal scores keep the lower box index first
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    b = boxes[order]
    table = np.stack([b[:, 0], b[:, 1], b[:, 2], b[:, 3],
                      (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])])
    chosen = []
    # Greedy: keep the best remaining box, drop every box it suppresses, repeat.
    while order.size and len(chosen) < limit:
        chosen.append(int(order[0]))
        keep = ~_suppressed(table[:, 0], table[:, 1:], iou_threshold)
        order, table = order[1:][keep], table[:, 1:][:, keep]
    return chosen


def _optional_scalar(t, what: str, cast):
    if t is None or np.size(t) == 0:
        return None
    if np.size(t) != 1:
        raise ShapeError(f"NonMaxSuppression: {what} must be a scalar, got shape "
                         f"{list(np.shape(t))}")
    return cast(np.asarray(t).reshape(-1)[0])


@kernel("NonMaxSuppression", since=10)
def non_max_suppression(boxes, scores, max_output_boxes_per_class=None, iou_threshold=None,
                        score_threshold=None, *, center_point_box=0):
    op = "NonMaxSuppression"
    if boxes.ndim != 3 or boxes.shape[2] != 4 or scores.ndim != 3 \
            or scores.shape[0] != boxes.shape[0] or scores.shape[2] != boxes.shape[1]:
        raise ShapeError(f"{op}: boxes {list(boxes.shape)} and scores {list(scores.shape)} "
                         f"must be [B, N, 4] and [B, C, N]")
    limit = _optional_scalar(max_output_boxes_per_class, "max_output_boxes_per_class", int) or 0
    iou = _optional_scalar(iou_threshold, "iou_threshold", float) or 0.0
    score = _optional_scalar(score_threshold, "score_threshold", float)
    corners = _corners(boxes, center_point_box)
    selected = []
    for bi in range(scores.shape[0]):
        for ci in range(scores.shape[1]):
            for idx in _select_class(corners[bi], scores[bi, ci], limit, iou, score):
                selected.append((bi, ci, idx))
    return np.array(selected, dtype=np.int64).reshape(-1, 3)


# ------------------------------------------------------------------ ImageDecoder
_PIXEL_FORMATS = {"RGB": ("RGB", 3), "BGR": ("RGB", 3), "Grayscale": ("L", 1)}


@kernel("ImageDecoder", since=20)
def image_decoder(ctx, encoded_stream, *, pixel_format="RGB"):
    try:
        from PIL import Image
    except ImportError:
        node = getattr(ctx.node, "name", None)
        err = UnsupportedOpError("ImageDecoder", opset=ctx.opset, node=node or None,
                                 detail="decoding images needs Pillow (pip install pillow)")
        err._node_named = True
        raise err from None
    if pixel_format not in _PIXEL_FORMATS:
        raise ModelError(f"ImageDecoder: pixel_format {pixel_format!r} must be RGB, BGR or "
                         f"Grayscale")
    mode, channels = _PIXEL_FORMATS[pixel_format]
    data = np.ascontiguousarray(encoded_stream, dtype=np.uint8).tobytes()
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            raise LimitError(f"ImageDecoder: {exc}") from None
        return np.zeros((0, 0, channels), dtype=np.uint8)
    check_elements((height, width, channels), 8, "ImageDecoder output")
    try:
        pixels = np.asarray(image.convert(mode), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError):
        return np.zeros((0, 0, channels), dtype=np.uint8)  # undecodable: an empty image
    pixels = pixels.reshape(height, width, channels)
    return np.ascontiguousarray(pixels[:, :, ::-1]) if pixel_format == "BGR" else pixels
