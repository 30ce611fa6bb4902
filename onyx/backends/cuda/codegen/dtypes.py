"""C types per ONNX dtype: how an element is stored, loaded, computed with and stored back.

float16/bfloat16 are loaded into float, computed in float and rounded on store; every other
supported type computes in its own C type. Types not listed here get no CUDA kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

from onyx.ir.dtypes import DType


@dataclass(frozen=True)
class CType:
    storage: str      # element type in memory
    compute: str      # type arithmetic runs in
    short: str        # for signatures: f32, bf16, i64, ...


CTYPES: dict[DType, CType] = {
    DType.FLOAT: CType("float", "float", "f32"),
    DType.DOUBLE: CType("double", "double", "f64"),
    DType.FLOAT16: CType("__half", "float", "f16"),
    DType.BFLOAT16: CType("__nv_bfloat16", "float", "bf16"),
    DType.INT8: CType("signed char", "int", "i8"),
    DType.UINT8: CType("unsigned char", "unsigned int", "u8"),
    DType.INT16: CType("short", "int", "i16"),
    DType.UINT16: CType("unsigned short", "unsigned int", "u16"),
    DType.INT32: CType("int", "int", "i32"),
    DType.UINT32: CType("unsigned int", "unsigned int", "u32"),
    DType.INT64: CType("long long", "long long", "i64"),
    DType.UINT64: CType("unsigned long long", "unsigned long long", "u64"),
    DType.BOOL: CType("bool", "bool", "bool"),
}

FLOATS = frozenset({DType.FLOAT, DType.DOUBLE, DType.FLOAT16, DType.BFLOAT16})
SIGNED = frozenset({DType.INT8, DType.INT16, DType.INT32, DType.INT64})
UNSIGNED = frozenset({DType.UINT8, DType.UINT16, DType.UINT32, DType.UINT64})
INTS = SIGNED | UNSIGNED
NUMERIC = FLOATS | INTS
ALL = NUMERIC | {DType.BOOL}

# Small helpers every kernel may use; guarded so many kernels can share one translation unit.
PRELUDE = r"""#include <cuda_fp16.h>
#include <cuda_bf16.h>
#ifndef ONYX_PRELUDE
#define ONYX_PRELUDE
#define ONYX_INF __int_as_float(0x7f800000)
__device__ __forceinline__ float onyx_maxf(float a, float b) { return (a != a || a > b) ? a : b; }
__device__ __forceinline__ float onyx_minf(float a, float b) { return (a != a || a < b) ? a : b; }
__device__ __forceinline__ double onyx_maxd(double a, double b) {
  return (a != a || a > b) ? a : b; }
__device__ __forceinline__ double onyx_mind(double a, double b) {
  return (a != a || a < b) ? a : b; }
#endif
"""


def ctype(dtype: DType) -> CType | None:
    """The C types of ``dtype``, ``None`` when CUDA kernels do not handle it."""
    return CTYPES.get(dtype)


def load(ptr_expr: str, dtype: DType) -> str:
    """``ptr_expr`` (an lvalue of the storage type) as a value of the compute type."""
    if dtype is DType.FLOAT16:
        return f"__half2float({ptr_expr})"
    if dtype is DType.BFLOAT16:
        return f"__bfloat162float({ptr_expr})"
    c = CTYPES[dtype]
    return ptr_expr if c.storage == c.compute else f"(({c.compute})({ptr_expr}))"


def store(value: str, dtype: DType) -> str:
    """A compute-typed ``value`` converted to the storage type of ``dtype``."""
    if dtype is DType.FLOAT16:
        return f"__float2half((float)({value}))"
    if dtype is DType.BFLOAT16:
        return f"__float2bfloat16((float)({value}))"
    if dtype is DType.BOOL:
        return f"(({value}) != 0)"
    return f"(({CTYPES[dtype].storage})({value}))"


def convert(value: str, src: DType, dst: DType) -> str:
    """A value in ``src``'s compute type as ``dst``'s compute type (Cast semantics)."""
    s, d = CTYPES[src].compute, CTYPES[dst].compute
    if dst is DType.BOOL:
        return f"(({value}) != 0)"
    return value if s == d else f"(({d})({value}))"


def literal(x: float | int, dtype: DType) -> str:
    """A constant in ``dtype``'s compute type, spelled so C keeps its type and value."""
    c = CTYPES[dtype].compute
    if dtype in FLOATS:
        x = float(x)
        if x != x:
            return f"(({c})NAN)"
        if x in (float("inf"), float("-inf")):
            return f"(({c})({'-' if x < 0 else ''}ONYX_INF))"
        text = repr(x)
        return f"{text}f" if c == "float" else text
    if dtype is DType.BOOL:
        return "true" if x else "false"
    return f"(({c}){int(x)}LL)" if dtype in SIGNED else f"(({c}){int(x)}ULL)"


def min_value(dtype: DType) -> str:
    """The identity of max: -inf for floats, the type's lowest value for integers."""
    if dtype in FLOATS:
        return literal(float("-inf"), dtype)
    bits = dtype.itemsize_bits
    return literal(-(1 << (bits - 1)) if dtype in SIGNED else 0, dtype)


def max_value(dtype: DType) -> str:
    """The identity of min."""
    if dtype in FLOATS:
        return literal(float("inf"), dtype)
    bits = dtype.itemsize_bits
    return literal((1 << (bits - 1)) - 1 if dtype in SIGNED else (1 << bits) - 1, dtype)


def math_fn(name: str, dtype: DType) -> str:
    """``expf`` for float compute, ``exp`` for double."""
    return name if CTYPES[dtype].compute == "double" else f"{name}f"
