"""Sequence and optional kernels.

A sequence is a Python ``list`` of arrays and an empty optional is ``None``. Kernels never
mutate an input list: a node's input may be read by other nodes after it.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.backends.numpy.values import describe_value
from onyx.ir import limits
from onyx.ir.errors import InputError, ShapeError

# A split into n parts holds n array headers even when the tensor has no elements (a [10**9, 0]
# input); budget each part like a small tensor so the count is bounded.
_PART_OVERHEAD_BITS = 8 * 128


def _sequence(value, op: str) -> list:
    if not isinstance(value, list):
        raise InputError(f"{op} expects a sequence, got {describe_value(value)}")
    return value


def _position(position, low: int, high: int, op: str) -> int:
    """A scalar position checked against ``[low, high]``, made non-negative."""
    arr = np.asarray(position)
    if arr.size != 1 or arr.dtype.kind not in "iu":
        raise ShapeError(f"{op} position must be an integer scalar, got {describe_value(arr)}")
    p = int(arr.reshape(-1)[0])
    if not low <= p <= high:
        raise ShapeError(f"{op} position {p} is out of range [{low}, {high}]")
    return p if p >= 0 else p - low


def _check_same_dtype(seq: list, tensor: np.ndarray, op: str) -> None:
    if seq and seq[0].dtype != tensor.dtype:
        raise ShapeError(f"{op}: tensor {describe_value(tensor)} does not match the sequence's "
                         f"element type {describe_value(seq[0])}")


@kernel("SequenceEmpty", since=11)
def sequence_empty(*, dtype: int = 1) -> list:
    return []


@kernel("SequenceConstruct", since=11)
def sequence_construct(*inputs) -> list:
    for x in inputs[1:]:
        _check_same_dtype(list(inputs[:1]), x, "SequenceConstruct")
    return list(inputs)


@kernel("SequenceLength", since=11)
def sequence_length(input_sequence) -> np.ndarray:
    return np.array(len(_sequence(input_sequence, "SequenceLength")), np.int64)


@kernel("SequenceAt", since=11)
def sequence_at(input_sequence, position) -> np.ndarray:
    seq = _sequence(input_sequence, "SequenceAt")
    n = len(seq)
    return seq[_position(position, -n, n - 1, "SequenceAt")]


@kernel("SequenceInsert", since=11)
def sequence_insert(input_sequence, tensor, position=None) -> list:
    seq = list(_sequence(input_sequence, "SequenceInsert"))
    _check_same_dtype(seq, tensor, "SequenceInsert")
    n = len(seq)
    p = n if position is None else _position(position, -n, n, "SequenceInsert")
    seq.insert(p, tensor)
    return seq


@kernel("SequenceErase", since=11)
def sequence_erase(input_sequence, position=None) -> list:
    seq = list(_sequence(input_sequence, "SequenceErase"))
    n = len(seq)
    if n == 0:
        raise ShapeError("SequenceErase on an empty sequence")
    p = n - 1 if position is None else _position(position, -n, n - 1, "SequenceErase")
    del seq[p]
    return seq


@kernel("ConcatFromSequence", since=11)
def concat_from_sequence(input_sequence, *, axis: int, new_axis: int = 0) -> np.ndarray:
    seq = _sequence(input_sequence, "ConcatFromSequence")
    if not seq:
        raise ShapeError("ConcatFromSequence of an empty sequence has no element type or shape")
    rank = seq[0].ndim + (1 if new_axis else 0)
    if not -rank <= axis < rank or rank == 0:
        raise ShapeError(f"ConcatFromSequence axis {axis} is out of range for elements "
                         f"{describe_value(seq[0])} (new_axis={new_axis})")
    try:
        return np.stack(seq, axis=axis) if new_axis else np.concatenate(seq, axis=axis)
    except ValueError as exc:
        shapes = ", ".join(describe_value(x) for x in seq)
        raise ShapeError(f"ConcatFromSequence cannot join ({shapes}) on axis {axis}") from exc


@kernel("SplitToSequence", since=11)
def split_to_sequence(input, split=None, *, axis: int = 0, keepdims: int = 1) -> list:
    if not -input.ndim <= axis < input.ndim:
        raise ShapeError(f"SplitToSequence axis {axis} is out of range for "
                         f"{describe_value(input)}")
    axis %= input.ndim
    dim = input.shape[axis]
    if split is None:
        limits.check_elements([dim], _PART_OVERHEAD_BITS, "SplitToSequence parts")
        parts = np.split(input, dim, axis=axis) if dim else []
        return [np.squeeze(p, axis) for p in parts] if not keepdims else parts
    split = np.asarray(split)
    if split.ndim == 0:
        size = int(split)
        if size <= 0:
            raise ShapeError(f"SplitToSequence split size {size} must be positive")
        limits.check_elements([-(-dim // size)], _PART_OVERHEAD_BITS, "SplitToSequence parts")
        bounds = list(range(size, dim, size))
    elif split.ndim == 1:
        lengths = [int(s) for s in split]
        if any(s < 0 for s in lengths) or sum(lengths) != dim:
            raise ShapeError(f"SplitToSequence lengths {lengths} must be non-negative and sum "
                             f"to {dim}, the size of axis {axis} of {describe_value(input)}")
        if not lengths:
            return []
        bounds = np.cumsum(lengths)[:-1].tolist()
    else:
        raise ShapeError(f"SplitToSequence split must be a scalar or 1-D, got "
                         f"{describe_value(split)}")
    return np.split(input, bounds, axis=axis)


# ----------------------------------------------------------------------------- Optional
@kernel("Optional", since=15)
def optional(input=None, *, type=None):
    return input


@kernel("OptionalHasElement", since=15)
def optional_has_element(input=None) -> np.ndarray:
    return np.array(input is not None)


@kernel("OptionalGetElement", since=15)
def optional_get_element(input=None):
    if input is None:
        raise InputError("OptionalGetElement on an empty optional")
    return input
