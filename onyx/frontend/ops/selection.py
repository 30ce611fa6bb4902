"""Selecting and scattering by index or mask: ``gather``, ``scatter``, ``index_select``,
``masked_fill``, ``masked_select``, ``where``, ``nonzero``, ``take``, ``one_hot``, ...

Index tensors are checked here, before any kernel runs, so a bad index raises torch's
error kind (``IndexError`` for ``index_select``, an ``OnyxError`` for ``gather``).
"""

from __future__ import annotations

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import as_operand, cast, const, int64s, method, operand, wrap_dim
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _index_tensor(index, name: str) -> Tensor:
    if not isinstance(index, Tensor):
        index = Tensor._wrap(np.asarray(index))
    if index.dtype is not dtypes.int64 and index.dtype is not dtypes.int32:
        raise OnyxError(f"{name}(): Expected dtype int64 for index")
    return cast(index, dtypes.int64)


def _check_range(index: Tensor, size: int, dim: int, name: str, error=OnyxError) -> None:
    data = index._data
    if data.size and (data.min() < 0 or data.max() >= size):
        bad = int(data[(data < 0) | (data >= size)].reshape(-1)[0])
        raise error(f"{name}: index {bad} is out of bounds for dimension {dim} with size {size}")


def _check_elementwise(input: Tensor, index: Tensor, d: int, name: str, src=None) -> None:
    if index.ndim != input.ndim and index.numel():
        raise OnyxError(f"{name}(): Index tensor must have the same number of dimensions as "
                        f"self tensor")
    for k in range(index.ndim):
        if k != d and index.shape[k] > input.shape[k]:
            raise OnyxError(f"Size does not match at dimension {k} expected index "
                            f"{list(index.shape)} to be no larger than self "
                            f"{list(input.shape)} apart from dimension {d}")
        if src is not None and index.shape[k] > src.shape[k]:
            raise OnyxError(f"Expected index {list(index.shape)} to be no larger than src "
                            f"{list(src.shape)}")


@method("gather")
def gather(input, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    index = _index_tensor(index, "gather")
    d = wrap_dim(dim, input.ndim)
    _check_elementwise(input, index, d, "gather")
    _check_range(index, input.shape[d] if input.ndim else 1, d, "gather")
    if input.ndim == 0:
        return apply("Reshape", input, int64s(list(index.shape)))
    return apply("GatherElements", input, index, axis=d)


def _corner(src: Tensor, shape) -> Tensor:
    """The leading ``shape`` block of ``src`` (torch reads only that much of a bigger src)."""
    if tuple(src.shape) == tuple(shape):
        return src
    n = len(shape)
    return apply("Slice", src, int64s([0] * n), int64s(list(shape)), int64s(list(range(n))))


def _scatter_updates(input: Tensor, index: Tensor, src) -> Tensor:
    if isinstance(src, Tensor) and src.ndim > 0:
        return _corner(cast(src, input.dtype), index.shape)
    return apply("Expand", operand(as_operand(src), input.dtype), int64s(list(index.shape)))


_REDUCTIONS = {None: "none", "add": "add", "sum": "add", "multiply": "mul", "prod": "mul",
               "amax": "max", "amin": "min"}


@method("scatter")
def scatter(input, dim: int, index, src=None, value=None, *, reduce: str | None = None) -> Tensor:
    """Write ``src`` (or a scalar ``value``) into a copy of ``input`` at ``index`` along dim."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing 1 required argument: 'src' or 'value'")
    index = _index_tensor(index, "scatter")
    d = wrap_dim(dim, input.ndim)
    _check_elementwise(input, index, d, "scatter",
                       src if isinstance(src, Tensor) and src.ndim else None)
    _check_range(index, input.shape[d] if input.ndim else 1, d, "scatter")
    if reduce not in _REDUCTIONS:
        raise OnyxError(f"reduce argument must be either add or multiply, got {reduce}")
    updates = _scatter_updates(input, index, src)
    if input.ndim == 0:
        input, updates = (apply("Reshape", t, int64s([1])) for t in (input, updates))
        index = apply("Reshape", index, int64s([-1]))
        out = apply("ScatterElements", input, index, updates, axis=0,
                    reduction=_REDUCTIONS[reduce])
        return apply("Reshape", out, int64s([]))
    return apply("ScatterElements", input, index, updates, axis=d,
                 reduction=_REDUCTIONS[reduce])


@method("scatter_add")
def scatter_add(input, dim: int, index, src) -> Tensor:
    return scatter(input, dim, index, src, reduce="add")


@method("scatter_reduce")
def scatter_reduce(input, dim: int, index, src, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    if reduce not in ("sum", "prod", "amax", "amin"):
        raise OnyxError(f"scatter_reduce: reduce={reduce!r} is not supported; use sum, prod, "
                        f"amax or amin")
    if not include_self:
        raise OnyxError("scatter_reduce: include_self=False is not supported")
    return scatter(input, dim, index, src, reduce=reduce)


def _vector_index(index, n: int, name: str) -> Tensor:
    index = _index_tensor(index, name)
    if index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    index = apply("Reshape", index, int64s([-1])) if index.ndim == 0 else index
    data = index._data
    if data.size and (data.min() < -n or data.max() >= n or data.min() < 0):
        raise IndexError("index out of range in self")
    return index


@method("index_select")
def index_select(input, dim: int, index) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    index = _vector_index(index, n, "index_select")
    if input.ndim == 0:
        return apply("Reshape", input, int64s([]))
    return apply("Gather", input, index, axis=d)


def _along(index: Tensor, d: int, shape) -> Tensor:
    """A 1-D index along ``d`` expanded over ``shape`` (its length at ``d``)."""
    ones = [1] * len(shape)
    ones[d] = index.shape[0]
    full = list(shape)
    full[d] = index.shape[0]
    return apply("Expand", apply("Reshape", index, int64s(ones)), int64s(full))


@method("index_fill")
def index_fill(input, dim: int, index, value) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    index = _vector_index(index, input.shape[d], "index_fill")
    if isinstance(value, Tensor) and value.ndim:
        raise OnyxError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                        f"tensor with {value.ndim} dimension(s).")
    idx = _along(index, d, input.shape)
    updates = apply("Expand", operand(as_operand(value), input.dtype), int64s(list(idx.shape)))
    return apply("ScatterElements", input, idx, updates, axis=d)


@method("index_add")
def index_add(input, dim: int, index, source, *, alpha=1) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    index = _vector_index(index, input.shape[d], "index_add")
    src = cast(source, input.dtype)
    if alpha != 1:
        src = apply("Mul", src, const(alpha, input.dtype))
    return apply("ScatterElements", input, _along(index, d, src.shape), src, axis=d,
                 reduction="add")


@method("index_copy")
def index_copy(input, dim: int, index, source) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    index = _vector_index(index, input.shape[d], "index_copy")
    src = cast(source, input.dtype)
    return apply("ScatterElements", input, _along(index, d, src.shape), src, axis=d)


@method("take")
def take(input, index) -> Tensor:
    flat = apply("Reshape", input, int64s([-1]))
    index = _index_tensor(index, "take")
    n = flat.shape[0]
    data = index._data
    if data.size and (data.min() < -n or data.max() >= n):
        raise IndexError(f"out of range: tried to access index {int(data.max())} on a tensor "
                         f"of {n} elements.")
    return apply("Gather", flat, index, axis=0)


# ------------------------------------------------------------------ masks
def _check_mask(mask: Tensor, name: str) -> None:
    if mask.dtype is not dtypes.bool_:
        raise OnyxError(f"{name} only supports boolean masks, but got mask with dtype "
                        f"{mask.dtype.name}")


@method("masked_fill")
def masked_fill(input, mask, value) -> Tensor:
    _check_mask(mask, "masked_fill_")
    if isinstance(value, Tensor) and value.ndim:
        raise OnyxError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                        f"tensor with {value.ndim} dimension(s).")
    return apply("Where", mask, operand(as_operand(value), input.dtype), input)


@method("masked_select")
def masked_select(input, mask) -> Tensor:
    _check_mask(mask, "masked_select:")
    shape = list(np.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
    flat = apply("Reshape", apply("Expand", input, int64s(shape)), int64s([-1]))
    where = apply("NonZero", apply("Reshape", apply("Expand", mask, int64s(shape)),
                                   int64s([-1])))
    return apply("Gather", flat, apply("Reshape", where, int64s([-1])), axis=0)


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other``; alone, ``nonzero(as_tuple=True)``."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor) or condition.dtype is not dtypes.bool_:
        got = condition.dtype.name if isinstance(condition, Tensor) else type(condition).__name__
        raise OnyxError(f"where expected condition to be a boolean tensor, but got a tensor "
                        f"with dtype {got}")
    a, b = as_operand(input), as_operand(other)
    dt = dtypes.result_type(a, b)
    return apply("Where", condition, operand(a, dt), operand(b, dt))


def _where_method(self, condition, y) -> Tensor:
    return where(condition, self, y)


Tensor.where = _where_method


@method("nonzero")
def nonzero(input, *, as_tuple: bool = False):
    if input.ndim == 0:
        found = np.zeros((int(bool(input._data)), 0), np.int64)
        if as_tuple:
            return (Tensor._wrap(np.zeros(int(bool(input._data)), np.int64)),)
        return Tensor._wrap(found)
    coords = apply("NonZero", input)
    if as_tuple:
        return tuple(apply("Squeeze", part, int64s([0])) for part in
                     (apply("Split", coords, int64s([1] * input.ndim), axis=0,
                            num_outputs=input.ndim) if input.ndim > 1 else (coords,)))
    return apply("Transpose", coords, perm=[1, 0])


@method("argwhere")
def argwhere(input) -> Tensor:
    return nonzero(input)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """``(..., num_classes)`` int64 rows with a one at each index (``F.one_hot``)."""
    if tensor.dtype is not dtypes.int64:
        raise OnyxError("one_hot is only applicable to index tensor of type LongTensor.")
    data = tensor._data
    if num_classes == -1:
        if data.size == 0:
            raise OnyxError("Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    if data.size and data.min() < 0:
        raise OnyxError("Class values must be non-negative.")
    if data.size and data.max() >= num_classes:
        raise OnyxError("Class values must be smaller than num_classes.")
    return apply("OneHot", tensor, int64s(num_classes), int64s([0, 1]), axis=-1)
