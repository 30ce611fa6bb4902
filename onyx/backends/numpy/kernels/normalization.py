"""Normalization kernels: BatchNormalization, InstanceNormalization, LayerNormalization,
GroupNormalization, RMSNormalization, LpNormalization, MeanVarianceNormalization and LRN.

Statistics of 16-bit floats are computed in float32 (the spec's ``stash_type`` defaults to
float32 for the ops that have it) and the result is cast back to the input's type.
Variances are population variances (divide by N), as the spec's formulas say.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.reduce import accumulation_dtype, normalize_axes
from onyx.backends.numpy.registry import kernel
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(accumulation_dtype(x.dtype), copy=False)


def _stash(x: np.ndarray, stash_type: int, op: str) -> np.ndarray:
    """x in the precision ``stash_type`` asks for (16-bit stashes still compute in float32)."""
    try:
        dt = DType(stash_type).numpy
    except ValueError:
        raise ShapeError(f"{op}: stash_type {stash_type} is not a float type") from None
    if not DType(stash_type).is_float:
        raise ShapeError(f"{op}: stash_type {DType(stash_type).name} is not a float type")
    return x.astype(accumulation_dtype(dt))


def _mean_var(x: np.ndarray, axes: tuple) -> tuple[np.ndarray, np.ndarray]:
    mean = np.mean(x, axis=axes, keepdims=True)
    centered = x - mean
    return mean, np.mean(centered * centered, axis=axes, keepdims=True)


def _channel_param(p, x: np.ndarray, op: str, what: str, per: str = "channel") -> np.ndarray:
    """A per-channel vector (length C) reshaped to broadcast over x of shape (N, C, ...)."""
    p = np.asarray(p)
    c = x.shape[1]
    if p.size != c or p.ndim > 1:
        raise ShapeError(f"{op}: {what} must have one value per {per} ({c}), got shape "
                         f"{list(p.shape)} for input {list(x.shape)}")
    return p.reshape((c,) + (1,) * (x.ndim - 2))


def _need_rank(x: np.ndarray, rank: int, op: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < rank:
        raise ShapeError(f"{op}: input must have rank >= {rank} (N, C, ...), got shape "
                         f"{list(x.shape)}")
    return x


# ----------------------------------------------------------------------------- BatchNorm
def _bn_params(x, scale, b, mean, var, spatial: bool, op: str):
    if spatial:
        return [_channel_param(p, x, op, n) for p, n in
                ((scale, "scale"), (b, "B"), (mean, "mean"), (var, "var"))]
    # Non-spatial (opsets < 9): one value per activation, i.e. per element of x[n].
    out = []
    for p, n in ((scale, "scale"), (b, "B"), (mean, "mean"), (var, "var")):
        p = np.asarray(p)
        if p.size != int(np.prod(x.shape[1:])):
            raise ShapeError(f"{op}: non-spatial {n} must have shape {list(x.shape[1:])}, got "
                             f"{list(p.shape)}")
        out.append(p.reshape(x.shape[1:]))
    return out


def _batch_norm(x, scale, b, mean, var, *, epsilon: float, momentum: float, training: bool,
                spatial: bool = True) -> tuple:
    """Y, and in training (running_mean, running_var, batch_mean, batch_var)."""
    op = "BatchNormalization"
    x = _need_rank(x, 2, op)
    s, bias, m, v = (_wide(p) for p in _bn_params(x, scale, b, mean, var, spatial, op))
    xw = _wide(x)
    if not training:
        y = (xw - m) / np.sqrt(v + epsilon) * s + bias
        return (y.astype(x.dtype),)
    axes = (0,) + tuple(range(2, x.ndim)) if spatial else (0,)
    bmean, bvar = _mean_var(xw, axes)
    y = (xw - bmean) / np.sqrt(bvar + epsilon) * s + bias
    bmean, bvar = bmean.reshape(m.shape), bvar.reshape(v.shape)
    run_mean = m * momentum + bmean * (1 - momentum)
    run_var = v * momentum + bvar * (1 - momentum)
    shape, stat_dtype = np.shape(mean), np.asarray(mean).dtype
    return (y.astype(x.dtype),) + tuple(t.reshape(shape).astype(stat_dtype)
                                        for t in (run_mean, run_var, bmean, bvar))


@kernel("BatchNormalization", since=1, until=6)
def batch_norm_is_test(X, scale, B, mean, var, *, epsilon=1e-5, is_test=0, momentum=0.9,
                       spatial=1, consumed_inputs=None):
    """Opsets 1-6: ``is_test=0`` means training mode (batch statistics, five outputs)."""
    return _batch_norm(X, scale, B, mean, var, epsilon=epsilon, momentum=momentum,
                       training=not is_test, spatial=bool(spatial))


@kernel("BatchNormalization", since=7, until=13)
def batch_norm_by_outputs(ctx, X, scale, B, mean, var, *, epsilon=1e-5, momentum=0.9,
                          spatial=1):
    """Opsets 7-13: training mode is the five-output form (Y, mean, var, saved_mean/var)."""
    return _batch_norm(X, scale, B, mean, var, epsilon=epsilon, momentum=momentum,
                       training=ctx.num_outputs > 1, spatial=bool(spatial))


@kernel("BatchNormalization", since=14)
def batch_norm(X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9,
               training_mode=0):
    out = _batch_norm(X, scale, B, input_mean, input_var, epsilon=epsilon, momentum=momentum,
                      training=bool(training_mode))
    return out[:3]


# ----------------------------------------------------------------------------- per-group
@kernel("InstanceNormalization", since=1)
def instance_norm(input, scale, B, *, epsilon=1e-5, consumed_inputs=None):
    op = "InstanceNormalization"
    x = _need_rank(input, 2, op)
    xw = _wide(x)
    mean, var = _mean_var(xw, tuple(range(2, x.ndim)))
    s, b = _wide(_channel_param(scale, x, op, "scale")), _wide(_channel_param(B, x, op, "B"))
    return ((xw - mean) / np.sqrt(var + epsilon) * s + b).astype(x.dtype)


def _grouped_standardize(x: np.ndarray, xs: np.ndarray, num_groups, epsilon: float,
                         op: str) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) per instance per group of channels, on xs = x in the
    computation dtype."""
    if num_groups is None:
        raise ShapeError(f"{op}: the num_groups attribute is required")
    c = x.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise ShapeError(f"{op}: num_groups {num_groups} does not divide the {c} channels of "
                         f"input {list(x.shape)}")
    g = xs.reshape((x.shape[0], num_groups, -1))
    mean, var = _mean_var(g, (2,))
    return ((g - mean) / np.sqrt(var + epsilon)).reshape(x.shape)


def _group_param(p, x: np.ndarray, num_groups: int, op: str, what: str) -> np.ndarray:
    """A per-group vector repeated to one value per channel, shaped to broadcast over x."""
    p = np.asarray(p)
    if p.size != num_groups or p.ndim > 1:
        raise ShapeError(f"{op}: {what} must have num_groups ({num_groups}) values at opsets "
                         f"18-20, got shape {list(p.shape)} for input {list(x.shape)}")
    per_channel = np.repeat(p.reshape(-1), x.shape[1] // num_groups)
    return _wide(per_channel.reshape((x.shape[1],) + (1,) * (x.ndim - 2)))


@kernel("GroupNormalization", since=18, until=20)
def group_norm_18(X, scale, bias, *, epsilon=1e-5, num_groups=None):
    """Opsets 18-20: scale and bias hold one value per group."""
    op = "GroupNormalization"
    x = _need_rank(X, 2, op)
    norm = _grouped_standardize(x, _wide(x), num_groups, epsilon, op)
    s = _group_param(scale, x, num_groups, op, "scale")
    b = _group_param(bias, x, num_groups, op, "bias")
    return (norm * s + b).astype(x.dtype)


@kernel("GroupNormalization", since=21)
def group_norm(X, scale, bias, *, epsilon=1e-5, num_groups=None, stash_type=1):
    """Opset 21: scale and bias hold one value per channel; stage one runs in stash_type."""
    op = "GroupNormalization"
    x = _need_rank(X, 2, op)
    norm = _grouped_standardize(x, _stash(x, stash_type, op), num_groups, epsilon, op)
    norm = _wide(norm.astype(x.dtype))
    s = _wide(_channel_param(scale, x, op, "scale"))
    b = _wide(_channel_param(bias, x, op, "bias"))
    return (norm * s + b).astype(x.dtype)


# ----------------------------------------------------------------------------- per-row
def _trailing_axes(x: np.ndarray, axis: int, op: str) -> tuple[int, ...]:
    if not -x.ndim <= axis < x.ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for input shape {list(x.shape)}")
    return tuple(range(axis % x.ndim, x.ndim))


def _check_unidirectional(p: np.ndarray, x: np.ndarray, op: str, what: str) -> None:
    try:
        ok = np.broadcast_shapes(p.shape, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"{op}: {what} of shape {list(p.shape)} does not broadcast to input "
                         f"shape {list(x.shape)}")


@kernel("LayerNormalization", since=17)
def layer_norm(X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    op = "LayerNormalization"
    x = np.asarray(X)
    axes = _trailing_axes(x, axis, op)
    for p, what in ((Scale, "Scale"), (B, "B")):
        if p is not None:
            _check_unidirectional(np.asarray(p), x, op, what)
    if _rowwise_fast(x, Scale, B, axes, stash_type):
        return _layer_norm_rows(x, np.asarray(Scale), B, axes, epsilon)
    xs = _stash(x, stash_type, op)
    mean, var = _mean_var(xs, axes)
    inv_std = 1 / np.sqrt(var + epsilon)
    norm = _wide(((xs - mean) * inv_std).astype(x.dtype))
    y = norm * _wide(np.asarray(Scale))
    if B is not None:
        y = y + _wide(np.asarray(B))
    stat = DType(stash_type).numpy
    return y.astype(x.dtype), mean.astype(stat), inv_std.astype(stat)


def _rowwise_fast(x: np.ndarray, scale, b, axes: tuple, stash_type: int) -> bool:
    """float32/float64 computed in its own precision, with Scale and B confined to the
    normalized axes: then the op is a row-wise one over x viewed as (rows, D)."""
    if x.dtype not in (np.float32, np.float64) or x.size == 0:
        return False
    if stash_type not in (1, 11) or DType(stash_type).numpy != x.dtype:
        return False
    return all(p is None or (np.asarray(p).dtype == x.dtype and np.ndim(p) <= len(axes))
               for p in (scale, b))


def _layer_norm_rows(x: np.ndarray, scale: np.ndarray, b, axes: tuple, epsilon: float):
    """LayerNormalization on (rows, D) with BLAS row sums and in-place updates: two passes
    over x fewer than the general form, and no temporaries of x's size but one."""
    trailing = x.shape[axes[0]:]
    d = int(np.prod(trailing))
    rows = x.reshape(-1, d)
    ones = np.full(d, 1.0 / d, dtype=x.dtype)
    mean = rows @ ones
    y = rows - mean[:, None]
    var = np.einsum("ij,ij->i", y, y) / x.dtype.type(d)
    inv_std = 1 / np.sqrt(var + x.dtype.type(epsilon))
    y *= inv_std[:, None]
    y *= np.broadcast_to(scale, trailing).reshape(d)
    if b is not None:
        y += np.broadcast_to(np.asarray(b), trailing).reshape(d)
    stat_shape = x.shape[:axes[0]] + (1,) * len(axes)
    return y.reshape(x.shape), mean.reshape(stat_shape), inv_std.reshape(stat_shape)


@kernel("RMSNormalization", since=23)
def rms_norm(X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    """Y = X / sqrt(mean(X^2) + eps) * scale; Y has scale's type."""
    op = "RMSNormalization"
    x, s = np.asarray(X), np.asarray(scale)
    axes = _trailing_axes(x, axis, op)
    _check_unidirectional(s, x, op, "scale")
    xs = _stash(x, stash_type, op)
    rms = np.sqrt(np.mean(xs * xs, axis=axes, keepdims=True) + epsilon)
    norm = (xs / rms).astype(x.dtype)
    wide = np.promote_types(accumulation_dtype(x.dtype), accumulation_dtype(s.dtype))
    return (norm.astype(wide) * s.astype(wide)).astype(s.dtype)


@kernel("LpNormalization", since=1)
def lp_norm(input, *, axis=-1, p=2):
    op = "LpNormalization"
    x = np.asarray(input)
    if p not in (1, 2):
        raise ShapeError(f"{op}: p must be 1 or 2, got {p}")
    (a,) = normalize_axes([axis], x.ndim, op) if x.ndim else (0,)
    xw = _wide(x)
    norm = np.sum(np.abs(xw), axis=a, keepdims=True) if p == 1 else \
        np.sqrt(np.sum(xw * xw, axis=a, keepdims=True))
    # A zero norm (an all-zero slice) gives zeros rather than 0/0.
    safe = np.where(norm == 0, 1, norm)
    return np.where(norm == 0, 0, xw / safe).astype(x.dtype)


@kernel("MeanVarianceNormalization", since=9)
def mean_variance_norm(X, *, axes=(0, 2, 3)):
    """(X - E[X]) / (sqrt(E[(X - E[X])^2]) + 1e-9) over ``axes``."""
    op = "MeanVarianceNormalization"
    x = np.asarray(X)
    red = normalize_axes(list(axes), x.ndim, op)
    xw = _wide(x)
    mean, var = _mean_var(xw, red)
    return ((xw - mean) / (np.sqrt(var) + 1e-9)).astype(x.dtype)


@kernel("LRN", since=1)
def lrn(X, *, size=None, alpha=1e-4, beta=0.75, bias=1.0):
    """X / (bias + alpha / size * sum of X^2 over a window of ``size`` channels) ** beta."""
    op = "LRN"
    x = _need_rank(X, 2, op)
    if size is None or size <= 0:
        raise ShapeError(f"{op}: size must be a positive integer, got {size}")
    xw = _wide(x)
    c = x.shape[1]
    # The window [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to the channels; a
    # window wider than C adds nothing more than zeros.
    before, after = min((size - 1) // 2, c), min(size - 1 - (size - 1) // 2, c)
    sq = xw * xw
    pad = [(0, 0)] * x.ndim
    pad[1] = (before, after)
    padded = np.pad(sq, pad)
    window = np.zeros_like(sq)
    for k in range(before + after + 1):
        window += padded[:, k:k + c]
    return (xw / (bias + alpha / size * window) ** beta).astype(x.dtype)
