"""Resize (opsets 10, 11, 13, 18, 19) and Upsample (opsets 1, 7, 9, 10).

Resizing is separable, so it runs one axis at a time. For each resized axis the output
coordinates are mapped into the input (``coordinate_transformation_mode``), then turned into a
small table of input indices and weights per output position: one tap for ``nearest``, two for
``linear``, four for ``cubic``, and more when ``antialias`` stretches the filter by 1/scale.
Applying the table is one ``np.take`` and a weighted sum, so no Python loop runs per element.
Output sizes computed from ``scales`` are checked against ``onyx.ir.limits`` before anything
is allocated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from onyx.backends.numpy.kernels.shape_ops import bits_of, normalize_axes
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ModelError, ShapeError
from onyx.ir.limits import check_elements

COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                    "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
KEEP_ASPECT_POLICIES = ("stretch", "not_larger", "not_smaller")
_MANY_TAPS = 16            # filters wider than this are applied as a dense matrix ...
_DENSE_BUDGET = 1 << 24    # ... when that (out, in) matrix has at most this many weights


@dataclass(frozen=True)
class ResizeMode:
    """The interpolation settings shared by every resized axis."""
    mode: str = "nearest"
    coordinate: str = "half_pixel"
    nearest: str = "round_prefer_floor"   # or "legacy" for Upsample / Resize-10
    cubic_a: float = -0.75
    exclude_outside: bool = False
    extrapolation: float = 0.0
    antialias: bool = False


@dataclass(frozen=True)
class AxisPlan:
    """How one axis is resized: its sizes, scale, and the region of interest."""
    in_len: int
    out_len: int
    scale: float
    out_width: float    # the output length before rounding (fractional when from scales)
    roi: tuple[float, float] = (0.0, 1.0)


# ------------------------------------------------------------------ coordinates
def _source_coords(p: AxisPlan, coord: str) -> np.ndarray:
    """Input-space coordinate of every output index along one axis."""
    y = np.arange(p.out_len, dtype=np.float64)
    n, s = p.in_len, p.scale
    if coord == "half_pixel":
        return (y + 0.5) / s - 0.5
    if coord == "half_pixel_symmetric":
        offset = n / 2 * (1 - p.out_len / p.out_width)
        return offset + (y + 0.5) / s - 0.5
    if coord == "pytorch_half_pixel":
        return (y + 0.5) / s - 0.5 if p.out_width > 1 else np.zeros_like(y)
    if coord == "align_corners":
        return y * (n - 1) / (p.out_width - 1) if p.out_width != 1 else np.zeros_like(y)
    if coord == "asymmetric":
        return y / s
    if coord == "tf_half_pixel_for_nn":
        return (y + 0.5) / s
    start, end = p.roi
    if p.out_width == 1:
        return np.full_like(y, (start + end) / 2 * (n - 1))
    return start * (n - 1) + y * (end - start) * (n - 1) / (p.out_width - 1)


def _nearest_index(x: np.ndarray, mode: str, downsampling: bool) -> np.ndarray:
    if mode == "round_prefer_floor":
        idx = np.ceil(x - 0.5)
    elif mode == "round_prefer_ceil":
        idx = np.floor(x + 0.5)
    elif mode == "floor":
        idx = np.floor(x)
    elif mode == "ceil":
        idx = np.ceil(x)
    else:  # Upsample and Resize-10 (ONNX Runtime's rule): ceil when shrinking, else floor
        idx = np.ceil(x) if downsampling else np.floor(x)
    return idx.astype(np.int64)


# ------------------------------------------------------------------ filter taps
def _keys_cubic(t: np.ndarray, a: float) -> np.ndarray:
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _filter_taps(x: np.ndarray, scale: float, m: ResizeMode) -> tuple[np.ndarray, np.ndarray]:
    """(out, T) input indices and weights of the linear or cubic filter centred on ``x``."""
    radius = 1 if m.mode == "linear" else 2
    stretch = min(scale, 1.0) if m.antialias else 1.0
    first = math.floor(-radius / stretch) + 1
    offsets = np.arange(first, 2 - first)
    # The tap left of x is its floor, or x - 1 when x is whole, so the fraction is in (0, 1].
    base = np.floor(x)
    base = np.where(base == x, base - 1, base)
    frac = x - base
    dist = (offsets[None, :] - frac[:, None]) * stretch
    if m.mode == "linear":
        weights = np.clip(1.0 - np.abs(dist), 0.0, 1.0)
    else:
        weights = _keys_cubic(dist, m.cubic_a)
    index = base.astype(np.int64)[:, None] + offsets[None, :]
    if m.antialias:
        weights = weights / weights.sum(axis=1, keepdims=True)
    return index, weights


def _axis_table(p: AxisPlan, m: ResizeMode):
    """Indices (out, T), weights (out, T) or None, and the extrapolated-position mask."""
    x = _source_coords(p, m.coordinate)
    outside = None
    if m.coordinate == "tf_crop_and_resize":
        outside = (x < 0) | (x > p.in_len - 1)
    if m.mode == "nearest":
        idx = _nearest_index(x, m.nearest, p.scale < 1)[:, None]
        return np.clip(idx, 0, p.in_len - 1), None, outside
    index, weights = _filter_taps(x, p.scale, m)
    if m.exclude_outside:
        weights = np.where((index < 0) | (index >= p.in_len), 0.0, weights)
        total = weights.sum(axis=1, keepdims=True)
        weights = weights / np.where(total == 0, 1.0, total)
    return np.clip(index, 0, p.in_len - 1), weights, outside


def _resize_axis(data: np.ndarray, axis: int, p: AxisPlan, m: ResizeMode) -> np.ndarray:
    index, weights, outside = _axis_table(p, m)
    if weights is None:
        out = np.take(data, index[:, 0], axis=axis)
    elif index.shape[1] > _MANY_TAPS and index.shape[0] * p.in_len <= _DENSE_BUDGET:
        # Wide antialias filters: one (out, in) weight matrix and a single tensordot.
        dense = np.zeros((index.shape[0], p.in_len), dtype=data.dtype)
        np.add.at(dense, (np.arange(index.shape[0])[:, None], index), weights)
        out = np.moveaxis(np.tensordot(dense, data, axes=([1], [axis])), 0, axis)
    else:
        # One gather and multiply-add per tap: each operand is a plain output-sized array.
        w = weights.astype(data.dtype).reshape(weights.shape + (1,) * (data.ndim - axis - 1))
        out = np.take(data, index[:, 0], axis=axis) * w[:, 0]
        for t in range(1, index.shape[1]):
            out += np.take(data, index[:, t], axis=axis) * w[:, t]
    if outside is not None and outside.any():
        mask = outside.reshape(outside.shape + (1,) * (data.ndim - axis - 1))
        out = np.where(mask, np.asarray(m.extrapolation, dtype=out.dtype), out)
    return out


def _is_identity(p: AxisPlan, m: ResizeMode) -> bool:
    roi_ok = m.coordinate != "tf_crop_and_resize" or p.roi == (0.0, 1.0)
    return p.scale == 1.0 and p.out_len == p.in_len and roi_ok


def _work_dtype(dtype: np.dtype, mode: str) -> np.dtype:
    if mode == "nearest" or dtype == np.float64:
        return dtype
    return np.dtype(np.float32) if dtype.kind == "f" or dtype.kind == "V" else np.dtype(np.float64)


def _cast_back(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if y.dtype == dtype:
        return y
    if dtype.kind in "iu":  # round half to even, then saturate (the ONNX reference's cast)
        info = np.iinfo(dtype)
        return np.clip(np.rint(y), info.min, info.max).astype(dtype)
    return y.astype(dtype)


def resize_array(x: np.ndarray, plans: dict[int, AxisPlan], m: ResizeMode) -> np.ndarray:
    """``x`` resized along the axes of ``plans``; the output size is checked first."""
    shape = [plans[a].out_len if a in plans else n for a, n in enumerate(x.shape)]
    check_elements(shape, bits_of(x.dtype), "Resize output")
    if m.mode != "nearest" and x.dtype.kind not in "fiuV":
        raise ShapeError(f"Resize: mode {m.mode!r} needs a numeric input, got {x.dtype}")
    y = x.astype(_work_dtype(x.dtype, m.mode), copy=False)
    for axis, p in plans.items():
        if _is_identity(p, m):
            continue
        if p.in_len == 0 and p.out_len > 0:
            raise ShapeError(f"Resize: cannot resize an empty axis {axis} of {list(x.shape)} "
                             f"to {p.out_len}")
        if p.out_len == 0 or y.size == 0:
            y = np.zeros([plans[a].out_len if a == axis else n for a, n in enumerate(y.shape)],
                         dtype=y.dtype)
            continue
        y = _resize_axis(y, axis, p, m)
    return _cast_back(y, x.dtype)


# ------------------------------------------------------------------ scales / sizes -> plans
def _float_list(t, what: str) -> list[float]:
    values = np.asarray(t, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ShapeError(f"Resize: {what} {values.tolist()} must be finite and > 0")
    return [float(v) for v in values]


def plans_from_scales(shape, axes: list[int], scales: list[float], rois) -> dict[int, AxisPlan]:
    if len(scales) != len(axes):
        raise ShapeError(f"Resize: scales {scales} must hold one value per resized axis "
                         f"({len(axes)}) of input {list(shape)}")
    plans = {}
    for a, s, roi in zip(axes, scales, rois):
        width = s * shape[a]
        check_elements([math.floor(width)], 8, "Resize output axis")
        plans[a] = AxisPlan(shape[a], math.floor(width), s, width, roi)
    return plans


def plans_from_sizes(shape, axes: list[int], sizes: list[int], rois,
                     policy: str) -> dict[int, AxisPlan]:
    if len(sizes) != len(axes):
        raise ShapeError(f"Resize: sizes {sizes} must hold one value per resized axis "
                         f"({len(axes)}) of input {list(shape)}")
    if any(v < 0 for v in sizes):
        raise ShapeError(f"Resize: sizes {sizes} must be >= 0")
    if any(shape[a] == 0 for a in axes):
        raise ShapeError(f"Resize: cannot compute scales for the empty input {list(shape)}")
    ratios = [v / shape[a] for a, v in zip(axes, sizes)]
    if policy != "stretch":
        common = min(ratios) if policy == "not_larger" else max(ratios)
        ratios = [common] * len(axes)
        sizes = [math.floor(common * shape[a] + 0.5) for a in axes]  # round half up
    return {a: AxisPlan(shape[a], int(v), s, float(v), roi)
            for a, v, s, roi in zip(axes, sizes, ratios, rois)}


def _rois(roi, n: int, coordinate: str) -> list[tuple[float, float]]:
    if coordinate != "tf_crop_and_resize" or roi is None or np.size(roi) == 0:
        return [(0.0, 1.0)] * n
    values = np.asarray(roi, dtype=np.float64).reshape(-1)
    if values.size != 2 * n:
        raise ShapeError(f"Resize: roi {values.tolist()} must hold 2 values per resized axis "
                         f"({n})")
    return [(float(values[i]), float(values[i + n])) for i in range(n)]


def _check_mode(m: ResizeMode, policy: str = "stretch") -> None:
    for name, value, allowed in (("mode", m.mode, ("nearest", "linear", "cubic")),
                                 ("coordinate_transformation_mode", m.coordinate,
                                  COORDINATE_MODES),
                                 ("nearest_mode", m.nearest, NEAREST_MODES + ("legacy",)),
                                 ("keep_aspect_ratio_policy", policy, KEEP_ASPECT_POLICIES)):
        if value not in allowed:
            raise ModelError(f"Resize: {name} {value!r} is not one of {', '.join(allowed)}")


def _given(t) -> bool:
    return t is not None and np.size(t) > 0


def resize_general(x, roi, scales, sizes, axes, m: ResizeMode, policy: str = "stretch"):
    """Resize-11..19: exactly one of ``scales`` and ``sizes`` is given (non-empty)."""
    _check_mode(m, policy)
    axes = list(range(x.ndim)) if axes is None else normalize_axes(axes, x.ndim, "axes")
    rois = _rois(roi, len(axes), m.coordinate)
    if _given(scales) == _given(sizes):
        raise ShapeError("Resize: exactly one of 'scales' and 'sizes' must be given")
    if _given(sizes):
        values = [int(v) for v in np.asarray(sizes).reshape(-1)]
        plans = plans_from_sizes(x.shape, axes, values, rois, policy)
    else:
        plans = plans_from_scales(x.shape, axes, _float_list(scales, "scales"), rois)
    return resize_array(x, plans, m)


# ------------------------------------------------------------------ kernels
@kernel("Resize", since=18)
def resize(x, roi=None, scales=None, sizes=None, *, antialias=0, axes=None,
           coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75, exclude_outside=0,
           extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", mode="nearest",
           nearest_mode="round_prefer_floor"):
    m = ResizeMode(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   bool(exclude_outside), extrapolation_value, bool(antialias))
    return resize_general(x, roi, scales, sizes, axes, m, keep_aspect_ratio_policy)


@kernel("Resize", since=11, until=17)
def resize_v11(x, roi=None, scales=None, sizes=None, *,
               coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75,
               exclude_outside=0, extrapolation_value=0.0, mode="nearest",
               nearest_mode="round_prefer_floor"):
    m = ResizeMode(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   bool(exclude_outside), extrapolation_value)
    return resize_general(x, roi, scales, sizes, None, m)


def _legacy_resize(op: str, x: np.ndarray, scales, mode: str) -> np.ndarray:
    """Upsample and Resize-10: asymmetric coordinates, nearest or (bi)linear."""
    mode = {"bilinear": "linear"}.get(mode, mode)
    if mode not in ("nearest", "linear"):
        raise ModelError(f"{op}: mode {mode!r} must be 'nearest' or 'linear'")
    values = _float_list(scales, "scales")
    plans = plans_from_scales(x.shape, list(range(x.ndim)), values, [(0.0, 1.0)] * x.ndim)
    m = ResizeMode(mode, "asymmetric", "legacy")
    return resize_array(x, plans, m)


@kernel("Resize", since=10, until=10)
def resize_v10(x, scales, *, mode="nearest"):
    return _legacy_resize("Resize", x, scales, mode)


@kernel("Upsample", since=9)
def upsample(x, scales, *, mode="nearest"):
    return _legacy_resize("Upsample", x, scales, mode)


@kernel("Upsample", since=7, until=8)
def upsample_v7(x, *, mode="nearest", scales=None):
    if scales is None:
        raise ModelError("Upsample: the scales attribute is required")
    return _legacy_resize("Upsample", x, np.asarray(scales, dtype=np.float32), mode)


@kernel("Upsample", since=1, until=6)
def upsample_v1(x, *, height_scale=None, mode="nearest", width_scale=None):
    if height_scale is None or width_scale is None or x.ndim != 4:
        raise ModelError(f"Upsample-1: height_scale and width_scale are required and X "
                         f"{list(x.shape)} must be 4-D")
    scales = np.array([1.0, 1.0, height_scale, width_scale], dtype=np.float32)
    return _legacy_resize("Upsample", x, scales, mode)
