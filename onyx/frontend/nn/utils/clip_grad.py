"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``,
``clip_grads_with_norm_``. Gradients are rescaled in place, outside autograd."""

from __future__ import annotations

import math
from collections.abc import Iterable

from onyx.frontend.autograd.grad_mode import no_grad
from onyx.frontend.ops.join import stack
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors: Iterable[Tensor] | Tensor, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` taken together (as one long vector)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        from onyx.frontend.creation import tensor
        return tensor(0.0)
    with no_grad():
        if norm_type == math.inf:
            total = stack([t.detach().abs().max() for t in tensors]).max()
        else:
            norms = [t.detach().norm(norm_type) for t in tensors]
            total = stack(norms).norm(norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise OnyxError(f"The total norm of order {norm_type} for gradients from `parameters` "
                        f"is non-finite, so it cannot be clipped. To disable this error and "
                        f"scale the gradients by the non-finite norm anyway, set "
                        f"`error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor,
                          foreach=None) -> None:
    """Scale every gradient by ``min(1, max_norm / (total_norm + 1e-6))``."""
    grads = _grads(parameters)
    if not grads:
        return
    with no_grad():
        coef = (max_norm / (total_norm + 1e-6)).clamp_max(1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Rescale gradients so their joint norm is at most ``max_norm``; returns the norm before.

        >>> loss.backward()                                            # doctest: +SKIP
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
