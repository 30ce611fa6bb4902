"""``nn.Parameter``: a tensor that a ``Module`` registers as one of its parameters."""

from __future__ import annotations

from onyx.frontend.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and is found by ``Module.parameters()``.

        >>> w = Parameter(onyx.zeros(3))        # doctest: +SKIP
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        from onyx.frontend.creation import tensor as make
        if data is None:
            data = make([])
        p = object.__new__(cls)
        p._init(data._data, False)
        p._version = data._version
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        pass  # everything happens in __new__ (Tensor.__init__ is the legacy constructor)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        # a copy of a parameter is a parameter (copy.deepcopy of a module keeps its params)
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(Tensor._wrap(self._data.copy()), self.requires_grad)
        memo[id(self)] = p
        if self.grad is not None:
            p.grad = self.grad.__deepcopy__(memo)
        return p

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        raise TypeError("Parameters are saved with onyx.save(state_dict), not pickled")


class Buffer(Tensor):
    """Marks a tensor to register as a buffer when assigned to a module attribute."""

    __slots__ = ("persistent",)

    def __new__(cls, data: Tensor, *, persistent: bool = True):
        b = object.__new__(cls)
        b._init(data._data, False)
        b.persistent = persistent
        return b

    def __init__(self, data: Tensor, *, persistent: bool = True):
        pass
