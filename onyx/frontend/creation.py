"""Tensor creation: ``tensor``, ``zeros``, ``full``, ``arange``, ``linspace``, ``eye``, ...

New tensors are leaves: their values are constants (no op to differentiate), made with NumPy.
dtypes are inferred as torch does: Python floats give the default float dtype, ints give
int64, NumPy arrays and scalars keep theirs.

    >>> zeros(2, 3).shape
    onyx.Size([2, 3])
"""

from __future__ import annotations

import math

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.device import device as _device
from onyx.frontend.tensor import Size, Tensor
from onyx.ir.errors import OnyxError


def check_device(device) -> None:
    """Eager tensors live on the CPU; a CUDA device says why it cannot be used, or, where
    it can, that CUDA runs compiled graphs (``onyx.compile(model, backend="cuda")``)."""
    if device is None or _device(device).type == "cpu":
        return
    from onyx.backends.cuda import runtime
    ok, reason = runtime.availability()
    if not ok:
        raise OnyxError(f"cannot place a tensor on {device}: CUDA is not available: {reason}")
    runtime.check_index(_device(device).index)
    raise OnyxError(f"eager tensors live on the CPU, not {device}; run the model on the GPU "
                    f"through onyx.compile(model, backend='cuda')")


def _python_scalar_dtype(x) -> dtypes.dtype:
    if isinstance(x, bool):
        return dtypes.bool_
    if isinstance(x, int):
        return dtypes.int64
    if isinstance(x, float):
        return dtypes.get_default_dtype()
    if isinstance(x, complex):
        return dtypes.get_default_dtype().to_complex()
    raise TypeError(f"new(): invalid data type '{type(x).__name__}'")


def _scan(data) -> dtypes.dtype | None:
    """The promoted dtype of every leaf of nested ``data`` (tensors and arrays count whole)."""
    found = None
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, list | tuple):
            stack.extend(x)
            continue
        if isinstance(x, Tensor):
            d = x.dtype
        elif isinstance(x, np.ndarray | np.generic):
            d = dtypes.from_numpy(x.dtype)
        elif x is None:
            raise OnyxError("Could not infer dtype of NoneType")
        else:
            d = _python_scalar_dtype(x)
        found = d if found is None else dtypes.promote_types(found, d)
    return found


def _has_tensor(data) -> bool:
    if isinstance(data, Tensor):
        return True
    return isinstance(data, list | tuple) and any(_has_tensor(x) for x in data)


def _unwrap(data):
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, list | tuple):
        return [_unwrap(x) for x in data]
    return data


def _array(data, dtype: dtypes.dtype | None) -> np.ndarray:
    """``data`` as a new NumPy array of the inferred (or given) dtype."""
    if isinstance(data, Tensor):
        return np.array(data._data, dtype=(dtype or data.dtype).np)
    if isinstance(data, np.ndarray | np.generic):
        d = dtype or dtypes.from_numpy(data.dtype)
        return np.array(data, dtype=d.np)
    if data is None:
        raise OnyxError("Could not infer dtype of NoneType")
    if isinstance(data, str | bytes):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    tensors = _has_tensor(data)
    raw = np.array(_unwrap(data) if tensors else data)
    if raw.dtype.kind in "OUS":
        _scan(data)  # raises the precise error for a bad leaf
        raise TypeError("new(): invalid data type")
    if dtype is None:
        if tensors or raw.dtype in (np.float64, np.complex128) or raw.size == 0:
            dtype = _scan(data) or dtypes.get_default_dtype()
        else:
            dtype = dtypes.from_numpy(raw.dtype)
    return raw.astype(dtype.np, copy=False)


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new leaf holding a copy of ``data`` (numbers, nested lists, arrays, tensors).

        >>> tensor([[1, 2], [3, 4]]).dtype
        onyx.int64
    """
    check_device(device)
    try:
        arr = _array(data, None if dtype is None else dtypes.as_dtype(dtype))
    except ValueError as e:
        if "inhomogeneous" in str(e) or "sequence" in str(e):
            raise ValueError(f"expected sequences of equal length at every dim: {e}") from None
        raise
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def scalar_tensor(s, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return tensor(s, dtype=dtype or dtypes.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or tensor of the same dtype."""
    check_device(device)
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    if isinstance(data, Tensor):
        if dtype in (None, data.dtype):
            return data
        from onyx.frontend.ops._common import cast
        return cast(data, dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == dtype.np):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    try:
        dtypes.from_numpy(ndarray.dtype)
    except TypeError:
        raise TypeError(f"can't convert np.ndarray of type {ndarray.dtype}. The only supported "
                        f"types are: float64, float32, float16, bfloat16, complex64, "
                        f"complex128, int64, int32, int16, int8, uint8, and bool.") from None
    return Tensor._wrap(ndarray)


# ------------------------------------------------------------------ filled tensors
def size_of(size, name: str = "zeros") -> tuple[int, ...]:
    """Sizes given as ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``, checked."""
    if len(size) == 1 and isinstance(size[0], list | tuple):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor) and s.numel() == 1 and not s.dtype.is_floating_point:
            s = s.item()
        if isinstance(s, bool) or not isinstance(s, int | np.integer):
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, but found "
                            f"element of type {type(s).__name__}")
        if s < 0:
            raise OnyxError(f"{name}: Dimension size must be non-negative.")
        out.append(int(s))
    return tuple(out)


def filled(fill, shape: tuple, dtype: dtypes.dtype, requires_grad: bool = False) -> Tensor:
    from onyx.ir import limits
    limits.check_elements(shape, 8 * dtype.itemsize, "new tensor")
    if not dtype.is_complex and isinstance(fill, complex):
        raise OnyxError(f"value cannot be converted to type {dtype.name} without overflow")
    if not (dtype.is_floating_point or dtype.is_complex) and dtype is not dtypes.bool_ \
            and isinstance(fill, float) and not math.isfinite(fill):
        raise OnyxError(f"value cannot be converted to type {dtype.name} without overflow")
    try:
        t = Tensor._wrap(np.full(shape, fill, dtype=dtype.np))
    except OverflowError:
        raise OnyxError(f"value cannot be converted to type {dtype.name} without "
                        f"overflow") from None
    return t.requires_grad_(True) if requires_grad else t


def _dtype(dtype, default: dtypes.dtype | None = None) -> dtypes.dtype:
    return dtypes.as_dtype(dtype) if dtype is not None else \
        (default or dtypes.get_default_dtype())


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False) -> Tensor:
    check_device(device)
    return filled(0, size_of(size, "zeros"), _dtype(dtype), requires_grad)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False) -> Tensor:
    check_device(device)
    return filled(1, size_of(size, "ones"), _dtype(dtype), requires_grad)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, memory_format=None) -> Tensor:
    """A tensor of ``size`` (zero-filled: uninitialised memory is never handed out)."""
    check_device(device)
    return filled(0, size_of(size, "empty"), _dtype(dtype), requires_grad)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad=False) -> Tensor:
    check_device(device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    default = _python_scalar_dtype(fill_value) if not isinstance(fill_value, np.generic) \
        else dtypes.from_numpy(fill_value.dtype)
    shape = size_of((size,) if isinstance(size, int) else (tuple(size),), "full")
    return filled(fill_value, shape, _dtype(dtype, default), requires_grad)


def _like(input: Tensor, fill, dtype, requires_grad: bool, device) -> Tensor:
    check_device(device)
    return filled(fill, tuple(input.shape), _dtype(dtype, input.dtype), requires_grad)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None) -> Tensor:
    return _like(input, 0, dtype, requires_grad, device)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    return _like(input, 1, dtype, requires_grad, device)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None) -> Tensor:
    return _like(input, 0, dtype, requires_grad, device)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    return _like(input, fill_value, dtype, requires_grad, device)


# ------------------------------------------------------------------ ranges
def _number(x):
    return x.item() if isinstance(x, Tensor | np.generic) else x


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False) -> Tensor:
    """``[start, end)`` in steps of ``step``; int64 unless an argument is a float."""
    check_device(device)
    if end is None:
        start, end = 0, start
    start, end, step = _number(start), _number(end), _number(step)
    if step == 0:
        raise OnyxError("step must be nonzero")
    if (end - start) * step < 0:
        raise OnyxError("upper bound and lower bound inconsistent with step sign")
    any_float = any(isinstance(v, float) for v in (start, end, step))
    dt = _dtype(dtype, dtypes.get_default_dtype() if any_float else dtypes.int64)
    n = max(0, math.ceil((end - start) / step))
    from onyx.ir import limits
    limits.check_elements((n,), 8 * dt.itemsize, "arange")
    # computed in double as torch does, then rounded once to the result dtype
    values = start + np.arange(n, dtype=np.float64 if any_float else np.int64) * step
    t = Tensor._wrap(values.astype(dt.np))
    return t.requires_grad_(True) if requires_grad else t


def range_(start=0, end=None, step=1, *, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """The deprecated ``torch.range``: ``[start, end]`` inclusive, float by default."""
    start, end, step = float(_number(start)), float(_number(end)), float(_number(step))
    return arange(start, end + step / 2, step, dtype=dtype, device=device,
                  requires_grad=requires_grad)


def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    check_device(device)
    start, end = _number(start), _number(end)
    if steps < 0:
        raise OnyxError("number of steps must be non-negative")
    dt = _dtype(dtype)
    if steps == 1:
        values = np.asarray([start], dtype=np.float64)
    else:
        # from both ends towards the middle, so the last value is exactly ``end``
        step = (end - start) / max(steps - 1, 1)
        i = np.arange(steps, dtype=np.float64)
        half = steps // 2
        values = np.where(i < half, start + i * step, end - (steps - 1 - i) * step)
    if not (dt.is_floating_point or dt.is_complex):
        values = np.trunc(values)
    t = Tensor._wrap(values.astype(dt.np))
    return t.requires_grad_(True) if requires_grad else t


def logspace(start, end, steps: int, base: float = 10.0, *, out=None, dtype=None,
             layout=None, device=None, requires_grad=False) -> Tensor:
    exponents = linspace(start, end, steps, dtype=dtypes.float64)._data
    dt = _dtype(dtype)
    t = Tensor._wrap(np.power(float(base), exponents).astype(dt.np))
    return t.requires_grad_(True) if requires_grad else t


def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None,
        requires_grad=False) -> Tensor:
    check_device(device)
    if n < 0 or (m is not None and m < 0):
        raise OnyxError(f"n must be greater or equal to 0, got {n}" if n < 0 else
                        f"m must be greater or equal to 0, got {m}")
    t = Tensor._wrap(np.eye(n, n if m is None else m, dtype=_dtype(dtype).np))
    return t.requires_grad_(True) if requires_grad else t


# ------------------------------------------------------------------ legacy constructors
def legacy_new(dtype: dtypes.dtype, *args, **kwargs) -> Tensor:
    """``Tensor(data)`` / ``FloatTensor(2, 3)``: data, or sizes of a (zeroed) new tensor."""
    kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"new(): unexpected keyword arguments {sorted(kwargs)}")
    if not args:
        return Tensor._wrap(np.zeros((0,), dtype.np))
    if all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in args):
        return filled(0, size_of(args, "new"), dtype)
    if len(args) == 1 and isinstance(args[0], Tensor):
        if args[0].dtype is not dtype:
            raise TypeError(f"expected {dtype} (got {args[0].dtype})")
        return args[0]
    if len(args) == 1:
        if isinstance(args[0], Size):
            return filled(0, size_of(args, "new"), dtype)
        return tensor(args[0], dtype=dtype)
    raise TypeError("new(): expected sizes or one sequence of data")


class _LegacyType(type):
    """``FloatTensor(...)`` builds a float32 tensor; ``isinstance(t, FloatTensor)`` checks the
    dtype (the only thing torch's legacy classes distinguish on the CPU)."""

    def __call__(cls, *args, **kwargs):
        return legacy_new(cls.dtype, *args, **kwargs)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'onyx.{cls.__name__}'>"


LEGACY_NAMES = {dtypes.float32: "FloatTensor", dtypes.float64: "DoubleTensor",
                dtypes.float16: "HalfTensor", dtypes.bfloat16: "BFloat16Tensor",
                dtypes.int64: "LongTensor", dtypes.int32: "IntTensor",
                dtypes.int16: "ShortTensor", dtypes.int8: "CharTensor",
                dtypes.uint8: "ByteTensor", dtypes.bool_: "BoolTensor"}
LEGACY_TYPES = {name: _LegacyType(name, (), {"dtype": d, "__slots__": ()})
                for d, name in LEGACY_NAMES.items()}
FloatTensor = LEGACY_TYPES["FloatTensor"]
DoubleTensor = LEGACY_TYPES["DoubleTensor"]
HalfTensor = LEGACY_TYPES["HalfTensor"]
BFloat16Tensor = LEGACY_TYPES["BFloat16Tensor"]
LongTensor = LEGACY_TYPES["LongTensor"]
IntTensor = LEGACY_TYPES["IntTensor"]
ShortTensor = LEGACY_TYPES["ShortTensor"]
CharTensor = LEGACY_TYPES["CharTensor"]
ByteTensor = LEGACY_TYPES["ByteTensor"]
BoolTensor = LEGACY_TYPES["BoolTensor"]
