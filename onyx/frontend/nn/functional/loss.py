"""Losses: regression (mse, l1, smooth_l1, huber), classification (cross_entropy, nll_loss,
binary_cross_entropy[_with_logits]) and kl_div.

Everything is computed from log-probabilities or logits with stable ops: cross_entropy is
LogSoftmax (max-shifted) then ONNX NegativeLogLikelihoodLoss, and the logistic losses use
Softplus, so logits of 1e4 give finite losses and gradients.
"""

from __future__ import annotations

import numpy as np

from onyx.frontend.dispatch import apply
from onyx.frontend.nn.functional._args import (
    check_reduction,
    legacy_reduction,
    reduce_loss,
    scalar,
)
from onyx.frontend.tensor import Tensor
from onyx.ir.errors import OnyxError


def _check_same_size(input: Tensor, target: Tensor, name: str) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise OnyxError(f"{name}: Using a target size ({list(target.shape)}) that is different "
                        f"to the input size ({list(input.shape)}) is not supported. Please "
                        f"ensure they have the same size.")


def _weighted(loss: Tensor, weight: Tensor | None) -> Tensor:
    return loss if weight is None else loss * weight


# ------------------------------------------------------------------ regression
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
    diff = input - target
    return reduce_loss(_weighted(diff * diff, weight), reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
    return reduce_loss(_weighted(apply("Abs", input - target), weight), reduction)


def _piecewise(input: Tensor, target: Tensor, cut: float, quadratic_scale: float,
               linear_scale: float) -> Tensor:
    """``quadratic_scale * d^2`` where ``|d| < cut``, else ``linear_scale * (|d| - cut / 2)``."""
    diff = input - target
    mag = apply("Abs", diff)
    quad = diff * diff * scalar(quadratic_scale, diff)
    lin = (mag - scalar(cut / 2, diff)) * scalar(linear_scale, diff)
    return apply("Where", apply("Less", mag, scalar(cut, diff)), quad, lin)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    reduction = legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise OnyxError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0.0:
        return l1_loss(input, target, reduction=reduction)
    return reduce_loss(_piecewise(input, target, beta, 0.5 / beta, 1.0), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    if delta <= 0:
        raise OnyxError("huber_loss does not support non-positive values for delta.")
    return reduce_loss(_weighted(_piecewise(input, target, delta, 0.5, delta), weight),
                       reduction)


# ------------------------------------------------------------------ classification
def _class_batch(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor, bool]:
    """An unbatched (C,) input and () target gain a batch dim of 1."""
    if input.ndim == 1:
        if target.ndim not in (0, 1) or (target.ndim == 1 and target.dtype.is_floating_point
                                          and target.shape[0] != input.shape[0]):
            raise OnyxError(f"Expected target of size [] for input of size "
                            f"{list(input.shape)}, got {list(target.shape)}")
        return input.unsqueeze(0), target.unsqueeze(0), True
    if input.ndim < 1:
        raise OnyxError("input tensor should be 1D or more")
    return input, target, False


def _check_targets(input: Tensor, target: Tensor, ignore_index: int) -> None:
    if target.dtype.is_floating_point or target.dtype.name == "bool":
        raise OnyxError(f"expected scalar type Long but found {target.dtype.name}")
    if tuple(target.shape) != (input.shape[0],) + tuple(input.shape[2:]):
        raise OnyxError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}, "
                        f"got {list(target.shape)}")
    values = target._data[target._data != ignore_index]
    if values.size and (values.min() < 0 or values.max() >= input.shape[1]):
        bad = values[(values < 0) | (values >= input.shape[1])][0]
        raise OnyxError(f"Target {bad} is out of bounds.")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices, given log-probabilities (N, C, ...)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    input, target, added = _class_batch(input, target)
    _check_targets(input, target, ignore_index)
    if target.dtype.name != "int64":
        target = target.long()
    out = apply("NegativeLogLikelihoodLoss", input, target, weight,
                ignore_index=int(ignore_index), reduction=reduction)
    return out.squeeze(0) if added and reduction == "none" else out


def _smoothing_term(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                    reduction: str) -> Tensor:
    """The uniform-target part of label smoothing: ``-sum_c w_c * logp_c`` per position."""
    if weight is not None:
        logp = logp * weight.reshape(-1, *([1] * (logp.ndim - 2)))
    per_item = apply("Neg", logp.sum(1))
    ignored = apply("Equal", target, Tensor._wrap(np.asarray(ignore_index, target._data.dtype)))
    per_item = apply("Where", ignored, scalar(0.0, per_item), per_item)
    if reduction == "none":
        return per_item
    if reduction == "sum":
        return per_item.sum()
    kept = apply("Not", ignored)
    if weight is None:
        return per_item.sum() / kept.sum().to(per_item.dtype)
    safe = apply("Where", ignored, Tensor._wrap(np.zeros((), target._data.dtype)), target)
    picked = apply("Gather", weight, safe, axis=0)
    return per_item.sum() / apply("Where", kept, picked, scalar(0.0, picked)).sum()


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (N, C, ...) against class indices or probabilities."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise OnyxError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    input, target, added = _class_batch(input, target)
    logp = apply("LogSoftmax", input, axis=1)
    if target.dtype.is_floating_point:
        loss = _soft_target_loss(logp, target, weight, reduction, label_smoothing)
    else:
        loss = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
        if label_smoothing > 0.0:
            eps, c = label_smoothing, input.shape[1]
            smooth = _smoothing_term(logp, target, weight, ignore_index, reduction)
            loss = loss * scalar(1.0 - eps, loss) + smooth * scalar(eps / c, smooth)
    return loss.squeeze(0) if added and reduction == "none" else loss


def _soft_target_loss(logp: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                      label_smoothing: float) -> Tensor:
    if tuple(target.shape) != tuple(logp.shape):
        raise OnyxError(f"Expected target of the same size as input {list(logp.shape)} for "
                        f"class probabilities, got {list(target.shape)}")
    c = logp.shape[1]
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / c
    terms = logp * target
    if weight is not None:
        terms = terms * weight.reshape(-1, *([1] * (logp.ndim - 2)))
    if reduction == "none":
        return apply("Neg", terms.sum(1))
    total = apply("Neg", terms.sum())
    if reduction == "sum":
        return total
    return total / scalar(logp.numel() // c if logp.numel() else np.nan, total)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``-(t * log(x) + (1 - t) * log(1 - x))``, each log clamped at -100 as torch does."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "binary_cross_entropy")
    values = input._data
    if values.size and not ((values >= 0) & (values <= 1)).all():
        raise OnyxError("all elements of input should be between 0 and 1")
    floor = scalar(-100.0, input)
    log_x = apply("Max", apply("Log", input), floor)
    log_1mx = apply("Max", apply("Log", scalar(1.0, input) - input), floor)
    loss = apply("Neg", target * log_x + (scalar(1.0, target) - target) * log_1mx)
    return reduce_loss(_weighted(loss, weight), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + BCE in one stable expression: ``(1 - t) * x + w_t * softplus(-x)``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise OnyxError(f"Target size ({list(target.shape)}) must be the same as input size "
                        f"({list(input.shape)})")
    softplus_neg = apply("Softplus", apply("Neg", input))
    if pos_weight is not None:
        # positives weigh pos_weight, negatives 1: 1 + (pos_weight - 1) * t
        softplus_neg = softplus_neg * (scalar(1.0, target) + (pos_weight - 1.0) * target)
    loss = (scalar(1.0, target) - target) * input + softplus_neg
    return reduce_loss(_weighted(loss, weight), reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) pointwise: ``t * (log t - input)`` (0 where t = 0)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, ("none", "mean", "sum", "batchmean"))
    if log_target:
        loss = apply("Exp", target) * (target - input)
    else:
        # log of 1 where t = 0, so the 0 * log 0 term and its gradient stay 0 (not nan)
        positive = apply("Greater", target, scalar(0.0, target))
        safe = apply("Where", positive, target, scalar(1.0, target))
        loss = target * (apply("Log", safe) - input)
    if reduction == "batchmean":
        total = loss.sum()
        return total / scalar(input.shape[0], total) if input.ndim else total
    return reduce_loss(loss, reduction)

