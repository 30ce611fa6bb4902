"""Runtime values of the NumPy backend: attribute conversion and feed checking."""

from __future__ import annotations

import numpy as np

from onyx.ir.core import Attribute, AttrType, Value
from onyx.ir.dtypes import DType
from onyx.ir.errors import InputError
from onyx.ir.tensor import Tensor
from onyx.ir.types import OptionalType, SequenceType, TensorType


def convert_attribute(a: Attribute):
    """The Python value a kernel receives for a non-graph attribute."""
    v = a.value
    if a.type is AttrType.TENSOR:
        return v.numpy()
    if a.type is AttrType.TENSORS:
        return [t.numpy() for t in v]
    if a.type is AttrType.SPARSE_TENSOR:
        from onyx.ir.tensor import SparseTensor
        return SparseTensor(v).numpy()
    if a.type is AttrType.STRING:
        return v if isinstance(v, str) else v.decode("utf-8", "replace")
    if a.type is AttrType.STRINGS:
        return [s if isinstance(s, str) else s.decode("utf-8", "replace") for s in v]
    if a.type in (AttrType.INTS, AttrType.FLOATS):
        return list(v)
    return v


def describe_value(x) -> str:
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        try:
            return f"{DType.from_numpy(x.dtype).short}{list(x.shape)}"
        except ValueError:
            return f"{x.dtype}{list(x.shape)}"
    if isinstance(x, list):
        return f"seq[{len(x)}]"
    if isinstance(x, dict):
        return f"map[{len(x)}]"
    return type(x).__name__


def _fits(t: TensorType, x: np.ndarray) -> bool:
    """Whether array ``x`` has exactly ``t``'s dtype and static dims (symbolic dims match
    anything); ``False`` sends the caller to the checks that say what is wrong."""
    if t.dtype is DType.UNDEFINED or t.dtype is DType.STRING or x.dtype != t.dtype.numpy:
        return False
    if t.shape is None:
        return True
    if x.ndim != len(t.shape):
        return False
    for want, have in zip(t.shape, x.shape):
        if want != have and isinstance(want, int):
            return False
    return True


def check_feed(v: Value, x) -> None:
    """Raise ``InputError`` when ``x`` does not fit the declared type of input ``v``."""
    t = v.type
    if type(x) is np.ndarray and isinstance(t, TensorType) and _fits(t, x):
        return  # the common case, without building any message
    if isinstance(t, TensorType):
        if isinstance(x, Tensor):
            x = x.numpy()
        if not isinstance(x, np.ndarray | np.generic):
            raise InputError(f"input {v.name!r} expects a tensor {t}, got "
                             f"{type(x).__name__}")
        x = np.asarray(x)
        try:
            got = DType.from_numpy(x.dtype)
        except ValueError:
            got = None
        if t.dtype is not DType.UNDEFINED and got is not t.dtype:
            raise InputError(f"input {v.name!r} expects {t.dtype.name} {t}, got "
                             f"{describe_value(x)} ({x.dtype})")
        if t.shape is not None:
            if x.ndim != len(t.shape):
                raise InputError(f"input {v.name!r} expects rank {len(t.shape)} {t}, got shape "
                                 f"{list(x.shape)}")
            for i, (want, have) in enumerate(zip(t.shape, x.shape)):
                if isinstance(want, int) and want != have:
                    raise InputError(f"input {v.name!r} expects {t}, got shape "
                                     f"{list(x.shape)} (dimension {i} is {have}, not {want})")
    elif isinstance(t, SequenceType) and not isinstance(x, list):
        raise InputError(f"input {v.name!r} expects a sequence, got {type(x).__name__}")
    elif isinstance(t, OptionalType) and x is not None and not isinstance(
            x, np.ndarray | list | np.generic):
        raise InputError(f"input {v.name!r} expects an optional value, got {type(x).__name__}")
