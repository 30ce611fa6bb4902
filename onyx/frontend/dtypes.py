"""Tensor dtypes with PyTorch's names and promotion rules.

``onyx.float32`` etc. are ``dtype`` objects mapping to ONNX element types. Promotion follows
torch: categories bool < integer < floating < complex; dimensioned tensors outrank 0-d tensors,
which outrank Python numbers, unless the lower-ranked operand is of a higher category.

    >>> result_type(tensor([1, 2]), 2.5)       # doctest: +SKIP
    onyx.float32
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from onyx.ir.dtypes import DType


class dtype:  # noqa: N801  (torch's spelling)
    __slots__ = ("name", "onnx", "np", "is_floating_point", "is_complex", "is_signed", "itemsize")

    def __init__(self, name: str, onnx: DType, np_dtype, *, floating=False, complex=False,
                 signed=True):
        self.name, self.onnx, self.np = name, onnx, np.dtype(np_dtype)
        self.is_floating_point, self.is_complex, self.is_signed = floating, complex, signed
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"onyx.{self.name}"

    def __reduce__(self):
        return (from_name, (self.name,))

    def to_real(self) -> dtype:
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self) -> dtype:
        return {float64: complex128}.get(self, complex64) if not self.is_complex else self


bool_ = dtype("bool", DType.BOOL, np.bool_, signed=False)
uint8 = dtype("uint8", DType.UINT8, np.uint8, signed=False)
int8 = dtype("int8", DType.INT8, np.int8)
int16 = dtype("int16", DType.INT16, np.int16)
int32 = dtype("int32", DType.INT32, np.int32)
int64 = dtype("int64", DType.INT64, np.int64)
float16 = dtype("float16", DType.FLOAT16, np.float16, floating=True)
bfloat16 = dtype("bfloat16", DType.BFLOAT16, ml_dtypes.bfloat16, floating=True)
float32 = dtype("float32", DType.FLOAT, np.float32, floating=True)
float64 = dtype("float64", DType.DOUBLE, np.float64, floating=True)
complex64 = dtype("complex64", DType.COMPLEX64, np.complex64, complex=True)
complex128 = dtype("complex128", DType.COMPLEX128, np.complex128, complex=True)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64,
       complex64, complex128)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
# torch's aliases
ALIASES = {"half": float16, "float": float32, "double": float64, "short": int16, "int": int32,
           "long": int64, "cfloat": complex64, "cdouble": complex128, "bool": bool_,
           "complex": complex64, "chalf": None}
ALIASES = {k: v for k, v in ALIASES.items() if v is not None}

_default_float = float32


def from_name(name: str) -> dtype:
    """``"float32"``, ``"float"``, ``"onyx.float32"`` or ``"torch.float32"`` to a dtype."""
    name = name.removeprefix("onyx.").removeprefix("torch.")
    found = _BY_NAME.get(name) or ALIASES.get(name)
    if found is None:
        raise TypeError(f"unknown dtype name {name!r}")
    return found


def as_dtype(d) -> dtype:
    """A dtype from a dtype, a name, a NumPy dtype or a Python type (``float`` -> float32)."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return _default_float
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex64 if _default_float is not float64 else complex128
    if isinstance(d, str):
        return from_name(d)
    try:
        return from_numpy(d)
    except TypeError:
        raise TypeError(f"expected a dtype, got {d!r}") from None


def from_numpy(np_dtype) -> dtype:
    d = np.dtype(np_dtype)
    try:
        return _BY_NP[d]
    except KeyError:
        raise TypeError(f"NumPy dtype {d} has no onyx dtype") from None


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d: dtype) -> None:
    global _default_float
    if not d.is_floating_point:
        raise TypeError(f"default dtype must be floating point, got {d}")
    _default_float = d


def _category(d: dtype) -> int:
    if d is bool_:
        return 0
    if d.is_complex:
        return 3
    if d.is_floating_point:
        return 2
    return 1


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both ``a`` and ``b`` convert to (``torch.promote_types``)."""
    if a is b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if hi.is_complex and lo.is_floating_point:
            return complex128 if lo is float64 or hi is complex128 else hi
        return hi
    if ca == 2:
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a.itemsize >= b.itemsize else b
    return from_numpy(np.promote_types(a.np, b.np))


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    """Merge the result of a higher-priority operand group with a lower one, as torch does:
    the lower group wins only where it is of a higher category."""
    if higher is None:
        return lower
    if lower is None or higher.is_complex:
        return higher
    if lower.is_complex:
        return higher.to_complex() if higher.is_floating_point else lower
    if higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(x) -> dtype:
    if isinstance(x, bool | np.bool_):
        return bool_
    if isinstance(x, int | np.integer):
        return int64
    if isinstance(x, complex):
        return complex64 if _default_float is not float64 else complex128
    return _default_float


def result_type(*operands) -> dtype:
    """dtype of an elementwise op over tensors and Python numbers (``torch.result_type``)."""
    from onyx.frontend.tensor import Tensor
    groups: list[dtype | None] = [None, None, None]  # dimensioned, 0-d, Python number
    for x in operands:
        if isinstance(x, Tensor):
            g, d = (0 if x.ndim else 1), x.dtype
        else:
            g, d = 2, scalar_dtype(x)
        groups[g] = d if groups[g] is None else promote_types(groups[g], d)
    return _combine(groups[0], _combine(groups[1], groups[2]))


def can_cast(from_: dtype, to: dtype) -> bool:
    """Whether an in-place op may write a ``from_`` result into a ``to`` tensor (torch's
    ``can_cast``): never to a lower category (float into int, anything into bool)."""
    return _category(from_) <= _category(to)


class finfo:  # noqa: N801  (torch's spelling)
    """Machine limits of a floating dtype: ``finfo(float32).eps``."""

    def __init__(self, type: dtype | None = None):
        import ml_dtypes
        d = as_dtype(type) if type is not None else _default_float
        if not (d.is_floating_point or d.is_complex):
            raise TypeError(f"finfo() requires a floating point input type, got {d}")
        info = ml_dtypes.finfo(d.to_real().np)
        self.dtype, self.bits = d.to_real().name, int(info.bits)
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.smallest_normal}, "
                f"tiny={self.tiny}, dtype={self.dtype})")


class iinfo:  # noqa: N801
    """Limits of an integer dtype: ``iinfo(int32).max``."""

    def __init__(self, type: dtype):
        d = as_dtype(type)
        if d.is_floating_point or d.is_complex:
            raise TypeError(f"iinfo() requires an integer input type, got {d}")
        info = np.iinfo(np.uint8 if d is bool_ else d.np)
        self.dtype, self.bits = d.name, int(info.bits)
        self.min, self.max = int(info.min), int(info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
