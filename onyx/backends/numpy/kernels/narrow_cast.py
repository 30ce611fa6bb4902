"""Conversions into ONNX's narrow element types, as Cast defines them.

- float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ): round to nearest even; with ``saturate`` values
  beyond the largest finite value (infinities included) clamp to it. Opsets 19-23 send
  +-Inf to NaN for the FNUZ types even when saturating; opset 24 clamps them too. Without
  ``saturate`` the out-of-range rules of the types themselves apply (NaN, or Inf for E5M2).
- FLOAT8E8M0 (powers of two, 2^-127 .. 2^127): ``round_mode`` up / down / nearest (ties up)
  on the exponent; ``saturate`` clamps to the range, zero included, else NaN.
- int4/uint4/int2/uint2: floats truncate toward zero, then the value keeps its low bits
  (two's complement), as for every other integer narrowing.
- bfloat16, float4e2m1, float6: round to nearest even (float4/float6 saturate by design).

ml_dtypes converts a float64 through float32, which can round twice. Float64 sources are
first narrowed to float32 with round-to-odd, which keeps the final rounding exact for any
target of at most 16 bits.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError

FLOAT8 = frozenset({DType.FLOAT8E4M3FN, DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2,
                    DType.FLOAT8E5M2FNUZ})
FNUZ = frozenset({DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2FNUZ})
SMALL_INTS = {DType.UINT4: (4, False), DType.INT4: (4, True), DType.UINT2: (2, False),
              DType.INT2: (2, True)}
NARROW_FLOATS = frozenset({DType.BFLOAT16, DType.FLOAT4E2M1, DType.FLOAT6E2M3,
                           DType.FLOAT6E3M2}) | FLOAT8 | {DType.FLOAT8E8M0}
_E8M0_BIAS, _E8M0_MAX, _E8M0_NAN = 127, 254, 255


_NARROW_NUMPY = frozenset(t.numpy for t in NARROW_FLOATS | set(SMALL_INTS))


def is_narrow(dtype: np.dtype) -> bool:
    """True for the ml_dtypes types (bfloat16, float8, float4/6, int4/2 ...).

    Their NumPy kind is no guide: float8_e5m2 reports "f", the others "V".
    """
    return np.dtype(dtype) in _NARROW_NUMPY


def exact_wide(x: np.ndarray) -> np.ndarray:
    """A narrow-typed ``x`` as float32 or int64, exactly; other arrays unchanged."""
    if not is_narrow(x.dtype):
        return x
    return x.astype(np.float32 if DType.from_numpy(x.dtype).is_float else np.int64)


def float32_round_to_odd(x: np.ndarray) -> np.ndarray:
    """float64 -> float32 rounding toward zero, with the last bit set when inexact."""
    f = x.astype(np.float32)
    inexact = (f.astype(np.float64) != x) & np.isfinite(x)
    if not inexact.any():
        return f
    bits = f.view(np.uint32).copy()
    away = inexact & (np.abs(f.astype(np.float64)) > np.abs(x))
    bits[away] -= 1                # one step toward zero (sign-magnitude encoding)
    bits[inexact] |= 1
    return bits.view(np.float32)


def _as_float(x: np.ndarray) -> np.ndarray:
    """``x`` as a float array whose direct conversion to a narrow float rounds once."""
    if x.dtype.kind in "iub":
        x = x.astype(np.float64)
    if x.dtype == np.float64:
        return float32_round_to_odd(x)
    return x


def to_float8(x: np.ndarray, to: DType, *, saturate: bool, fnuz_inf_nan: bool) -> np.ndarray:
    """Cast to one of the four float8 types (see the module docstring for the rules)."""
    dst = to.numpy
    if x.dtype.kind in "iub":
        x = x.astype(np.float64)
    if saturate:
        top = float(ml_dtypes.finfo(dst).max)
        clipped = np.clip(x, -top, top)
        if fnuz_inf_nan and to in FNUZ:
            clipped = np.where(np.isinf(x), np.nan, clipped)
        x = clipped
    return _as_float(x).astype(dst)


def to_e8m0(x: np.ndarray, *, saturate: bool, round_mode: str) -> np.ndarray:
    """Cast to FLOAT8E8M0; negative inputs are unspecified and use their magnitude."""
    a = np.abs(x.astype(np.float64))
    mantissa, exponent = np.frexp(a)          # a = mantissa * 2^exponent, mantissa in [.5, 1)
    power = exponent.astype(np.int64) - 1     # floor(log2(a)) for finite a > 0
    if round_mode == "up":
        power += mantissa > 0.5
    elif round_mode == "nearest":
        power += mantissa >= 0.75
    elif round_mode != "down":
        raise ShapeError(f"round_mode must be 'up', 'down' or 'nearest', got "
                         f"{round_mode!r}")
    biased = power + _E8M0_BIAS
    if saturate:
        code = np.clip(biased, 0, _E8M0_MAX)
        code = np.where(a == 0, 0, np.where(np.isinf(a), _E8M0_MAX, code))
    else:
        bad = (biased < 0) | (biased > _E8M0_MAX) | (a == 0) | np.isinf(a)
        code = np.where(bad, _E8M0_NAN, biased)
    code = np.where(np.isnan(a), _E8M0_NAN, code)
    return code.astype(np.uint8).view(ml_dtypes.float8_e8m0fnu)


def to_small_int(x: np.ndarray, to: DType) -> np.ndarray:
    """Cast to int4/uint4/int2/uint2, keeping the low bits of the (truncated) value."""
    bits, signed = SMALL_INTS[to]
    if x.dtype.kind == "f":
        t = np.trunc(x)
        v = np.where(np.isfinite(t) & (np.abs(t) < 2.0 ** 63), t, 0).astype(np.int64)
    else:
        v = x.astype(np.int64)
    low = v & ((1 << bits) - 1)
    if signed:
        low = np.where(low >= 1 << (bits - 1), low - (1 << bits), low)
    return low.astype(to.numpy)


def to_narrow_float(x: np.ndarray, to: DType) -> np.ndarray:
    """Cast to bfloat16, float4e2m1 or float6 (round to nearest even, one rounding)."""
    return _as_float(x).astype(to.numpy)
