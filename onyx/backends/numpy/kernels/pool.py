"""Pooling kernels: AveragePool, MaxPool (with Indices), LpPool, the Global* pools, MaxUnpool,
and the region-of-interest pools MaxRoiPool and RoiAlign.

Window pools reduce tap by tap over strided views of the padded input (``conv.window_taps``),
so no window is copied; MaxPool without indices reduces one spatial axis at a time (a max is
separable), sum(kernel) passes instead of prod(kernel). Padding is filled with the
reduction's identity (-inf for max, 0 for sums); AveragePool divides by a per-axis count of
the positions each window really covers (the padded region with ``count_include_pad``, the
input otherwise), never by the ceil_mode overhang.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.backends.numpy.kernels.conv import (
    WindowGeometry,
    pad_spatial,
    sliding_windows,
    window_geometry,
    window_taps,
)
from onyx.backends.numpy.kernels.shape_ops import wide_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ModelError, ShapeError
from onyx.ir.limits import check_elements

_MANY_TAPS = 64


def _geometry(op: str, x: np.ndarray, kernel_shape, **attrs) -> WindowGeometry:
    if x.ndim < 3:
        raise ShapeError(f"{op}: input {list(x.shape)} must be (N, C, spatial...) of rank >= 3")
    if kernel_shape is not None and len(kernel_shape) != x.ndim - 2:
        raise ModelError(f"{op}: kernel_shape {list(kernel_shape)} must hold {x.ndim - 2} "
                         f"values for input {list(x.shape)}")
    g = window_geometry(op, x.shape[2:], kernel_shape=kernel_shape, **attrs)
    check_elements(x.shape[:2] + g.out, 8 * x.dtype.itemsize, f"{op} output")
    return g


def _lowest(dtype: np.dtype):
    if dtype.kind in "iu":
        return np.iinfo(dtype).min
    if dtype.kind == "b":
        return False
    return -np.inf


# ------------------------------------------------------------------ AveragePool / LpPool
def _window_counts(g: WindowGeometry, spatial, include_pad: bool) -> np.ndarray:
    """How many positions of each window lie in the counted region, shaped like the output."""
    counts = np.ones((), dtype=np.float64)
    for i, n in enumerate(spatial):
        lo, hi = (-g.begin[i], n + g.end[i]) if include_pad else (0, n)
        counts = np.multiply.outer(counts, _window_counts_1d(g, i, lo, hi))
    return counts


def _window_counts_1d(g: WindowGeometry, i: int, lo: int, hi: int) -> np.ndarray:
    """Per output position along axis ``i``: how many taps fall in [lo, hi)."""
    taps = (np.arange(g.out[i])[:, None] * g.strides[i] - g.begin[i]
            + np.arange(g.kernel[i])[None, :] * g.dilations[i])
    return ((taps >= lo) & (taps < hi)).sum(axis=1)


def _many_taps(g: WindowGeometry) -> bool:
    """Large kernels reduce faster in one C loop over the window view than tap by tap."""
    return math.prod(g.kernel) > _MANY_TAPS


def _window_sum(x: np.ndarray, g: WindowGeometry) -> np.ndarray:
    out = np.zeros(x.shape[:2] + g.out, dtype=x.dtype)
    if not out.size:
        return out
    xp = pad_spatial(x, g, 0)
    if _many_taps(g):
        return sliding_windows(xp, g).sum(axis=tuple(range(-len(g.kernel), 0)))
    for view in window_taps(xp, g):
        out += view
    return out


@kernel("AveragePool", since=1)
def average_pool(x, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
                 kernel_shape=None, pads=None, strides=None):
    g = _geometry("AveragePool", x, kernel_shape, strides=strides, dilations=dilations,
                  pads=pads, auto_pad=auto_pad, ceil_mode=ceil_mode)
    total = _window_sum(x.astype(wide_dtype(x.dtype), copy=False), g)
    counts = _window_counts(g, x.shape[2:], bool(count_include_pad))
    return (total / counts.astype(total.dtype)).astype(x.dtype, copy=False)


@kernel("LpPool", since=1)
def lp_pool(x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, p=2,
            pads=None, strides=None):
    g = _geometry("LpPool", x, kernel_shape, strides=strides, dilations=dilations, pads=pads,
                  auto_pad=auto_pad, ceil_mode=ceil_mode)
    xa = np.abs(x.astype(wide_dtype(x.dtype), copy=False))
    total = _window_sum(xa * xa if p == 2 else xa ** p, g)
    return (np.sqrt(total) if p == 2 else total ** (1.0 / p)).astype(x.dtype, copy=False)


# ------------------------------------------------------------------ MaxPool
@kernel("MaxPool", since=1)
def max_pool(ctx, x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None,
             pads=None, storage_order=0, strides=None):
    g = _geometry("MaxPool", x, kernel_shape, strides=strides, dilations=dilations, pads=pads,
                  auto_pad=auto_pad, ceil_mode=ceil_mode)
    want_indices = ctx.num_outputs > 1 and ctx.outputs_wanted[1:2] != (False,)
    shape = x.shape[:2] + g.out
    if math.prod(shape) == 0:
        empty = np.zeros(shape, dtype=x.dtype)
        return (empty, np.zeros(shape, dtype=np.int64)) if want_indices else empty
    xp = pad_spatial(x, g, _lowest(x.dtype))
    empty = _padding_only(g, x.shape[2:])
    if not want_indices:
        y = _window_max(xp, g)
        return y if empty is None else np.where(empty, np.zeros((), x.dtype), y)
    views = window_taps(xp, g)
    y = next(views).copy()
    arg = np.zeros(shape, dtype=np.int32)
    for tap, view in enumerate(views, start=1):
        # strict: the first maximum in window order wins; arg = better ? tap : arg, in
        # arithmetic form because masked stores are several times slower in NumPy
        keep = ~(view > y)
        np.subtract(arg, tap, out=arg)
        np.multiply(arg, keep, out=arg)
        np.add(arg, tap, out=arg)
        np.maximum(y, view, out=y)
    indices = _max_indices(arg, g, x.shape, storage_order)
    if empty is None:
        return y, indices
    return np.where(empty, np.zeros((), x.dtype), y), np.where(empty, -1, indices)


def _window_max(xp: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """Max over each window, one spatial axis at a time.

    A window's max is the max along its last axis of the maxima along the others, so this
    costs sum(kernel) passes instead of prod(kernel); reducing the outer axes first keeps
    the long contiguous rows as the operands of the first, largest passes. Exactly equal to
    the per-window max (NaN included: np.maximum propagates it).
    """
    y = xp
    for axis in range(len(g.kernel)):
        y = _axis_max(y, axis + 2, g.kernel[axis], g.dilations[axis], g.strides[axis],
                      g.out[axis])
    # 1x1 windows leave a strided view of the input: hand out an array of our own.
    return y.copy() if all(k == 1 for k in g.kernel) else y


def _axis_max(x: np.ndarray, axis: int, k: int, dilation: int, stride: int,
              out: int) -> np.ndarray:
    def tap(t: int) -> np.ndarray:
        index = [slice(None)] * x.ndim
        index[axis] = slice(t * dilation, t * dilation + (out - 1) * stride + 1, stride)
        return x[tuple(index)]
    if k == 1:
        return tap(0)
    y = np.maximum(tap(0), tap(1))
    for t in range(2, k):
        np.maximum(y, tap(t), out=y)
    return y


def _padding_only(g: WindowGeometry, spatial) -> np.ndarray | None:
    """Mask of the windows that cover no input element (pads as wide as the kernel), or None.

    Their max is taken as 0 with index -1, as onnx.reference does; ONNX Runtime rejects
    such pads outright.
    """
    r = len(spatial)
    masks = []
    for i, n in enumerate(spatial):
        counts = _window_counts_1d(g, i, 0, n)
        if (counts == 0).any():
            masks.append((counts == 0).reshape((-1,) + (1,) * (r - 1 - i)))
    if not masks:
        return None
    return np.logical_or.reduce(np.broadcast_arrays(*masks))


def _max_indices(arg: np.ndarray, g: WindowGeometry, in_shape, storage_order: int):
    """Flat input positions of the maxima: (n*C + c) * prod(spatial) + spatial offset, the
    offset row-major (storage_order 0) or column-major (1).

    The offset is linear in the window start and the tap, so it is a sum of a per-position
    table and a per-tap table looked up by ``arg``.
    """
    spatial = in_shape[2:]
    r = len(spatial)
    if storage_order == 0:
        steps = [math.prod(spatial[i + 1:]) for i in range(r)]
    else:
        steps = [math.prod(spatial[:i]) for i in range(r)]
    taps = np.indices(g.kernel).reshape(r, -1)
    tap_offset = sum(taps[i] * (g.dilations[i] * steps[i]) for i in range(r))
    start = np.zeros((), dtype=np.int64)
    for i in range(r):
        o = (np.arange(g.out[i], dtype=np.int64) * g.strides[i] - g.begin[i]) * steps[i]
        start = np.add.outer(start, o)
    planes = np.arange(in_shape[0] * in_shape[1], dtype=np.int64).reshape(
        in_shape[:2] + (1,) * r) * math.prod(spatial)
    return planes + start + np.take(tap_offset.astype(np.int64), arg)


# ------------------------------------------------------------------ Global pools
def _spatial_axes(op: str, x: np.ndarray) -> tuple[int, ...]:
    if x.ndim < 2:
        raise ShapeError(f"{op}: input {list(x.shape)} must be (N, C, spatial...)")
    return tuple(range(2, x.ndim))


@kernel("GlobalAveragePool", since=1)
def global_average_pool(x):
    axes = _spatial_axes("GlobalAveragePool", x)
    xw = x.astype(wide_dtype(x.dtype), copy=False)
    return xw.mean(axis=axes, keepdims=True).astype(x.dtype, copy=False)


@kernel("GlobalMaxPool", since=1)
def global_max_pool(x):
    axes = _spatial_axes("GlobalMaxPool", x)
    if any(x.shape[a] == 0 for a in axes):
        raise ShapeError(f"GlobalMaxPool: input {list(x.shape)} has an empty spatial axis")
    return x.max(axis=axes, keepdims=True)


@kernel("GlobalLpPool", since=1)
def global_lp_pool(x, *, p=2):
    axes = _spatial_axes("GlobalLpPool", x)
    xa = np.abs(x.astype(wide_dtype(x.dtype), copy=False))
    total = (xa ** p).sum(axis=axes, keepdims=True)
    return (total ** (1.0 / p)).astype(x.dtype, copy=False)


# ------------------------------------------------------------------ MaxUnpool
@kernel("MaxUnpool", since=9)
def max_unpool(x, i, output_shape=None, *, kernel_shape=None, pads=None, strides=None):
    op = "MaxUnpool"
    if x.ndim < 3 or i.shape != x.shape:
        raise ShapeError(f"{op}: X {list(x.shape)} must be (N, C, spatial...) and I "
                         f"{list(i.shape)} the same shape")
    r = x.ndim - 2
    # Only the attributes are wanted here; a kernel-sized dummy input always fits.
    g = window_geometry(op, list(kernel_shape or [1] * r), kernel_shape=kernel_shape,
                        strides=strides, pads=pads)
    # Indices address the unpooled tensor implied by the attributes; an explicit
    # output_shape only adds zeros after it (ONNX reference and ONNX Runtime).
    inferred = list(x.shape[:2]) + [(n - 1) * s + k - b - e for n, s, k, b, e in zip(
        x.shape[2:], g.strides, g.kernel, g.begin, g.end)]
    shape = inferred
    if output_shape is not None and np.size(output_shape):
        shape = [int(v) for v in np.asarray(output_shape).reshape(-1)]
        if len(shape) != x.ndim or any(o < n for o, n in zip(shape, inferred)) \
                or shape[:2] != inferred[:2]:
            raise ShapeError(f"{op}: output_shape {shape} must have rank {x.ndim}, the same N "
                             f"and C as X {list(x.shape)} and cover the unpooled shape "
                             f"{inferred}")
    check_elements(shape, 8 * x.dtype.itemsize, f"{op} output")
    size = check_elements(inferred, 8 * x.dtype.itemsize, f"{op} output")
    flat = i.reshape(-1).astype(np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= size):
        raise ShapeError(f"{op}: indices I must lie in [0, {size}) for the unpooled shape "
                         f"{inferred}")
    y = np.zeros(size, dtype=x.dtype)
    y[flat] = x.reshape(-1)
    if shape == inferred:
        return y.reshape(shape)
    out = np.zeros(shape, dtype=x.dtype)
    out[tuple(slice(0, n) for n in inferred)] = y.reshape(inferred)
    return out


# ------------------------------------------------------------------ MaxRoiPool
def _round_half_away(v: np.ndarray) -> np.ndarray:
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _check_rois(op: str, x: np.ndarray, rois: np.ndarray, cols: int):
    if x.ndim != 4:
        raise ShapeError(f"{op}: X {list(x.shape)} must be 4-D (N, C, H, W)")
    if rois.ndim != 2 or rois.shape[1] != cols:
        raise ShapeError(f"{op}: rois {list(rois.shape)} must be 2-D (num_rois, {cols})")


def _bin_masks(start: int, length: int, bins: int, size: int) -> np.ndarray:
    """(bins, size) membership of each position in Caffe's floor/ceil RoI bins."""
    edges = np.arange(bins + 1) * (length / bins)
    lo = np.clip(np.floor(edges[:-1]).astype(np.int64) + start, 0, size)
    hi = np.clip(np.ceil(edges[1:]).astype(np.int64) + start, 0, size)
    pos = np.arange(size)
    return (pos[None, :] >= lo[:, None]) & (pos[None, :] < hi[:, None])


@kernel("MaxRoiPool", since=1)
def max_roi_pool(x, rois, *, pooled_shape=None, spatial_scale=1.0):
    op = "MaxRoiPool"
    _check_rois(op, x, rois, 5)
    if pooled_shape is None or len(pooled_shape) != 2 or min(pooled_shape) < 1:
        raise ModelError(f"{op}: pooled_shape {pooled_shape} must be two positive ints")
    ph, pw = (int(v) for v in pooled_shape)
    n, c, h, w = x.shape
    check_elements((rois.shape[0], c, ph, pw), 8 * x.dtype.itemsize, f"{op} output")
    y = np.zeros((rois.shape[0], c, ph, pw), dtype=x.dtype)
    coords = _round_half_away(rois[:, 1:].astype(np.float64) * spatial_scale).astype(np.int64)
    low = _lowest(x.dtype)
    for r in range(rois.shape[0]):
        b = int(rois[r, 0])
        if not 0 <= b < n:
            raise ShapeError(f"{op}: roi {r} has batch index {b} outside [0, {n})")
        x1, y1, x2, y2 = coords[r]
        mh = _bin_masks(y1, max(y2 - y1 + 1, 1), ph, h)          # (ph, H)
        mw = _bin_masks(x1, max(x2 - x1 + 1, 1), pw, w)          # (pw, W)
        # Separable max: over W within each column bin, then over H within each row bin.
        cols = np.where(mw[None, None], x[b][:, :, None, :], low).max(axis=-1)  # (C, H, pw)
        both = np.where(mh[None, :, :, None], cols[:, None], low).max(axis=2)   # (C, ph, pw)
        empty = ~(mh.any(axis=1)[:, None] & mw.any(axis=1)[None, :])
        y[r] = np.where(empty, 0, both)
    return y


# ------------------------------------------------------------------ RoiAlign
def _roi_axis_samples(start: float, length: float, bins: int, grid: int, size: int):
    """Bilinear taps along one axis for every (bin, sample): low/high index and weights."""
    steps = (np.arange(grid) + 0.5) / grid
    pos = start + (np.arange(bins)[:, None] + steps[None, :]) * (length / bins)  # (bins, grid)
    valid = (pos >= -1.0) & (pos <= size)
    pos = np.maximum(pos, 0.0)
    low = np.floor(pos).astype(np.int64)
    at_end = low >= size - 1
    low = np.where(at_end, size - 1, low)
    high = np.where(at_end, size - 1, low + 1)
    frac = np.where(at_end, 0.0, pos - low)
    # Samples outside [-1, size] contribute nothing (Caffe2 / ONNX Runtime behaviour).
    weights = np.stack([1.0 - frac, frac], axis=-1) * valid[..., None]   # (bins, grid, 2)
    index = np.stack([low, high], axis=-1)
    return index.reshape(bins, -1), weights.reshape(bins, -1)


def _roi_align_one(xb, roi, *, out_h, out_w, sampling_ratio, half_pixel, mode):
    offset = 0.5 if half_pixel else 0.0
    x1, y1, x2, y2 = (float(v) for v in roi)
    rh, rw = y2 - y1, x2 - x1
    if not half_pixel:  # the legacy mode forces rois to be at least one pixel
        rh, rw = max(rh, 1.0), max(rw, 1.0)
    gh = sampling_ratio if sampling_ratio > 0 else int(np.ceil(rh / out_h))
    gw = sampling_ratio if sampling_ratio > 0 else int(np.ceil(rw / out_w))
    c, h, w = xb.shape
    if gh <= 0 or gw <= 0:
        return np.zeros((c, out_h, out_w), dtype=np.float64)
    check_elements((out_h * gh, out_w * gw, 4), 64, "RoiAlign sampling grid")
    if mode == "max":
        check_elements((c, out_h * gh * 2, out_w * gw * 2), 64, "RoiAlign samples")
    iy, wy = _roi_axis_samples(y1 - offset, rh, out_h, gh, h)   # (out_h, gh*2)
    ix, wx = _roi_axis_samples(x1 - offset, rw, out_w, gw, w)   # (out_w, gw*2)
    if mode == "avg":
        # Bilinear weights are separable: out = Ay @ X @ Ax^T / samples, two BLAS products.
        y0, y1, x0, x1 = iy.min(), iy.max() + 1, ix.min(), ix.max() + 1   # the roi's box
        ay = _dense_weights(iy - y0, wy, y1 - y0, xb.dtype)
        ax = _dense_weights(ix - x0, wx, x1 - x0, xb.dtype)
        cols = xb[:, y0:y1, x0:x1] @ ax.T                            # (C, rows, out_w)
        rows = ay @ cols.transpose(1, 0, 2).reshape(y1 - y0, -1)     # (out_h, C*out_w)
        return rows.reshape(out_h, c, out_w).transpose(1, 0, 2) / (gh * gw)
    # max: the largest weighted corner of any sample (what ONNX Runtime computes)
    vals = xb[:, iy.reshape(-1)[:, None], ix.reshape(-1)[None, :]]
    prod = vals.reshape(c, out_h, gh * 2, out_w, gw * 2) * wy[None, :, :, None, None] \
        * wx[None, None, None, :, :]
    return prod.reshape(c, out_h, gh, 2, out_w, gw, 2).max(axis=(2, 3, 5, 6))


def _dense_weights(index: np.ndarray, weights: np.ndarray, size: int, dtype) -> np.ndarray:
    """(bins, size) matrix summing each bin's tap weights onto their input positions."""
    dense = np.zeros((index.shape[0], size), dtype=dtype)
    np.add.at(dense, (np.arange(index.shape[0])[:, None], index), weights)
    return dense


def _roi_align(x, rois, batch_indices, *, mode, output_height, output_width, sampling_ratio,
               spatial_scale, half_pixel):
    op = "RoiAlign"
    _check_rois(op, x, rois, 4)
    idx = np.asarray(batch_indices).reshape(-1).astype(np.int64)
    if idx.shape[0] != rois.shape[0]:
        raise ShapeError(f"{op}: batch_indices {list(np.shape(batch_indices))} must hold one "
                         f"index per roi ({rois.shape[0]})")
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[0]):
        raise ShapeError(f"{op}: batch_indices must lie in [0, {x.shape[0]})")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in ("avg", "max"):
        raise ModelError(f"{op}: mode {mode!r} must be 'avg' or 'max'")
    if output_height < 1 or output_width < 1:
        raise ModelError(f"{op}: output_height/output_width must be >= 1")
    c = x.shape[1]
    check_elements((rois.shape[0], c, output_height, output_width), 8 * x.dtype.itemsize,
                   f"{op} output")
    y = np.zeros((rois.shape[0], c, output_height, output_width), dtype=x.dtype)
    xw = x.astype(wide_dtype(x.dtype), copy=False)
    scaled = rois.astype(np.float64) * spatial_scale
    if not np.all(np.isfinite(scaled)):
        raise ShapeError(f"{op}: rois must be finite")
    for r in range(rois.shape[0]):
        y[r] = _roi_align_one(xw[idx[r]], scaled[r], out_h=output_height, out_w=output_width,
                              sampling_ratio=int(sampling_ratio), half_pixel=half_pixel,
                              mode=mode)
    return y


@kernel("RoiAlign", since=10, until=15)
def roi_align_v10(x, rois, batch_indices, *, mode="avg", output_height=1, output_width=1,
                  sampling_ratio=0, spatial_scale=1.0):
    return _roi_align(x, rois, batch_indices, mode=mode, output_height=output_height,
                      output_width=output_width, sampling_ratio=sampling_ratio,
                      spatial_scale=spatial_scale, half_pixel=False)


@kernel("RoiAlign", since=16)
def roi_align(x, rois, batch_indices, *, coordinate_transformation_mode="half_pixel",
              mode="avg", output_height=1, output_width=1, sampling_ratio=0,
              spatial_scale=1.0):
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise ModelError(f"RoiAlign: coordinate_transformation_mode "
                         f"{coordinate_transformation_mode!r} must be 'half_pixel' or "
                         f"'output_half_pixel'")
    return _roi_align(x, rois, batch_indices, mode=mode, output_height=output_height,
                      output_width=output_width, sampling_ratio=sampling_ratio,
                      spatial_scale=spatial_scale,
                      half_pixel=coordinate_transformation_mode == "half_pixel")
