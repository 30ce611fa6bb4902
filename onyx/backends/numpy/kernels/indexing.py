"""Indexing kernels: Gather, GatherElements, GatherND, Scatter, ScatterElements, ScatterND,
TensorScatter, NonZero, Compress, ReverseSequence, and the index-producing reductions and
scans ArgMax, ArgMin, TopK, Unique, CumSum, CumProd.

Indices wrap when negative (``-1`` is the last element); an index outside ``[-dim, dim)``
raises ``ShapeError`` naming the index and the data shape instead of reading or writing out
of bounds. Scatter kernels copy ``data`` once and write the updates into the copy.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.backends.numpy.kernels.shape_ops import int_list, int_scalar, normalize_axis, wide_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError


def wrap_indices(indices, dims, where: str, shape) -> np.ndarray:
    """``indices`` (int64) with negatives wrapped by ``dims`` (broadcast); range-checked.

    ``where`` names what is indexed ("axis 1") in the error.
    """
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise ShapeError(f"indices must be integers, got {idx.dtype}")
    idx = idx.astype(np.int64, copy=False)
    dims = np.asarray(dims, dtype=np.int64)
    bad = (idx < -dims) | (idx >= dims)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ShapeError(f"index {int(idx[pos])} at position {list(pos)} is out of range for "
                         f"{where} of data shape {list(shape)}")
    return np.where(idx < 0, idx + dims, idx)


# ------------------------------------------------------------------ Gather family
@kernel("Gather")
def gather(data, indices, *, axis=0):
    axis = normalize_axis(axis, data.ndim, "axis")
    idx = wrap_indices(indices, data.shape[axis], f"axis {axis}", data.shape)
    return np.asarray(np.take(data, idx, axis=axis))  # take gives a NumPy scalar for 0-d


@kernel("GatherElements", since=11)
def gather_elements(data, indices, *, axis=0):
    axis = normalize_axis(axis, data.ndim, "axis")
    _check_elementwise_indices(data, indices, axis)
    idx = wrap_indices(indices, data.shape[axis], f"axis {axis}", data.shape)
    # Indices may be shorter than data on the other axes: read only that corner of data.
    corner = tuple(slice(None) if i == axis else slice(0, n) for i, n in enumerate(idx.shape))
    return np.take_along_axis(data[corner], idx, axis=axis)


def _check_elementwise_indices(data, indices, axis: int, updates=None) -> None:
    if indices.ndim != data.ndim or any(
            i != axis and n > d for i, (n, d) in enumerate(zip(indices.shape, data.shape))):
        raise ShapeError(f"indices {list(indices.shape)} do not fit data "
                         f"{list(data.shape)} on axis {axis}")
    if updates is not None and updates.shape != indices.shape:
        raise ShapeError(f"updates {list(updates.shape)} and indices "
                         f"{list(indices.shape)} differ in shape")


@kernel("GatherND", since=11)
def gather_nd(data, indices, *, batch_dims=0):
    bd, k = batch_dims, indices.shape[-1] if indices.ndim else -1
    if indices.ndim < 1 or not 0 <= bd < min(data.ndim, indices.ndim) or \
            k > data.ndim - bd or data.shape[:bd] != indices.shape[:bd]:
        raise ShapeError(f"indices {list(indices.shape)} (batch_dims {bd}) do not "
                         f"fit data {list(data.shape)}")
    idx = wrap_indices(indices, data.shape[bd:bd + k], "the indexed axes", data.shape)
    b = math.prod(data.shape[:bd])
    m = math.prod(indices.shape[bd:-1])
    rest = data.shape[bd + k:]
    flat = data.reshape((b,) + data.shape[bd:])
    if k == 0:
        out = np.broadcast_to(flat[:, None], (b, m) + rest)
    else:
        idx = idx.reshape(b, m, k)
        out = flat[(np.arange(b)[:, None],) + tuple(idx[..., j] for j in range(k))]
    return out.reshape(indices.shape[:-1] + rest)


# ------------------------------------------------------------------ Scatter family
_REDUCE = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _scatter_into(out, index: tuple, updates, reduction: str):
    if reduction == "none":
        out[index] = updates
        return out
    if reduction not in _REDUCE:
        raise ShapeError(f"unknown reduction {reduction!r} (none, add, mul, max, min)")
    # ufunc.at applies every update, duplicates included (plain assignment keeps one).
    _REDUCE[reduction].at(out, index, updates)
    return out


def _scatter_elements(data, indices, updates, axis: int, reduction: str):
    axis = normalize_axis(axis, data.ndim, "axis")
    _check_elementwise_indices(data, indices, axis, updates)
    idx = wrap_indices(indices, data.shape[axis], f"axis {axis}", data.shape)
    index = list(np.indices(idx.shape, sparse=True))
    index[axis] = idx
    return _scatter_into(data.copy(), tuple(index), updates, reduction)


@kernel("Scatter", since=9)  # deprecated at opset 11 in favour of ScatterElements
def scatter(data, indices, updates, *, axis=0):
    return _scatter_elements(data, indices, updates, axis, "none")


@kernel("ScatterElements", since=11)
def scatter_elements(data, indices, updates, *, axis=0, reduction="none"):
    return _scatter_elements(data, indices, updates, axis, reduction)


@kernel("ScatterND", since=11)
def scatter_nd(data, indices, updates, *, reduction="none"):
    k = indices.shape[-1] if indices.ndim else -1
    want = indices.shape[:-1] + data.shape[k:]
    if indices.ndim < 1 or not 1 <= k <= data.ndim or updates.shape != want:
        raise ShapeError(f"indices {list(indices.shape)} and updates "
                         f"{list(updates.shape)} do not fit data {list(data.shape)} (updates "
                         f"must be {list(want)})")
    idx = wrap_indices(indices, data.shape[:k], "the indexed axes", data.shape)
    index = tuple(idx[..., j] for j in range(k))
    return _scatter_into(data.copy(), index, updates, reduction)


@kernel("TensorScatter", since=24)
def tensor_scatter(past_cache, update, write_indices=None, *, axis=-2, mode="linear"):
    axis = normalize_axis(axis, past_cache.ndim, "axis")
    if axis == 0 or update.ndim != past_cache.ndim or any(
            u != p for i, (u, p) in enumerate(zip(update.shape, past_cache.shape)) if i != axis):
        raise ShapeError(f"update {list(update.shape)} does not fit cache "
                         f"{list(past_cache.shape)} on sequence axis {axis} (axis 0 is batch)")
    batch, cap, seq = past_cache.shape[0], past_cache.shape[axis], update.shape[axis]
    starts = np.zeros(batch, np.int64) if write_indices is None else \
        np.asarray(write_indices, dtype=np.int64).reshape(-1)
    if starts.shape != (batch,) or (starts < 0).any():
        raise ShapeError(f"write_indices {starts.tolist()} must be {batch} "
                         f"non-negative values")
    pos = starts[:, None] + np.arange(seq)
    if mode == "circular":
        pos = pos % cap if cap else pos
    elif mode != "linear":
        raise ShapeError(f"unknown mode {mode!r} (linear or circular)")
    if seq and (pos >= cap).any():
        raise ShapeError(f"writing {seq} steps at {starts.tolist()} overruns "
                         f"the cache length {cap} (shape {list(past_cache.shape)})")
    out = past_cache.copy()
    # Views with the sequence axis next to batch; writing through the view fills ``out``.
    np.moveaxis(out, axis, 1)[np.arange(batch)[:, None], pos] = np.moveaxis(update, axis, 1)
    return out


# ------------------------------------------------------------------ selection
@kernel("NonZero", since=9)
def non_zero(x):
    x = np.asarray(x)
    flat = x.reshape(1) if x.ndim == 0 else x
    found = np.nonzero(flat.astype(bool) if flat.dtype.kind == "V" else flat)
    return np.array(found, dtype=np.int64).reshape(len(found), -1)


@kernel("Compress", since=9)
def compress(x, condition, *, axis=None):
    cond = np.asarray(condition).reshape(-1).astype(bool)
    length = x.size if axis is None else x.shape[normalize_axis(axis, x.ndim, "axis")]
    if len(cond) > length:
        # A longer condition is fine only while its extra entries are all false (as NumPy).
        if cond[length:].any():
            raise ShapeError(f"condition of length {len(cond)} selects beyond "
                             f"{'the flattened input' if axis is None else f'axis {axis}'} "
                             f"of shape {list(x.shape)}")
        cond = cond[:length]
    return np.compress(cond, x, axis=axis)


@kernel("ReverseSequence", since=10)
def reverse_sequence(x, sequence_lens, *, batch_axis=1, time_axis=0):
    if x.ndim < 2 or {batch_axis, time_axis} != {0, 1}:
        raise ShapeError(f"batch_axis {batch_axis} and time_axis {time_axis} "
                         f"must be 0 and 1 of an input of rank >= 2, got {list(x.shape)}")
    lens = np.asarray(int_list(sequence_lens, "sequence_lens"), np.int64)
    steps, batch = x.shape[time_axis], x.shape[batch_axis]
    if lens.shape != (batch,) or (lens < 0).any() or (lens > steps).any():
        raise ShapeError(f"sequence_lens {lens.tolist()} must be {batch} "
                         f"values in 0..{steps} for input shape {list(x.shape)}")
    t = np.arange(steps)
    src = np.where(t < lens[:, None], lens[:, None] - 1 - t, t)  # (batch, time)
    if time_axis == 0:
        src = src.T
    src = src.reshape(src.shape + (1,) * (x.ndim - 2))
    return np.take_along_axis(x, np.broadcast_to(src, x.shape), axis=time_axis)


# ------------------------------------------------------------------ ArgMax, ArgMin, TopK
def _arg_extreme(data, axis: int, keepdims: int, last: int, pick):
    axis = normalize_axis(axis, data.ndim, "axis")
    n = data.shape[axis]
    if n == 0:
        raise ShapeError(f"axis {axis} of shape {list(data.shape)} is empty")
    if last:  # the last of equal values: search the reversed axis, then map back
        out = n - 1 - pick(np.flip(data, axis), axis=axis)
    else:
        out = pick(data, axis=axis)
    out = np.asarray(out, dtype=np.int64)
    return np.expand_dims(out, axis) if keepdims else out


@kernel("ArgMax")
def arg_max(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_extreme(data, axis, keepdims, select_last_index, np.argmax)


@kernel("ArgMin")
def arg_min(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg_extreme(data, axis, keepdims, select_last_index, np.argmin)


def _top_k(x, k: int, axis: int, largest: int) -> tuple:
    axis = normalize_axis(axis, x.ndim, "axis")
    n = x.shape[axis]
    if not 0 <= k <= n:
        raise ShapeError(f"k={k} is out of range for axis {axis} of shape "
                         f"{list(x.shape)}")
    if largest:
        # Descending with ties in ascending index order: stable-sort the reversed axis, read
        # the result backwards and map positions back (negation would break unsigned ints).
        order = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
        order = n - 1 - np.flip(order, axis)
    else:
        order = np.argsort(x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis).astype(np.int64)
    return np.take_along_axis(x, idx, axis=axis), idx


@kernel("TopK", since=10)
def top_k(x, k, *, axis=-1, largest=1, sorted=1):
    # sorted=0 leaves the order unspecified, so the sorted order serves both.
    return _top_k(x, int_scalar(k, "K"), axis, largest)


@kernel("TopK", since=1, until=9)
def top_k_v1(x, *, k, axis=-1):
    return _top_k(x, k, axis, 1)


# ------------------------------------------------------------------ Unique
def _unique_rows(rows: np.ndarray, keep_sorted: bool) -> tuple:
    """Group equal rows of a 2-D array: first index, inverse map and count of each group."""
    n = rows.shape[0]
    if rows.shape[1] == 0:
        order = np.arange(n)
    else:  # lexsort's last key is the primary one: column 0 must be
        order = np.lexsort(rows.T[::-1])
    srt = rows[order]
    starts = np.ones(n, dtype=bool)
    differ = srt[1:] != srt[:-1]
    if srt.dtype.kind == "c" or wide_dtype(srt.dtype).kind == "f":
        # NaNs sort last and count as one value, as numpy.unique (which the spec cites) does.
        differ &= ~(np.isnan(srt[1:]) & np.isnan(srt[:-1]))
    starts[1:] = np.any(differ, axis=1)
    group = np.cumsum(starts) - 1
    first = order[starts]  # lexsort is stable: the first row of a group came first
    counts = np.diff(np.append(np.flatnonzero(starts), n))
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    if not keep_sorted:  # order groups by first occurrence instead of by value
        by_first = np.argsort(first, kind="stable")
        rank = np.empty_like(by_first)
        rank[by_first] = np.arange(len(by_first))
        first, counts, inverse = first[by_first], counts[by_first], rank[inverse]
    return first.astype(np.int64), inverse.astype(np.int64), counts.astype(np.int64)


@kernel("Unique", since=11)
def unique(x, *, axis=None, sorted=1):
    if axis is None:
        data, rows = x.reshape(-1), x.reshape(-1, 1)
        ax = 0
    else:
        ax = normalize_axis(axis, x.ndim, "axis")
        data = x
        rows = np.moveaxis(x, ax, 0).reshape(x.shape[ax], -1)
    if rows.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return data, empty, empty, empty
    first, inverse, counts = _unique_rows(rows, bool(sorted))
    return np.take(data, first, axis=ax), first, inverse, counts


# ------------------------------------------------------------------ CumSum, CumProd
def _cumulative(x, axis, exclusive: int, reverse: int, ufunc):
    if x.ndim == 0:
        raise ShapeError("needs an input of rank >= 1, got a scalar")
    a = normalize_axis(int_scalar(axis, "axis"), x.ndim, "axis")
    work = wide_dtype(x.dtype)
    y = np.flip(x, a) if reverse else x
    out = ufunc.accumulate(y.astype(work, copy=False), axis=a, dtype=work)
    if exclusive and x.shape[a]:
        # Shift by one along the axis, starting from the identity (0 for sum, 1 for product).
        head = np.full_like(np.take(out, [0], axis=a), ufunc.identity)
        out = np.concatenate([head, np.take(out, np.arange(x.shape[a] - 1), axis=a)], axis=a)
    if reverse:
        out = np.flip(out, a)
    return np.ascontiguousarray(out).astype(x.dtype, copy=False)


@kernel("CumSum", since=11)
def cum_sum(x, axis, *, exclusive=0, reverse=0):
    return _cumulative(x, axis, exclusive, reverse, np.add)


@kernel("CumProd", since=26)
def cum_prod(x, axis, *, exclusive=0, reverse=0):
    return _cumulative(x, axis, exclusive, reverse, np.multiply)
