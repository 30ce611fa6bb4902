"""Joining and splitting: ``cat``, ``stack``, ``hstack``, ``split``, ``chunk``, ``unbind``, ...

The pieces of a split are views of the input (``Split`` and ``Slice`` hand back views of
the same storage), as in torch.
"""

from __future__ import annotations

from onyx.frontend import dtypes
from onyx.frontend.dispatch import apply
from onyx.frontend.ops._common import as_view, cast, fresh, int64s, method, wrap_dim
from onyx.frontend.ops.shape import _slice, _squeeze, atleast_1d, atleast_2d, atleast_3d, reshape
from onyx.frontend.ops.shape import expand as _expand
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _tensors(tensors, name: str) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {tensors.index(t)} in argument 0, but "
                            f"got {type(t).__name__}")
    if not tensors:
        raise ValueError(f"{name}(): expected a non-empty list of Tensors")
    return tensors


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing ``dim``; dtypes promote as in arithmetic."""
    tensors = _tensors(tensors, "torch.cat")
    dt = dtypes.result_type(*tensors) if len(tensors) > 1 else tensors[0].dtype
    # torch skips 1-D empty tensors: torch.cat([torch.tensor([]), x]) is x
    kept = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)]
    if not kept:
        return cast(fresh(apply("Identity", tensors[0]), tensors[0]), dt)
    ref = kept[0]
    for i, t in enumerate(kept):
        if t.ndim == 0:
            raise OnyxError(f"zero-dimensional tensor (at position {i}) cannot be "
                            f"concatenated")
        if t.ndim != ref.ndim:
            raise OnyxError(f"Tensors must have same number of dimensions: got {ref.ndim} and "
                            f"{t.ndim}")
    d = wrap_dim(dim, ref.ndim)
    for t in kept:
        for k in range(ref.ndim):
            if k != d and t.shape[k] != ref.shape[k]:
                raise OnyxError(f"Sizes of tensors must match except in dimension {d}. "
                                f"Expected size {ref.shape[k]} but got size {t.shape[k]} for "
                                f"tensor number {tensors.index(t)} in the list.")
    out = apply("Concat", *[cast(t, dt) for t in kept], axis=d)
    return fresh(out, *kept)


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = _tensors(tensors, "stack")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise OnyxError(f"stack expects each tensor to be equal size, but got "
                            f"{list(tensors[0].shape)} at entry 0 and {list(t.shape)} at "
                            f"entry {i}")
    d = wrap_dim(dim, tensors[0].ndim + 1)
    return cat([apply("Unsqueeze", t, int64s([d])) for t in tensors], d)


def hstack(tensors) -> Tensor:
    tensors = [atleast_1d(t) for t in _tensors(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    return cat([atleast_2d(t) for t in _tensors(tensors, "vstack")], 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    return cat([atleast_3d(t) for t in _tensors(tensors, "dstack")], 2)


def column_stack(tensors) -> Tensor:
    cols = [reshape(t, t.numel(), 1) if t.ndim <= 1 else t
            for t in _tensors(tensors, "column_stack")]
    return cat(cols, 1)


# ------------------------------------------------------------------ splitting
def _pieces(input: Tensor, d: int, sizes: list[int]) -> tuple:
    """Views of consecutive pieces of ``sizes`` along ``d``, from one ``Split`` node."""
    if len(sizes) == 1:
        n = sizes[0]
        return (as_view(_slice(input, d, 0, n), input, lambda t: _slice(t, d, 0, n)),)
    parts = apply("Split", input, int64s(sizes), axis=d, num_outputs=len(sizes))
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return tuple(as_view(p, input, _slicer(d, s, s + n))
                 for p, s, n in zip(parts, starts, sizes))


def _slicer(d: int, start: int, stop: int):
    return lambda t: _slice(t, d, start, stop)


@method("split")
def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    d = wrap_dim(dim, tensor.ndim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n):
            raise OnyxError(f"split_size can only be 0 if dimension size is 0, but got "
                            f"dimension size of {n}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
        return _pieces(tensor, d, sizes or [0])
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise OnyxError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                        f"tensor's size at dimension {d}), but got split_sizes={sizes}")
    return _pieces(tensor, d, sizes)


@method("split_with_sizes")
def split_with_sizes(input, split_sizes, dim: int = 0) -> tuple:
    return split(input, list(split_sizes), dim)


@method("chunk")
def chunk(input, chunks: int, dim: int = 0) -> tuple:
    if chunks <= 0:
        raise OnyxError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    size = -(-n // chunks)
    if size == 0:
        return split(input, [0] * chunks, d)
    return split(input, size, d)


@method("tensor_split")
def tensor_split(input, indices_or_sections, dim: int = 0) -> tuple:
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        spec = spec.item() if spec.ndim == 0 else spec.tolist()
    if isinstance(spec, int):
        if spec <= 0:
            raise OnyxError(f"number of sections must be larger than 0, got {spec}")
        big, small = n % spec, n // spec
        sizes = [small + 1] * big + [small] * (spec - big)
        bounds = [sum(sizes[:i]) for i in range(spec + 1)]
    else:
        bounds = [0] + [min(max(int(i) if i >= 0 else int(i) + n, 0), n) for i in spec] + [n]
    out = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        stop = max(start, stop)
        out.append(as_view(_slice(input, d, start, stop), input, _slicer(d, start, stop)))
    return tuple(out)


@method("unbind")
def unbind(input, dim: int = 0) -> tuple:
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    if n == 0:
        return ()
    if n == 1:
        parts = (_slice(input, d, 0, 1),)
    else:
        parts = apply("Split", input, int64s([1] * n), axis=d, num_outputs=n)
    return tuple(as_view(_squeeze(p, [d]), input, _selector(d, i)) for i, p in enumerate(parts))


def _selector(d: int, i: int):
    return lambda t: _squeeze(_slice(t, d, i, i + 1), [d])


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise OnyxError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                        f"received: {indexing}")
    flat = [reshape(t, -1) for t in tensors]
    shape = [t.shape[0] for t in flat]
    swap = indexing == "xy" and len(flat) >= 2
    if swap:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(flat):
        axis = {0: 1, 1: 0}.get(i, i) if swap else i
        ones = [1] * len(flat)
        ones[axis] = t.shape[0]
        out.append(_expand(reshape(t, *ones), *shape))
    return tuple(out)
