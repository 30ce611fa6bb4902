"""In-place ops (``add_``, ``fill_``, ``copy_``, ...): out-of-place ONNX ops, then a write.

``inplace(self, compute)`` runs ``compute(old)`` through ``apply`` on a stand-in ``old`` that
carries ``self``'s previous value and autograd identity, writes the result into ``self``'s
buffer (so views see it), bumps the shared version counter and makes ``self`` the recorded
output of the new record. Autograd therefore flows through in-place ops as in torch:

    >>> x = onyx.ones(3, requires_grad=True)       # doctest: +SKIP
    >>> y = x * 2
    >>> y.mul_(3)                                  # y's history: Mul, then Mul
    >>> y.sum().backward()                         # x.grad == [6, 6, 6]

A write through a view while recording gradients is re-expressed on the view's base: the new
base is the old one with the view's elements scattered in (``ScatterND`` at the positions the
view covers), and the view's history is rebuilt from the new base.
"""

from __future__ import annotations

import weakref

import numpy as np

from onyx.frontend import dispatch, dtypes
from onyx.frontend.autograd.grad_mode import is_grad_enabled, no_grad
from onyx.frontend.autograd.record import Record
from onyx.frontend.autograd.rules import get_rule
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import cast, int64s
from onyx.frontend.tensor import Tensor, _Version
from onyx.ir.errors import OnyxError

# torch's names for dtypes in its casting errors
_TORCH_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
                "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
                "int8": "Char", "uint8": "Byte", "bool": "Bool", "complex64": "ComplexFloat",
                "complex128": "ComplexDouble"}


def check_writable(t: Tensor) -> None:
    if is_grad_enabled():
        if t.grad_fn is None and t.requires_grad:
            raise OnyxError("a leaf Variable that requires grad is being used in an in-place "
                            "operation.")
        base = t._base
        if base is not None and base.grad_fn is None and base.requires_grad:
            raise OnyxError("a view of a leaf Variable that requires grad is being used in an "
                            "in-place operation.")
    if not t._data.flags.writeable:
        raise OnyxError("unsupported operation: more than one element of the written-to tensor "
                        "refers to a single memory location. Please clone() the tensor before "
                        "performing the operation.")


def _stand_in(t: Tensor) -> Tensor:
    """A tensor holding ``t``'s current value and autograd identity (same buffer)."""
    s = Tensor._wrap(t._data, t.requires_grad)
    s.grad_fn, s._out_index, s._version = t.grad_fn, t._out_index, t._version
    s._base, s._view_fn = t._base, t._view_fn
    return s


def _conform(new: Tensor, self: Tensor, old: Tensor, strict: bool) -> Tensor:
    """``new`` in ``self``'s shape and dtype, with torch's errors where it cannot be."""
    if tuple(new.shape) != tuple(self.shape):
        try:
            full = np.broadcast_shapes(tuple(new.shape), tuple(self.shape))
        except ValueError:
            full = None
        if full != tuple(self.shape):
            raise OnyxError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                            f"shape {list(full or new.shape)}")
        new = apply("Expand", new, int64s(list(self.shape)))
    if new.dtype is not self.dtype:
        if strict and not dtypes.can_cast(new.dtype, self.dtype):
            raise OnyxError(f"result type {_TORCH_NAMES[new.dtype.name]} can't be cast to the "
                            f"desired output type {_TORCH_NAMES[self.dtype.name]}")
        new = cast(new, self.dtype)
    if is_grad_enabled() and old.requires_grad and not new.requires_grad \
            and self.dtype.is_floating_point:
        # a value that no longer depends on the history: keep a record whose gradient to the
        # old value is zero (torch's FillBackward), so backward still reaches the graph
        new = apply("Where", Tensor._wrap(np.ones((), np.bool_)), new, old)
    return new


def inplace(self: Tensor, compute, strict: bool = True) -> Tensor:
    """Replace ``self``'s value by ``compute(old)`` in place (see the module docstring)."""
    check_writable(self)
    start = Record._counter
    base = self._base
    through_base = base is not None and is_grad_enabled()
    base_old = None
    if through_base and (base.requires_grad or self.requires_grad):
        # the old value of a view, recomputed from a stand-in of the base: its history must
        # not route through the base tensor, whose history this write replaces
        base_old = _stand_in(base)
        old = self._view_fn(base_old)
    else:
        old = _stand_in(self)
    new = _conform(compute(old), self, old, strict)
    if new.requires_grad and (new.grad_fn is None or new.grad_fn.seq <= start):
        new = apply("Identity", new)  # an existing tensor: self needs a record of its own
    if through_base and (base_old is not None or new.requires_grad):
        _write_through_view(self, base, base_old if base_old is not None else _stand_in(base),
                            new, start)
    else:
        _commit(self, new, start)
    return self


def _commit(self: Tensor, new: Tensor, start: int) -> None:
    if new._data is not self._data:
        _protect(new, self, start)
        np.copyto(self._data, new._data)
    self._version.value += 1
    rec = new.grad_fn
    if rec is not None and rec.seq > start:
        _adopt(self, new)
    if dispatch._TRACER is not None:  # onyx.compile is tracing: the write is a new value
        dispatch._TRACER.written(self, new)


def _adopt(self: Tensor, new: Tensor) -> None:
    """Make ``self`` the recorded output that ``new`` was."""
    rec, i = new.grad_fn, new._out_index
    rec._outputs[i] = weakref.ref(self)
    rec._out_data[i] = self._data
    versions = list(rec.out_versions)
    versions[i] = self._version.value
    rec.out_versions = tuple(versions)
    self.grad_fn, self._out_index, self.requires_grad = rec, i, True
    if dispatch._TRACER is not None:
        dispatch._TRACER.adopted(self, new)


def _protect(new: Tensor, self: Tensor, start: int) -> None:
    """Give the new records' saved inputs that alias ``self``'s buffer their own copy.

    The stand-in for the old value shares the buffer about to be overwritten; a rule that
    reads it (``mul_`` by a tensor that requires grad reads the old ``self``) needs the value
    from before the write, which torch keeps by cloning it too.
    """
    stack, seen = [new.grad_fn], set()
    while stack:
        rec = stack.pop()
        if rec is None or rec.seq <= start or id(rec) in seen:
            continue
        seen.add(id(rec))
        rule = get_rule(rec.op_type, rec.domain)
        uses = range(len(rec.inputs)) if rule is None or rule.uses_inputs is None \
            else rule.uses_inputs
        for i, t in enumerate(rec.inputs):
            if t is None:
                continue
            if i in uses and np.may_share_memory(t._data, self._data):
                _detach_buffer(t, self)
            stack.append(t.grad_fn)


def _detach_buffer(t: Tensor, self: Tensor) -> None:
    t._data = t._data.copy()
    if t.grad_fn is not None and t.grad_fn._outputs[t._out_index]() is t:
        t.grad_fn._out_data[t._out_index] = t._data
    if t._version is self._version:
        version = _Version()
        version.value = t._version.value
        t._version = version


def _write_through_view(view: Tensor, base: Tensor, base_old: Tensor, new: Tensor,
                        start: int) -> None:
    with no_grad():
        positions = view._view_fn(position_grid(base.shape))
    new_base = scatter_positions(base_old, positions, new)
    _commit(base, new_base, start)
    # the view's own history is now "this view of the new base"
    again = view._view_fn(base)
    if again.grad_fn is not None:
        _adopt(view, again)


def position_grid(shape) -> Tensor:
    """Each element's flat position, laid out in ``shape`` (int64)."""
    n = int(np.prod(shape, dtype=np.int64))
    return Tensor._wrap(np.arange(n, dtype=np.int64).reshape(tuple(shape)))


def scatter_positions(target: Tensor, positions: Tensor, value: Tensor,
                      reduction: str = "none") -> Tensor:
    """``target`` with ``value`` (broadcast to ``positions``' shape) written (or, with
    ``reduction="add"``, added) at the flat ``positions``: one ``ScatterND``."""
    if positions.numel() == 0:
        return target
    value = cast(value, target.dtype)
    if tuple(value.shape) != tuple(positions.shape):
        value = apply("Expand", value, int64s(list(positions.shape)))
    flat = apply("Reshape", target, int64s([-1]))
    out = apply("ScatterND", flat, apply("Reshape", positions, int64s([-1, 1])),
                apply("Reshape", value, int64s([-1])), reduction=reduction)
    return apply("Reshape", out, int64s(list(target.shape)))


def rebind(self: Tensor, view_op) -> Tensor:
    """Shape-changing in-place ops (``unsqueeze_``, ``t_``): ``self`` becomes the view."""
    check_writable(self)
    out = view_op(_stand_in(self))
    self._data = out._data
    if self._view_fn is not None:
        parent = self._view_fn
        self._view_fn = lambda t: view_op(parent(t))
    self._version.value += 1
    if out.grad_fn is not None:
        _adopt(self, out)
    return self
