"""``parameters_to_vector`` and ``vector_to_parameters``: all parameters as one flat tensor."""

from __future__ import annotations

from collections.abc import Iterable

from onyx.frontend.autograd.grad_mode import no_grad
from onyx.frontend.ops.join import cat
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated, in iteration order (differentiable)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise OnyxError(f"expected a 1-D vector, got shape {list(vec.shape)}")
    parameters = list(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.numel() != needed:
        raise OnyxError(f"the vector has {vec.numel()} elements, the parameters {needed}")
    offset = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[offset:offset + n].reshape(p.shape))
            offset += n
