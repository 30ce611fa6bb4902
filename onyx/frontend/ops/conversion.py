"""dtype and device conversion (``to``, ``type``, ``float()``, ...), ``clone``, ``contiguous``
and the ``new_*`` constructors. Casts are ONNX ``Cast`` nodes, so they are differentiable."""

from __future__ import annotations

import numpy as np

from onyx.frontend import creation, dtypes
from onyx.frontend.device import device as _device
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import _replace_data, cast, copy_of, method
from onyx.frontend.tensor import Tensor


def _parse_to(self: Tensor, args: tuple, kwargs: dict) -> tuple:
    dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None), kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    flags = []
    for a in args:
        if isinstance(a, bool):
            flags.append(a)  # to(dtype, non_blocking, copy)
        elif isinstance(a, dtypes.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, str | _device):
            device = a
        elif a is not None:
            raise TypeError(f"to() received an invalid combination of arguments: "
                            f"{type(a).__name__}")
    return dtype, device, flags[1] if len(flags) > 1 else copy


@method("to")
def to(self, *args, **kwargs) -> Tensor:
    """Cast and/or move: ``to(dtype)``, ``to(device)``, ``to(other)``, ``to(copy=True)``."""
    dtype, device, copy = _parse_to(self, args, kwargs)
    creation.check_device(device)
    out = self if dtype is None else cast(self, dtypes.as_dtype(dtype))
    return copy_of(out) if copy and out is self else out


@method("type")
def type(self, dtype=None, non_blocking: bool = False, **kwargs):
    """With no argument, the legacy type name (``'onyx.FloatTensor'``); else a cast."""
    if dtype is None:
        return f"onyx.{creation.LEGACY_NAMES[self.dtype]}"
    if isinstance(dtype, str):
        name = dtype.rsplit(".", 1)[-1]
        if name in creation.LEGACY_TYPES:
            dtype = creation.LEGACY_TYPES[name].dtype
    elif isinstance(dtype, creation._LegacyType):
        dtype = dtype.dtype
    return cast(self, dtypes.as_dtype(dtype))


@method("type_as")
def type_as(self, other) -> Tensor:
    return cast(self, other.dtype)


def _caster(dt: dtypes.dtype, name: str):
    def convert(self, memory_format=None) -> Tensor:
        return cast(self, dt)
    convert.__name__ = name
    convert.__doc__ = f"``self.to({dt!r})``."
    return method(name)(convert)


for _dt, _name in ((dtypes.float32, "float"), (dtypes.float64, "double"),
                   (dtypes.float16, "half"), (dtypes.bfloat16, "bfloat16"),
                   (dtypes.int64, "long"), (dtypes.int32, "int"), (dtypes.int16, "short"),
                   (dtypes.int8, "char"), (dtypes.uint8, "byte"), (dtypes.bool_, "bool"),
                   (dtypes.complex64, "cfloat"), (dtypes.complex128, "cdouble")):
    _caster(_dt, _name)


@method("cpu")
def cpu(self, memory_format=None) -> Tensor:
    return self


@method("cuda")
def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    creation.check_device("cuda")


@method("pin_memory")
def pin_memory(self, device=None) -> Tensor:
    return self


@method("share_memory_")
def share_memory_(self) -> Tensor:
    return self


@method("is_pinned", "is_shared")
def _never(self, *args) -> bool:
    return False


@method("clone")
def clone(input, *, memory_format=None) -> Tensor:
    """A copy with its own memory; gradients flow back to ``input``."""
    return copy_of(input)


@method("contiguous")
def contiguous(self, memory_format=None) -> Tensor:
    if self._data.flags.c_contiguous:
        return self
    out = apply("Identity", self)
    _replace_data(out, np.ascontiguousarray(out._data))
    return out


# ------------------------------------------------------------------ new_*
def _new_kwargs(self: Tensor, dtype, device, requires_grad) -> dict:
    creation.check_device(device)
    return {"dtype": self.dtype if dtype is None else dtypes.as_dtype(dtype),
            "requires_grad": requires_grad}


@method("new_tensor")
def new_tensor(self, data, *, dtype=None, device=None, requires_grad: bool = False,
               layout=None, pin_memory: bool = False) -> Tensor:
    kw = _new_kwargs(self, dtype, device, requires_grad)
    return creation.tensor(data, dtype=kw["dtype"], requires_grad=requires_grad)


@method("new_zeros")
def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False,
              layout=None, pin_memory: bool = False) -> Tensor:
    kw = _new_kwargs(self, dtype, device, requires_grad)
    return creation.filled(0, creation.size_of(size, "new_zeros"), kw["dtype"], requires_grad)


@method("new_ones")
def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False,
             layout=None, pin_memory: bool = False) -> Tensor:
    kw = _new_kwargs(self, dtype, device, requires_grad)
    return creation.filled(1, creation.size_of(size, "new_ones"), kw["dtype"], requires_grad)


@method("new_empty")
def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False,
              layout=None, pin_memory: bool = False) -> Tensor:
    kw = _new_kwargs(self, dtype, device, requires_grad)
    return creation.filled(0, creation.size_of(size, "new_empty"), kw["dtype"], requires_grad)


@method("new_full")
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False,
             layout=None, pin_memory: bool = False) -> Tensor:
    kw = _new_kwargs(self, dtype, device, requires_grad)
    shape = creation.size_of((size,) if isinstance(size, int) else (tuple(size),), "new_full")
    return creation.filled(fill_value, shape, kw["dtype"], requires_grad)


def _new(self, *args, **kwargs) -> Tensor:
    """The legacy ``x.new(...)``: ``Tensor(...)`` with ``x``'s dtype."""
    return creation.legacy_new(self.dtype, *args, **kwargs)


Tensor.new = _new
