"""Training-time kernels: Dropout and the ai.onnx.preview.training optimizers Adagrad, Adam
and Momentum.

The optimizers are variadic: after R (learning rate) and T (update count) come n tensors to
optimize, then n of each per-tensor state (gradients, moments), and the outputs are the n new
tensors followed by n of each new state. Each tensor is updated independently.

Dropout with a ``seed`` draws its mask from ``numpy.random.RandomState(seed)`` (uniform in
[0, 1), an element is kept where the draw is >= ratio), so one seed always gives one mask;
without a seed each run draws a fresh mask.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.kernels.reduce import accumulation_dtype
from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ShapeError

TRAINING_DOMAIN = "ai.onnx.preview.training"


# ----------------------------------------------------------------------------- Dropout
def _dropout(x: np.ndarray, ratio: float, training: bool, seed, mask_dtype) -> tuple:
    x = np.asarray(x)
    if not training or ratio == 0:
        return x, np.ones(x.shape, dtype=mask_dtype)
    if not 0 <= ratio < 1:
        raise ShapeError(f"Dropout: ratio must be in [0, 1), got {ratio}")
    rng = np.random.RandomState(seed) if seed is not None else np.random.RandomState()
    keep = rng.random_sample(x.shape) >= ratio
    xw = x.astype(accumulation_dtype(x.dtype), copy=False)
    y = np.where(keep, xw * xw.dtype.type(1 / (1 - ratio)), 0)
    return y.astype(x.dtype), keep.astype(mask_dtype)


@kernel("Dropout", since=1, until=6)
def dropout_is_test(data, *, ratio=0.5, is_test=0, consumed_inputs=None):
    """Opsets 1-6: ``is_test=0`` (the default) is training mode; the mask has data's type."""
    return _dropout(data, ratio, not is_test, None, np.asarray(data).dtype)


@kernel("Dropout", since=7, until=9)
def dropout_inference_7(data, *, ratio=0.5):
    """Opsets 7-9: an inference runtime runs Dropout in test mode: Y = X, mask of 1s."""
    return _dropout(data, ratio, False, None, np.asarray(data).dtype)


@kernel("Dropout", since=10, until=11)
def dropout_inference_10(data, *, ratio=0.5):
    return _dropout(data, ratio, False, None, np.bool_)


@kernel("Dropout", since=12)
def dropout(data, ratio=None, training_mode=None, *, seed=None):
    r = 0.5 if ratio is None else float(np.asarray(ratio, dtype=np.float64))
    training = training_mode is not None and bool(np.asarray(training_mode))
    return _dropout(data, r, training, seed, np.bool_)


# ----------------------------------------------------------------------------- optimizers
def _split(inputs: tuple, groups: int, op: str) -> list[tuple]:
    if not inputs or len(inputs) % groups:
        raise ShapeError(f"{op}: expects {groups} tensors per optimized tensor after R and T, "
                         f"got {len(inputs)}")
    n = len(inputs) // groups
    parts = [tuple(np.asarray(t) for t in inputs[i * n:(i + 1) * n]) for i in range(groups)]
    for one in zip(*parts):
        if any(t.shape != one[0].shape for t in one):
            raise ShapeError(f"{op}: a tensor and its states differ in shape: "
                             f"{[list(t.shape) for t in one]}")
    return list(zip(*parts))


def _scalars(R, T, op: str) -> tuple[float, int]:
    if np.size(R) != 1 or np.size(T) != 1:
        raise ShapeError(f"{op}: R and T must be scalars, got shapes {list(np.shape(R))} and "
                         f"{list(np.shape(T))}")
    return float(np.asarray(R).reshape(())), int(np.asarray(T).reshape(()))


@kernel("Adagrad", domain=TRAINING_DOMAIN, since=1)
def adagrad(R, T, *inputs, decay_factor=0.0, epsilon=1e-6, norm_coefficient=0.0):
    op = "Adagrad"
    r, t = _scalars(R, T, op)
    rate = r / (1 + t * decay_factor)
    new_x, new_h = [], []
    for x, g, h in _split(inputs, 3, op):
        dt = x.dtype.type
        g_reg = dt(norm_coefficient) * x + g
        h2 = h + g_reg * g_reg
        new_x.append((x - dt(rate) * g_reg / (np.sqrt(h2) + dt(epsilon))).astype(x.dtype))
        new_h.append(h2.astype(h.dtype))
    return tuple(new_x + new_h)


@kernel("Adam", domain=TRAINING_DOMAIN, since=1)
def adam(R, T, *inputs, alpha=0.9, beta=0.999, epsilon=1e-6, norm_coefficient=0.0,
         norm_coefficient_post=0.0):
    op = "Adam"
    r, t = _scalars(R, T, op)
    # Bias correction of both moments, folded into the learning rate from the second step on.
    rate = r * np.sqrt(1 - beta ** t) / (1 - alpha ** t) if t > 0 else r
    new_x, new_v, new_h = [], [], []
    for x, g, v, h in _split(inputs, 4, op):
        dt = x.dtype.type
        g_reg = dt(norm_coefficient) * x + g
        v2 = dt(alpha) * v + dt(1 - alpha) * g_reg
        h2 = dt(beta) * h + dt(1 - beta) * g_reg * g_reg
        x2 = x - dt(rate) * (v2 / (np.sqrt(h2) + dt(epsilon)))
        new_x.append((dt(1 - norm_coefficient_post) * x2).astype(x.dtype))
        new_v.append(v2.astype(v.dtype))
        new_h.append(h2.astype(h.dtype))
    return tuple(new_x + new_v + new_h)


@kernel("Momentum", domain=TRAINING_DOMAIN, since=1)
def momentum(R, T, *inputs, alpha=None, beta=None, mode=None, norm_coefficient=None):
    op = "Momentum"
    missing = [n for n, v in (("alpha", alpha), ("beta", beta), ("mode", mode),
                              ("norm_coefficient", norm_coefficient)) if v is None]
    if missing:
        raise ShapeError(f"{op}: required attribute(s) {missing} are missing")
    if mode not in ("standard", "nesterov"):
        raise ShapeError(f"{op}: mode must be 'standard' or 'nesterov', got {mode!r}")
    r, t = _scalars(R, T, op)
    # The first step (T == 0) takes the whole gradient.
    b = beta if t > 0 else 1.0
    new_x, new_v = [], []
    for x, g, v in _split(inputs, 3, op):
        dt = x.dtype.type
        g_reg = dt(norm_coefficient) * x + g
        v2 = dt(alpha) * v + dt(b) * g_reg
        step = v2 if mode == "standard" else g_reg + dt(alpha) * v2
        new_x.append((x - dt(r) * step).astype(x.dtype))
        new_v.append(v2.astype(v.dtype))
    return tuple(new_x + new_v)
