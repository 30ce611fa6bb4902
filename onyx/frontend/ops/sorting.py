"""Ordering: ``topk``, ``sort``, ``argsort``, ``unique`` (ONNX ``TopK`` and ``Unique``).

Sorting is ``TopK`` with ``k`` the whole axis; ties keep their original order (``TopK``
breaks ties by the lower index), so ``stable=True`` needs nothing extra. NaN sorts as the
largest value, as in torch.
"""

from __future__ import annotations

from onyx.frontend.dispatch import apply
from onyx.frontend.ops import return_types
from onyx.frontend.ops._common import copy_of, int64s, method, wrap_dim
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


@method("topk")
def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise OnyxError(f"selected index k out of range (k={k}, size {n} at dim {d})")
    if input.ndim == 0:
        return return_types.topk(copy_of(input), int64s(0))
    values, indices = apply("TopK", input, int64s([k]), num_outputs=2, axis=d,
                            largest=int(largest), sorted=1)
    return return_types.topk(values, indices)


@method("sort")
def sort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    d = wrap_dim(dim, input.ndim)
    if input.ndim == 0:
        return return_types.sort(copy_of(input), int64s(0))
    values, indices = apply("TopK", input, int64s([input.shape[d]]), num_outputs=2, axis=d,
                            largest=int(descending), sorted=1)
    return return_types.sort(values, indices)


@method("argsort")
def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(input, dim, descending, stable).indices


@method("msort")
def msort(input) -> Tensor:
    return sort(input, 0).values


@method("unique")
def unique(input, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None):
    """The distinct values (sorted), with the inverse map and counts when asked."""
    attrs = {"sorted": 1}
    if dim is not None:
        attrs["axis"] = wrap_dim(dim, input.ndim)
    values, _, inverse, counts = apply("Unique", input, num_outputs=4, **attrs)
    if dim is None and return_inverse:
        inverse = apply("Reshape", inverse, int64s(list(input.shape)))
    out = [values] + ([inverse] if return_inverse else []) + ([counts] if return_counts else [])
    return out[0] if len(out) == 1 else tuple(out)
