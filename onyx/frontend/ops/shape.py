"""Views and layout: ``reshape``/``view``, ``permute``, ``squeeze``, ``expand``, ``flip``, ...

Ops that are views in torch (``view``, ``transpose``, ``narrow``, ...) return tensors that
share storage and the version counter with their input (``as_view``), so an in-place change
through either shows in both; ``flip``, ``repeat`` and ``roll`` return new memory.
"""

from __future__ import annotations

import numpy as np

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import (
    _replace_data,
    as_view,
    fresh,
    int64s,
    method,
    shape_args,
    wrap_dim,
    wrap_dims,
)
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def infer_shape(shape: list[int], numel: int) -> list[int]:
    """``shape`` with its one ``-1`` resolved; torch's errors for a shape that cannot fit."""
    if shape.count(-1) > 1:
        raise OnyxError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s < -1:
            raise OnyxError(f"invalid shape dimension {s}")
        if s != -1:
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise OnyxError(f"shape '{shape}' is invalid for input of size {numel}")
        return [numel // known if s == -1 else s for s in shape]
    if known != numel:
        raise OnyxError(f"shape '{shape}' is invalid for input of size {numel}")
    return shape


def _reshape(input: Tensor, shape: list[int]) -> Tensor:
    return apply("Reshape", input, int64s(shape))


@method("reshape")
def reshape(input, *shape) -> Tensor:
    target = infer_shape(shape_args(shape), input.numel())
    return as_view(_reshape(input, target), input, lambda t: _reshape(t, target))


@method("view")
def view(input, *shape) -> Tensor:
    """A view with another shape (or, given a dtype, the same bytes read as that dtype)."""
    if len(shape) == 1 and isinstance(shape[0], dtypes.dtype | str):
        return _view_dtype(input, dtypes.as_dtype(shape[0]))
    target = infer_shape(shape_args(shape), input.numel())
    out = _reshape(input, target)
    if out._data.size and not np.may_share_memory(out._data, input._data):
        raise OnyxError("view size is not compatible with input tensor's size and stride (at "
                        "least one dimension spans across two contiguous subspaces). Use "
                        ".reshape(...) instead.")
    return as_view(out, input, lambda t: _reshape(t, target))


def _view_dtype(input: Tensor, dt: dtypes.dtype) -> Tensor:
    if dt.itemsize != input.dtype.itemsize:
        raise OnyxError(f"view(dtype): {input.dtype} and {dt} differ in size; only dtypes of "
                        f"the same size are supported")
    if input.requires_grad and not dt.is_floating_point:
        raise OnyxError("view(dtype) of a tensor that requires grad needs a floating dtype")
    t = Tensor._wrap(input._data.view(dt.np))
    t._version = input._version
    return t


@method("view_as")
def view_as(input, other) -> Tensor:
    return view(input, *other.shape)


@method("reshape_as")
def reshape_as(input, other) -> Tensor:
    return reshape(input, *other.shape)


def _transpose(input: Tensor, perm: list[int]) -> Tensor:
    return apply("Transpose", input, perm=perm)


def _permuted(input: Tensor, perm: list[int]) -> Tensor:
    if perm == list(range(input.ndim)):
        return as_view(_reshape(input, list(input.shape)), input,
                       lambda t: _reshape(t, list(t.shape)))
    return as_view(_transpose(input, perm), input, lambda t: _transpose(t, perm))


@method("permute")
def permute(input, *dims) -> Tensor:
    dims = shape_args(dims) if dims else []
    if len(dims) != input.ndim:
        raise OnyxError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                        f"not match the length of the desired ordering of dimensions i.e. "
                        f"input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)}")
    return _permuted(input, wrap_dims(dims, input.ndim))


@method("transpose", "swapaxes", "swapdims")
def transpose(input, dim0: int, dim1: int) -> Tensor:
    perm = list(range(input.ndim))
    if input.ndim == 0:
        wrap_dims([dim0], 0), wrap_dims([dim1], 0)
        return _permuted(input, perm)
    a, b = wrap_dim(dim0, input.ndim), wrap_dim(dim1, input.ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return _permuted(input, perm)


@method("t")
def t(input) -> Tensor:
    if input.ndim > 2:
        raise OnyxError(f"t() expects a tensor with <= 2 dimensions, but self is "
                        f"{input.ndim}D")
    return _permuted(input, list(range(input.ndim))[::-1])


@method("movedim", "moveaxis")
def movedim(input, source, destination) -> Tensor:
    src = wrap_dims(source, input.ndim)
    dst = wrap_dims(destination, input.ndim)
    if len(src) != len(dst):
        raise OnyxError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                        f"should contain the same number of dims as destination ({dst} dims)")
    rest = iter(d for d in range(input.ndim) if d not in src)
    placed = dict(zip(dst, src))
    return _permuted(input, [placed[i] if i in placed else next(rest)
                             for i in range(input.ndim)])


Tensor.T = property(lambda self: _permuted(self, list(range(self.ndim))[::-1]))
Tensor.H = Tensor.T


def _matrix_transpose(self) -> Tensor:
    if self.ndim < 2:
        raise OnyxError("tensor.mT is only supported on matrices or batches of matrices. Got "
                        f"{self.ndim}-D tensor.")
    return transpose(self, -2, -1)


Tensor.mT = property(_matrix_transpose)
Tensor.mH = Tensor.mT


@method("flatten")
def flatten(input, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if input.ndim == 0:
        return reshape(input, 1)
    s, e = wrap_dim(start_dim, input.ndim), wrap_dim(end_dim, input.ndim)
    if s > e:
        raise OnyxError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = list(input.shape)
    return reshape(input, shape[:s] + [int(np.prod(shape[s:e + 1]))] + shape[e + 1:])


@method("ravel")
def ravel(input) -> Tensor:
    return reshape(input, -1)


@method("unflatten")
def unflatten(input, dim: int, sizes) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    shape = list(input.shape)
    inner = infer_shape([int(s) for s in sizes], shape[d])
    return reshape(input, shape[:d] + inner + shape[d + 1:])


def _squeeze(input: Tensor, dims: list[int]) -> Tensor:
    return apply("Squeeze", input, int64s(dims))


@method("squeeze")
def squeeze(input, dim=None) -> Tensor:
    if dim is None:
        dims = [i for i, s in enumerate(input.shape) if s == 1]
    else:
        dims = [d for d in wrap_dims(dim, input.ndim) if input.ndim and input.shape[d] == 1]
    if not dims:
        return _permuted(input, list(range(input.ndim)))
    return as_view(_squeeze(input, dims), input, lambda t: _squeeze(t, dims))


def _unsqueeze(input: Tensor, dims: list[int]) -> Tensor:
    return apply("Unsqueeze", input, int64s(dims))


@method("unsqueeze")
def unsqueeze(input, dim: int) -> Tensor:
    d = [wrap_dim(dim, input.ndim + 1)]
    return as_view(_unsqueeze(input, d), input, lambda t: _unsqueeze(t, d))


def _expand_shape(input: Tensor, sizes: list[int]) -> list[int]:
    if len(sizes) < input.ndim:
        raise OnyxError(f"expand(torch.FloatTensor{{{list(input.shape)}}}, size={sizes}): the "
                        f"number of sizes provided ({len(sizes)}) must be greater or equal to "
                        f"the number of dimensions in the tensor ({input.ndim})")
    lead = len(sizes) - input.ndim
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise OnyxError(f"The expanded size of the tensor ({s}) isn't allowed in a "
                                f"leading, non-existing dimension {i}")
            out.append(s)
            continue
        have = input.shape[i - lead]
        if s == -1:
            s = have
        elif have != 1 and s != have:
            raise OnyxError(f"The expanded size of the tensor ({s}) must match the existing "
                            f"size ({have}) at non-singleton dimension {i}.  Target sizes: "
                            f"{sizes}.  Tensor sizes: {list(input.shape)}")
        out.append(s)
    return out


def _expand(input: Tensor, shape: list[int]) -> Tensor:
    out = apply("Expand", input, int64s(shape))
    # torch's expand is a stride-0 view: same storage, read-only through NumPy
    _replace_data(out, np.broadcast_to(input._data, shape))
    return out


@method("expand")
def expand(input, *sizes) -> Tensor:
    shape = _expand_shape(input, shape_args(sizes))
    if shape == list(input.shape):
        return _permuted(input, list(range(input.ndim)))
    return as_view(_expand(input, shape), input, lambda t: _expand(t, shape))


@method("expand_as")
def expand_as(input, other) -> Tensor:
    return expand(input, *other.shape)


def broadcast_to(input, size) -> Tensor:
    return expand(input, *size)


def broadcast_shapes(*shapes) -> tuple:
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) if not isinstance(s, int) else (s,)
                                           for s in shapes]))
    except ValueError as e:
        raise OnyxError(f"shape mismatch: {e}") from None


def broadcast_tensors(*tensors) -> tuple:
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, *shape) for t in tensors)


@method("repeat")
def repeat(input, *sizes) -> Tensor:
    reps = shape_args(sizes)
    if len(reps) < input.ndim:
        raise OnyxError("Number of dimensions of repeat dims can not be smaller than number of "
                        "dimensions of tensor")
    x = input
    if len(reps) > input.ndim:
        x = apply("Reshape", x, int64s([1] * (len(reps) - input.ndim) + list(input.shape)))
    return fresh(apply("Tile", x, int64s(reps)), input)


@method("repeat_interleave")
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    if repeats is None:  # repeat_interleave(repeats): the indices form
        counts = input._data.astype(np.int64)
        return Tensor._wrap(np.repeat(np.arange(len(counts)), counts))
    x = input if dim is not None else reshape(input, -1)
    d = 0 if dim is None else wrap_dim(dim, x.ndim)
    counts = repeats._data if isinstance(repeats, Tensor) else np.asarray(repeats)
    if (counts < 0).any():
        raise OnyxError("repeats can not be negative")
    index = np.repeat(np.arange(x.shape[d]), np.broadcast_to(counts, (x.shape[d],)))
    return apply("Gather", x, int64s(index), axis=d)


def _slice(input: Tensor, dim: int, start: int, stop: int, step: int = 1) -> Tensor:
    return apply("Slice", input, int64s([start]), int64s([stop]), int64s([dim]),
                 int64s([step]))


@method("flip")
def flip(input, *dims) -> Tensor:
    dims = wrap_dims(shape_args(dims) if dims else [], input.ndim)
    if input.ndim == 0 or not dims:
        return fresh(apply("Identity", input), input)
    n = len(dims)
    big = np.iinfo(np.int64)
    out = apply("Slice", input, int64s([-1] * n), int64s([big.min] * n), int64s(dims),
                int64s([-1] * n))
    return fresh(out, input)


@method("fliplr")
def fliplr(input) -> Tensor:
    if input.ndim < 2:
        raise OnyxError("Input must be >= 2-d.")
    return flip(input, 1)


@method("flipud")
def flipud(input) -> Tensor:
    if input.ndim < 1:
        raise OnyxError("Input must be >= 1-d.")
    return flip(input, 0)


@method("roll")
def roll(input, shifts, dims=None) -> Tensor:
    if dims is None:
        flat = reshape(input, -1)
        return reshape(roll(flat, shifts, 0), *input.shape)
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    if len(shifts) != len(dims):
        raise OnyxError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                        f"{len(dims)}")
    out = input
    for s, d in zip(shifts, dims):
        d = wrap_dim(d, input.ndim)
        n = input.shape[d]
        s = s % n if n else 0
        if s:
            out = apply("Concat", _slice(out, d, n - s, n), _slice(out, d, 0, n - s), axis=d)
    return fresh(out, input)


@method("narrow")
def narrow(input, dim: int, start, length: int) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    start = int(start)
    n = input.shape[d]
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise OnyxError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return as_view(_slice(input, d, start, start + length), input,
                   lambda t: _slice(t, d, start, start + length))


def _select(input: Tensor, d: int, index: int) -> Tensor:
    return _squeeze(_slice(input, d, index, index + 1), [d])


@method("select")
def select(input, dim: int, index: int) -> Tensor:
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    index %= n
    return as_view(_select(input, d, index), input, lambda t: _select(t, d, index))


def atleast_1d(*tensors):
    out = [reshape(t, 1) if t.ndim == 0 else t for t in _tensor_list(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    out = [reshape(t, *([1] * (2 - t.ndim) + list(t.shape))) if t.ndim < 2 else t
           for t in _tensor_list(tensors)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    out = []
    for t in _tensor_list(tensors):
        shape = {0: [1, 1, 1], 1: [1, t.numel(), 1], 2: list(t.shape) + [1]}.get(t.ndim)
        out.append(t if shape is None else reshape(t, *shape))
    return out[0] if len(out) == 1 else tuple(out)


def _tensor_list(tensors) -> list:
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        return list(tensors[0])
    return list(tensors)


moveaxis = movedim
swapaxes = swapdims = transpose
