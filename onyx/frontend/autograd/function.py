"""Custom differentiable operations: ``onyx.autograd.Function`` (``torch.autograd.Function``).

``forward`` runs with gradient recording off; ``apply`` then leaves one record on the outputs
whose backward calls the user's ``backward``. The engine treats it like any op's rule.

    >>> import onyx
    >>> class Cube(onyx.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return g * 3 * x * x
    >>> x = onyx.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    tensor([ 3., 12.])
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from onyx.frontend.autograd.builders import EagerBuilder
from onyx.frontend.autograd.grad_mode import is_grad_enabled, no_grad
from onyx.frontend.autograd.record import Record
from onyx.ir.errors import OnyxError

_BUILDER = EagerBuilder()


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved tensors and flags."""

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._saved: tuple = ()
        self._saved_versions: tuple = ()
        self._non_differentiable: set[int] = set()
        self._dirty: set[int] = set()
        self._name = "Function"

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (or ``None``) for ``backward``; an in-place change to them afterwards
        makes ``saved_tensors`` raise."""
        self._saved = tensors
        self._saved_versions = tuple(None if t is None else t._version.value for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        for i, (t, v) in enumerate(zip(self._saved, self._saved_versions)):
            if t is not None and t._version.value != v:
                raise OnyxError(f"one of the tensors saved by {self._name}.forward (saved tensor "
                                f"{i}, shape {list(t.shape)}) was modified by an in-place "
                                f"operation: it is at version {t._version.value}, expected "
                                f"{v}")
        return tuple(self._saved)

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs that get no gradient (indices, masks, ...)."""
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors) -> None:
        """Inputs that ``forward`` changed in place (their version is bumped)."""
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` gets ``None`` (not zeros) for outputs no gradient reached."""
        self.materialize_grads = bool(value)


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call
    ``apply``. ``backward`` returns one gradient (or ``None``) per argument of ``forward``."""

    def __init__(self, *args, **kwargs):
        raise OnyxError(f"{type(self).__name__}: autograd functions are not instantiated; "
                        f"call {type(self).__name__}.apply(...)")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must implement forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must implement backward")

    @classmethod
    def apply(cls, *args):
        from onyx.frontend.tensor import Tensor
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        ctx._name = cls.__name__
        with no_grad():
            if _overrides(cls, "setup_context"):
                out = cls.forward(*args)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args)
        for a in args:
            if isinstance(a, Tensor) and id(a) in ctx._dirty:
                a._version.value += 1
        if not (is_grad_enabled() and any(needs)):
            return out
        return _record(cls, ctx, args, out)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output):
        """Optional (torch 2 style): fill ``ctx`` here and define ``forward`` without it."""


def _overrides(cls, name: str) -> bool:
    return getattr(cls, name) is not getattr(Function, name)


def _record(cls, ctx: FunctionCtx, args: tuple, out):
    """Attach one record to the differentiable outputs of ``forward``."""
    from onyx.frontend.tensor import Tensor
    single = isinstance(out, Tensor)
    outs = [out] if single else list(out) if isinstance(out, tuple | list) else [out]
    inputs = tuple(a for a in args if isinstance(a, Tensor))
    input_ids = {id(a) for a in inputs}
    tensors = []
    for k, o in enumerate(outs):
        if isinstance(o, Tensor):
            if id(o) in input_ids and id(o) not in ctx._dirty:
                # an input returned as is: the output is a new tensor sharing its data
                alias = Tensor._wrap(o._data)
                if id(o) in ctx._non_differentiable:
                    ctx._non_differentiable.add(id(alias))
                outs[k] = o = alias
            tensors.append(o)
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    record = Record(cls.__name__, {}, inputs, tensors)
    record.backward_fn = functools.partial(_backward, cls, ctx, positions, len(args),
                                           rec=record)
    for i, t in enumerate(tensors):
        if id(t) in ctx._non_differentiable or not (t.dtype.is_floating_point or
                                                     t.dtype.is_complex):
            t.requires_grad = False
            continue
        t.requires_grad, t.grad_fn, t._out_index = True, record, i
    if single:
        return outs[0]
    return tuple(outs) if isinstance(out, tuple) or not isinstance(out, list) else outs


def _backward(cls, ctx: FunctionCtx, positions: list[int], n_args: int, out_grads: list, *,
              rec: Record) -> list:
    grads = list(out_grads)
    if ctx.materialize_grads:
        grads = [g if g is not None else _BUILDER.zeros_like(o)
                 for g, o in zip(grads, rec.outputs)]
    result = cls.backward(ctx, *grads)
    result = list(result) if isinstance(result, tuple | list) else [result]
    # trailing Nones may be left out, as torch allows
    while len(result) > n_args and result[-1] is None:
        result.pop()
    if len(result) < n_args:
        result += [None] * (n_args - len(result))
    if len(result) != n_args:
        raise OnyxError(f"{cls.__name__}.backward returned {len(result)} gradients; expected "
                        f"{n_args} (one per argument of forward)")
    return [_check_grad(cls, k, result[k], rec.inputs[j]) for j, k in enumerate(positions)]


def _check_grad(cls, index: int, g, x):
    from onyx.frontend.tensor import Tensor
    if g is None or not x.requires_grad:
        return None
    if not isinstance(g, Tensor):
        raise OnyxError(f"{cls.__name__}.backward returned a {type(g).__name__} as gradient "
                        f"{index}; expected a tensor or None")
    if tuple(g.shape) == tuple(x.shape):
        return g
    try:
        np.broadcast_shapes(tuple(x.shape), tuple(g.shape))
        fits = np.broadcast_shapes(tuple(x.shape), tuple(g.shape)) == tuple(g.shape)
    except ValueError:
        fits = False
    if not fits:
        raise OnyxError(f"{cls.__name__}.backward returned an invalid gradient at index "
                        f"{index}: got shape {list(g.shape)}, expected a shape compatible with "
                        f"{list(x.shape)}")
    return _BUILDER.unbroadcast(g, x)


def once_differentiable(backward: Callable) -> Callable:
    """Decorate ``backward``: it runs without recording, so its result cannot be
    differentiated again (a double backward through it raises)."""
    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        wanted = is_grad_enabled()
        with no_grad():
            result = backward(ctx, *grads)
        if not wanted or not any(ctx.needs_input_grad):
            return result
        return _poison(ctx, grads, result)
    return wrapper


def _poison(ctx, grads, result):
    """Give the results a record that refuses to be differentiated."""
    from onyx.frontend.tensor import Tensor
    many = isinstance(result, tuple | list)
    outs = list(result) if many else [result]
    wrapped = [Tensor._wrap(o._data) if isinstance(o, Tensor) else o for o in outs]
    name = ctx._name

    def refuse(out_grads):
        raise OnyxError(f"trying to differentiate twice a function ({name}) whose backward is "
                        f"marked @once_differentiable")
    inputs = tuple(t for t in (*grads, *ctx._saved) if isinstance(t, Tensor) and t.requires_grad)
    tensors = [t for t in wrapped if isinstance(t, Tensor)]
    record = Record(f"{name}Backward", {}, inputs, tensors, backward_fn=refuse)
    for i, t in enumerate(tensors):
        t.requires_grad, t.grad_fn, t._out_index = True, record, i
    return tuple(wrapped) if many else wrapped[0]
