"""Linear quantization: QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear.

``y = saturate(round(x / scale) + zero_point)`` and ``x = (y - zero_point) * scale``, with
rounding half to even. The scale's shape picks the granularity: a scalar (per tensor), a 1-D
tensor along ``axis`` (per axis) or, with ``block_size``, a tensor of x's rank whose ``axis``
dimension is ``ceil(D / block_size)`` (blocked). Targets are the 2-, 4-, 8- and 16-bit integers
and the float8/float6/float4 types; float targets round to nearest even, and ``saturate``
clamps to the largest finite value instead of giving inf/NaN.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError

_FLOAT8 = {np.dtype(t) for t in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fnuz,
                                 ml_dtypes.float8_e5m2, ml_dtypes.float8_e5m2fnuz)}


def is_integer_dtype(dtype: np.dtype) -> bool:
    try:
        return DType.from_numpy(dtype).is_integer
    except ValueError:
        return False


def integer_range(dtype: np.dtype) -> tuple[int, int]:
    info = ml_dtypes.iinfo(dtype) if np.dtype(dtype).kind == "V" else np.iinfo(dtype)
    return int(info.min), int(info.max)


def saturate_cast(values: np.ndarray, dtype: np.dtype, saturate: bool = True) -> np.ndarray:
    """Round ``values`` (a float array) half to even into ``dtype``.

    Integers clamp to their range. Float8 types clamp to +-max when ``saturate`` (else values
    out of range become inf or NaN, as the type allows); float4/float6 always clamp.
    """
    dtype = np.dtype(dtype)
    if is_integer_dtype(dtype):
        lo, hi = integer_range(dtype)
        # NaN has no integer image; 0 keeps the result deterministic.
        values = np.where(np.isnan(values), 0, np.rint(values))
        return np.clip(values, lo, hi).astype(dtype)
    if saturate or dtype not in _FLOAT8:
        top = float(ml_dtypes.finfo(dtype).max)
        values = np.clip(values, -top, top)
    return np.asarray(values).astype(dtype)


def to_float(x: np.ndarray) -> np.ndarray:
    """A float copy of a quantized tensor (float64 for 32-bit integers, else float32)."""
    if np.dtype(x.dtype) in (np.dtype(np.int32), np.dtype(np.uint32), np.dtype(np.int64)):
        return x.astype(np.float64)
    return x.astype(np.float32)


def broadcast_params(param: np.ndarray, x_shape: tuple, axis: int, block_size: int,
                     op: str, what: str) -> np.ndarray:
    """``param`` (a scale or zero point) expanded so that it broadcasts against ``x_shape``."""
    param = np.asarray(param)
    rank = len(x_shape)
    if param.size == 1 and param.ndim <= 1 and not block_size:
        return param.reshape(())
    if not -rank <= axis < rank:
        raise ShapeError(f"{op}: axis {axis} is out of range for input shape {list(x_shape)}")
    axis %= rank
    if block_size <= 0:
        if param.ndim != 1 or param.shape[0] != x_shape[axis]:
            raise ShapeError(f"{op}: {what} of shape {list(param.shape)} is neither a scalar "
                             f"nor a vector of length {x_shape[axis]} (axis {axis} of input "
                             f"shape {list(x_shape)})")
        shape = [1] * rank
        shape[axis] = x_shape[axis]
        return param.reshape(shape)
    blocks = -(-x_shape[axis] // block_size)
    want = list(x_shape)
    want[axis] = blocks
    if list(param.shape) != want:
        raise ShapeError(f"{op}: blocked {what} must have shape {want} for input shape "
                         f"{list(x_shape)}, axis {axis} and block_size {block_size}, got "
                         f"{list(param.shape)}")
    return np.repeat(param, block_size, axis=axis)[
        tuple(slice(0, d) for d in x_shape)]


def _division_dtype(scale: np.ndarray, precision: int) -> np.dtype:
    dt = DType(precision).numpy if precision else np.dtype(scale.dtype)
    # Integer or 8-bit scales (float8e8m0) cannot hold a quotient: divide in float32.
    if dt.kind in "iub" or dt.itemsize < 2 or not DType.from_numpy(dt).is_float:
        return np.dtype(np.float32)
    return dt


def _output_dtype(zero_point, output_dtype: int, op: str) -> np.dtype:
    if zero_point is not None:
        zp = np.dtype(zero_point.dtype)
        if output_dtype and DType(output_dtype).numpy != zp:
            raise ShapeError(f"{op}: output_dtype {DType(output_dtype).name} differs from the "
                             f"zero point's type {DType.from_numpy(zp).name}")
        return zp
    return DType(output_dtype).numpy if output_dtype else np.dtype(np.uint8)


def quantize(x, scale, zero_point=None, *, axis=1, block_size=0, saturate=1, output_dtype=0,
             precision=0, op="QuantizeLinear") -> np.ndarray:
    x, scale = np.asarray(x), np.asarray(scale)
    target = _output_dtype(zero_point, output_dtype, op)
    s = broadcast_params(scale, x.shape, axis, block_size, op, "scale")
    div = _division_dtype(scale, precision)
    q = (x.astype(div) / s.astype(div)).astype(np.float64 if div.itemsize >= 8 else np.float32)
    if zero_point is not None:
        zp = broadcast_params(zero_point, x.shape, axis, block_size, op, "zero point")
        if zp.shape != s.shape:
            raise ShapeError(f"{op}: zero point shape {list(np.shape(zero_point))} differs from "
                             f"scale shape {list(scale.shape)}")
    else:
        zp = None
    if is_integer_dtype(target):
        q = np.rint(q)
    if zp is not None:
        q = q + zp.astype(q.dtype)
    return saturate_cast(q, target, bool(saturate))


def dequantize(x, scale, zero_point=None, *, axis=1, block_size=0, output_dtype=0,
               op="DequantizeLinear") -> np.ndarray:
    x, scale = np.asarray(x), np.asarray(scale)
    s = broadcast_params(scale, x.shape, axis, block_size, op, "scale")
    v = to_float(x)
    if zero_point is not None:
        if np.dtype(zero_point.dtype) != x.dtype:
            raise ShapeError(f"{op}: zero point type {zero_point.dtype} differs from input type "
                             f"{x.dtype}")
        zp = broadcast_params(zero_point, x.shape, axis, block_size, op, "zero point")
        v = v - to_float(zp)
    out = DType(output_dtype).numpy if output_dtype else np.dtype(scale.dtype)
    if not DType.from_numpy(out).is_float or out.itemsize < 2:
        raise ShapeError(f"{op}: output type {out} is not a 16-, 32- or 64-bit float")
    return (v * s.astype(v.dtype)).astype(out)


@kernel("QuantizeLinear", since=10, until=12)
def quantize_linear_10(x, y_scale, y_zero_point=None):
    return quantize(x, y_scale, y_zero_point)


@kernel("QuantizeLinear", since=13, until=18)
def quantize_linear_13(x, y_scale, y_zero_point=None, *, axis=1):
    return quantize(x, y_scale, y_zero_point, axis=axis)


@kernel("QuantizeLinear", since=19, until=20)
def quantize_linear_19(x, y_scale, y_zero_point=None, *, axis=1, saturate=1):
    return quantize(x, y_scale, y_zero_point, axis=axis, saturate=saturate)


@kernel("QuantizeLinear", since=21)
def quantize_linear(x, y_scale, y_zero_point=None, *, axis=1, block_size=0, saturate=1,
                    output_dtype=0, precision=0):
    return quantize(x, y_scale, y_zero_point, axis=axis, block_size=block_size,
                    saturate=saturate, output_dtype=output_dtype, precision=precision)


@kernel("DequantizeLinear", since=10, until=12)
def dequantize_linear_10(x, x_scale, x_zero_point=None):
    return dequantize(x, x_scale, x_zero_point)


@kernel("DequantizeLinear", since=13, until=20)
def dequantize_linear_13(x, x_scale, x_zero_point=None, *, axis=1):
    return dequantize(x, x_scale, x_zero_point, axis=axis)


@kernel("DequantizeLinear", since=21)
def dequantize_linear(x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    return dequantize(x, x_scale, x_zero_point, axis=axis, block_size=block_size,
                      output_dtype=output_dtype)


@kernel("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x):
    """uint8 quantization with a scale and zero point chosen from x's range (widened to 0)."""
    x = np.asarray(x, dtype=np.float32)
    lo = min(0.0, float(np.min(x, initial=0.0)))
    hi = max(0.0, float(np.max(x, initial=0.0)))
    scale = np.float32((np.float32(hi) - np.float32(lo)) / np.float32(255))
    if scale == 0:
        # An all-zero (or empty) input: zero point 0 represents it exactly.
        zero_point = np.uint8(0)
        y = np.zeros(x.shape, np.uint8)
    else:
        zero_point = np.uint8(np.clip(np.rint(np.float32(-lo) / scale), 0, 255))
        y = saturate_cast(np.rint(x / scale) + np.float32(zero_point), np.uint8)
    return y, np.asarray(scale, np.float32), np.asarray(zero_point, np.uint8)
