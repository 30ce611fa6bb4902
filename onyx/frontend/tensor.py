"""``onyx.Tensor``: an n-d array that records the ONNX op that made it.

Data lives in a NumPy array; ``grad_fn`` is the record of the op that produced the tensor
(``None`` for leaves). Ops and methods are attached from ``onyx.frontend.ops``.

    >>> import onyx
    >>> x = onyx.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
"""

from __future__ import annotations

import numpy as np

from onyx.frontend import dispatch as _dispatch
from onyx.frontend import dtypes
from onyx.frontend.device import device as _device
from onyx.ir.errors import OnyxError


def _check_read(t: Tensor, what: str) -> None:
    """Inside ``onyx.compile`` tracing, reading a traced value into Python is a graph break."""
    if _dispatch._TRACER is not None:
        _dispatch._TRACER.check_read(t, what)


class _Version:
    """In-place change counter, shared by a tensor and the views of its storage."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor:
    __slots__ = ("_data", "requires_grad", "grad", "grad_fn", "_out_index", "_version",
                 "_retains_grad", "_hooks", "_base", "_view_fn", "__weakref__")

    # NumPy defers to the tensor's reflected operators (``array + tensor`` gives a tensor)
    __array_priority__ = 1000

    def __init__(self, *args, **kwargs):
        # torch.Tensor(...) is the legacy float constructor: Tensor([1, 2]) or Tensor(2, 3)
        from onyx.frontend.creation import legacy_new
        t = legacy_new(dtypes.get_default_dtype(), *args, **kwargs)
        self._init(t._data)

    def _init(self, data: np.ndarray, requires_grad: bool = False) -> None:
        self._data = data
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.grad_fn = None
        self._out_index = 0
        self._version = _Version()
        self._retains_grad = False
        self._hooks: list | None = None
        self._base: Tensor | None = None
        # For a view: replays the view ops from ``_base`` (in-place writes to the view
        # re-express themselves as writes to the base through it)
        self._view_fn = None

    @classmethod
    def _wrap(cls, data: np.ndarray, requires_grad: bool = False) -> Tensor:
        t = object.__new__(cls)
        t._init(data, requires_grad)
        return t

    # ---------------------------------------------------------------- properties
    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy(self._data.dtype)

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self.ndim)]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def device(self) -> _device:
        return _device("cpu")

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def data(self) -> Tensor:
        # Same storage, no history and its own version counter: changes made through
        # ``.data`` are invisible to autograd, as in torch
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return self.dtype.is_complex

    # ---------------------------------------------------------------- conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        _check_read(self, "numpy()")
        if self.requires_grad and not force:
            raise OnyxError("can't call numpy() on a tensor that requires grad; use "
                            "tensor.detach().numpy()")
        return self._data

    def item(self):
        _check_read(self, "item()")
        if self._data.size != 1:
            raise OnyxError(f"a tensor with {self._data.size} elements cannot be converted "
                            f"to a Python scalar")
        return self._data.reshape(()).item() if self._data.dtype.kind in "biufc" else \
            float(self._data.reshape(()))

    def tolist(self):
        _check_read(self, "tolist()")
        if self._data.dtype.kind in "biufcO":
            return self._data.tolist()
        return self._data.astype(np.float32).tolist()

    def __array__(self, dtype=None, copy=None):
        _check_read(self, "np.asarray()")
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __bool__(self) -> bool:
        _check_read(self, "bool() (an `if`/`while` on a tensor)")
        if self._data.size != 1:
            raise OnyxError(f"the truth value of a tensor with {self._data.size} elements is "
                            f"ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __contains__(self, element) -> bool:
        if not isinstance(element, Tensor | int | float | bool):
            raise OnyxError(f"Tensor.__contains__ only supports Tensor or scalar, but you "
                            f"passed in a {type(element).__name__}")
        return bool((self == element).any())

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __deepcopy__(self, memo: dict) -> Tensor:
        if not self.is_leaf:
            raise OnyxError("only tensors created explicitly by the user (graph leaves) "
                            "support the deepcopy protocol")
        if id(self) in memo:
            return memo[id(self)]
        import copy
        t = object.__new__(type(self))  # subclasses (nn.Parameter) stay what they are
        t._init(self._data.copy(), self.requires_grad)
        memo[id(self)] = t
        for klass in type(self).__mro__[:-2]:  # extra slots of subclasses (not Tensor's)
            for name in getattr(klass, "__slots__", ()):
                if hasattr(self, name) and name not in Tensor.__slots__:
                    setattr(t, name, copy.deepcopy(getattr(self, name), memo))
        if self.grad is not None:
            t.grad = self.grad.__deepcopy__(memo)
        return t

    def __reduce_ex__(self, protocol):
        return (_rebuild, (np.ascontiguousarray(self._data), self.requires_grad))

    # ---------------------------------------------------------------- layout
    def stride(self, dim: int | None = None):
        """Steps between elements, in elements (not bytes), per dimension."""
        steps = tuple(s // self._data.itemsize for s in self._data.strides)
        return steps if dim is None else steps[_wrap_dim(dim, self.ndim)]

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._data.flags.c_contiguous)

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def data_ptr(self) -> int:
        return int(self._data.__array_interface__["data"][0])

    def get_device(self) -> int:
        return -1

    # ---------------------------------------------------------------- autograd
    def detach(self) -> Tensor:
        t = Tensor._wrap(self._data)
        t._version = self._version
        return t

    def detach_(self) -> Tensor:
        self.grad_fn, self.requires_grad = None, False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf and not requires_grad:
            raise OnyxError("you can only change requires_grad flags of leaf tensors")
        if requires_grad and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise OnyxError(f"only tensors of floating point and complex dtype can require "
                            f"gradients, not {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise OnyxError("can't retain_grad on a tensor that does not require grad")
        if not self.is_leaf:
            self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook):
        """``hook(grad) -> Tensor | None`` runs when this tensor's gradient is computed."""
        if not self.requires_grad:
            raise OnyxError("cannot register a hook on a tensor that doesn't require gradient")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        from onyx.frontend.autograd.engine import backward
        backward([self], None if gradient is None else [gradient], retain_graph=retain_graph,
                 create_graph=create_graph, inputs=inputs)

    # ---------------------------------------------------------------- printing
    def __repr__(self) -> str:
        from onyx.frontend.printing import format_tensor
        return format_tensor(self)

    __str__ = __repr__


class Size(tuple):
    """``tensor.shape``: a tuple that prints like torch's."""

    def __repr__(self) -> str:
        return f"onyx.Size({list(self)})"

    def __getitem__(self, key):
        got = tuple.__getitem__(self, key)
        return Size(got) if isinstance(key, slice) else got

    def __add__(self, other) -> Size:
        return Size(tuple(self) + tuple(other))

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n


class _HookHandle:
    def __init__(self, hooks: list, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _rebuild(data: np.ndarray, requires_grad: bool) -> Tensor:
    """Unpickling: a leaf holding ``data``."""
    return Tensor._wrap(np.array(data), requires_grad)


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n
