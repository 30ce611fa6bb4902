"""Margin, ranking, embedding and likelihood losses: ``soft_margin_loss``,
``margin_ranking_loss``, ``hinge_embedding_loss``, ``cosine_embedding_loss``,
``triplet_margin_loss``, ``multilabel_soft_margin_loss``, ``multi_margin_loss``,
``poisson_nll_loss`` and ``gaussian_nll_loss``, with torch's formulas and defaults."""

from __future__ import annotations

import math

import numpy as np

from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import legacy_reduction, reduce_loss, scalar
from onyx.frontend.nn.functional.distance import pairwise_distance
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _relu(x: Tensor) -> Tensor:
    return apply("Relu", x)


def _equals(t: Tensor, value: float) -> Tensor:
    return apply("Equal", t, scalar(value, t))


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """``log(1 + exp(-y * x))``, as a Softplus so large margins stay finite."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return reduce_loss(apply("Softplus", apply("Neg", target * input)), reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
    return reduce_loss(_relu(apply("Neg", target) * (input1 - input2) + margin), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``x`` where the target is 1, ``max(0, margin - x)`` where it is -1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    zero = scalar(0.0, input)
    hinge = apply("Where", apply("Not", _equals(target, 1)), _relu(margin - input), zero)
    direct = apply("Where", apply("Not", _equals(target, -1)), input, zero)
    return reduce_loss(hinge + direct, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos`` for similar pairs (target 1), ``max(0, cos - margin)`` for dissimilar."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    dim = input1.ndim - 1
    eps = 1e-12  # torch's: keeps the cosine finite for zero vectors
    dot = (input1 * input2).sum(dim)
    norms = ((input1 * input1).sum(dim) + eps) * ((input2 * input2).sum(dim) + eps)
    cos = dot / apply("Sqrt", norms)
    zero = scalar(0.0, cos)
    loss = apply("Where", _equals(target, 1), 1.0 - cos, zero) + \
        apply("Where", _equals(target, -1), _relu(cos - margin), zero)
    return reduce_loss(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = apply("Min", d_neg, pairwise_distance(positive, negative, p, eps))
    return reduce_loss(_relu(d_pos - d_neg + margin), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Per-class logistic loss, averaged over classes (dim -1)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    log_sig = apply("Neg", apply("Softplus", apply("Neg", input)))
    log_sig_neg = apply("Neg", apply("Softplus", input))
    loss = apply("Neg", target * log_sig + (1.0 - target) * log_sig_neg)
    if weight is not None:
        loss = loss * weight
    loss = loss.mean(input.ndim - 1)
    return reduce_loss(loss, reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge: ``sum_(i != y) max(0, margin - x[y] + x[i])^p / C``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise OnyxError("only p == 1 and p == 2 supported")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = target.reshape(-1, 1)
    c = x.shape[1]
    picked = apply("GatherElements", x, t, axis=1)
    hinge = _relu(x - picked + margin)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * apply("Gather", weight, t, axis=0)
    classes = Tensor._wrap(np.arange(c, dtype=t._data.dtype)[None, :])
    not_target = apply("Not", apply("Equal", classes, t))
    loss = apply("Where", not_target, hinge, scalar(0.0, hinge)).sum(1) / c
    if input.ndim != 2:
        loss = loss.reshape(target.shape)
    return reduce_loss(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True,
                     full: bool = False, size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = apply("Exp", input) - target * input
    else:
        loss = input - target * apply("Log", input + eps)
    if full:
        # Stirling's approximation of log(target!), where target > 1
        safe = apply("Where", apply("Greater", target, scalar(1.0, target)), target,
                     scalar(1.0, target))
        stirling = safe * apply("Log", safe) - safe + 0.5 * apply("Log", safe * (2 * math.pi))
        loss = loss + apply("Where", apply("Greater", target, scalar(1.0, target)), stirling,
                            scalar(0.0, stirling))
    return reduce_loss(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """``0.5 * (log(var) + (input - target)^2 / var)``, var clamped at ``eps``."""
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise OnyxError("var is of incorrect size")
    if (var._data < 0).any():
        raise OnyxError("var has negative entry/entries")
    # clamp the value only: the gradient passes through as if unclamped, as in torch
    var = var + (var.clamp_min(eps) - var).detach()
    diff = input - target
    loss = 0.5 * (apply("Log", var) + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)
