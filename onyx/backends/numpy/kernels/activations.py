"""Activation kernels: Relu and its relatives, the sigmoid family, Gelu, Clip, Shrink.

Each is computed in the wide dtype (float32 for float16/bfloat16) with the numerically stable
form (Softplus and Sigmoid never overflow exp), then rounded once to the input's dtype.
"""

from __future__ import annotations

import math

import numpy as np

from onyx.backends.numpy.kernels.elementwise import broadcast_check, like, widened
from onyx.backends.numpy.kernels.erf import erf
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError

FLT_MAX = float(np.finfo(np.float32).max)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # at most 1: no overflow for either sign
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


@kernel("Relu", since=1)
def relu(x, *, consumed_inputs=None):
    if x.dtype == np.float32 or x.dtype == np.float64:
        return np.maximum(x, x.dtype.type(0))  # fast path: no widening, dtype kept
    return like(np.maximum(widened(x), 0), x.dtype)


@kernel("LeakyRelu", since=1)
def leaky_relu(x, *, alpha=0.01, consumed_inputs=None):
    w = widened(x)
    return like(np.where(w < 0, w * alpha, w), x.dtype)


@kernel("PRelu", since=1, until=6)
def prelu_legacy(x, slope, *, consumed_inputs=None):
    """Before opset 7 a 1-D slope of C values applies per channel (axis 1), as in Caffe."""
    if slope.ndim == 1 and slope.size > 1 and x.ndim >= 2 and slope.size == x.shape[1]:
        slope = slope.reshape((-1,) + (1,) * (x.ndim - 2))
    return prelu(x, slope)


@kernel("PRelu", since=7)
def prelu(x, slope):
    if broadcast_check(x, slope) != x.shape:
        raise ShapeError(f"slope shape {list(slope.shape)} does not broadcast to the "
                         f"input shape {list(x.shape)}")
    w = widened(x)
    return like(np.where(w < 0, w * widened(slope), w), x.dtype)


@kernel("Elu", since=1)
def elu(x, *, alpha=1.0, consumed_inputs=None):
    w = widened(x)
    return like(np.where(w < 0, alpha * np.expm1(np.minimum(w, 0)), w), x.dtype)


@kernel("Selu", since=1)
def selu(x, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875,
         consumed_inputs=None):
    w = widened(x)
    return like(gamma * np.where(w <= 0, alpha * np.expm1(np.minimum(w, 0)), w), x.dtype)


@kernel("Celu", since=12)
def celu(x, *, alpha=1.0):
    w = widened(x)
    neg = alpha * np.expm1(np.minimum(w, 0) / alpha)
    return like(np.maximum(w, 0) + np.minimum(neg, 0), x.dtype)


@kernel("Gelu", since=20)
def gelu(x, *, approximate="none"):
    w = widened(x)
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (w + 0.044715 * w ** 3)
        return like(0.5 * w * (1 + np.tanh(inner)), x.dtype)
    if approximate != "none":
        raise ShapeError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    cdf = 1 + erf(w / math.sqrt(2), single=w.dtype != np.float64)
    return like(0.5 * w * cdf.astype(w.dtype), x.dtype)


@kernel("HardSigmoid", since=1)
def hard_sigmoid(x, *, alpha=0.2, beta=0.5, consumed_inputs=None):
    w = widened(x)
    return like(np.clip(w * alpha + beta, 0, 1), x.dtype)


@kernel("HardSwish", since=14)
def hard_swish(x):
    w = widened(x)
    return like(w * np.clip(w / 6 + 0.5, 0, 1), x.dtype)


@kernel("Mish", since=18)
def mish(x):
    w = widened(x)
    return like(w * np.tanh(_softplus(w)), x.dtype)


@kernel("Sigmoid", since=1)
def sigmoid(x, *, consumed_inputs=None):
    return like(_sigmoid(widened(x)), x.dtype)


@kernel("Softplus", since=1)
def softplus(x):
    return like(_softplus(widened(x)), x.dtype)


@kernel("Softsign", since=1)
def softsign(x):
    w = widened(x)
    return like(w / (1 + np.abs(w)), x.dtype)


@kernel("Swish", since=24)
def swish(x, *, alpha=1.0):
    w = widened(x)
    return like(w * _sigmoid(w * alpha), x.dtype)


@kernel("ThresholdedRelu", since=10)
def thresholded_relu(x, *, alpha=1.0):
    w = widened(x)
    return like(np.where(w > alpha, w, 0), x.dtype)


@kernel("Shrink", since=9)
def shrink(x, *, bias=0.0, lambd=0.5):
    # Integer inputs are allowed: compute in float64 so the bias applies exactly.
    w = x.astype(np.float64) if x.dtype.kind in "iu" else widened(x)
    out = np.where(w < -lambd, w + bias, np.where(w > lambd, w - bias, 0))
    return like(out, x.dtype)


# ------------------------------------------------------------------ Clip
def _clip(x: np.ndarray, low, high) -> np.ndarray:
    """max(x, low) then min(., high): when low > high every element becomes high."""
    w = widened(x)
    if low is not None:
        w = np.maximum(w, low)
    if high is not None:
        w = np.minimum(w, high)
    return like(w, x.dtype)


@kernel("Clip", since=1, until=5)
def clip_v1(x, *, min=None, max=None, consumed_inputs=None):
    """Clip-1 has no defaults: a missing bound does not clip."""
    return _clip(x, min, max)


@kernel("Clip", since=6, until=10)
def clip_v6(x, *, min=-FLT_MAX, max=FLT_MAX):
    return _clip(x, min, max)


def _bound(t, name: str, x: np.ndarray):
    if t is None:
        return None
    if t.size != 1:
        raise ShapeError(f"{name} must be a scalar, got shape {list(t.shape)}")
    return widened(t.reshape(())).astype(widened(x).dtype)


@kernel("Clip", since=11)
def clip(x, min=None, max=None):
    return _clip(x, _bound(min, "min", x), _bound(max, "max", x))
