"""Random generator kernels: RandomNormal/Uniform(+Like), Bernoulli, Multinomial.

Each node draws from a fresh ``numpy.random.Generator``: seeded from the ``seed`` attribute
when the node has one (the same seed gives the same values on every run), from OS entropy
otherwise. Samples are drawn in float64 and cast to the requested type.
"""

from __future__ import annotations

import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.backends.numpy.values import describe_value
from onyx.ir import limits
from onyx.ir.dtypes import DType
from onyx.ir.errors import ShapeError

_FLOAT_OUTPUTS = (DType.FLOAT, DType.FLOAT16, DType.DOUBLE, DType.BFLOAT16)


def _generator(seed: float | None) -> np.random.Generator:
    if seed is None:
        return np.random.default_rng()
    # The seed attribute is a FLOAT; its float32 bit pattern keeps 1.0 and 1.5 apart and gives
    # every value (negative ones included) a valid non-negative integer seed.
    return np.random.default_rng(int(np.float32(seed).view(np.uint32)))


def _float_dtype(code: int | None, like: np.ndarray | None, op: str) -> np.dtype:
    """The output dtype: the ``dtype`` attribute, else the type of ``like``; a float type."""
    wanted = like.dtype if code is None else code
    if code is None:
        try:
            dt = DType.from_numpy(like.dtype)
        except ValueError:
            dt = DType.UNDEFINED
    else:
        dt = DType(code) if code in set(DType) else DType.UNDEFINED
    if dt not in _FLOAT_OUTPUTS:
        raise ShapeError(f"{op} produces float16, bfloat16, float or double, not {wanted}; "
                         f"set the dtype attribute")
    return dt.numpy


def _checked_shape(shape, dtype: np.dtype, op: str) -> tuple[int, ...]:
    dims = tuple(int(d) for d in shape)
    limits.check_elements(dims, 8 * np.dtype(dtype).itemsize, op)
    return dims


@kernel("RandomNormal")
def random_normal(*, shape: list, dtype: int = 1, mean: float = 0.0, scale: float = 1.0,
                  seed: float | None = None) -> np.ndarray:
    out = _float_dtype(dtype, None, "RandomNormal")
    dims = _checked_shape(shape, out, "RandomNormal")
    return _generator(seed).normal(mean, scale, dims).astype(out)


@kernel("RandomUniform")
def random_uniform(*, shape: list, dtype: int = 1, high: float = 1.0, low: float = 0.0,
                   seed: float | None = None) -> np.ndarray:
    out = _float_dtype(dtype, None, "RandomUniform")
    dims = _checked_shape(shape, out, "RandomUniform")
    return _generator(seed).uniform(low, high, dims).astype(out)


@kernel("RandomNormalLike")
def random_normal_like(input, *, dtype: int | None = None, mean: float = 0.0,
                       scale: float = 1.0, seed: float | None = None) -> np.ndarray:
    out = _float_dtype(dtype, input, "RandomNormalLike")
    return _generator(seed).normal(mean, scale, input.shape).astype(out)


@kernel("RandomUniformLike")
def random_uniform_like(input, *, dtype: int | None = None, high: float = 1.0,
                        low: float = 0.0, seed: float | None = None) -> np.ndarray:
    out = _float_dtype(dtype, input, "RandomUniformLike")
    return _generator(seed).uniform(low, high, input.shape).astype(out)


@kernel("Bernoulli", since=15)
def bernoulli(input, *, dtype: int | None = None, seed: float | None = None) -> np.ndarray:
    if input.dtype.kind != "f" and DType.from_numpy(input.dtype) is not DType.BFLOAT16:
        raise ShapeError(f"Bernoulli probabilities must be floats, got {describe_value(input)}")
    out = input.dtype if dtype is None else DType(dtype).numpy
    draws = _generator(seed).random(input.shape)
    return (draws < input.astype(np.float64)).astype(out)


@kernel("Multinomial", since=7)
def multinomial(input, *, dtype: int = 6, sample_size: int = 1,
                seed: float | None = None) -> np.ndarray:
    if input.ndim != 2:
        raise ShapeError(f"Multinomial input must be [batch_size, class_size] log-probabilities,"
                         f" got {describe_value(input)}")
    if dtype not in (DType.INT32, DType.INT64):
        raise ShapeError(f"Multinomial dtype must be int32 or int64, got {dtype}")
    batch, classes = input.shape
    _checked_shape((batch, sample_size), DType(dtype).numpy, "Multinomial")
    if classes == 0:
        raise ShapeError("Multinomial needs at least one class")
    logits = input.astype(np.float64)
    # Max-shifted exp: unnormalized log-probabilities of 1e3 must not overflow.
    weights = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    u = _generator(seed).random((batch, sample_size))
    # One searchsorted over all rows: row b's CDF lives in [b, b + 1], so offsetting both the
    # CDF and the draws by the row index keeps the flattened CDF sorted.
    offsets = np.arange(batch, dtype=np.float64)[:, None]
    flat = (cdf + offsets).reshape(-1)
    idx = np.searchsorted(flat, (u + offsets).reshape(-1), side="right").reshape(u.shape)
    idx = np.clip(idx - np.arange(batch)[:, None] * classes, 0, classes - 1)
    return idx.astype(DType(dtype).numpy)
