"""Cast, CastLike and BitCast over every ONNX element type, strings included.

Numeric rules (Cast's spec): float -> float gives +-Inf out of range; float -> integer
truncates (undefined out of range); integer -> integer keeps the low bits (two's complement);
anything -> bool is ``!= 0`` (NaN is true). The narrow types follow ``narrow_cast``.

Strings parse as numbers: "INF", "+INF", "-INF" and "NaN" in any case, plain and scientific
notation, integers exactly. Numbers print in their shortest round-trip form for their own
precision ("0.1" for a float32 0.1, "3" for 3.0, "1e+20"), bools as "1"/"0".
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.narrow_cast import (
    FLOAT8,
    NARROW_FLOATS,
    SMALL_INTS,
    exact_wide,
    to_e8m0,
    to_float8,
    to_narrow_float,
    to_small_int,
)
from onyx.backends.numpy.registry import kernel
from onyx.ir.dtypes import DType
from onyx.ir.errors import InputError, ModelError, ShapeError

_WRAP = 1 << 64
_FLOAT_WORDS = {"nan": "NaN", "-nan": "NaN", "inf": "INF", "-inf": "-INF"}


def target_type(to) -> DType:
    """The ``to`` attribute as a DType: an enum code, or a type name (Cast-1 used names)."""
    try:
        return DType[to.upper()] if isinstance(to, str) else DType(int(to))
    except (KeyError, ValueError):
        raise ModelError(f"'to' = {to!r} is not an ONNX element type") from None


def _is_string(x: np.ndarray) -> bool:
    return x.dtype.kind in "OUS"


def cast_array(x: np.ndarray, to: DType, *, saturate: bool = True, round_mode: str = "up",
               fnuz_inf_nan: bool = False) -> np.ndarray:
    """``x`` converted to ``to`` by Cast's rules (``fnuz_inf_nan``: the opset 19-23 rule)."""
    if to is DType.UNDEFINED:
        raise ModelError("the target type is UNDEFINED")
    if to is DType.STRING:
        return to_strings(x)
    if _is_string(x):
        x = parse_strings(x, to)
    dst = to.numpy
    if x.dtype == dst:
        return x
    x = exact_wide(x)
    if to in FLOAT8:
        return to_float8(x, to, saturate=saturate, fnuz_inf_nan=fnuz_inf_nan)
    if to is DType.FLOAT8E8M0:
        return to_e8m0(x, saturate=saturate, round_mode=round_mode)
    if to in SMALL_INTS:
        return to_small_int(x, to)
    if to in NARROW_FLOATS:
        return to_narrow_float(x, to)
    if to is DType.BOOL:
        return np.asarray(x != 0)
    return np.asarray(x.astype(dst))


# ------------------------------------------------------------------ strings
def _number(text: str, to: DType) -> int | float:
    s = str(text).strip()
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        pass
    try:
        return float.fromhex(s)
    except (ValueError, OverflowError):
        pass
    if to is DType.BOOL and s.lower() in ("true", "false"):
        return int(s.lower() == "true")
    raise InputError(f"string {text!r} is not a number (casting to {to.name})")


def _as_int(v: int | float) -> int:
    if isinstance(v, float):
        return int(v) if np.isfinite(v) else 0
    return v


def parse_strings(x: np.ndarray, to: DType) -> np.ndarray:
    """Strings as numbers: wrapped uint64 for integer targets, bool, or float64."""
    values = [_number(s, to) for s in x.reshape(-1).tolist()]
    if to is DType.BOOL:
        out = np.array([v != 0 for v in values], dtype=np.bool_)
    elif to.is_integer:
        out = np.array([_as_int(v) % _WRAP for v in values], dtype=np.uint64)
    else:
        out = np.array([float(v) for v in values], dtype=np.float64)
    return out.reshape(x.shape)


def _float_text(s: str) -> str:
    s = _FLOAT_WORDS.get(s, s)
    return s[:-2] if s.endswith(".0") else s


def to_strings(x: np.ndarray) -> np.ndarray:
    """Each element as text (object array of ``str``)."""
    if _is_string(x):
        return np.array([str(s) for s in x.reshape(-1).tolist()], dtype=object).reshape(x.shape)
    if x.dtype == np.bool_:
        return np.where(x, "1", "0").astype(object)
    w = exact_wide(x)
    text = w.astype(str).reshape(-1).tolist()
    if w.dtype.kind in "fc":
        text = [_float_text(s) for s in text]
    return np.array(text, dtype=object).reshape(x.shape)


# ------------------------------------------------------------------ kernels
@kernel("Cast", since=1, until=18)
def cast_v1(x, *, to):
    return cast_array(x, target_type(to))


@kernel("Cast", since=19, until=23)
def cast_v19(x, *, to, saturate=1):
    return cast_array(x, target_type(to), saturate=bool(saturate), fnuz_inf_nan=True)


@kernel("Cast", since=24)
def cast_v24(x, *, to, saturate=1, round_mode="up"):
    return cast_array(x, target_type(to), saturate=bool(saturate), round_mode=round_mode)


def _like_type(like: np.ndarray) -> DType:
    return DType.STRING if _is_string(like) else DType.from_numpy(like.dtype)


@kernel("CastLike", since=15, until=18)
def cast_like_v15(x, like):
    return cast_array(x, _like_type(like))


@kernel("CastLike", since=19, until=23)
def cast_like_v19(x, like, *, saturate=1):
    return cast_array(x, _like_type(like), saturate=bool(saturate), fnuz_inf_nan=True)


@kernel("CastLike", since=24)
def cast_like_v24(x, like, *, saturate=1, round_mode="up"):
    return cast_array(x, _like_type(like), saturate=bool(saturate), round_mode=round_mode)


@kernel("BitCast", since=26)
def bit_cast(x, *, to):
    """The same bits read as another type of the same width (little endian)."""
    src, dst = DType.from_numpy(x.dtype), target_type(to)
    if DType.STRING in (src, dst):
        raise ShapeError("strings have no fixed bit width")
    if src.itemsize_bits != dst.itemsize_bits:
        raise ShapeError(f"{src.name} is {src.itemsize_bits} bits but {dst.name} is "
                         f"{dst.itemsize_bits}; the widths must match")
    raw = x if x.flags.c_contiguous else x.copy()  # ascontiguousarray makes 0-d 1-d
    if src.itemsize_bits < 8:  # one element per byte, in the low bits
        raw = raw.view(np.uint8) & np.uint8((1 << src.itemsize_bits) - 1)
    if dst is DType.BOOL:
        return np.asarray(raw.view(np.uint8) != 0)
    return raw.view(dst.numpy)
