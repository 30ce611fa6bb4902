"""Argument handling shared by the ``nn.functional`` modules: sizes given as an int or a
tuple, loss reductions (with torch's deprecated ``size_average``/``reduce``), constants in an
input's dtype, and the unbatched-input convention (a missing batch dim is added, then removed).
"""

from __future__ import annotations

import numpy as np

from onyx.frontend.dispatch import apply
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError

REDUCTIONS = ("none", "mean", "sum")


def ntuple(value, n: int, name: str) -> list[int]:
    """``value`` (an int or a sequence of ``n`` ints) as a list of ``n`` ints."""
    if isinstance(value, int | np.integer):
        return [int(value)] * n
    out = [int(v) for v in value]
    if len(out) == 1:
        return out * n
    if len(out) != n:
        raise OnyxError(f"{name} must be an int or a tuple of {n} ints, got {tuple(value)}")
    return out


def ints(values) -> Tensor:
    """An int64 constant (shapes, axes, pads)."""
    return Tensor._wrap(np.asarray(values, dtype=np.int64))


def scalar(value, like: Tensor) -> Tensor:
    """A 0-d constant in ``like``'s dtype (so ops never promote float32 to float64)."""
    return Tensor._wrap(np.asarray(value, dtype=like._data.dtype))


def legacy_reduction(size_average, reduce, reduction: str) -> str:
    """torch's pre-1.0 ``size_average``/``reduce`` flags, mapped onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise OnyxError(f"{reduction} is not a valid value for reduction")


def check_reduction(reduction: str, allowed=REDUCTIONS) -> None:
    if reduction not in allowed:
        raise OnyxError(f"{reduction} is not a valid value for reduction")


def batched(input: Tensor, spatial: int, name: str) -> tuple[Tensor, bool]:
    """``input`` with a batch dim (N, C, *spatial); True when one was added."""
    if input.ndim == spatial + 2:
        return input, False
    if input.ndim == spatial + 1:
        return apply("Unsqueeze", input, ints([0])), True
    raise OnyxError(f"{name}: expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) "
                    f"input, but got input of size: {list(input.shape)}")


def unbatched(output: Tensor, added: bool) -> Tensor:
    return apply("Squeeze", output, ints([0])) if added else output

