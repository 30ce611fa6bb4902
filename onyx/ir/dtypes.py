"""Tensor element types: ONNX ``TensorProto.DataType`` codes <-> NumPy dtypes.

Every type onnx 1.23 defines has an entry. The narrow float and integer types (bfloat16,
float8, float4, int4, ...) come from ``ml_dtypes``; strings are NumPy object arrays.
"""

from __future__ import annotations

import enum

import ml_dtypes
import numpy as np


class DType(enum.IntEnum):
    UNDEFINED = 0
    FLOAT = 1
    UINT8 = 2
    INT8 = 3
    UINT16 = 4
    INT16 = 5
    INT32 = 6
    INT64 = 7
    STRING = 8
    BOOL = 9
    FLOAT16 = 10
    DOUBLE = 11
    UINT32 = 12
    UINT64 = 13
    COMPLEX64 = 14
    COMPLEX128 = 15
    BFLOAT16 = 16
    FLOAT8E4M3FN = 17
    FLOAT8E4M3FNUZ = 18
    FLOAT8E5M2 = 19
    FLOAT8E5M2FNUZ = 20
    UINT4 = 21
    INT4 = 22
    FLOAT4E2M1 = 23
    FLOAT8E8M0 = 24
    UINT2 = 25
    INT2 = 26
    FLOAT6E2M3 = 27
    FLOAT6E3M2 = 28

    @property
    def numpy(self) -> np.dtype:
        """The NumPy dtype that holds one element of this type."""
        try:
            return _TO_NUMPY[self]
        except KeyError:
            raise ValueError(f"{self.name} has no NumPy dtype") from None

    @property
    def itemsize_bits(self) -> int:
        """Bits per element as stored in ONNX (4 for int4, 8 for float8, ...)."""
        return _BITS.get(self, 8 * self.numpy.itemsize if self is not DType.STRING else 0)

    @property
    def is_float(self) -> bool:
        return self in FLOAT_TYPES

    @property
    def is_integer(self) -> bool:
        return self in INT_TYPES

    @property
    def short(self) -> str:
        """Short readable name used by the printer: f32, i64, bf16, ..."""
        return _SHORT[self]

    @classmethod
    def from_numpy(cls, dtype) -> DType:
        dtype = np.dtype(dtype)
        try:
            return _FROM_NUMPY[dtype]
        except KeyError:
            if dtype.kind in "OUS":
                return DType.STRING
            raise ValueError(f"NumPy dtype {dtype} has no ONNX element type") from None


_TO_NUMPY = {
    DType.FLOAT: np.dtype(np.float32),
    DType.UINT8: np.dtype(np.uint8),
    DType.INT8: np.dtype(np.int8),
    DType.UINT16: np.dtype(np.uint16),
    DType.INT16: np.dtype(np.int16),
    DType.INT32: np.dtype(np.int32),
    DType.INT64: np.dtype(np.int64),
    DType.STRING: np.dtype(object),
    DType.BOOL: np.dtype(np.bool_),
    DType.FLOAT16: np.dtype(np.float16),
    DType.DOUBLE: np.dtype(np.float64),
    DType.UINT32: np.dtype(np.uint32),
    DType.UINT64: np.dtype(np.uint64),
    DType.COMPLEX64: np.dtype(np.complex64),
    DType.COMPLEX128: np.dtype(np.complex128),
    DType.BFLOAT16: np.dtype(ml_dtypes.bfloat16),
    DType.FLOAT8E4M3FN: np.dtype(ml_dtypes.float8_e4m3fn),
    DType.FLOAT8E4M3FNUZ: np.dtype(ml_dtypes.float8_e4m3fnuz),
    DType.FLOAT8E5M2: np.dtype(ml_dtypes.float8_e5m2),
    DType.FLOAT8E5M2FNUZ: np.dtype(ml_dtypes.float8_e5m2fnuz),
    DType.UINT4: np.dtype(ml_dtypes.uint4),
    DType.INT4: np.dtype(ml_dtypes.int4),
    DType.FLOAT4E2M1: np.dtype(ml_dtypes.float4_e2m1fn),
    DType.FLOAT8E8M0: np.dtype(ml_dtypes.float8_e8m0fnu),
    DType.UINT2: np.dtype(ml_dtypes.uint2),
    DType.INT2: np.dtype(ml_dtypes.int2),
    DType.FLOAT6E2M3: np.dtype(ml_dtypes.float6_e2m3fn),
    DType.FLOAT6E3M2: np.dtype(ml_dtypes.float6_e3m2fn),
}
_FROM_NUMPY = {v: k for k, v in _TO_NUMPY.items() if k is not DType.STRING}
_BITS = {DType.UINT4: 4, DType.INT4: 4, DType.FLOAT4E2M1: 4, DType.UINT2: 2, DType.INT2: 2,
         DType.FLOAT6E2M3: 6, DType.FLOAT6E3M2: 6}
_SHORT = {
    DType.UNDEFINED: "?", DType.FLOAT: "f32", DType.UINT8: "u8", DType.INT8: "i8",
    DType.UINT16: "u16", DType.INT16: "i16", DType.INT32: "i32", DType.INT64: "i64",
    DType.STRING: "str", DType.BOOL: "bool", DType.FLOAT16: "f16", DType.DOUBLE: "f64",
    DType.UINT32: "u32", DType.UINT64: "u64", DType.COMPLEX64: "c64", DType.COMPLEX128: "c128",
    DType.BFLOAT16: "bf16", DType.FLOAT8E4M3FN: "f8e4m3fn", DType.FLOAT8E4M3FNUZ: "f8e4m3fnuz",
    DType.FLOAT8E5M2: "f8e5m2", DType.FLOAT8E5M2FNUZ: "f8e5m2fnuz", DType.UINT4: "u4",
    DType.INT4: "i4", DType.FLOAT4E2M1: "f4e2m1", DType.FLOAT8E8M0: "f8e8m0",
    DType.UINT2: "u2", DType.INT2: "i2", DType.FLOAT6E2M3: "f6e2m3", DType.FLOAT6E3M2: "f6e3m2",
}
FLOAT_TYPES = frozenset({
    DType.FLOAT, DType.FLOAT16, DType.DOUBLE, DType.BFLOAT16, DType.FLOAT8E4M3FN,
    DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2, DType.FLOAT8E5M2FNUZ, DType.FLOAT4E2M1,
    DType.FLOAT8E8M0, DType.FLOAT6E2M3, DType.FLOAT6E3M2})
INT_TYPES = frozenset({
    DType.UINT8, DType.INT8, DType.UINT16, DType.INT16, DType.INT32, DType.INT64, DType.UINT32,
    DType.UINT64, DType.UINT4, DType.INT4, DType.UINT2, DType.INT2})
