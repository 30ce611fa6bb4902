"""``tensor[key]`` and ``tensor[key] = value`` with torch's semantics, lowered to ONNX ops.

A key is parsed into a plan: integers, slices, ``None`` and ``...`` become one ``Slice``, one
``Squeeze`` and one ``Unsqueeze`` (a view of the input, as in torch); integer tensors, lists
and boolean masks then select with ``Gather`` (one index tensor) or ``GatherND`` (several,
broadcast together; masks through ``NonZero``). As in torch, integers are applied before the
advanced indices, so ``x[0, :, [0, 1]]`` has shape ``(x.shape[1], 2)``.

Assignment indexes a grid of element positions with the same key and writes the value there
with one ``ScatterND`` (a mask the shape of the tensor with a scalar value is a ``Where``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.autograd.grad_mode import no_grad
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import as_view, cast, int64s, operand
from onyx.frontend.ops.inplace import inplace, position_grid, scatter_positions
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError

_INT64_MAX = np.iinfo(np.int64).max


@dataclass
class _Plan:
    """What a key does, in the order torch does it."""
    starts: list = field(default_factory=list)    # Slice inputs, one entry per sliced axis
    ends: list = field(default_factory=list)
    axes: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    squeeze: list = field(default_factory=list)   # input axes indexed by an integer
    unsqueeze: list = field(default_factory=list)  # output axes made by None / bool
    advanced: list = field(default_factory=list)  # (axes after the basic ops, index tensor)
    masks: list = field(default_factory=list)     # (axes, bool mask) in the same coordinates


def _index_error(item) -> IndexError:
    return IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                      f"Variables are valid indices (got {type(item).__name__})")


def _as_tuple(key) -> tuple:
    if isinstance(key, tuple):
        return key
    if isinstance(key, list) and len(key) < 32 and any(
            isinstance(k, Tensor | list | tuple | slice) or k is None or k is Ellipsis
            for k in key):
        return tuple(key)  # torch's (deprecated) reading of a list of indices as a tuple
    return (key,)


def _convert(item):
    """An item of the key in canonical form: int, slice, None, Ellipsis, bool or Tensor."""
    if item is None or item is Ellipsis or isinstance(item, slice):
        return item
    if isinstance(item, bool | np.bool_):
        return bool(item)
    if isinstance(item, int | np.integer):
        return int(item)
    if isinstance(item, list | tuple | np.ndarray):
        from onyx.frontend.creation import tensor
        try:
            item = tensor(item)
        except (TypeError, ValueError, OnyxError):
            raise _index_error(item) from None
    if isinstance(item, Tensor):
        if item.dtype is dtypes.bool_ or item.dtype is dtypes.uint8:
            return bool(item._data) if item.ndim == 0 else cast(item, dtypes.bool_)
        if item.dtype.is_floating_point or item.dtype.is_complex:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return int(item._data) if item.ndim == 0 else item
    if hasattr(item, "__index__"):
        return item.__index__()
    if isinstance(item, str | bytes):
        raise TypeError(f"new(): invalid data type '{type(item).__name__}'")
    raise _index_error(item)


def _consumed(item) -> int:
    if isinstance(item, Tensor):
        return item.ndim if item.dtype is dtypes.bool_ else 1
    return 0 if item is None or item is Ellipsis or isinstance(item, bool) else 1


def _expand_ellipsis(items: list, ndim: int) -> list:
    if sum(1 for i in items if i is Ellipsis) > 1:  # torch reads the later ones as nothing
        first = items.index(Ellipsis)
        items = items[:first + 1] + [i for i in items[first + 1:] if i is not Ellipsis]
    used = sum(_consumed(i) for i in items)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if Ellipsis in items:
        at = next(k for k, i in enumerate(items) if i is Ellipsis)
        return items[:at] + [slice(None)] * (ndim - used) + items[at + 1:]
    return items + [slice(None)] * (ndim - used)


def _slice_item(plan: _Plan, s: slice, axis: int, size: int) -> None:
    def bound(v, default):
        if v is None:
            return default
        if isinstance(v, Tensor):
            v = v.item()
        return int(v)
    step = bound(s.step, 1)
    if step == 0:
        raise ValueError("slice step cannot be zero")
    if step < 0:
        raise ValueError("step must be greater than zero")
    start, stop = bound(s.start, 0), bound(s.stop, _INT64_MAX)
    if not (start == 0 and stop >= size and step == 1):  # a full slice needs no op
        plan.starts.append(start)
        plan.ends.append(stop)
        plan.axes.append(axis)
        plan.steps.append(step)


def make_plan(shape: tuple, key) -> _Plan:
    items = _expand_ellipsis([_convert(i) for i in _as_tuple(key)], len(shape))
    plan = _Plan()
    axis = out = 0  # position in the input / after the basic ops
    for item in items:
        if item is None or isinstance(item, bool):
            plan.unsqueeze.append(out)
            if item is False:  # x[False]: a new axis of length 1, then nothing of it
                plan.advanced.append(([out], int64s(np.zeros((0,), np.int64))))
            out += 1
        elif isinstance(item, int):
            size = shape[axis]
            if not -size <= item < size:
                raise IndexError(f"index {item} is out of bounds for dimension {axis} with "
                                 f"size {size}")
            plan.starts.append(item % size)
            plan.ends.append(item % size + 1)
            plan.axes.append(axis)
            plan.steps.append(1)
            plan.squeeze.append(axis)
            axis += 1
        elif isinstance(item, slice):
            _slice_item(plan, item, axis, shape[axis])
            axis, out = axis + 1, out + 1
        elif item.dtype is dtypes.bool_:
            k = item.ndim
            for j in range(k):
                if item.shape[j] != shape[axis + j]:
                    raise IndexError(f"The shape of the mask {list(item.shape)} at index {j} "
                                     f"does not match the shape of the indexed tensor "
                                     f"{list(shape)} at index {axis + j}")
            plan.masks.append((list(range(out, out + k)), item))
            axis, out = axis + k, out + k
        else:
            _check_bounds(item, shape[axis], axis)
            plan.advanced.append(([out], item))
            axis, out = axis + 1, out + 1
    return plan


def _check_bounds(index: Tensor, size: int, axis: int) -> None:
    data = index._data
    if data.size and (data.min() < -size or data.max() >= size):
        bad = int(data[(data < -size) | (data >= size)].reshape(-1)[0])
        raise IndexError(f"index {bad} is out of bounds for dimension {axis} with size {size}")


def _basic(input: Tensor, plan: _Plan) -> Tensor:
    """The Slice / Squeeze / Unsqueeze part of ``plan``: a view of ``input``."""
    x = input
    if plan.axes:
        x = apply("Slice", x, int64s(plan.starts), int64s(plan.ends), int64s(plan.axes),
                  int64s(plan.steps))
    if plan.squeeze:
        x = apply("Squeeze", x, int64s(plan.squeeze))
    if plan.unsqueeze:
        x = apply("Unsqueeze", x, int64s(plan.unsqueeze))
    if x is input:  # x[:] and x[...] are new views of the whole tensor
        x = apply("Reshape", x, int64s(list(input.shape)))
    return x


def _advanced(y: Tensor, plan: _Plan) -> Tensor:
    """Select with the index tensors and masks of ``plan`` on ``y`` (after the basic ops)."""
    entries = list(plan.advanced)
    for axes, mask in plan.masks:
        coords = apply("NonZero", mask)  # (k, N)
        if len(axes) == 1:
            entries.append((axes, apply("Reshape", coords, int64s([-1]))))
        else:
            rows = apply("Split", coords, int64s([1] * len(axes)), axis=0,
                         num_outputs=len(axes))
            entries.extend(([a], apply("Reshape", r, int64s([-1]))) for a, r in zip(axes, rows))
    entries.sort(key=lambda e: e[0][0])
    if len(entries) == 1:
        (axis,), index = entries[0]
        return apply("Gather", y, index, axis=axis)
    try:
        shape = list(np.broadcast_shapes(*[tuple(t.shape) for _, t in entries]))
    except ValueError:
        shapes = ", ".join(str(list(t.shape)) for _, t in entries)
        raise IndexError(f"shape mismatch: indexing tensors could not be broadcast together "
                         f"with shapes {shapes}") from None
    adv = [a for (a,), _ in entries]
    rest = [d for d in range(y.ndim) if d not in adv]
    if adv != list(range(y.ndim))[:len(adv)]:
        y = apply("Transpose", y, perm=adv + rest)
    columns = [apply("Unsqueeze", apply("Expand", t, int64s(shape)), int64s([-1]))
               for _, t in entries]
    out = apply("GatherND", y, apply("Concat", *columns, axis=-1))
    consecutive = adv == list(range(adv[0], adv[0] + len(adv)))
    if consecutive and adv[0] > 0:
        # the selected dims go where the indexed ones were: after the leading plain dims
        s, lead = len(shape), adv[0]
        perm = list(range(s, s + lead)) + list(range(s)) + list(range(s + lead, out.ndim))
        out = apply("Transpose", out, perm=perm)
    return out


def getitem(self: Tensor, key) -> Tensor:
    plan = make_plan(tuple(self.shape), key)
    y = _basic(self, plan)
    if plan.advanced or plan.masks:
        return _advanced(y, plan)
    return as_view(y, self, lambda t: _basic(t, plan))


def _value_tensor(value, dtype: dtypes.dtype) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, list | tuple | np.ndarray):
        from onyx.frontend.creation import tensor
        return tensor(value, dtype=dtype)
    return operand(value, dtype)


def _fit(value: Tensor, shape: tuple) -> Tensor:
    """``value`` broadcastable to ``shape``: torch drops leading ones a value has too many."""
    while value.ndim > len(shape) and value.shape[0] == 1:
        value = apply("Squeeze", value, int64s([0]))
    try:
        if np.broadcast_shapes(tuple(value.shape), shape) == shape:
            return value
    except ValueError:
        pass
    raise OnyxError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot be "
                    f"broadcast to indexing result of shape {list(shape)}")


def setitem(self: Tensor, key, value) -> None:
    v = _value_tensor(value, self.dtype)
    if isinstance(key, Tensor) and key.dtype is dtypes.bool_ and key.shape == self.shape \
            and v.ndim == 0:
        inplace(self, lambda old: apply("Where", key, cast(v, old.dtype), old), strict=False)
        return
    plan = make_plan(tuple(self.shape), key)
    if not plan.advanced and not plan.masks:
        # a basic key selects a view: copy the value into it
        target = as_view(_basic(self, plan), self, lambda t: _basic(t, plan))
        v = _fit(v, tuple(target.shape))
        inplace(target, lambda old: _filled_like(v, old), strict=False)
        return
    with no_grad():
        positions = getitem(position_grid(self.shape), key)
    v = _fit(v, tuple(positions.shape))
    inplace(self, lambda old: scatter_positions(old, positions, v), strict=False)


def _filled_like(value: Tensor, old: Tensor) -> Tensor:
    value = cast(value, old.dtype)
    if tuple(value.shape) == tuple(old.shape):
        return value
    return apply("Expand", value, int64s(list(old.shape)))


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """``input`` with ``values`` put at ``input[indices]`` (summed in with ``accumulate``)."""
    from onyx.frontend.ops.conversion import clone
    out = clone(input)
    return index_put_(out, indices, values, accumulate)


def index_put_(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    with no_grad():
        positions = getitem(position_grid(self.shape), tuple(indices))
    v = _fit(_value_tensor(values, self.dtype), tuple(positions.shape))
    reduction = "add" if accumulate else "none"
    return inplace(self, lambda old: scatter_positions(old, positions, v, reduction),
                   strict=False)


Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem
Tensor.index_put = index_put
Tensor.index_put_ = index_put_
