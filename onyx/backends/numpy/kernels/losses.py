"""Loss kernels: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.

Inputs are (N, C, d1, ..., dk) scores/log-probabilities and (N, d1, ..., dk) class indices.
A target equal to ``ignore_index`` contributes 0 to the loss and 0 to the weight total;
``mean`` divides the summed loss by the summed weights of the counted targets (the count of
counted targets without ``weight``), as PyTorch's NLLLoss does.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.reduce import accumulation_dtype
from onyx.backends.numpy.kernels.softmax import log_softmax_along
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import InputError, ShapeError

_REDUCTIONS = ("none", "sum", "mean")


def _check_shapes(x: np.ndarray, target: np.ndarray, weight, op: str) -> None:
    if x.ndim < 2:
        raise ShapeError(f"{op}: input must be (N, C, d1, ...), got shape {list(x.shape)}")
    want = x.shape[:1] + x.shape[2:]
    if target.shape != want:
        raise ShapeError(f"{op}: target shape {list(target.shape)} does not match input shape "
                         f"{list(x.shape)} (expected {list(want)})")
    if target.dtype.kind not in "iu":
        raise ShapeError(f"{op}: target must hold integer class indices, got {target.dtype}")
    if weight is not None and np.shape(weight) != (x.shape[1],):
        raise ShapeError(f"{op}: weight must have shape [{x.shape[1]}] (one per class), got "
                         f"{list(np.shape(weight))}")


def nll_loss(x: np.ndarray, target: np.ndarray, weight=None, *, reduction: str = "mean",
             ignore_index=None, op: str = "NegativeLogLikelihoodLoss") -> np.ndarray:
    """The loss of log-probabilities ``x`` for classes ``target``, in x's dtype."""
    x, target = np.asarray(x), np.asarray(target)
    if reduction not in _REDUCTIONS:
        raise ShapeError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    _check_shapes(x, target, weight, op)
    counted = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    classes = x.shape[1]
    bad = counted & ((target < 0) | (target >= classes))
    if bad.any():
        raise InputError(f"{op}: target value {int(target[bad].reshape(-1)[0])} is outside "
                         f"[0, {classes}) and is not ignore_index ({ignore_index})")
    safe = np.where(counted, target, 0).astype(np.intp)
    xw = x.astype(accumulation_dtype(x.dtype), copy=False)
    picked = np.take_along_axis(xw, np.expand_dims(safe, 1), axis=1).squeeze(1)
    w = np.ones((), xw.dtype) if weight is None else \
        np.asarray(weight).astype(xw.dtype)[safe]
    w = np.where(counted, w, 0).astype(xw.dtype)
    loss = -picked * w
    if reduction == "none":
        return loss.astype(x.dtype)
    if reduction == "sum":
        return np.asarray(np.sum(loss)).astype(x.dtype)
    return np.asarray(np.sum(loss) / np.sum(np.broadcast_to(w, loss.shape))).astype(x.dtype)


@kernel("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(input, target, weight=None, *, ignore_index=None,
                                 reduction="mean"):
    return nll_loss(input, target, weight, reduction=reduction, ignore_index=ignore_index)


@kernel("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(scores, labels, weights=None, *, ignore_index=None,
                               reduction="mean"):
    """The NLL loss of log_softmax(scores) over axis 1; the second output is that log_softmax."""
    op = "SoftmaxCrossEntropyLoss"
    x = np.asarray(scores)
    if x.ndim < 2:
        raise ShapeError(f"{op}: scores must be (N, C, d1, ...), got shape {list(x.shape)}")
    log_prob = log_softmax_along(x, 1)
    loss = nll_loss(log_prob, labels, weights, reduction=reduction, ignore_index=ignore_index,
                    op=op)
    return loss.astype(x.dtype), log_prob.astype(x.dtype)
