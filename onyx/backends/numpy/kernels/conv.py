"""Convolution kernels: Conv, ConvTranspose, ConvInteger and QLinearConv (1-D, 2-D, 3-D, N-D).

The window arithmetic shared with pooling lives here too: ``window_geometry`` turns the
``kernel_shape``/``strides``/``dilations``/``pads``/``auto_pad``/``ceil_mode`` attributes into
pads and an output shape, and ``sliding_windows`` gives a strided view of every window
(N, C, out..., kernel...) without copying. Convolution is then im2col + one batched matmul
per group, done over batch chunks so the column buffer stays bounded.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from onyx.backends.numpy.kernels.shape_ops import wide_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ModelError, ShapeError
from onyx.ir.limits import check_elements

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
# Elements of the im2col buffer built at once; bigger batches are processed in chunks.
_COLUMN_BUDGET = 1 << 24


# ------------------------------------------------------------------ window geometry
@dataclass(frozen=True)
class WindowGeometry:
    """Where the windows of a convolution or pooling lie along each spatial axis."""
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    begin: tuple[int, ...]    # padding before each axis
    end: tuple[int, ...]      # padding after each axis (the spec's pads)
    extra: tuple[int, ...]    # room past ``end`` that ceil_mode windows reach into
    out: tuple[int, ...]

    @property
    def spans(self) -> tuple[int, ...]:
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilations))


def _ints(op: str, name: str, values, n: int, default: int, minimum: int) -> tuple[int, ...]:
    if values is None or len(values) == 0:
        return (default,) * n
    values = tuple(int(v) for v in values)
    if len(values) != n:
        raise ModelError(f"{op}: {name} {list(values)} must hold {n} values (one per spatial "
                         f"axis)")
    if any(v < minimum for v in values):
        raise ModelError(f"{op}: {name} {list(values)} must be >= {minimum}")
    return values


def window_geometry(op: str, spatial, *, kernel_shape, strides=None, dilations=None, pads=None,
                    auto_pad: str = "NOTSET", ceil_mode: int = 0) -> WindowGeometry:
    """Pads and output shape of sliding ``kernel_shape`` windows over ``spatial`` sizes."""
    r = len(spatial)
    if kernel_shape is None or len(kernel_shape) == 0:
        raise ModelError(f"{op}: kernel_shape is required")
    kernel = _ints(op, "kernel_shape", kernel_shape, r, 1, 1)
    strides = _ints(op, "strides", strides, r, 1, 1)
    dilations = _ints(op, "dilations", dilations, r, 1, 1)
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad not in AUTO_PADS:
        raise ModelError(f"{op}: auto_pad {auto_pad!r} is not one of {', '.join(AUTO_PADS)}")
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-n // s) for n, s in zip(spatial, strides)]
        total = [max(0, (o - 1) * s + k - n) for o, s, k, n in zip(out, strides, spans, spatial)]
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        begin, end = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
    else:
        if auto_pad == "VALID":
            begin = end = [0] * r
        else:
            flat = _ints(op, "pads", pads, 2 * r, 0, 0)
            begin, end = list(flat[:r]), list(flat[r:])
        out = [_out_size(n + b + e, k, s, ceil_mode, n + b)
               for n, b, e, k, s in zip(spatial, begin, end, spans, strides)]
    if any(o < 0 for o in out):
        raise ShapeError(f"{op}: kernel {list(kernel)} (dilations {list(dilations)}) is larger "
                         f"than the padded input of spatial shape {list(spatial)} (pads "
                         f"{list(begin) + list(end)})")
    extra = [max(0, (o - 1) * s + k - (n + b + e)) if o else 0
             for o, s, k, n, b, e in zip(out, strides, spans, spatial, begin, end)]
    return WindowGeometry(kernel, strides, dilations, tuple(begin), tuple(end), tuple(extra),
                          tuple(out))


def _out_size(padded: int, span: int, stride: int, ceil_mode: int, last_start: int) -> int:
    if padded < span:
        return -1
    if not ceil_mode:
        return (padded - span) // stride + 1
    out = -(-(padded - span) // stride) + 1
    # A window that would start inside the end padding is dropped (PyTorch, ONNX spec).
    if (out - 1) * stride >= last_start:
        out -= 1
    return out


def pad_spatial(x: np.ndarray, g: WindowGeometry, value) -> np.ndarray:
    """``x`` padded with ``value`` so that every window of ``g`` lies inside it."""
    widths = [(0, 0), (0, 0)] + [(b, e + x_) for b, e, x_ in zip(g.begin, g.end, g.extra)]
    if not any(b or e for b, e in widths):
        return x
    shape = [n + b + e for n, (b, e) in zip(x.shape, widths)]
    check_elements(shape, 8 * x.dtype.itemsize, "padded input")
    out = np.full(shape, value, dtype=x.dtype)
    out[tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, widths))] = x
    return out


def sliding_windows(xp: np.ndarray, g: WindowGeometry) -> np.ndarray:
    """A read-only view (N, C, out..., kernel...) of the windows of padded ``xp``."""
    r = len(g.kernel)
    view = np.lib.stride_tricks.sliding_window_view(xp, g.spans, axis=tuple(range(2, 2 + r)))
    index = (slice(None), slice(None))
    index += tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(g.out, g.strides))
    index += tuple(slice(None, None, d) for d in g.dilations)
    return view[index]


def window_taps(xp: np.ndarray, g: WindowGeometry):
    """For each kernel tap (row-major order), the strided view (N, C, out...) it reads.

    Reducing tap by tap keeps every operand a plain strided array of the output's size,
    which NumPy reduces far faster than a view with the kernel axes innermost.
    """
    for taps in itertools.product(*(range(k) for k in g.kernel)):
        index = tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                      for t, d, o, s in zip(taps, g.dilations, g.out, g.strides))
        yield xp[(slice(None), slice(None)) + index]


# ------------------------------------------------------------------ convolution core
def check_conv_shapes(op: str, x: np.ndarray, w: np.ndarray, group: int, kernel_shape):
    """Validate X/W/group of a convolution; returns the kernel shape."""
    if x.ndim < 3 or w.ndim != x.ndim:
        raise ShapeError(f"{op}: X {list(x.shape)} and W {list(w.shape)} must both be "
                         f"(N, C, spatial...) and (M, C/group, kernel...) of the same rank >= 3")
    if group < 1 or x.shape[1] != w.shape[1] * group or w.shape[0] % group:
        raise ShapeError(f"{op}: X {list(x.shape)} and W {list(w.shape)} do not fit group="
                         f"{group} (C must be W.shape[1] * group, M divisible by group)")
    kernel = tuple(w.shape[2:])
    if kernel_shape is not None and len(kernel_shape) and tuple(kernel_shape) != kernel:
        raise ShapeError(f"{op}: kernel_shape {list(kernel_shape)} does not match W "
                         f"{list(w.shape)}")
    return kernel


def correlate(x: np.ndarray, w: np.ndarray, g: WindowGeometry, group: int,
              bias: np.ndarray | None = None) -> np.ndarray:
    """Grouped cross-correlation of padded ``x`` (N, C, ...) with ``w`` (M, C/group, k...),
    plus ``bias`` (M,) when given.

    The result is computed channel-major, (M, N, out...), and returned as its (N, M, out...)
    transposed view: then each group is ONE matrix product W (M/g, C/g*taps) @ cols
    (C/g*taps, N*rows) whose column buffer is a single contiguous copy, instead of one small
    product per image. Consumers see an ordinary (non-contiguous) array.
    """
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    taps, rows = math.prod(g.kernel), math.prod(g.out)
    dtype = np.result_type(x.dtype, w.dtype)
    if n * m * rows == 0 or cg * taps == 0 or rows * c * taps > _COLUMN_BUDGET:
        out = np.zeros((n, m) + g.out, dtype=dtype)
        if out.size and cg * taps:
            _correlate_by_tap(x, w, g, group, out)
        return out if bias is None else _add_bias_inplace(out, bias, axis=1)
    out = np.empty((m, n) + g.out, dtype=dtype)
    flat = out.reshape(group, mg, n * rows)
    wmat = w.reshape(group, mg, cg * taps)
    r = len(g.out)
    # (C, kernel..., N, out...): the product lands directly in (M, N, out...) order.
    perm = (1,) + tuple(range(2 + r, 2 + 2 * r)) + (0,) + tuple(range(2, 2 + r))
    chunk = max(1, _COLUMN_BUDGET // max(1, rows * c * taps))
    for start in range(0, n, chunk):
        win = sliding_windows(x[start:start + chunk], g)
        b = win.shape[0]
        cols = np.ascontiguousarray(win.transpose(perm)).reshape(group, cg * taps, b * rows)
        if b == n:
            np.matmul(wmat, cols, out=flat)
        else:
            part = np.matmul(wmat, cols).reshape((m, b) + g.out)
            out[:, start:start + b] = part
    if bias is not None:
        _add_bias_inplace(out, bias, axis=0)
    return out.swapaxes(0, 1)


def flat_columns_pay_off(x: np.ndarray, w: np.ndarray, g: WindowGeometry) -> bool:
    """Whether ``correlate_flat`` suits this convolution: stride 1, and a column buffer with
    more rows (C * taps) than the output has channels, so that copying columns in long runs
    saves more than the final copy of the output costs."""
    if any(s != 1 for s in g.strides) or any(g.extra):
        return False
    n, c = x.shape[:2]
    taps = math.prod(g.kernel)
    padded = [s + b + e for s, b, e in zip(x.shape[2:], g.begin, g.end)]
    columns = c * taps * n * g.out[0] * math.prod(padded[1:])
    return c * taps > w.shape[0] and 0 < columns <= _COLUMN_BUDGET


def correlate_flat(x: np.ndarray, w: np.ndarray, g: WindowGeometry, group: int,
                   bias: np.ndarray | None = None) -> np.ndarray:
    """Stride-1 correlation of UNPADDED ``x`` with an im2col copied in long contiguous runs.

    In a padded image flattened per (image, channel), one kernel tap of all output positions
    is a single run of memory when the output is computed on the padded grid of every
    spatial axis but the first. Those few extra positions per row are computed and then
    dropped, and the column copy moves runs of a whole output plane instead of one short
    output row at a time.
    """
    n, c = x.shape[:2]
    m, cg, taps = w.shape[0], c // group, math.prod(g.kernel)
    padded = tuple(s + b + e for s, b, e in zip(x.shape[2:], g.begin, g.end))
    # One spare row on the first axis: the last taps of the last output row read past it.
    buf = np.zeros((n, c, padded[0] + 1) + padded[1:], dtype=x.dtype)
    buf[(slice(None), slice(None)) + tuple(slice(b, b + s) for b, s in
                                           zip(g.begin, x.shape[2:]))] = x
    inner = [math.prod(padded[i + 1:]) for i in range(len(padded))]
    length = g.out[0] * inner[0]
    size = buf.itemsize
    view = np.lib.stride_tricks.as_strided(
        buf, (group, cg) + g.kernel + (n, length),
        (cg * buf.strides[1], buf.strides[1]) +
        tuple(d * step * size for d, step in zip(g.dilations, inner)) + (buf.strides[0], size),
        writeable=False)
    cols = np.ascontiguousarray(view).reshape(group, cg * taps, n * length)
    out = np.matmul(w.reshape(group, m // group, cg * taps), cols).reshape(m, n * length)
    if bias is not None:
        _add_bias_inplace(out, bias, axis=0)
    full = out.reshape((m, n, g.out[0]) + padded[1:])
    kept = full[(slice(None),) * 3 + tuple(slice(0, o) for o in g.out[1:])]
    return np.ascontiguousarray(kept.swapaxes(0, 1))


def _add_bias_inplace(y: np.ndarray, bias: np.ndarray, axis: int) -> np.ndarray:
    shape = [1] * y.ndim
    shape[axis] = -1
    np.add(y, bias.astype(y.dtype, copy=False).reshape(shape), out=y)
    return y


def _correlate_by_tap(x: np.ndarray, w: np.ndarray, g: WindowGeometry, group: int,
                      out: np.ndarray) -> np.ndarray:
    """The same product accumulated one kernel tap at a time: no column buffer, for inputs
    whose im2col would be too large to hold."""
    n, c = x.shape[:2]
    m = w.shape[0]
    rows = math.prod(g.out)
    wt = w.reshape(group, m // group, c // group, -1)
    flat = out.reshape(n, group, m // group, rows)
    for t, view in enumerate(window_taps(x, g)):
        flat += np.matmul(wt[..., t], view.reshape(n, group, c // group, rows))
    return out


def _check_bias(op: str, b, m: int) -> None:
    if b is not None and b.shape != (m,):
        raise ShapeError(f"{op}: bias B {list(b.shape)} must be 1-D of length M={m}")


def _add_bias(op: str, y: np.ndarray, b, m: int) -> np.ndarray:
    if b is None:
        return y
    _check_bias(op, b, m)
    return y + b.astype(y.dtype, copy=False).reshape((m,) + (1,) * (y.ndim - 2))


# ------------------------------------------------------------------ Conv
@kernel("Conv", since=1)
def conv(x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
         pads=None, strides=None):
    kernel_shape = check_conv_shapes("Conv", x, w, group, kernel_shape)
    g = window_geometry("Conv", x.shape[2:], kernel_shape=kernel_shape, strides=strides,
                        dilations=dilations, pads=pads, auto_pad=auto_pad)
    check_elements((x.shape[0], w.shape[0]) + g.out, 8 * x.dtype.itemsize, "Conv output")
    _check_bias("Conv", b, w.shape[0])
    dt = wide_dtype(x.dtype)
    xw, ww = x.astype(dt, copy=False), w.astype(dt, copy=False)
    if flat_columns_pay_off(xw, ww, g):
        y = correlate_flat(xw, ww, g, group, b)
    else:
        y = correlate(pad_spatial(xw, g, 0), ww, g, group, b)
    return y.astype(x.dtype, copy=False)


# ------------------------------------------------------------------ ConvInteger / QLinearConv
def _zero_point(op: str, zp, name: str, channels: int | None = None):
    """A zero point as int64, scalar or (for weights) one per output channel."""
    if zp is None:
        return np.int64(0)
    zp = np.asarray(zp).astype(np.int64)
    if zp.size == 1:
        return zp.reshape(())
    if channels is not None and zp.shape == (channels,):
        return zp
    raise ShapeError(f"{op}: {name} of shape {list(zp.shape)} must be a scalar"
                     + (f" or 1-D of length {channels}" if channels is not None else ""))


def _integer_conv(op: str, x, w, x_zp, w_zp, *, auto_pad, dilations, group, kernel_shape,
                  pads, strides) -> np.ndarray:
    """(x - x_zp) * (w - w_zp) convolved exactly, as float64 (sums of int products < 2**53)."""
    kernel_shape = check_conv_shapes(op, x, w, group, kernel_shape)
    g = window_geometry(op, x.shape[2:], kernel_shape=kernel_shape, strides=strides,
                        dilations=dilations, pads=pads, auto_pad=auto_pad)
    check_elements((x.shape[0], w.shape[0]) + g.out, 64, f"{op} output")
    m = w.shape[0]
    wz = _zero_point(op, w_zp, "w_zero_point", m)
    xs = x.astype(np.float64) - float(_zero_point(op, x_zp, "x_zero_point"))
    ws = w.astype(np.float64) - np.reshape(wz, (-1,) + (1,) * (w.ndim - 1)).astype(np.float64)
    # Padding after removing the zero point pads with the zero point, as the spec intends.
    return correlate(pad_spatial(xs, g, 0.0), ws, g, group)


@kernel("ConvInteger", since=10)
def conv_integer(x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET",
                 dilations=None, group=1, kernel_shape=None, pads=None, strides=None):
    acc = _integer_conv("ConvInteger", x, w, x_zero_point, w_zero_point, auto_pad=auto_pad,
                        dilations=dilations, group=group, kernel_shape=kernel_shape, pads=pads,
                        strides=strides)
    # The accumulator is int32 and may wrap, as the spec allows.
    return acc.astype(np.int64).astype(np.int32)


@kernel("QLinearConv", since=10)
def qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point=None,
                 b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                 pads=None, strides=None):
    op = "QLinearConv"
    acc = _integer_conv(op, x, w, x_zero_point, w_zero_point, auto_pad=auto_pad,
                        dilations=dilations, group=group, kernel_shape=kernel_shape, pads=pads,
                        strides=strides)
    m = w.shape[0]
    acc = _add_bias(op, acc, b, m)
    ws = np.asarray(w_scale, dtype=np.float32)
    if ws.size != 1 and ws.shape != (m,):
        raise ShapeError(f"{op}: w_scale {list(ws.shape)} must be a scalar or 1-D of length {m}")
    if np.size(x_scale) != 1 or np.size(y_scale) != 1:
        raise ShapeError(f"{op}: x_scale {list(np.shape(x_scale))} and y_scale "
                         f"{list(np.shape(y_scale))} must be scalars")
    # Requantize in float32 as ONNX Runtime does: acc * (x_scale * w_scale / y_scale).
    scale = (np.float32(np.ravel(x_scale)[0]) * ws.reshape(-1) / np.float32(np.ravel(y_scale)[0]))
    scale = scale.astype(np.float32).reshape((-1,) + (1,) * (acc.ndim - 2))
    out_dtype = x.dtype if y_zero_point is None else np.asarray(y_zero_point).dtype
    y = np.rint(acc.astype(np.float32) * scale) + float(_zero_point(op, y_zero_point,
                                                                    "y_zero_point"))
    info = np.iinfo(out_dtype)
    return np.clip(y, info.min, info.max).astype(out_dtype)


# ------------------------------------------------------------------ ConvTranspose
def _transpose_geometry(spatial, kernel, strides, dilations, pads, auto_pad, output_padding,
                        output_shape) -> tuple[list[int], list[int]]:
    """Output sizes and begin pads of ConvTranspose (the spec's two sets of equations)."""
    op, r = "ConvTranspose", len(spatial)
    out_pad = _ints(op, "output_padding", output_padding, r, 0, 0)
    full = [s * (n - 1) + op_ + (k - 1) * d + 1
            for s, n, op_, k, d in zip(strides, spatial, out_pad, kernel, dilations)]
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad not in AUTO_PADS:
        raise ModelError(f"{op}: auto_pad {auto_pad!r} is not one of {', '.join(AUTO_PADS)}")
    if output_shape is not None and len(output_shape):
        target = [int(v) for v in output_shape][-r:]
        if len(target) != r:
            raise ModelError(f"{op}: output_shape {list(output_shape)} needs {r} spatial sizes")
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = [n * s for n, s in zip(spatial, strides)]
    else:
        flat = (0,) * 2 * r if auto_pad == "VALID" else _ints(op, "pads", pads, 2 * r, 0, 0)
        out = [f - b - e for f, b, e in zip(full, flat[:r], flat[r:])]
        if any(o < 0 for o in out):
            raise ShapeError(f"{op}: pads {list(flat)} remove more than the full output "
                             f"{full}")
        return out, list(flat[:r])
    if any(t < 0 for t in target):
        raise ModelError(f"{op}: output_shape {target} must be non-negative")
    # A target longer than the full result is filled with zeros at the end (ONNX Runtime).
    total = [max(0, f - t) for f, t in zip(full, target)]
    # SAME_UPPER puts the odd pixel of padding at the end, anything else at the beginning.
    begin = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]
    return target, begin


def _scatter_range(start: int, stride: int, count: int, size: int) -> tuple[slice, slice]:
    """Input positions i in [0, count) whose target start + i*stride lies in [0, size)."""
    lo = -(start // stride) if start < 0 else 0
    hi = min(count, (size - 1 - start) // stride + 1) if size - 1 - start >= 0 else 0
    if hi <= lo:
        return slice(0, 0), slice(0, 0)
    return slice(lo, hi), slice(start + lo * stride, start + (hi - 1) * stride + 1, stride)


@kernel("ConvTranspose", since=1)
def conv_transpose(x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1,
                   kernel_shape=None, output_padding=None, output_shape=None, pads=None,
                   strides=None):
    op = "ConvTranspose"
    if x.ndim < 3 or w.ndim != x.ndim or group < 1 or x.shape[1] != w.shape[0] \
            or w.shape[0] % group:
        raise ShapeError(f"{op}: X {list(x.shape)} and W {list(w.shape)} must be (N, C, ...) "
                         f"and (C, M/group, kernel...) with C divisible by group={group}")
    r = x.ndim - 2
    kernel = tuple(w.shape[2:])
    if kernel_shape is not None and len(kernel_shape) and tuple(kernel_shape) != kernel:
        raise ShapeError(f"{op}: kernel_shape {list(kernel_shape)} does not match W "
                         f"{list(w.shape)}")
    strides = _ints(op, "strides", strides, r, 1, 1)
    dilations = _ints(op, "dilations", dilations, r, 1, 1)
    out_sizes, begin = _transpose_geometry(x.shape[2:], kernel, strides, dilations, pads,
                                           auto_pad, output_padding, output_shape)
    n, c = x.shape[:2]
    mg = w.shape[1]
    m = mg * group
    check_elements((n, m) + tuple(out_sizes), 8 * x.dtype.itemsize, f"{op} output")
    check_elements((n, m, math.prod(kernel)) + x.shape[2:], 32, f"{op} columns")
    if b is not None and b.shape != (m,):
        raise ShapeError(f"{op}: bias B {list(b.shape)} must be 1-D of length M={m}")
    dt = wide_dtype(x.dtype)
    cols = _transpose_columns(x.astype(dt, copy=False), w.astype(dt, copy=False), group)
    y = np.zeros((n, m) + tuple(out_sizes), dtype=dt)
    # Scatter-add each kernel tap's contribution (col2im), one strided slice per tap.
    for taps in itertools.product(*(range(k) for k in kernel)):
        src, dst = [], []
        for t, d, s, p, size, count in zip(taps, dilations, strides, begin, out_sizes,
                                           x.shape[2:]):
            sl_in, sl_out = _scatter_range(t * d - p, s, count, size)
            src.append(sl_in)
            dst.append(sl_out)
        y[(slice(None), slice(None)) + tuple(dst)] += cols[(slice(None), slice(None)) + taps
                                                           + tuple(src)]
    return _add_bias(op, y, b, m).astype(x.dtype, copy=False)


def _transpose_columns(x: np.ndarray, w: np.ndarray, group: int) -> np.ndarray:
    """(N, M, kernel..., in...): every kernel tap times every input pixel, per group."""
    n, c = x.shape[:2]
    spatial, kernel = x.shape[2:], w.shape[2:]
    cg, mg = c // group, w.shape[1]
    rows = math.prod(spatial)
    xg = x.reshape(n, group, cg, rows)
    wg = w.reshape(group, cg, -1).transpose(0, 2, 1)        # (group, M/group * taps, C/group)
    cols = np.matmul(wg, xg)                                # (n, group, M/group * taps, rows)
    return cols.reshape((n, group * mg) + tuple(kernel) + tuple(spatial))
